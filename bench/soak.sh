#!/usr/bin/env bash
# The soak test: USERS Locust users (default 50) run whole journeys (tests/soak/locustfile.py:
# sign-up and its mailed link, sign-in, 20 session checks, a device approval and a token
# refresh, sign-out) for SECONDS (default 300) against each target, sampling the server's
# resident memory meanwhile; then every journey's sessions are checked (tests/soak/report.py).
# Prints a markdown report (per endpoint: requests, failures, 5xx, p50, p99; RSS; verdicts) and
# exits non-zero when a requirement fails: a 5xx, a failed request, a session lost, or the dev
# server's memory growing (the last third's mean RSS more than SOAK_RSS_BOUND %, default 10,
# above the middle third's). workerd's RSS is reported, not judged: under `wrangler dev` it
# grows with every request even for a hello-world Worker (measured: see below).
#
#   bench/soak.sh [SECONDS] [--target dev-dynamodb|workerd|both] [--users N]
#
# Targets: dev-dynamodb, the dev server (the debug build the suite runs) over the local DynamoDB
# API (moto, tests/support/dynamodb-api.sh), its mail read from GET /dev/mailbox; workerd, the
# Worker under `wrangler dev` (tests/support/workers.sh: release wasm, local KV and D1), its
# mail read from the local SES. RSS is the dev server process's, or the sum of wrangler's
# workerd processes'. The rate limit is lifted (every user comes from 127.0.0.1). Passwords are
# hashed at the deployment's argon2id cost (19 MiB, t=2), but for the dev server's when
# AUTHFN_ARGON2_MEMORY_KIB / _ITERATIONS are set here (tests/run.sh lowers them for its
# 30-second run: in the unoptimised dev server one hash at the full cost takes about a second
# of CPU).
#
# Uses the DynamoDB API server of the calling shell when there is one (tests/run.sh), else
# starts its own. Needs locust (tests/install-tools.sh) and what the targets need.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds=300 target=both users=50
while (($#)); do
    case "$1" in
        --target) target="$2"; shift 2 ;;
        --users) users="$2"; shift 2 ;;
        [0-9]*) seconds="$1"; shift ;;
        *) echo "usage: bench/soak.sh [SECONDS] [--target dev-dynamodb|workerd|both] [--users N]" >&2; exit 2 ;;
    esac
done
case "$target" in
    both) targets=(dev-dynamodb workerd) ;;
    dev-dynamodb | workerd) targets=("$target") ;;
    *) echo "bench/soak.sh: unknown target $target" >&2; exit 2 ;;
esac

# shellcheck source=../tests/support/dynamodb-api.sh
source tests/support/dynamodb-api.sh
# shellcheck source=../tests/support/dev-server.sh
source tests/support/dev-server.sh
# shellcheck source=../tests/support/workers.sh
source tests/support/workers.sh
# shellcheck source=../tests/support/oauth.sh
source tests/support/oauth.sh

