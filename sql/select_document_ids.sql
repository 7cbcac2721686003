SELECT run_id AS document_id FROM allocation_runs
UNION
SELECT entry_id FROM journal_entries
UNION
SELECT from_document FROM document_links
UNION
SELECT to_document FROM document_links
