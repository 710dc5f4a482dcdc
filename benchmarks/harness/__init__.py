"""The benchmark harness behind benchmarks/run.py (the entry point), one noun per module:

* common      the method's settings (paths, sizes, cores, connections, timeouts), log, stats
* environment the tools the harness installs (wrk, uvloop …) and the machine it runs on
* client      HTTP calls and URLs
* server      pinning, the server process, RSS sampling (a process or its whole tree), starts
* wrk         workloads, operations and their measurement with wrk
* data        datasets: `fhir-sandbox generate` and `fhir-sandbox load`, both timed
* queries     query values read from the generated NDJSON
* operations  the operations measured (reads, searches, writes, `$export`)
* profiling   py-spy against the server under load
* suite       the run: data, baseline, cold start, every size, PostgreSQL, scale ratios
* targets     the targets and how each is judged
* report      the markdown table, the results files and the README block

benchmarks/postgres.py (the PostgreSQL comparison) uses the same modules.
"""
