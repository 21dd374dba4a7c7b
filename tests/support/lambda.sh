# Runs the real Lambda binaries (functions/*) locally with `cargo lambda watch`, over the
# local DynamoDB API, for the black-box suite. Source this file (bash), then:
#
#   start_dynamodb_api   # from dynamodb-api.sh: AUTHFN_TEST_DYNAMODB_ENDPOINT, AWS settings
#   start_lambda_watch [PORT]   # exports AUTHFN_LAMBDA_BASE_URL, e.g. http://127.0.0.1:PORT
#   ...                  # each function at $AUTHFN_LAMBDA_BASE_URL/lambda-url/<function>/<its path>
#   stop_lambda_watch
#
# Settings in AUTHFN_TEST_EXTRA_ENV (KEY=VALUE lines) are added to the functions' environment.
#
# Needs cargo-lambda (`pip install cargo-lambda`; .ci/run installs it).

_LAMBDA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=process.sh
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"

# Function name and the endpoint path it serves (authfn::Endpoint::function_name / path).
_LAMBDA_FUNCTIONS=(
    "sign-up /auth/sign-up"
    "sign-in /auth/sign-in"
    "sign-out /auth/sign-out"
    "sign-out-all /auth/sign-out/all"
    "session /auth/session"
    "me /me"
    "federation-begin /auth/federation/none/begin"
    "federation-callback /auth/federation/none/callback"
    # A path just past the route: authfn's own 404 JSON whatever the endpoint would answer.
    "device-authorize /oidc/device/authorize/ready"
    "device-page /oidc/device/ready"
    "device-verify /oidc/device/verify/ready"
    "token /oidc/token/ready"
    "jwks /.well-known/jwks.json/ready"
    "openid-configuration /.well-known/openid-configuration/ready"
    "introspect /oidc/introspect/ready"
    "revoke /oidc/revoke/ready"
    "userinfo /oidc/userinfo/ready"
)

