"""The sample company: a deterministic generator of master data and monthly extracts, and the sample rules.

- `generate`: `generate_company` (writes the extracts and the rules file), `GenerationSummary`.
- `company`: the company's fixed facts (ids, accounts, cost centers, products, regions, the
  seed-001 and seed-000 pools) and `parse_period`, `period_range`, `it_pool_document_id`,
  `corporate_it_month_cents`.
- The generator's parts: `master` (master data tables), `drivers` (headcount, usage metrics,
  timesheets, allocation matrix), `transactions` (GL documents and AP invoice lines), `profiles`
  (random streams, salaries, vendors, mixes) and `files` (schemas and the CSV/Parquet writer).
- `rules.yaml`, `rules.schema.json`: the sample rules file and its JSON Schema.
"""
