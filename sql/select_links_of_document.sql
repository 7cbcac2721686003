SELECT from_document, from_type, to_document, to_type, link_type
FROM document_links
WHERE from_document = :document_id OR to_document = :document_id
ORDER BY created_at, from_document, to_document
