#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the test suite and prints its URL on stdout:
#   export FASTGATE_TEST_DATABASE_URL="$(scripts/ci-postgres.sh)"
# Debian's PostgreSQL (package `postgresql`): initdb + pg_ctl from /usr/lib/postgresql/*/bin,
# run as user `postgres` when we are root (initdb refuses root), listening on a free loopback
# port only, trust authentication (loopback only, throwaway data), data in a temp directory.
# Stop it with the command printed on stderr, or let the machine's end stop it; with
# `--stop-with PID` it stops by itself, and its directory goes, once process PID has ended (the
# test binaries pass their own PID, so a plain `cargo test` leaves no server behind).
set -euo pipefail

owner_pid=
if [ "${1:-}" = "--stop-with" ]; then
  owner_pid=${2:?--stop-with needs a PID}
  kill -0 "$owner_pid" 2>/dev/null || { echo "ci-postgres: no process $owner_pid" >&2; exit 1; }
fi

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
    if [ -n "$owner_pid" ]; then
      # Detached, and holding none of our output open, so whoever reads our stdout sees it end.
      setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
        "${@:4}" "$2/pg_ctl" -D "$3/data" stop -m immediate; rm -rf "$3"' \
        watchdog "$owner_pid" "$bin" "$dir" "${as_owner[@]}" </dev/null >/dev/null 2>&1 &
    fi
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    exit 0
  fi
done
echo "ci-postgres: the server did not start:" >&2
cat "$dir/server.log" >&2 || true
exit 1
