"""The sample company: a deterministic generator of master data and monthly extracts, and the sample rules.

- `company`: `generate_company` and the company's fixed facts (ids, accounts, cost centers, periods).
- `rules.yaml`, `rules.schema.json`: the sample rules file and its JSON Schema.
"""
