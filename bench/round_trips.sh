#!/usr/bin/env bash
# Store round trips and billed units of every endpoint, on DynamoDB and on Cloudflare (KV + D1),
# counted by the stores themselves (shared/src/store/usage.rs) and read from the access lines.
#
#   bench/round_trips.sh [--readme]
#
# Runs the black-box suite one test at a time (so each access line's count is its request's
# alone) against the dev server over a local DynamoDB API (moto), then against the Worker in
# workerd (`wrangler dev`: Miniflare's KV and D1), and takes per endpoint the median over its
# successful requests. Writes bench/results/round-trips.json (what bench/cost.py reads), prints
# the markdown table, and with --readme puts it in README.md. Needs what tests/run.sh installs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
readme=()
[[ "${1:-}" == "--readme" ]] && readme=(--readme README.md)

# shellcheck source=../tests/support/dynamodb-api.sh
source tests/support/dynamodb-api.sh
# shellcheck source=../tests/support/workers.sh
source tests/support/workers.sh
# shellcheck source=../tests/support/idp.sh
source tests/support/idp.sh
# shellcheck source=../tests/support/oauth.sh
source tests/support/oauth.sh
dev_pid=""
logs="$(mktemp -d "${TMPDIR:-/tmp}/authfn-round-trips.XXXXXX")"
cleanup() {
    [[ -n "$dev_pid" ]] && kill_tree "$dev_pid"
    stop_wrangler_dev || true
    stop_idp || true
    stop_dynamodb_api || true
    rm -rf "$logs"
}
trap cleanup EXIT

start_dynamodb_api
port="$(free_port)"
start_idp "http://127.0.0.1:$port"
AUTHFN_TEST_RESOURCE_SERVER_SECRET="$(new_resource_server_secret)"
AUTHFN_TEST_EXTRA_ENV="$(federation_env "http://127.0.0.1:$port")
$(oauth_env "$AUTHFN_TEST_RESOURCE_SERVER_SECRET")"
export AUTHFN_TEST_EXTRA_ENV AUTHFN_TEST_RESOURCE_SERVER_SECRET
blackbox() {
    # The suites of stage 2 of tests/run.sh (store_faults needs a server it can freeze).
    AUTHFN_URL_STYLE=paths cargo test -q -p authfn-blackbox --no-fail-fast --test http --test accounts \
        --test mfa --test federation --test device_flow --test hostile_inputs --test passkeys \
        --test sessions --test events -- --include-ignored --test-threads=1 \
        >"$logs/$1-tests.log" 2>&1 ||
        echo "round_trips: some black-box tests failed on $1 (their requests still count): $(grep -c FAILED "$logs/$1-tests.log" || true) lines" >&2
}

echo "== the dev server over the DynamoDB API" >&2
cargo build -q -p authfn-dev-server >&2
dev="${CARGO_TARGET_DIR:-$root/target}/debug/authfn-dev"
mapfile -t extra <<<"$AUTHFN_TEST_EXTRA_ENV"
export AUTHFN_DYNAMODB_ENDPOINT="$AUTHFN_TEST_DYNAMODB_ENDPOINT" AUTHFN_TABLE=authfn-round-trips
"$dev" --create-table-only >&2
# The same settings as the suite's dev server (tests/support/dev-server.sh), with JSON lines.
env AUTHFN_DEV_LOG=json AUTHFN_TRUSTED_ORIGINS=http://localhost:5173 AUTHFN_RATE_LIMIT_PER_MINUTE=1000 \
    AUTHFN_EMAIL_CODE_SIGN_IN=true "${extra[@]}" "$dev" --addr "127.0.0.1:$port" </dev/null >"$logs/dynamodb.log" 2>&1 &
dev_pid=$!
wait_until_up "the dev server" "$dev_pid" "$logs/dynamodb.log" 30 port_open "$port"
AUTHFN_BASE_URL="http://127.0.0.1:$port" AUTHFN_TEST_SERVER_LOG="$logs/dynamodb.log" blackbox dynamodb
kill_tree "$dev_pid"
dev_pid=""
unset AUTHFN_DYNAMODB_ENDPOINT AUTHFN_TABLE

echo "== the Worker in workerd" >&2
start_wrangler_dev "$port"
AUTHFN_BASE_URL="$AUTHFN_WORKERS_BASE_URL" blackbox cloudflare
cp "$AUTHFN_TEST_SERVER_LOG" "$logs/cloudflare.log"

mkdir -p bench/results
python3 bench/round_trips.py --store dynamodb "$logs/dynamodb.log" --store cloudflare "$logs/cloudflare.log" \
    --json bench/results/round-trips.json --command "bench/round_trips.sh" "${readme[@]}"
