"""Ledger rules: the run lifecycle, validation of runs, and runs submitted from outside.

- `lifecycle`: `check_transition`, `transaction_type`, `journal_lines` (statuses and postings).
- `validation`: `validate_run` (every problem of a run, in the specification's words).
- `submission`: `read_submission` (a run's lines from a CSV or JSON file).
"""
