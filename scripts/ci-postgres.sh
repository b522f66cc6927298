#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the test suite and prints its URL on stdout:
#   export FASTGATE_TEST_DATABASE_URL="$(scripts/ci-postgres.sh)"
# Debian's PostgreSQL (package `postgresql`): initdb + pg_ctl from /usr/lib/postgresql/*/bin,
# run as user `postgres` when we are root (initdb refuses root), listening on a free loopback
# port only, trust authentication (loopback only, throwaway data), data in a temp directory.
# Stop it with the command printed on stderr, or let the machine's end stop it.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "ci-postgres: no PostgreSQL under /usr/lib/postgresql (apt-get install -y postgresql)" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/fastgate-pg.XXXXXX)
as_owner=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }

# Try a few random high ports; a port taken by someone else makes pg_ctl fail and we move on.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  port=$((20000 + RANDOM % 40000))
  if "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >/dev/null 2>&1; then
    echo "ci-postgres: running on 127.0.0.1:$port; stop: ${as_owner[*]} $bin/pg_ctl -D $dir/data stop" >&2
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    exit 0
  fi
done
echo "ci-postgres: the server did not start:" >&2
cat "$dir/server.log" >&2 || true
exit 1
