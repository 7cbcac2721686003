"""Ingestion: reading extract files and cleaning them against their contracts.

- `extracts`: `find_extract_files`, `read_extract` (CSV or Parquet; `ExtractError` names file and problem).
- `cleaning`: `EXTRACT_SPECS`, `clean_extract` (kept rows and quarantine rows, one per problem).
- `schemas`: the pandera contracts of every extract and of the tables the core produces.
"""
