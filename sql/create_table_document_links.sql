CREATE TABLE IF NOT EXISTS document_links (
    from_document VARCHAR NOT NULL,
    from_type VARCHAR NOT NULL,
    to_document VARCHAR NOT NULL,
    to_type VARCHAR NOT NULL,
    link_type VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (from_document, to_document, link_type)
)
