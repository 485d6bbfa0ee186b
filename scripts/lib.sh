# Shared helpers of scripts/run and scripts/test. Source it from the repository root.
# shellcheck shell=bash

PANEL_ROOT="$(pwd)"
VENV="${PANEL_VENV:-$PANEL_ROOT/.venv}"

say() { printf '\033[1m[panel]\033[0m %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# A Python 3.11 interpreter: Django 5.2 LTS and the pinned constraints are built for it.
find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  die "Python 3.11 is needed (set PYTHON=/path/to/python3.11)."
}

# python-ldap (LDAP sign-in) compiles against OpenLDAP's and Cyrus SASL's headers: install
# Debian's libldap2-dev and libsasl2-dev when they are missing and we may.
ensure_ldap_headers() {
  [ -f /usr/include/ldap.h ] && [ -f /usr/include/sasl/sasl.h ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's libldap2-dev and libsasl2-dev (python-ldap is built against them)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        build-essential libldap2-dev libsasl2-dev) >/dev/null 2>&1 \
      || die "could not install libldap2-dev and libsasl2-dev"
  else
    say "no LDAP headers: python-ldap will not build (install libldap2-dev and libsasl2-dev)"
  fi
}

# Install the pinned dependencies into $VENV. uv (pinned too, fetched by pip) does it several
# times faster than pip: parallel downloads, no bytecode compiled up front. pip does it alone
# when uv cannot be had or fails.
install_pinned() {
  if "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        -c requirements/constraints.txt uv &&
     "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" \
        -c requirements/constraints.txt -e '.[dev]'; then
    return 0
  fi
  echo "uv could not install the dependencies; installing them with pip"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
      -c requirements/constraints.txt -e '.[dev]'
}

# Create .venv and install the pinned dependencies; reinstall only when they changed.
ensure_venv() {
  local stamp="$VENV/.panel-installed" want
  want="$(cat pyproject.toml requirements/constraints.txt | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$(find_python)" -m venv "$VENV"
  fi
  ensure_ldap_headers
  say "installing pinned dependencies (requirements/constraints.txt)"
  mkdir -p var
  if ! install_pinned > var/pip-install.log 2>&1; then
    grep -v "^WARNING: Location" var/pip-install.log | tail -30 >&2
    die "the dependency install failed (full output in var/pip-install.log)"
  fi
  echo "$want" > "$stamp"
}

redis_answers() {  # $1 = redis URL
  "$VENV/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, redis
try:
    redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1, socket_timeout=1).ping()
except Exception:
    sys.exit(1)
PY
}

# Use the Redis at REDIS_URL (default 127.0.0.1:6379); when none answers, start our own on a
# free loopback port for the life of this script (installing Debian's redis-server if missing).
ensure_redis() {
  local db="${1:-0}"
  export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/$db}"
  if redis_answers "$REDIS_URL"; then say "using Redis at $REDIS_URL"; return 0; fi
  if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing redis-server from Debian's packages"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) \
        >/dev/null 2>&1 || die "could not install redis-server"
    else
      die "no Redis answers at $REDIS_URL and redis-server is not installed"
    fi
  fi
  local port dir
  port="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  dir="$(mktemp -d)"
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" \
      --daemonize no >"$dir/redis.log" 2>&1 &
  PANEL_REDIS_PID=$!
  export REDIS_URL="redis://127.0.0.1:$port/$db"
  for _ in $(seq 50); do redis_answers "$REDIS_URL" && break; sleep 0.1; done
  redis_answers "$REDIS_URL" || die "the Redis we started did not answer (log: $dir/redis.log)"
  say "started our own Redis at $REDIS_URL (pid $PANEL_REDIS_PID)"
}

stop_own_redis() {
  if [ -n "${PANEL_REDIS_PID:-}" ]; then kill "$PANEL_REDIS_PID" 2>/dev/null || true; fi
}

postgres_answers() {  # $1 = postgres URL
  "$VENV/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, psycopg
try:
    # The maintenance database: the test run creates its own test database next to it.
    psycopg.connect(sys.argv[1], dbname="postgres", connect_timeout=2).close()
except Exception:
    sys.exit(1)
PY
}

# PostgreSQL for the second test pass: the one at $1, else start the machine's cluster.
ensure_postgres() {
  postgres_answers "$1" && return 0
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    say "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start \
      >/dev/null 2>&1 || true
    for _ in $(seq 20); do postgres_answers "$1" && return 0; sleep 0.5; done
  fi
  return 1
}
