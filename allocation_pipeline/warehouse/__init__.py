"""The warehouse layer: SQLAlchemy only, DDL and queries from `sql/`, native bulk loads."""
