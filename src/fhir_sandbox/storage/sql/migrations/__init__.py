"""Alembic migrations for the SQL schema (run through `storage/sql/migrate.py`).

No alembic.ini is needed: `migrate.alembic_config()` configures Alembic in code, and
`fhir-sandbox db upgrade` applies these revisions. Revisions are numbered `0001`, `0002`, …
(`vNNNN_<slug>.py`); `fhir-sandbox db revision -m "…"` starts the next one. A revision,
once released, is never edited: change the schema with a new one.
"""
