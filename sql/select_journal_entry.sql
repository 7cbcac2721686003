SELECT entry_id, entity, period, posting_date, transaction_type, currency, run_id, reverses_entry_id, description,
       CAST(ROUND(total_debit * 100) AS BIGINT) AS total_debit_cents,
       CAST(ROUND(total_credit * 100) AS BIGINT) AS total_credit_cents
FROM journal_entries
WHERE entry_id = :entry_id
