#!/usr/bin/env bash
# The Worker's CPU time per request against the same code native: the factor bench/cost.py
# multiplies the native CPU times of bench/results/sizing.json by to price Workers CPU-ms.
# Times sign-in (argon2id, nearly all of its CPU) and the session check in workerd under
# `wrangler dev`, with workerd's processes in a cgroup v1 cpuacct group (a full CPU, as
# sizing.sh's 1769 MB), and writes `wasm_native_factor` into sizing.json: sign-in's CPU less
# the session check's in workerd, over the same in sizing.json's native figures.
#
#   bench/wasm_factor.sh [RUNS]
#
# Run bench/sizing.sh first. Subtracting the session check takes out what workerd spends
# outside the Worker under wrangler dev (the proxy, Miniflare's local KV and D1).
# Needs root, cgroup v1, and infra/install-worker-tools.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runs="${1:-20}"
[[ -f bench/results/sizing.json ]] || { echo "bench/wasm_factor.sh: run bench/sizing.sh first" >&2; exit 1; }

# shellcheck source=../tests/support/workers.sh
source tests/support/workers.sh

group="authfn-wasm-$$"
cpu_dir="/sys/fs/cgroup/cpu/$group"
acct_dir="/sys/fs/cgroup/cpuacct/$group"
mkdir "$cpu_dir" "$acct_dir"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/authfn-wasm.XXXXXX")"
out="$tmp/workerd.json"
cleanup() {
    stop_wrangler_dev || true
    stop_dynamodb_api || true
    rm -rf "$tmp"
    for _ in 1 2 3 4 5; do
        rmdir "$cpu_dir" "$acct_dir" 2>/dev/null && break
        sleep 0.2
    done
}
trap cleanup EXIT

# Accounts without a mailed proof: this reads no mail.
export AUTHFN_TEST_EXTRA_ENV="AUTHFN_EMAIL_VERIFICATION=off"
start_wrangler_dev >&2
for pid in $(pgrep -f workerd); do
    # Only workerd under this wrangler: its descendants.
    p="$pid"
    while [[ "$p" -gt 1 && "$p" != "$WRANGLER_DEV_PID" ]]; do p="$(ps -o ppid= -p "$p" | tr -d ' ')"; done
    if [[ "$p" == "$WRANGLER_DEV_PID" ]]; then
        echo "$pid" >"$cpu_dir/cgroup.procs"
        echo "$pid" >"$acct_dir/cgroup.procs"
    fi
done

python3 bench/sizing.py --base-url "$AUTHFN_WORKERS_BASE_URL" --cgroup "$group" --runs "$runs" \
    --sizes 1769 --only sign-in,session --no-verification --json "$out" --command "bench/wasm_factor.sh $runs" >&2
python3 - "$out" bench/results/sizing.json "bench/wasm_factor.sh $runs" <<'PY'
import json, sys

workerd_path, sizing_path, command = sys.argv[1:]
workerd = json.load(open(workerd_path))["functions"]
sizing = json.load(open(sizing_path))
native = sizing["functions"]
# Less each runtime's session check: workerd's own floor under wrangler dev (its proxy, the
# local KV and D1) is no Worker CPU Cloudflare bills, so the ratio is of the work itself.
cpu = lambda runs, name: runs[name]["1769"]["cpu_ms"]
factor = ((cpu(workerd, "sign-in") - cpu(workerd, "session"))
          / (cpu(native, "sign-in") - cpu(native, "session")))
sizing["wasm_native_factor"] = round(factor, 2)
sizing["wasm_native"] = {
    "command": command,
    "workerd_cpu_ms": {n: workerd[n]["1769"]["cpu_ms"] for n in workerd},
    "native_cpu_ms": {n: native[n]["1769"]["cpu_ms"] for n in workerd},
}
with open(sizing_path, "w") as f:
    json.dump(sizing, f, indent=1)
    f.write("\n")
print(f"| request | native CPU ms | workerd CPU ms | ratio |\n|---|---:|---:|---:|")
for n in workerd:
    w, v = workerd[n]["1769"]["cpu_ms"], native[n]["1769"]["cpu_ms"]
    print(f"| {n} | {v:.2f} | {w:.2f} | {w / v:.2f} |")
print(f"\nwasm/native factor (sign-in less the session check): {factor:.2f}")
PY
