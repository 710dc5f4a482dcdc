#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for `make test-postgres`.
# Starts the local Debian cluster (15/main) when it is not running; fails loudly otherwise.
# Another server can be used instead: FHIR_SANDBOX_TEST_POSTGRES_ADMIN_URL (see tests/conftest.py).
set -euo pipefail

HOST="${PGHOST:-127.0.0.1}"
PORT="${PGPORT:-5432}"
VERSION="${PG_CLUSTER_VERSION:-15}"
CLUSTER="${PG_CLUSTER_NAME:-main}"

if pg_isready -q -h "$HOST" -p "$PORT"; then
    exit 0
fi
if ! command -v pg_ctlcluster >/dev/null; then
    echo "PostgreSQL is not answering on $HOST:$PORT and pg_ctlcluster is not installed." >&2
    echo "Start a PostgreSQL $VERSION server (e.g. docker compose up -d postgres) or install postgresql-$VERSION." >&2
    exit 1
fi
echo "starting PostgreSQL cluster $VERSION/$CLUSTER" >&2
pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$CLUSTER" start
for _ in $(seq 1 60); do
    if pg_isready -q -h "$HOST" -p "$PORT"; then
        exit 0
    fi
    sleep 0.5
done
echo "PostgreSQL did not become ready on $HOST:$PORT" >&2
exit 1
