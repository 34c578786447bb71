#!/bin/sh
# The stand-in PostgreSQL image's entrypoint (docker/make-base.sh postgres): on an empty data
# folder, what postgres:16's does for POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB; then the
# server, listening on every address with password (SCRAM) logins.
set -eu
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
    password_file=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
    initdb --pgdata="$PGDATA" --username="$user" --pwfile="$password_file" --encoding=UTF8 \
        --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    if [ "$db" != postgres ]; then
        pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait --silent start
        psql --username="$user" --dbname=postgres --quiet --set=ON_ERROR_STOP=1 \
            --command="CREATE DATABASE \"$db\" OWNER \"$user\""
        pg_ctl --pgdata="$PGDATA" --wait --silent stop
    fi
fi
exec "$@"
