INSERT INTO document_links (from_document, from_type, to_document, to_type, link_type, created_at)
VALUES (:from_document, :from_type, :to_document, :to_type, :link_type, :now)
