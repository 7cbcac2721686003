"""Multi-level allocation between cost centers that both send and receive cost.

- `solver`: `solve` (reciprocal, step-down, direct or iterative; exact cents, origins), `METHODS`.
- `records`: `MultilevelResult`, `Problem`, `MultilevelError`, `ClosedCycleError`, `MultilevelWarning`.
- `config`: `load_multilevel`, `parse_multilevel` (the rules file's `multilevel:` section).
- `files`: `read_costs`, `read_matrix`, `solve_files`, `result_frame`, `origin_frame` (CSV in and out).
- `runs`: `allocate_multilevel`, `run_draft`, `origin_table`, `results_table` (a period's runs per entity).

The solver's parts, in the order `solve` uses them: `inputs` (checks), `structure` (components,
closed cycles), `methods` (step-down, direct, iterative passes), `factorize` and `levels` (the
level-by-level solve), `origins` (cost-center-of-origin attribution), `rounding` (whole cents).
"""
