SELECT e.entry_id, e.entity, e.run_id, r.rule_id, e.transaction_type, e.currency, e.reverses_entry_id,
       CAST(ROUND(e.total_debit * 100) AS BIGINT) AS total_debit_cents
FROM journal_entries AS e
JOIN allocation_runs AS r ON r.run_id = e.run_id
WHERE e.period = :period
ORDER BY e.entry_id
