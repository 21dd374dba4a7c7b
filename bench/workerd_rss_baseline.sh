#!/usr/bin/env bash
# What `wrangler dev`'s local workerd grows by per request without authfn: a plain JavaScript
# Worker (bench/workerd-rss-baseline) answering at once, reading one KV key and one D1 row, and
# writing both, 10 requests at a time. Prints KiB of RSS per request (all workerd processes).
# bench/soak.sh reports workerd's RSS beside these figures and judges the Worker's wasm memory
# instead.
#
#   bench/workerd_rss_baseline.sh [REQUESTS]    # default 2000 per kind
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/support/process.sh
n="${1:-2000}"
export WRANGLER_SEND_METRICS=false CI=true
state="$(mktemp -d "${TMPDIR:-/tmp}/workerd-rss.XXXXXX")"
port="$(free_port)"
(cd bench/workerd-rss-baseline && exec ../../node_modules/.bin/wrangler dev --local --ip 127.0.0.1 --port "$port" \
    --persist-to "$state" --show-interactive-dev-session=false --live-reload=false) </dev/null >"$state/log" 2>&1 &
pid=$!
trap 'kill_tree "$pid"; rm -rf "$state"' EXIT
wait_until_up "wrangler dev (baseline)" "$pid" "$state/log" 120 curl -sf -o /dev/null "http://127.0.0.1:$port/ok"
python3 - "http://127.0.0.1:$port" "$n" <<'PY'
import concurrent.futures
import subprocess
import sys
import urllib.error
import urllib.request

base, n = sys.argv[1], int(sys.argv[2])


def rss_kib():
    total = 0
    for pid in subprocess.run(["pgrep", "workerd"], capture_output=True, text=True).stdout.split():
        try:
            total += next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS"))
        except (FileNotFoundError, StopIteration):
            pass
    return total


def one(path):
    try:
        urllib.request.urlopen(base + path).read()
    except urllib.error.HTTPError as e:
        e.read()


print("| requests | what each does | RSS before MiB | after MiB | KiB a request |")
print("|---:|---|---:|---:|---:|")
for path, what in [("/", "answers at once"), ("/store", "one KV get + one D1 query"),
                   ("/write", "one KV put + two D1 statements")]:
    before = rss_kib()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        list(pool.map(one, [path] * n))
    after = rss_kib()
    print(f"| {n} | {what} | {before / 1024:.0f} | {after / 1024:.0f} | {(after - before) / n:.1f} |")
PY
