CREATE VIEW v_document_chain AS
SELECT from_document AS document, from_type AS document_type,
       to_document AS related_document, to_type AS related_type,
       link_type AS relation, 'downstream' AS direction, created_at
FROM document_links
UNION ALL
SELECT to_document AS document, to_type AS document_type,
       from_document AS related_document, from_type AS related_type,
       link_type AS relation, 'upstream' AS direction, created_at
FROM document_links
