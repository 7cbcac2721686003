"""Extract ingestion: one cleaned asset per extract, rejected rows quarantined in the warehouse."""
