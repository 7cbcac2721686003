SELECT entity, period, document_id, line, vendor, invoice_date, account, cost_center, currency,
       CAST(ROUND(amount * 100) AS BIGINT) AS amount_cents,
       description
FROM ap_invoices
WHERE document_id = :document_id
ORDER BY line
