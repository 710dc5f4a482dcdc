"""Bulk data in and out of a tenant: the NDJSON/Bundle loader and the NDJSON exporter."""
