"""Allocation: rules, methods, driver values and the engine that turns a period's pools into runs.

- `rules`: `load_rules`, `parse_rules` (the rules file as a `RuleSet` of `Rule`s).
- `methods`: `available_methods`, `get_method` (the method plugins and their registry).
- `drivers`: `compute_driver_values` (per period x driver x cost object).
- `allocate`: `gl_balances`, `allocate_period`, `resolve_targets`, `document_lines`,
  `document_takings` (balanced `RunDraft`s in exact cents).
"""
