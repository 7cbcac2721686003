"""Typed configuration: pydantic models of the rules file (rules, `multilevel:`, `insights:`) and of
what-if scenario files, their JSON Schema, and `allocation rules check`.

Modules: `problems` (safe YAML loading with line numbers, problems found, error classes), `fields`
(field types with the project's messages), `rules`, `multilevel`, `insights`, `scenario` (one
model set each), `schema` (the JSON Schemas) and `check` (the whole file, with names checked
against the extracts). The loaders the rest of the code calls stay where they were
(`core.allocation.rules.load_rules`, `core.multilevel.config.load_multilevel`,
`core.insights.config.load_insights`, `core.insights.whatif.load_scenario`).
"""
