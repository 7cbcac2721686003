SELECT e.entry_id, e.run_id,
       CAST(ROUND(COALESCE(SUM(l.debit), 0) * 100) AS BIGINT) AS debit_cents,
       CAST(ROUND(COALESCE(SUM(l.credit), 0) * 100) AS BIGINT) AS credit_cents,
       CAST(ROUND(e.total_debit * 100) AS BIGINT) AS header_debit_cents,
       CAST(ROUND(e.total_credit * 100) AS BIGINT) AS header_credit_cents
FROM journal_entries AS e
LEFT JOIN journal_lines AS l ON l.entry_id = e.entry_id
WHERE e.period = :period
GROUP BY e.entry_id, e.run_id, e.total_debit, e.total_credit
HAVING COALESCE(SUM(l.debit), 0) <> COALESCE(SUM(l.credit), 0)
    OR COALESCE(SUM(l.debit), 0) <> e.total_debit
    OR e.total_debit <> e.total_credit
    OR COUNT(l.entry_id) < 2
