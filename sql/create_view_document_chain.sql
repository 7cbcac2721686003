CREATE VIEW v_document_chain AS
SELECT d.from_document AS document, d.from_type AS document_type,
       d.to_document AS related_document, d.to_type AS related_type,
       d.link_type AS relation, 'downstream' AS direction, d.created_at,
       CASE WHEN d.from_type = 'allocation_run' THEN d.from_document
            WHEN d.to_type = 'allocation_run' THEN d.to_document
            ELSE e.run_id END AS run_id
FROM document_links AS d
LEFT JOIN journal_entries AS e ON e.entry_id = d.from_document
UNION ALL
SELECT d.to_document AS document, d.to_type AS document_type,
       d.from_document AS related_document, d.from_type AS related_type,
       d.link_type AS relation, 'upstream' AS direction, d.created_at,
       CASE WHEN d.from_type = 'allocation_run' THEN d.from_document
            WHEN d.to_type = 'allocation_run' THEN d.to_document
            ELSE e.run_id END AS run_id
FROM document_links AS d
LEFT JOIN journal_entries AS e ON e.entry_id = d.from_document
