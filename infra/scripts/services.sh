#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on this machine; start them (or, on a fresh Debian/Ubuntu
# box, install them) when they do not. Used by `make start`, `make test` and CI.
set -euo pipefail

PGHOST_=${PGHOST_CHECK:-127.0.0.1}
PGPORT_=${PGPORT_CHECK:-5432}
REDIS_HOST_=${REDIS_HOST_CHECK:-127.0.0.1}
REDIS_PORT_=${REDIS_PORT_CHECK:-6379}

answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_for() { for _ in $(seq 1 60); do answers "$1" "$2" && return 0; sleep 0.5; done; return 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "need root for: $*" >&2; return 1; fi; }

ensure_postgres() {
  answers "$PGHOST_" "$PGPORT_" && return 0
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "PostgreSQL not installed: installing (apt-get)…" >&2
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    # Dev box only: let the local postgres user in without a password.
    hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -1)
    as_root sed -i -E 's/^(local|host)(\s+all\s+all\s+.*)\s(peer|scram-sha-256|md5)$/\1\2 trust/; s/^(local\s+all\s+postgres\s+)peer$/\1trust/' "$hba"
  fi
  echo "starting PostgreSQL…" >&2
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_for "$PGHOST_" "$PGPORT_" || { echo "PostgreSQL does not answer on $PGHOST_:$PGPORT_" >&2; exit 1; }
}

ensure_redis() {
  answers "$REDIS_HOST_" "$REDIS_PORT_" && return 0
  if ! command -v redis-server >/dev/null; then
    echo "Redis not installed: installing (apt-get)…" >&2
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  echo "starting Redis…" >&2
  as_root mkdir -p /var/lib/redis /var/log/redis
  # Like the compose file: AOF fsynced every second (a restart keeps the queues: accepted reports
  # are not lost) and no eviction (BullMQ's keys must never be dropped to make room).
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT_" --save "" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for "$REDIS_HOST_" "$REDIS_PORT_" || { echo "Redis does not answer on $REDIS_HOST_:$REDIS_PORT_" >&2; exit 1; }
}

ensure_postgres
ensure_redis
echo "PostgreSQL ($PGHOST_:$PGPORT_) and Redis ($REDIS_HOST_:$REDIS_PORT_) answer." >&2
