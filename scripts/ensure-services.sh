#!/usr/bin/env bash
# Make sure PostgreSQL and Redis run on 127.0.0.1 (5432, 6379) for the test
# suite: start them when installed and stopped, install them with apt when
# missing. Idempotent; used by `make test` and .ci/run.
#
# The tests connect as user `postgres` without a password (trust auth on
# 127.0.0.1). This script changes PostgreSQL's authentication (pg_hba.conf)
# only in CI (CI=true) or when asked (ENSURE_SERVICES_TRUST=1, or --trust);
# otherwise it explains what to do and fails when trust auth is missing.
set -euo pipefail

allow_trust=0
if [ "${CI:-}" = "true" ] || [ "${ENSURE_SERVICES_TRUST:-0}" = "1" ]; then allow_trust=1; fi
for arg in "$@"; do
  case "$arg" in
    --trust) allow_trust=1 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ensure-services: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
pg_trusted() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -w -Atqc 'SELECT 1' >/dev/null 2>&1; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# Debian's layout; overridable so the tests can run this script on a scratch copy.
PG_ETC=${ENSURE_SERVICES_PG_ETC:-/etc/postgresql}
pg_version() { ls "$PG_ETC" 2>/dev/null | sort -n | tail -1; }

TRUST_LINES='host all all 127.0.0.1/32 trust # congress-ci\nhost all all ::1/128 trust # congress-ci\nlocal all all trust # congress-ci'

explain_trust() {
  local hba=$1
  cat >&2 <<EOF
ensure-services: PostgreSQL on 127.0.0.1:5432 does not let user "postgres" in without a password,
which the test suite expects. Either:
  - let this script allow it: it adds these lines at the top of $hba and reloads PostgreSQL
      host all all 127.0.0.1/32 trust
      host all all ::1/128 trust
      local all all trust
    (every local user can then connect as any database user: fine on a development machine
    or CI, not on a shared server). Run: ENSURE_SERVICES_TRUST=1 make test
  - or point the tests at a database you can use: make test TEST_DATABASE_URL=postgres://user:password@host:5432/db
    (that user needs CREATEDB).
EOF
}

# Adds the trust lines when allowed (saying so first); otherwise explains.
ensure_trust_lines() {
  local version hba
  version=$(pg_version)
  hba="$PG_ETC/$version/main/pg_hba.conf"
  if as_root grep -q "congress-ci" "$hba" 2>/dev/null; then
    return 0
  fi
  if [ "$allow_trust" != 1 ]; then
    explain_trust "$hba"
    return 1
  fi
  echo "ensure-services: adding trust authentication for local connections to $hba (lines marked # congress-ci)"
  as_root sed -i "1i $TRUST_LINES" "$hba"
  if pg_up; then
    echo "ensure-services: reloading PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true
  fi
}

# `make test TEST_DATABASE_URL=…` on another server: that PostgreSQL is the caller's.
manage_pg=1
if [ -n "${TEST_DATABASE_URL:-}" ] && [ "$TEST_DATABASE_URL" != "postgres://postgres@127.0.0.1:5432/congress" ]; then
  echo "ensure-services: TEST_DATABASE_URL is set; leaving PostgreSQL alone"
  manage_pg=0
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  echo "ensure-services: installing postgresql and redis-server with apt"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
fi

if [ "$manage_pg" = 1 ] && ! pg_up; then
  version=$(pg_version)
  if ! pg_lsclusters -h 2>/dev/null | grep -q "^$version main"; then
    echo "ensure-services: creating the PostgreSQL $version cluster \"main\""
    as_root pg_createcluster "$version" main >/dev/null
  fi
  # When allowed, the trust lines go in before the start (checked below either way).
  if [ "$allow_trust" = 1 ]; then ensure_trust_lines; fi
  echo "ensure-services: starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
if [ "$manage_pg" = 1 ]; then
  pg_up || { echo "ensure-services: PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
fi

if [ "$manage_pg" = 1 ] && ! pg_trusted; then
  ensure_trust_lines || exit 1
  for _ in $(seq 1 10); do pg_trusted && break; sleep 0.5; done
  if ! pg_trusted; then
    echo "ensure-services: PostgreSQL still asks user \"postgres\" for a password on 127.0.0.1:5432" >&2
    explain_trust "$PG_ETC/$(pg_version)/main/pg_hba.conf"
    exit 1
  fi
fi

if ! redis_up; then
  echo "ensure-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/congress-redis.log
  for _ in $(seq 1 30); do redis_up && break; sleep 0.5; done
fi
redis_up || { echo "ensure-services: Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }
if [ "$manage_pg" = 1 ]; then echo "ensure-services: PostgreSQL and Redis are up"; else echo "ensure-services: Redis is up"; fi
