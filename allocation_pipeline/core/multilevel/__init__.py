"""Multi-level allocation between cost centers that both send and receive cost.

- `solver`: `solve` (reciprocal, step-down, direct or iterative; exact cents, origins).
- `config`: `load_multilevel`, `parse_multilevel` (the rules file's `multilevel:` section).
- `files`: `read_costs`, `read_matrix`, `solve_files`, `result_frame`, `origin_frame` (CSV in and out).
- `runs`: `allocate_multilevel`, `run_draft`, `origin_table`, `results_table` (a period's runs per entity).
"""
