SELECT entry_id, run_id, debit_cents, credit_cents, header_debit_cents, header_credit_cents, line_count
FROM (
    SELECT e.entry_id, e.run_id,
           CAST(ROUND(COALESCE(SUM(l.debit), 0) * 100) AS BIGINT) AS debit_cents,
           CAST(ROUND(COALESCE(SUM(l.credit), 0) * 100) AS BIGINT) AS credit_cents,
           CAST(ROUND(e.total_debit * 100) AS BIGINT) AS header_debit_cents,
           CAST(ROUND(e.total_credit * 100) AS BIGINT) AS header_credit_cents,
           COUNT(l.entry_id) AS line_count
    FROM journal_entries AS e
    LEFT JOIN journal_lines AS l ON l.entry_id = e.entry_id
    WHERE e.period = :period
    GROUP BY e.entry_id, e.run_id, e.total_debit, e.total_credit
) AS totals
WHERE debit_cents <> credit_cents
   OR debit_cents <> header_debit_cents
   OR header_debit_cents <> header_credit_cents
   OR line_count < 2