start_lambda_watch() {
    if [[ -z "${AUTHFN_TEST_DYNAMODB_ENDPOINT:-}" ]]; then
        echo "start_lambda_watch: AUTHFN_TEST_DYNAMODB_ENDPOINT is not set; call start_dynamodb_api first" >&2
        return 1
    fi
    if ! cargo lambda --version >/dev/null 2>&1; then
        echo "start_lambda_watch: cargo-lambda is not installed: pip install cargo-lambda" >&2
        return 1
    fi
    if [[ -n "${LAMBDA_WATCH_PID:-}" ]] && kill -0 "$LAMBDA_WATCH_PID" 2>/dev/null; then
        echo "start_lambda_watch: already running (pid $LAMBDA_WATCH_PID)" >&2
        return 1
    fi

    local bins=() entry
    for entry in "${_LAMBDA_FUNCTIONS[@]}"; do bins+=(--bin "${entry%% *}"); done
    # cargo lambda builds a function on its first invocation, with `cargo run --bin <name>`
    # from the workspace root. Building the same way now makes that a no-op, so the wait
    # below measures start-up, not a compile of unknown length.
    echo "start_lambda_watch: building the functions" >&2
    (cd "$_LAMBDA_ROOT" && cargo build --quiet "${bins[@]}" --bin authfn-dev) || return 1

    # The functions expect their table to exist, as it does once deployed.
    local table="${AUTHFN_TEST_TABLE:-authfn-blackbox}"
    (cd "$_LAMBDA_ROOT" && AUTHFN_DYNAMODB_ENDPOINT="$AUTHFN_TEST_DYNAMODB_ENDPOINT" AUTHFN_TABLE="$table" \
        cargo run --quiet --bin authfn-dev -- --create-table-only) >&2 || return 1

    local port=${1:-} key
    [[ -n "$port" ]] || port="$(free_port)" || return 1
    key="$(new_session_key)" || return 1

    # An env file rather than --env-var flags, so the session key is not on a command line
    # that any local user can read with ps.
    LAMBDA_WATCH_ENV="$(mktemp "${TMPDIR:-/tmp}/lambda-watch.XXXXXX.env")"
    chmod 600 "$LAMBDA_WATCH_ENV"
    cat >"$LAMBDA_WATCH_ENV" <<EOF
AUTHFN_SESSION_KEYS=$key
AUTHFN_COOKIE_SECURE=false
AUTHFN_TRUSTED_ORIGINS=http://localhost:5173
AUTHFN_RATE_LIMIT_PER_MINUTE=1000
AUTHFN_TABLE=$table
AUTHFN_DYNAMODB_ENDPOINT=$AUTHFN_TEST_DYNAMODB_ENDPOINT
AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local}
AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local}
AWS_REGION=${AWS_REGION:-us-east-1}
${AUTHFN_TEST_EXTRA_ENV:-}
EOF

    # --disable-cors: otherwise cargo lambda answers CORS itself and hides authfn's own CORS.
    # --ignore-changes: a source edit mid-run must not restart the functions under test.
    # --concurrency: parallel requests get parallel instances, so races are real races.
    LAMBDA_WATCH_LOG="$(mktemp "${TMPDIR:-/tmp}/lambda-watch.XXXXXX.log")"
    (cd "$_LAMBDA_ROOT" && exec cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
        --disable-cors --ignore-changes --concurrency 8 --env-file "$LAMBDA_WATCH_ENV") \
        </dev/null >"$LAMBDA_WATCH_LOG" 2>&1 &
    LAMBDA_WATCH_PID=$!
    export LAMBDA_WATCH_PID LAMBDA_WATCH_LOG LAMBDA_WATCH_ENV

    # If this shell dies without calling stop_lambda_watch, take cargo lambda with it.
    local owner=$BASHPID watched=$LAMBDA_WATCH_PID
    (
        while kill -0 "$owner" 2>/dev/null && kill -0 "$watched" 2>/dev/null; do sleep 1; done
        kill_tree "$watched"
    ) </dev/null >/dev/null 2>&1 &
    LAMBDA_WATCH_WATCHDOG_PID=$!
    export LAMBDA_WATCH_WATCHDOG_PID

    # Up means every function answers: the first invocation of each spawns its process.
    local base="http://127.0.0.1:$port" deadline=$((SECONDS + ${LAMBDA_WATCH_TIMEOUT:-180}))
    for entry in "${_LAMBDA_FUNCTIONS[@]}"; do
        local url="$base/lambda-url/${entry%% *}${entry#* }"
        until authfn_answers "$url"; do
            if ! kill -0 "$LAMBDA_WATCH_PID" 2>/dev/null; then
                echo "start_lambda_watch: cargo lambda watch exited; its output:" >&2
                cat "$LAMBDA_WATCH_LOG" >&2
                stop_lambda_watch
                return 1
            fi
            if ((SECONDS >= deadline)); then
                echo "start_lambda_watch: $url did not answer in time; cargo lambda's output:" >&2
                tail -n 40 "$LAMBDA_WATCH_LOG" >&2
                stop_lambda_watch
                return 1
            fi
            sleep 0.5
        done
    done

    export AUTHFN_LAMBDA_BASE_URL="$base"
    echo "cargo lambda watch serving the functions at $base/lambda-url/<function>/<path> (pid $LAMBDA_WATCH_PID)" >&2
}

stop_lambda_watch() {
    if [[ -n "${LAMBDA_WATCH_WATCHDOG_PID:-}" ]]; then
        kill "$LAMBDA_WATCH_WATCHDOG_PID" 2>/dev/null || true
        wait "$LAMBDA_WATCH_WATCHDOG_PID" 2>/dev/null || true
    fi
    if [[ -n "${LAMBDA_WATCH_PID:-}" ]]; then
        kill_tree "$LAMBDA_WATCH_PID"
        wait "$LAMBDA_WATCH_PID" 2>/dev/null || true
    fi
    rm -f "${LAMBDA_WATCH_LOG:-}" "${LAMBDA_WATCH_ENV:-}"
    unset LAMBDA_WATCH_PID LAMBDA_WATCH_LOG LAMBDA_WATCH_ENV LAMBDA_WATCH_WATCHDOG_PID AUTHFN_LAMBDA_BASE_URL
}
