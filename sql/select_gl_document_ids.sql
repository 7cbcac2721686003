SELECT DISTINCT document_id
FROM gl_lines
WHERE LOWER(document_id) = LOWER(:document_id)
