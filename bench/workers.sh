#!/usr/bin/env bash
# The Worker's figures: bundle size (raw and gzip; Workers Free allows 3 MB gzip), what
# `wrangler deploy --dry-run` reports, and the time of one sign-in in workerd against the
# same code native (the release dev server), measured in the same run.
#
#   bench/workers.sh [RUNS]
#
# Needs infra/install-worker-tools.sh. Prints markdown on stdout; build output on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-30}"

# shellcheck source=../tests/support/workers.sh
source tests/support/workers.sh
native_pid=""
cleanup() {
    stop_wrangler_dev || true
    if [[ -n "$native_pid" ]]; then kill_tree "$native_pid"; fi
}
trap cleanup EXIT

infra/build-worker.sh >&2
echo "## Worker bundle"
echo
echo "| file | KiB | gzip -9 KiB |"
echo "|---|---:|---:|"
python3 - worker/build/*.wasm worker/build/*.js <<'PY'
import gzip, os, sys
for f in sys.argv[1:]:
    data = open(f, "rb").read()
    print(f"| {os.path.basename(f)} | {len(data) / 1024:,.0f} | {len(gzip.compress(data, 9)) / 1024:,.0f} |")
PY
echo
echo '## `wrangler deploy --dry-run`'
echo
out="$(mktemp -d)"
echo '```'
CI=true WRANGLER_SEND_METRICS=false node_modules/.bin/wrangler deploy --dry-run --outdir "$out" 2>&1 |
    grep -vE '^\s*$|wrangler [0-9]|─|^\[custom build\]' || true
echo '```'
rm -rf "$out"
echo

cargo build --release --quiet -p authfn-dev-server >&2
port="$(free_port)"
AUTHFN_TRUSTED_ORIGINS=http://localhost:5173 AUTHFN_RATE_LIMIT_PER_MINUTE=100000 AUTHFN_LOCKOUT_MAX_FAILURES=100000 \
    target/release/authfn-dev --addr "127.0.0.1:$port" </dev/null >/dev/null 2>&1 &
native_pid=$!
start_wrangler_dev >&2
until authfn_answers "http://127.0.0.1:$port/auth/session"; do sleep 0.2; done

echo "## Sign-in CPU: workerd vs native"
echo
python3 bench/sign_in_cost.py --runs "$runs" "native=http://127.0.0.1:$port" "workerd=$AUTHFN_WORKERS_BASE_URL"
