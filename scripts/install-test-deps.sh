#!/usr/bin/env bash
# Install the official MCP client SDKs used by the end-to-end tests (tests/e2e/):
#   - tests/e2e/node_modules  via `npm ci` from the committed package-lock.json
#   - tests/e2e/.venv         via `python3 -m venv` + `pip install -r requirements.txt`
#
# Idempotent and fast when nothing changed: each half keeps a stamp file holding a hash
# of its inputs and is skipped while the stamp matches (and the install looks intact).
# Needs only node/npm and python3 on PATH. All progress output goes to stderr.
#
# Usage: scripts/install-test-deps.sh [--force] [--node-only | --python-only]
set -euo pipefail

log() { printf 'install-test-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

force=0
do_node=1
do_python=1
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --node-only) do_python=0 ;;
    --python-only) do_node=0 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $arg" ;;
  esac
done

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"
e2e_dir="$repo_root/tests/e2e"
[ -f "$e2e_dir/package.json" ] || die "missing $e2e_dir/package.json"

# Serialise concurrent runs (e.g. parallel test binaries) by locking this script itself.
if command -v flock >/dev/null 2>&1; then
  exec 9<"${BASH_SOURCE[0]}"
  flock 9
fi

hash_inputs() {
  # Prints one hash over the given files' contents plus any extra strings on stdin.
  if command -v sha256sum >/dev/null 2>&1; then
    { cat "$@"; cat; } | sha256sum | cut -d' ' -f1
  else
    { cat "$@"; cat; } | python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
  fi
}

# ---------------------------------------------------------------- Node / TypeScript SDK
if [ "$do_node" = 1 ]; then
  command -v node >/dev/null 2>&1 || die "node not found on PATH"
  command -v npm >/dev/null 2>&1 || die "npm not found on PATH"
  [ -f "$e2e_dir/package-lock.json" ] || die "missing $e2e_dir/package-lock.json"
  node_stamp="$e2e_dir/node_modules/.mcpgate-install-stamp"
  node_want="$(node --version | hash_inputs "$e2e_dir/package.json" "$e2e_dir/package-lock.json")"
  if [ "$force" = 0 ] && [ -f "$node_stamp" ] && [ "$(cat "$node_stamp")" = "$node_want" ] \
     && [ -f "$e2e_dir/node_modules/@modelcontextprotocol/sdk/package.json" ]; then
    log "node_modules up to date (skipping npm ci)"
  else
    log "npm ci in tests/e2e ..."
    (cd "$e2e_dir" && npm ci --no-audit --no-fund --loglevel=error 1>&2)
    printf '%s\n' "$node_want" >"$node_stamp"
    log "node_modules installed ($(node -p "require('$e2e_dir/node_modules/@modelcontextprotocol/sdk/package.json').version" 2>/dev/null || echo '?') of @modelcontextprotocol/sdk)"
  fi
fi

# ---------------------------------------------------------------- Python SDK
if [ "$do_python" = 1 ]; then
  command -v python3 >/dev/null 2>&1 || die "python3 not found on PATH"
  req="$e2e_dir/requirements.txt"
  [ -f "$req" ] || die "missing $req"
  venv="$e2e_dir/.venv"
  vpy="$venv/bin/python"
  py_stamp="$venv/.mcpgate-install-stamp"
  mcp_pin="$(sed -n 's/^mcp==\([^[:space:]#]*\).*/\1/p' "$req" | head -n1)"
  [ -n "$mcp_pin" ] || die "requirements.txt has no exact 'mcp==' pin"

  # A venv whose interpreter no longer runs (e.g. python3 was replaced) is rebuilt.
  if [ -d "$venv" ] && ! "$vpy" -c 'import sys' >/dev/null 2>&1; then
    log "existing .venv is broken; recreating"
    rm -rf "$venv"
  fi
  if [ ! -x "$vpy" ]; then
    log "creating tests/e2e/.venv with $(python3 --version 2>&1) ..."
    python3 -m venv "$venv" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  fi

  py_want="$("$vpy" -c 'import sys; print(sys.version)' | hash_inputs "$req")"
  have_pin="$("$vpy" -c 'import importlib.metadata as m
try: print(m.version("mcp"))
except m.PackageNotFoundError: print("")' 2>/dev/null || true)"
  if [ "$force" = 0 ] && [ -f "$py_stamp" ] && [ "$(cat "$py_stamp")" = "$py_want" ] && [ "$have_pin" = "$mcp_pin" ]; then
    log ".venv up to date (mcp $have_pin; skipping pip)"
  else
    log "pip install -r tests/e2e/requirements.txt into .venv ..."
    "$vpy" -m pip install --disable-pip-version-check --no-input --quiet -r "$req" 1>&2
    have_pin="$("$vpy" -c 'import importlib.metadata as m; print(m.version("mcp"))')"
    [ "$have_pin" = "$mcp_pin" ] || die "installed mcp $have_pin, expected $mcp_pin"
    printf '%s\n' "$py_want" >"$py_stamp"
    log ".venv ready (mcp $have_pin)"
  fi
fi

log "done"
