CREATE VIEW v_allocation_chain AS
SELECT r.source_document,
       r.run_id,
       r.entity,
       r.period,
       r.run_type,
       r.rule_id,
       r.origin,
       r.status,
       r.currency,
       r.total_debit AS amount,
       r.journal_entry_id,
       e.transaction_type,
       e.posting_date,
       r.reversal_entry_id,
       v.posting_date AS reversal_posting_date
FROM allocation_runs AS r
LEFT JOIN journal_entries AS e ON e.entry_id = r.journal_entry_id
LEFT JOIN journal_entries AS v ON v.entry_id = r.reversal_entry_id
