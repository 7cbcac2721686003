DROP VIEW IF EXISTS v_document_chain
