"""The SQL repository (SQLite embedded default, PostgreSQL for scale)."""
