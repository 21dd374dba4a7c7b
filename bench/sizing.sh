#!/usr/bin/env bash
# How large each Lambda function should be: every function's typical successful request,
# timed under a CPU quota that gives the server Lambda's share of a vCPU at 128, 256, 512,
# 1,024 and 1,769 MB (one full vCPU at 1,769 MB). Prints a markdown table and writes
# bench/results/sizing.json, which bench/cost.py reads.
#
#   bench/sizing.sh [RUNS] [--only sign-in,session] [--sizes 128,1769] [--dynamodb]
#
# --dynamodb: the same server over the local DynamoDB API (moto, tests/support/dynamodb-api.sh)
# instead of its in-memory store, written to bench/results/sizing-dynamodb.json. Its
# latencies are the emulator's, not DynamoDB's; what it adds is the CPU time of the AWS SDK's
# work per request (signing, JSON, HTTP), which the in-memory figures leave out.
#
# What runs: the release dev server (every endpoint in one process, in-memory store) at the
# production argon2id cost (shared/src/password.rs), in a cgroup v1 `cpu` + `cpuacct` group
# this script makes and removes (needs root and a writable /sys/fs/cgroup/cpu). The store's
# round trips take no CPU and are not in these figures: bench/cost.py adds them from
# bench/results/round-trips.json. Python 3 standard library only.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runs=20
extra=()
dynamodb=""
while (($#)); do
    case "$1" in
        --only | --sizes) extra+=("$1" "$2"); shift 2 ;;
        --dynamodb) dynamodb=1; shift ;;
        [0-9]*) runs="$1"; shift ;;
        *) echo "usage: bench/sizing.sh [RUNS] [--only NAMES] [--sizes MB,...] [--dynamodb]" >&2; exit 2 ;;
    esac
done

# shellcheck source=../tests/support/process.sh
source tests/support/process.sh
# shellcheck source=../tests/support/oauth.sh
source tests/support/oauth.sh
# shellcheck source=../tests/support/dynamodb-api.sh
source tests/support/dynamodb-api.sh

group="authfn-sizing-$$"
cpu_dir="/sys/fs/cgroup/cpu/$group"
acct_dir="/sys/fs/cgroup/cpuacct/$group"
if ! mkdir "$cpu_dir" 2>/dev/null || ! mkdir "$acct_dir" 2>/dev/null; then
    rmdir "$cpu_dir" 2>/dev/null || true
    echo "bench/sizing.sh: cannot make a cgroup v1 cpu/cpuacct group (needs root and cgroup v1)" >&2
    exit 1
fi
server_pid="" log=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill_tree "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi
    [[ -n "$log" ]] && rm -f "$log"
    [[ -n "$dynamodb" ]] && stop_dynamodb_api
    # A group can be removed once its tasks have gone.
    for _ in 1 2 3 4 5; do
        rmdir "$cpu_dir" "$acct_dir" 2>/dev/null && break
        sleep 0.2
    done
}
trap cleanup EXIT

target="${CARGO_TARGET_DIR:-$root/target}"
echo "building the release dev server" >&2
cargo build --release --quiet -p authfn-dev-server >&2

store=(-u AUTHFN_DYNAMODB_ENDPOINT)
results=bench/results/sizing.json
store_label="in-memory store; its round trips take no time"
if [[ -n "$dynamodb" ]]; then
    store_label="over the local DynamoDB API (moto): its latencies are the emulator's"
    start_dynamodb_api >&2
    store=(AUTHFN_DYNAMODB_ENDPOINT="$AUTHFN_TEST_DYNAMODB_ENDPOINT" AUTHFN_TABLE=sizing
        AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1)
    env "${store[@]}" "$target/release/authfn-dev" --create-table-only >&2
    results=bench/results/sizing-dynamodb.json
fi

rs_secret="$(new_resource_server_secret)"
mapfile -t oauth < <(oauth_env "$rs_secret")
port="$(free_port)"
log="$(mktemp "${TMPDIR:-/tmp}/authfn-sizing.XXXXXX.log")"
# The bench makes many accounts and sign-ins from one address; the limits that would refuse
# them are raised, everything else is the production default (argon2id included).
env "${store[@]}" "${oauth[@]}" AUTHFN_PUBLIC_URL="http://127.0.0.1:$port" AUTHFN_TRUSTED_ORIGINS=http://localhost:5173 \
    AUTHFN_RATE_LIMIT_PER_MINUTE=1000000 AUTHFN_LOCKOUT_MAX_FAILURES=1000000 AUTHFN_EMAIL_CODE_SIGN_IN=true \
    sh -c 'echo $$ >"$1/cgroup.procs" && echo $$ >"$2/cgroup.procs" && shift 2 && exec "$@"' sh \
    "$cpu_dir" "$acct_dir" "$target/release/authfn-dev" --addr "127.0.0.1:$port" </dev/null >"$log" 2>&1 &
server_pid=$!
wait_until_up "the dev server" "$server_pid" "$log" 60 port_open "$port"

mkdir -p bench/results
host="$(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs"
python3 bench/sizing.py --base-url "http://127.0.0.1:$port" --cgroup "$group" --runs "$runs" "${extra[@]}" \
    --resource-server-secret "$rs_secret" --json "$results" --store "$store_label" \
    --argon2 "argon2id m=19456 KiB t=2 p=1 (the default)" --host "$host" \
    --command "bench/sizing.sh $runs${extra[*]:+ ${extra[*]}}${dynamodb:+ --dynamodb}"
