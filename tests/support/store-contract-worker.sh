#!/usr/bin/env bash
# Runs the store contract (tests/store-contract) against the Cloudflare store inside workerd:
# builds the test-only Worker tests/store-contract-worker, serves it with `wrangler dev
# --local` over fresh Miniflare KV and D1 (the schema from infra/d1), runs every case and
# prints one libtest-style line per case. Fails if any case fails or the Worker does not
# answer.
#
# Needs the tools from infra/install-worker-tools.sh (.ci/run calls it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=process.sh
source "$root/tests/support/process.sh"

wrangler="$root/node_modules/.bin/wrangler"
config="$root/tests/store-contract-worker/wrangler.toml"
if [[ ! -x "$wrangler" ]]; then
    echo "store-contract-worker: wrangler is not installed: infra/install-worker-tools.sh" >&2
    exit 1
fi
export WRANGLER_SEND_METRICS=false CI=true

state="$(mktemp -d "${TMPDIR:-/tmp}/store-contract-worker.XXXXXX")"
pid=""
cleanup() {
    if [[ -n "$pid" ]]; then kill_tree "$pid"; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$state"
}
trap cleanup EXIT

# STORE_CONTRACT_WORKER_BUILT=1: the caller built it from these sources (tests/run.sh does,
# while an earlier stage runs).
if [[ "${STORE_CONTRACT_WORKER_BUILT:-}" == 1 && -f "$root/tests/store-contract-worker/build/index.js" ]]; then
    echo "store-contract-worker: built already" >&2
else
    echo "store-contract-worker: building the Worker" >&2
    "$root/infra/build-worker.sh" tests/store-contract-worker >&2
fi
"$wrangler" d1 migrations apply DB --local --config "$config" --persist-to "$state" >&2

port="$(free_port)"
log="$state/wrangler-dev.log"
"$wrangler" dev --config "$config" --local --ip 127.0.0.1 --port "$port" --persist-to "$state" \
    --show-interactive-dev-session=false --live-reload=false </dev/null >"$log" 2>&1 &
pid=$!
base="http://127.0.0.1:$port"
wait_until_up "wrangler dev (store contract)" "$pid" "$log" "${WRANGLER_DEV_TIMEOUT:-600}" \
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' "$base/cases"

# One request runs every case in turn; the verdicts come back as JSON.
python3 - "$base/run" "$log" <<'PY'
import json, sys, time, urllib.error, urllib.request

url, log = sys.argv[1], sys.argv[2]
started = time.monotonic()
try:
    verdicts = json.load(urllib.request.urlopen(url, timeout=600))["cases"]
except Exception as e:
    body = e.read().decode(errors="replace") if isinstance(e, urllib.error.HTTPError) else ""
    print(f"store-contract-worker: {url} gave no verdicts ({e}) {body}", file=sys.stderr)
    time.sleep(1)  # wrangler logs the request after answering it
    sys.stderr.write(open(log).read()[-4000:])
    sys.exit(1)
failed = [v for v in verdicts if not v["passed"]]
print(f"\nrunning {len(verdicts)} tests")
for v in verdicts:
    print(f"test store_contract::cloudflare::{v['name']} ... {'ok' if v['passed'] else 'FAILED'}")
if failed:
    print("\nfailures:")
    for v in failed:
        print(f"\n---- store_contract::cloudflare::{v['name']} ----\n{v['failure']}")
    print("\nfailures:")
    for v in failed:
        print(f"    store_contract::cloudflare::{v['name']}")
outcome = "FAILED" if failed else "ok"
elapsed = time.monotonic() - started
print(f"\ntest result: {outcome}. {len(verdicts) - len(failed)} passed; {len(failed)} failed; 0 ignored; 0 measured; 0 filtered out; finished in {elapsed:.2f}s\n")
sys.exit(1 if failed or not verdicts else 0)
PY
