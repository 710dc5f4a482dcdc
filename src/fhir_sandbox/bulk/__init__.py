"""Bulk data in and out of a tenant: the NDJSON/Bundle loader and the NDJSON exporter."""

#: Resources per batch (one write session) of a load; here, not in loader.py, so that the CLI
#: can show it without importing the loader. A batch's commit writes every index page it
#: dirtied, and over large B-trees most rows dirty a page of their own: 2,500 instead of
#: 1,000 took a 1M load from 321 to 293 s (benchmarks/README.md) at ~35 MB more memory.
BATCH_SIZE = 2500
