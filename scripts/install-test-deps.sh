#!/usr/bin/env bash
# Install what the end-to-end tests (tests/e2e/) need:
#   - tests/e2e/node_modules  via `npm ci` from the committed package-lock.json
#                             (official MCP SDK, playwright-core, ...)
#   - tests/e2e/.venv         via `python3 -m venv` + `pip install -r requirements.txt`
#   - /usr/bin/chromium       Debian's chromium (apt-get), driven by playwright-core
#
# Idempotent and fast when nothing changed: the npm and pip parts keep a stamp file holding
# a hash of their inputs and are skipped while the stamp matches (and the install looks
# intact); chromium is installed only while /usr/bin/chromium is missing. Needs node/npm,
# python3 and (only to install chromium) apt-get as root. Progress output goes to stderr.
#
# Usage: scripts/install-test-deps.sh [--force] [--node-only | --python-only | --browser-only]
#                                     [--no-browser]
set -euo pipefail

log() { printf 'install-test-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

force=0
do_node=1
do_python=1
do_browser=1
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --node-only) do_python=0; do_browser=0 ;;
    --python-only) do_node=0; do_browser=0 ;;
    --browser-only) do_node=0; do_python=0 ;;
    --no-browser) do_browser=0 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
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
     && [ -f "$e2e_dir/node_modules/@modelcontextprotocol/sdk/package.json" ] \
     && [ -f "$e2e_dir/node_modules/playwright-core/package.json" ]; then
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

# ---------------------------------------------------------------- Chromium (Debian package)
# The admin console test drives a real browser: Debian's chromium through npm playwright-core
# (executablePath /usr/bin/chromium). playwright's own browser download is not used.
if [ "$do_browser" = 1 ]; then
  chromium=/usr/bin/chromium
  if [ -x "$chromium" ]; then
    log "chromium present (skipping apt-get)"
  else
    command -v apt-get >/dev/null 2>&1 \
      || die "$chromium is missing and apt-get is not available: install a Chromium at $chromium by hand"
    [ "$(id -u)" = 0 ] || die "$chromium is missing: run as root (apt-get install chromium) or install it by hand"
    export DEBIAN_FRONTEND=noninteractive
    apt_log="$(mktemp)"
    apt_install() {
      apt-get install -y -qq --no-install-recommends chromium >>"$apt_log" 2>&1
    }
    apt_update() {
      apt-get update -qq >>"$apt_log" 2>&1 || { tail -n 20 "$apt_log" >&2; rm -f "$apt_log"; die "apt-get update failed"; }
    }
    log "apt-get install chromium ..."
    # No package lists yet (a fresh image): update first. Stale lists (a 404 on download):
    # the first install fails, so update and try once more.
    if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      apt_update
    fi
    if ! apt_install; then
      apt_update
      apt_install || { tail -n 20 "$apt_log" >&2; rm -f "$apt_log"; die "apt-get install chromium failed"; }
    fi
    rm -f "$apt_log"
    [ -x "$chromium" ] || die "apt-get installed chromium, but $chromium is missing"
    log "chromium installed"
  fi
  have_chromium="$("$chromium" --version 2>/dev/null || true)"
  [ -n "$have_chromium" ] || die "$chromium --version failed"
  # playwright-core speaks the DevTools protocol of one Chromium major (its browsers.json);
  # a Debian security update may bring a newer one. Usually harmless, so only say so.
  pw_browsers="$e2e_dir/node_modules/playwright-core/browsers.json"
  if [ -f "$pw_browsers" ]; then
    pw_major="$(node -e 'const b=require(process.argv[1]).browsers.find(b=>b.name==="chromium");
      process.stdout.write(String(b.browserVersion).split(".")[0])' "$pw_browsers" 2>/dev/null || true)"
    have_major="$(printf '%s\n' "$have_chromium" | sed -n 's/^[^0-9]*\([0-9][0-9]*\)\..*/\1/p' | head -n1)"
    if [ -n "$pw_major" ] && [ -n "$have_major" ] && [ "$pw_major" != "$have_major" ]; then
      log "note: $have_chromium, but playwright-core was built for Chromium $pw_major"
    fi
  fi
  log "$have_chromium"
fi

log "done"
