SELECT d.run_id, d.document, d.document_type, d.related_document, d.related_type, d.relation, d.created_at
FROM v_document_chain AS d
WHERE d.direction = 'downstream'
  AND d.run_id IN (SELECT r.run_id FROM allocation_runs AS r
                   WHERE r.entity = :entity
                     AND (r.period BETWEEN :first_period AND :period
                          OR r.run_id IN (SELECT j.run_id FROM journal_entries AS j WHERE j.entity = :entity AND j.period = :period)))
ORDER BY d.run_id, d.created_at, d.document
