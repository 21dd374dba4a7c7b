#!/usr/bin/env bash
# The whole test suite, on a fresh machine, with real parts:
#   1. unit, handler and store-contract tests, over the in-memory store and over DynamoDB's
#      real API (a local moto server, started here on a free loopback port), the check
#      that template.yaml and the Worker deploy every function, and cargo fuzz over request
#      handling and cookie parsing for a bounded time (tests/fuzz/run.sh); openapi.yaml against
#      the endpoint table, ApiError's codes and the OpenAPI 3.1 schema (openapi-spec-validator);
#   2. the black-box HTTP suite against the local dev server, the federation suite with a real
#      OpenID provider (oidc-provider from npm) on loopback, the device-flow suite, the security
#      events a journey leaves in the server's log (events.rs, on every runtime, with the event
#      bus read back on Lambda and Workers), openid-client + jose (npm) against the token
#      issuer, and Schemathesis's property-based checks from openapi.yaml
#      (tests/support/schemathesis.sh);
#   3. the same black-box suite against the real Lambda binaries, run by `cargo lambda watch`
#      over that DynamoDB API (and its SES v2 API, where their mail lands and the suite reads
#      it: AUTHFN_TEST_SES_URL), each function deployed as template.yaml says: with only its own
#      IAM policy (the server enforces it) and only its own environment (tests/support/
#      template_deploy.py), their security events put on that server's EventBridge (a bus and
#      its archive), then a store outage (that server frozen, then thawed);
#   4. the store contract against the Cloudflare store inside workerd (a test-only Worker,
#      tests/support/store-contract-worker.sh), then the same black-box suite against the
#      Worker in workerd (`wrangler dev --local`, with Miniflare's KV, D1 and a queue for its
#      events, read by a test consumer Worker; mail to the same local SES), and Schemathesis
#      against it too;
#   4b. 30 seconds of the soak test (bench/soak.sh, Locust): whole journeys by 10 users against
#      the dev server over the DynamoDB API, then against the Worker in workerd;
#   5. the example SPA (examples/spa) in Chromium (Debian's, driven by playwright-core):
#      against the README's dev command (./dev.sh), with its API documentation page (/docs),
#      then against the Worker in workerd;
#   6. the deployment artefacts, offline: cfn-lint and `sam validate --lint` on template.yaml,
#      an arm64 release build of every Lambda function, `wrangler deploy --dry-run`.
# Each stage's wall time is printed as a table at the end.
# Needs cargo, python3 with pip, and node with npm; tests/install-tools.sh, run first, installs
# the rest when missing (cargo-lambda, moto, cfn-lint, SAM, openapi-spec-validator,
# Schemathesis and Locust from PyPI, Debian's chromium, the Worker's tools and the npm packages).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Each stage's wall time, printed as a table at the end (and when a stage fails: the times so
# far), to see where CI's time goes.
stage_names=() stage_secs=() stage_started=""
stage() {
    if [[ -n "$stage_started" ]]; then stage_secs+=($((SECONDS - stage_started))); fi
    stage_started=""
    if (($#)); then
        echo "== $1"
        stage_names+=("$1")
        stage_started=$SECONDS
    fi
}
stage_times() {
    stage
    local i
    echo "| stage | seconds |"
    echo "|---|---:|"
    for i in "${!stage_secs[@]}"; do echo "| ${stage_names[i]} | ${stage_secs[i]} |"; done
    echo "| total | $SECONDS |"
}
stage "0 tools"
tests/install-tools.sh

# shellcheck source=support/dynamodb-api.sh
source tests/support/dynamodb-api.sh
# shellcheck source=support/dev-server.sh
source tests/support/dev-server.sh
# shellcheck source=support/lambda.sh
source tests/support/lambda.sh
# shellcheck source=support/workers.sh
source tests/support/workers.sh
# shellcheck source=support/idp.sh
source tests/support/idp.sh
# shellcheck source=support/oauth.sh
source tests/support/oauth.sh
# shellcheck source=support/spa.sh
source tests/support/spa.sh
dev_sh_pid="" deploy_pid="" worker_build_pid=""
cleanup() {
    stage_times >&2
    [[ -n "$dev_sh_pid" ]] && kill_tree "$dev_sh_pid"
    [[ -n "$deploy_pid" ]] && kill_tree "$deploy_pid"
    [[ -n "$worker_build_pid" ]] && kill_tree "$worker_build_pid"
    stop_spa || true
    stop_idp || true
    stop_wrangler_dev || true
    stop_lambda_watch || true
    stop_dev_server || true
    stop_dynamodb_api || true
}
trap cleanup EXIT

start_dynamodb_api

# Every test run's output is also kept here, for one total at the end.
results="$(mktemp "${TMPDIR:-/tmp}/authfn-test-output.XXXXXX")"
run_tests() {
    cargo test "$@" 2>&1 | tee -a "$results"
}

stage "1/6 unit, handler and store tests (memory + DynamoDB API)"
# The workspace lints (Cargo.toml) as errors, natively and for the Worker's wasm32 build (whose
# dev-dependencies are native-only, hence no --all-targets there).
cargo clippy --workspace --all-targets --features authfn/dynamodb -- -D warnings
cargo clippy -p authfn --target wasm32-unknown-unknown --features authfn/workers -- -D warnings
cargo clippy --manifest-path worker/Cargo.toml --target-dir target --workspace --target wasm32-unknown-unknown -- -D warnings
echo "check workspace-lints-native-and-wasm32 ... ok" | tee -a "$results"
# The Worker's lockfile keeps idna's stub back end (worker/Cargo.toml says why); a `cargo update`
# there would quietly bring ICU4X's tables back into the wasm.
grep -A1 -x 'name = "idna_adapter"' worker/Cargo.lock | grep -qx 'version = "1.0.0"' ||
    { echo "worker/Cargo.lock: idna_adapter is not the 1.0.0 stub (worker/Cargo.toml)" >&2; exit 1; }
echo "check worker-lockfile-pins-idna-stub ... ok" | tee -a "$results"
# The local server checks SES SendEmail as AWS does (alone: it enforces IAM for a moment).
python3 tests/support/ses_iam_check.py "$AUTHFN_TEST_DYNAMODB_ENDPOINT" "$AUTHFN_TEST_MAIL_IDENTITY" "$AUTHFN_TEST_MAIL_FROM" \
    | tee -a "$results"
run_tests --workspace --exclude authfn-blackbox --features authfn/dynamodb -- --include-ignored
# The deployment descriptions (template.yaml, wrangler.toml) against the code, and every crate
# under the workspace lints; no server.
run_tests -p authfn-blackbox --test deployment --test workspace --test openapi
# openapi.yaml against the OpenAPI 3.1 schema (tests/blackbox/tests/openapi.rs checks it against
# the endpoint table and ApiError's codes).
python3 -m openapi_spec_validator openapi.yaml
echo "check openapi-spec-validator ... ok" | tee -a "$results"
# Request handling and the session cookie under cargo fuzz, a bounded time per target.
tests/fuzz/run.sh | tee -a "$results"

# Each target gets its own OpenID provider, registered with that target's callback URLs, and
# the token issuer's settings. $1: the target's AUTHFN_PUBLIC_URL.
with_idp() {
    start_idp "$1"
    AUTHFN_TEST_RESOURCE_SERVER_SECRET="$(new_resource_server_secret)"
    AUTHFN_TEST_EXTRA_ENV="$(federation_env "$1")
$(oauth_env "$AUTHFN_TEST_RESOURCE_SERVER_SECRET")"
    export AUTHFN_TEST_EXTRA_ENV AUTHFN_TEST_RESOURCE_SERVER_SECRET
}
without_idp() {
    stop_idp
    unset AUTHFN_TEST_EXTRA_ENV AUTHFN_TEST_RESOURCE_SERVER_SECRET
}

stage "2/6 black-box and federation suites against the local dev server"
port="$(free_port)"
with_idp "http://127.0.0.1:$port"
start_dev_server "$port"
AUTHFN_BASE_URL="$AUTHFN_DEV_BASE_URL" AUTHFN_URL_STYLE=paths \
    run_tests -p authfn-blackbox --test http --test accounts --test mfa --test federation --test device_flow --test hostile_inputs --test passkeys --test sessions --test events -- --include-ignored
# The issuer as standard OAuth and JWT libraries see it (openid-client, jose).
AUTHFN_BASE_URL="$AUTHFN_DEV_BASE_URL" node tests/oauth-client/device-flow.mjs | tee -a "$results"
# openapi.yaml's property-based checks: generated requests, valid and not, signed out and in.
tests/support/schemathesis.sh "$AUTHFN_DEV_BASE_URL"
echo "check schemathesis-against-the-dev-server ... ok" | tee -a "$results"
stop_dev_server
without_idp

stage "3/6 black-box and federation suites against the Lambda binaries (cargo lambda watch + DynamoDB API, template.yaml's IAM and environments)"
# Meanwhile, at the lowest priority, the two Worker bundles stage 4 serves (release wasm: the
# longest build of the run). The Lambda functions mostly wait on the local AWS API, so the
# compiler gets the cores they leave idle; its own target directory (infra/build-worker.sh)
# keeps it off this stage's cargo lock.
worker_build_log="$(mktemp "${TMPDIR:-/tmp}/worker-build.XXXXXX.log")"
worker_build_stamp="$(worker_sources_stamp)"
{ nice -n 19 infra/build-worker.sh && nice -n 19 infra/build-worker.sh tests/store-contract-worker; } \
    >"$worker_build_log" 2>&1 &
worker_build_pid=$!
port="$(free_port)"
# Under cargo lambda each function has its own URL prefix: the callback function's is the
# public URL the provider sends browsers back to.
with_idp "http://127.0.0.1:$port/lambda-url/federation-callback"
AUTHFN_TEST_EXTRA_ENV+=$'\n'"AUTHFN_ACCESS_TOKEN_JWKS_URL=http://127.0.0.1:$port/lambda-url/jwks/.well-known/jwks.json"
start_lambda_watch "$port"
AUTHFN_BASE_URL="$AUTHFN_LAMBDA_BASE_URL" AUTHFN_URL_STYLE=lambda-url \
    run_tests -p authfn-blackbox --test http --test accounts --test mfa --test federation --test device_flow --test hostile_inputs --test passkeys --test sessions --test events -- --include-ignored
# Last and alone: it freezes the DynamoDB API server for everyone, then thaws it.
AUTHFN_BASE_URL="$AUTHFN_LAMBDA_BASE_URL" AUTHFN_URL_STYLE=lambda-url AUTHFN_TEST_DYNAMODB_PID="$DDB_API_PID" \
    run_tests -p authfn-blackbox --test store_faults -- --include-ignored
stop_lambda_watch
without_idp

stage "4/6 store contract and black-box suites against the Worker (wrangler dev: workerd + local KV and D1)"
worker_build_ok=0
wait "$worker_build_pid" || worker_build_ok=$?
worker_build_pid=""
if ((worker_build_ok != 0)); then
    cat "$worker_build_log" >&2
    echo "the Worker build failed" >&2
    exit "$worker_build_ok"
fi
rm -f "$worker_build_log"
# Built from these sources: start_wrangler_dev and the store contract serve them as they are.
if [[ -n "$worker_build_stamp" && "$worker_build_stamp" == "$(worker_sources_stamp)" ]]; then
    export WRANGLER_DEV_BUILT="$worker_build_stamp" STORE_CONTRACT_WORKER_BUILT=1
fi
tests/support/store-contract-worker.sh | tee -a "$results"
unset STORE_CONTRACT_WORKER_BUILT
port="$(free_port)"
with_idp "http://127.0.0.1:$port"
start_wrangler_dev "$port"
AUTHFN_BASE_URL="$AUTHFN_WORKERS_BASE_URL" AUTHFN_URL_STYLE=paths \
    run_tests -p authfn-blackbox --test http --test accounts --test mfa --test federation --test device_flow --test hostile_inputs --test passkeys --test sessions --test events -- --include-ignored
AUTHFN_BASE_URL="$AUTHFN_WORKERS_BASE_URL" node tests/oauth-client/device-flow.mjs | tee -a "$results"
tests/support/schemathesis.sh "$AUTHFN_WORKERS_BASE_URL"
echo "check schemathesis-against-workerd ... ok" | tee -a "$results"
stop_wrangler_dev
without_idp

stage "4b/6 soak: 30 s of whole journeys against the dev server over the DynamoDB API, then the Worker in workerd"
# bench/soak.sh's short run: no 5xx, no failed request, no session lost, memory flat. 10 users,
# so that journeys complete within the 30 s; the unoptimised dev server hashes passwords at a
# lower argon2id cost (4 MiB, t=1: the full cost takes about a second of CPU a hash there),
# the Worker's release build at the full one.
AUTHFN_ARGON2_MEMORY_KIB=4096 AUTHFN_ARGON2_ITERATIONS=1 bench/soak.sh 30 --users 10 | tee -a "$results"
echo "check soak-30s ... ok" | tee -a "$results"

stage "5/6 the example SPA in Chromium: the README's ./dev.sh, then the Worker in workerd"
# Meanwhile, at the lowest priority, stage 6's template checks and arm64 builds: the browser
# checks mostly wait (on rate limits, on the next TOTP step, on mail), so the compiler gets the
# cores they leave idle. Not the Worker's dry run, which rebuilds worker/build under the
# wrangler dev this stage serves from.
deploy_log="$(mktemp "${TMPDIR:-/tmp}/deploy-checks.XXXXXX.log")"
nice -n 19 tests/deploy-checks.sh cfn-lint sam-validate lambda-arm64-build >"$deploy_log" 2>&1 &
deploy_pid=$!
# Every URL on localhost: the SPA and the API must share a site for the cookie.
api_port="$(free_port)" spa_port="$(free_port)"
dev_sh_log="$(mktemp "${TMPDIR:-/tmp}/dev-sh.XXXXXX.log")"
AUTHFN_DEV_PORT="$api_port" AUTHFN_SPA_PORT="$spa_port" ./dev.sh </dev/null >"$dev_sh_log" 2>&1 &
dev_sh_pid=$!
wait_until_up "./dev.sh" "$dev_sh_pid" "$dev_sh_log" 600 grep -q "open this" "$dev_sh_log"
AUTHFN_BASE_URL="http://localhost:$api_port" AUTHFN_SPA_URL="http://localhost:$spa_port" \
    AUTHFN_TEST_IDP_URL="$(awk '/local OpenID IdP/ { print $4 }' "$dev_sh_log")" \
    node tests/browser/spa.mjs | tee -a "$results"
# The API's documentation page as dev.sh serves it (Scalar from node_modules, strict CSP).
AUTHFN_BASE_URL="http://localhost:$api_port" node tests/browser/docs.mjs | tee -a "$results"
kill_tree "$dev_sh_pid"
dev_sh_pid=""
rm -f "$dev_sh_log"
# The production build generates openapi.yaml's types (openapi-typescript), type-checks auth.ts
# and the app (tsc --strict; src/auth.openapi-check.ts holds auth.ts to the document), then
# bundles them.
npm --prefix examples/spa run --silent build >&2
echo "check example-spa-typechecks-and-builds ... ok" | tee -a "$results"

port="$(free_port)" spa_port="$(free_port)"
with_idp "http://localhost:$port"
# The production rate limit, so the suite can meet it.
AUTHFN_TEST_EXTRA_ENV+="
AUTHFN_TRUSTED_ORIGINS=http://localhost:$spa_port
AUTHFN_RETURN_TO=http://localhost:$spa_port/
AUTHFN_SIGN_IN_URL=http://localhost:$spa_port/
AUTHFN_APP_URL=http://localhost:$spa_port/
AUTHFN_RATE_LIMIT_PER_MINUTE=20"
start_wrangler_dev "$port"
start_spa "$spa_port" "http://localhost:$port" "idp=Local IdP"
AUTHFN_BASE_URL="http://localhost:$port" node tests/browser/spa.mjs | tee -a "$results"
stop_spa
stop_wrangler_dev
without_idp

stage "6/6 deployment artefacts (template.yaml, arm64 Lambda builds, Worker bundle)"
deploy_ok=0
wait "$deploy_pid" || deploy_ok=$?
deploy_pid=""
grep -v '^check .* \.\.\. ok$' "$deploy_log" >&2 || true
grep '^check .* \.\.\. ok$' "$deploy_log" | tee -a "$results" || true
rm -f "$deploy_log"
if ((deploy_ok != 0)); then
    echo "deployment checks failed" >&2
    exit "$deploy_ok"
fi
tests/deploy-checks.sh wrangler-dry-run | tee -a "$results"

awk '/^check .* \.\.\. ok$/ { p += 1 }
     /^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed;/) p += $i; if ($(i+1) ~ /^failed;/) f += $i } }
     END { printf "all suites: %d passed, %d failed\n", p, f }' "$results"
rm -f "$results"