owns_api="" sampler="" wasm_sampler="" work=""
cleanup() {
    [[ -n "$sampler" ]] && kill "$sampler" 2>/dev/null
    [[ -n "$wasm_sampler" ]] && kill "$wasm_sampler" 2>/dev/null
    stop_wrangler_dev || true
    stop_dev_server || true
    [[ -n "$owns_api" ]] && stop_dynamodb_api
    if [[ -n "$work" && -z "${SOAK_KEEP:-}" ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT
if [[ -z "${AUTHFN_TEST_DYNAMODB_ENDPOINT:-}" ]]; then
    start_dynamodb_api
    owns_api=1
fi
# SOAK_KEEP=DIR keeps each target's raw figures there (Locust's log, the server's log, rss.tsv,
# wasm.tsv, the JSON files).
if [[ -n "${SOAK_KEEP:-}" ]]; then
    mkdir -p "$SOAK_KEEP"
    work="$(cd "$SOAK_KEEP" && pwd)"
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/authfn-soak.XXXXXX")"
fi

# What every target runs with beyond the suite's settings: the token issuer (for the refresh
# step) and no rate limit to meet. $1: its public URL.
soak_env() {
    oauth_env "$(new_resource_server_secret)"
    echo "AUTHFN_PUBLIC_URL=$1"
    echo "AUTHFN_RATE_LIMIT_PER_MINUTE=1000000"
}

# The argon2id cost the caller set, for the dev server.
argon2_env() {
    local name
    for name in AUTHFN_ARGON2_MEMORY_KIB AUTHFN_ARGON2_ITERATIONS; do
        if [[ -n "${!name:-}" ]]; then echo "$name=${!name}"; fi
    done
}

# The resident KiB of process $1 and its descendants named $2 (all of them when $2 is empty).
rss_kib() {
    local pids=("$1") i=0 child total=0 kib
    while ((i < ${#pids[@]})); do
        for child in $(pgrep -P "${pids[i]}" 2>/dev/null); do pids+=("$child"); done
        i=$((i + 1))
    done
    for child in "${pids[@]}"; do
        [[ -z "$2" || "$(cat "/proc/$child/comm" 2>/dev/null)" == "$2" ]] || continue
        kib="$(awk '/^VmRSS:/ { print $2 }' "/proc/$child/status" 2>/dev/null)" || continue
        total=$((total + ${kib:-0}))
    done
    echo "$total"
}

# Samples rss_kib $1 $2 every $3 seconds into $4 (seconds since the start, KiB).
sample_rss() {
    local started=$SECONDS
    while kill -0 "$1" 2>/dev/null; do
        echo "$((SECONDS - started)) $(rss_kib "$1" "$2")" >>"$4"
        sleep "$3"
    done
}

# Samples the Worker's wasm linear memory (tests/soak/wasm-memory-probe.js) at $1 every $2
# seconds into $3 (seconds since the start, bytes) while process $4 runs.
sample_wasm_memory() {
    local started=$SECONDS bytes
    while kill -0 "$4" 2>/dev/null; do
        bytes="$(curl -sf --max-time 5 "$1/__soak/wasm-memory" | python3 -c 'import json, sys; print(json.load(sys.stdin)["bytes"])' 2>/dev/null)" &&
            echo "$((SECONDS - started)) $bytes" >>"$3"
        sleep "$2"
    done
}

# About 60 samples a run, at most one a second.
interval=$((seconds / 60))
((interval >= 1)) || interval=1

report="$work/report.md" failed=0
: >"$report"
for t in "${targets[@]}"; do
    out="$work/$t"
    rm -rf "$out" && mkdir -p "$out"
    port="$(free_port)"
    AUTHFN_TEST_EXTRA_ENV="$(soak_env "http://127.0.0.1:$port")"
    case "$t" in
        dev-dynamodb)
            # The dev server with the DynamoDB store (a table of its own) instead of its memory.
            AUTHFN_TEST_EXTRA_ENV+="
AUTHFN_DYNAMODB_ENDPOINT=$AUTHFN_TEST_DYNAMODB_ENDPOINT
AUTHFN_TABLE=authfn-soak-$$
AUTHFN_AWS_TIMEOUT_SCALE=4"
            # No empty line: start_dev_server would pass it to env as a command.
            if [[ -n "$(argon2_env)" ]]; then AUTHFN_TEST_EXTRA_ENV+=$'\n'"$(argon2_env)"; fi
            export AUTHFN_TEST_EXTRA_ENV
            start_dev_server "$port" >&2
            base="$AUTHFN_DEV_BASE_URL" server_pid="$DEV_SERVER_PID" process="" mailbox="dev:$AUTHFN_DEV_BASE_URL"
            rss_not_judged=""
            ;;
        workerd)
            export AUTHFN_TEST_EXTRA_ENV
            WRANGLER_DEV_MAIN=tests/soak/wasm-memory-probe.js start_wrangler_dev "$port" >&2
            base="$AUTHFN_WORKERS_BASE_URL" server_pid="$WRANGLER_DEV_PID" process="workerd" mailbox="ses:$AUTHFN_TEST_DYNAMODB_ENDPOINT"
            # Measured (bench/workerd_rss_baseline.sh): wrangler dev's workerd processes grow
            # with every request whatever the Worker does; a plain JavaScript Worker grows them
            # about 35 KiB a request answering at once and about 100 KiB a request reading one
            # KV key and one D1 row (Miniflare's KV and D1 live in the same processes). So
            # their RSS says nothing of authfn's isolate; its wasm linear memory, which holds
            # all of authfn's Rust heap, is judged instead.
            rss_not_judged="wrangler dev's local workerd grows by itself with every request (bench/workerd_rss_baseline.sh: a plain JavaScript Worker, about 35 KiB a request answering at once, about 100 KiB reading one KV key and one D1 row); the Worker's wasm memory is judged instead"
            ;;
    esac
    unset AUTHFN_TEST_EXTRA_ENV

    echo "bench/soak.sh: $users users for ${seconds}s against $t ($base)" >&2
    sample_rss "$server_pid" "$process" "$interval" "$out/rss.tsv" &
    sampler=$!
    wasm_sampler=""
    if [[ "$t" == workerd ]]; then
        sample_wasm_memory "$base" "$interval" "$out/wasm.tsv" "$server_pid" &
        wasm_sampler=$!
    fi
    # Locust's own exit status counts failed requests; the report below judges them.
    SOAK_MAILBOX="$mailbox" SOAK_ORIGIN=http://localhost:5173 SOAK_OUT="$out" \
        locust -f tests/soak/locustfile.py --headless --users "$users" --spawn-rate 10 \
        --run-time "${seconds}s" --host "$base" --only-summary \
        >"$out/locust.log" 2>&1 || true
    kill "$sampler" $wasm_sampler 2>/dev/null || true
    wait "$sampler" $wasm_sampler 2>/dev/null || true
    sampler="" wasm_sampler=""

    if ! python3 tests/soak/report.py "$t" "$base" "$out" --rss-bound "${SOAK_RSS_BOUND:-10}" \
        --rss-not-judged "$rss_not_judged" >>"$report"; then
        failed=1
        echo "bench/soak.sh: $t failed a requirement; Locust's output:" >&2
        tail -n 40 "$out/locust.log" >&2
    fi
    # The server's own log, kept with the figures (SOAK_KEEP), to explain a failure.
    if [[ -n "${AUTHFN_TEST_SERVER_LOG:-}" && -f "$AUTHFN_TEST_SERVER_LOG" ]]; then
        cp "$AUTHFN_TEST_SERVER_LOG" "$out/server.log"
    fi
    case "$t" in
        dev-dynamodb) stop_dev_server ;;
        workerd) stop_wrangler_dev ;;
    esac
done

echo "## Soak: $users users, ${seconds}s per target ($(git describe --always --dirty))"
echo
cat "$report"
exit "$failed"
