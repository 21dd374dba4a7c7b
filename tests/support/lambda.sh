# Runs the real Lambda binaries (functions/*) locally with `cargo lambda watch`, over the
# local DynamoDB API, for the black-box suite. Source this file (bash), then:
#
#   start_dynamodb_api   # from dynamodb-api.sh: AUTHFN_TEST_DYNAMODB_ENDPOINT, AWS settings
#   start_lambda_watch [PORT]   # exports AUTHFN_LAMBDA_BASE_URL, e.g. http://127.0.0.1:PORT, and
#                        # AUTHFN_TEST_SES_URL: the functions' mail lands in that server's SES;
#                        # AUTHFN_TEST_SERVER_LOG: cargo lambda's output, the functions' log;
#                        # AUTHFN_TEST_EVENT_ARCHIVE: where the events the functions put on that
#                        # server's EventBridge bus can be read back (its archive)
#   ...                  # each function at $AUTHFN_LAMBDA_BASE_URL/lambda-url/<function>/<its path>
#   stop_lambda_watch
#
# Each function runs as template.yaml deploys it (template_deploy.py): with only its own IAM
# policy, enforced by the DynamoDB API server from then on, and with only the environment its
# template block gives it. The test run's settings (below, and AUTHFN_TEST_EXTRA_ENV's KEY=VALUE
# lines) reach a function only through the template's parameters and secrets, so a setting or a
# permission the template forgets fails the suite. stop_lambda_watch switches enforcement off.
#
# Needs cargo-lambda (`pip install cargo-lambda`; tests/install-tools.sh installs it).

_LAMBDA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=process.sh
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"
# shellcheck source=endpoints.sh
source "$(dirname "${BASH_SOURCE[0]}")/endpoints.sh"

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

    # cargo lambda builds a function on its first invocation, with `cargo run --bin <name>`
    # from the workspace root. Building every binary now makes that a no-op, so the wait
    # below measures start-up, not a compile of unknown length.
    echo "start_lambda_watch: building the functions" >&2
    local functions=() bins=() name
    mapfile -t functions < <(authfn_functions) && ((${#functions[@]} > 0)) || return 1
    for name in "${functions[@]}"; do bins+=(--bin "$name"); done
    (cd "$_LAMBDA_ROOT" && cargo build --quiet "${bins[@]}") || return 1

    # The functions expect their table to exist, as it does once deployed.
    local table="${AUTHFN_TEST_TABLE:-authfn-blackbox}"
    (cd "$_LAMBDA_ROOT" && AUTHFN_DYNAMODB_ENDPOINT="$AUTHFN_TEST_DYNAMODB_ENDPOINT" AUTHFN_TABLE="$table" \
        cargo run --quiet --bin authfn-dev -- --create-table-only) >&2 || return 1

    # The deployment's event bus (template.yaml's EventBusName), and an archive of it to read.
    local bus="${AUTHFN_TEST_EVENT_BUS:-authfn-blackbox-events}"
    event_bus_with_archive "$bus" || return 1

    local port=${1:-} key data_key settings
    [[ -n "$port" ]] || port="$(free_port)" || return 1
    key="$(new_session_key)" || return 1
    data_key="$(new_session_key)" || return 1

    # Files rather than command-line flags, so no key is on a command line that any local user
    # can read with ps.
    LAMBDA_WATCH_ENV_DIR="$(mktemp -d "${TMPDIR:-/tmp}/lambda-watch.XXXXXX")"
    settings="$LAMBDA_WATCH_ENV_DIR/settings"
    (umask 077 && cat >"$settings") <<EOF
AUTHFN_SESSION_KEYS=$key
AUTHFN_DATA_KEYS=$data_key
AUTHFN_COOKIE_SECURE=false
AUTHFN_TRUSTED_ORIGINS=http://localhost:5173
AUTHFN_RATE_LIMIT_PER_MINUTE=1000
AUTHFN_EMAIL_CODE_SIGN_IN=true
AUTHFN_DYNAMODB_ENDPOINT=$AUTHFN_TEST_DYNAMODB_ENDPOINT
AUTHFN_MAIL_FROM=$AUTHFN_TEST_MAIL_FROM
AUTHFN_SES_ENDPOINT=$AUTHFN_TEST_DYNAMODB_ENDPOINT
AUTHFN_EVENT_BUS=$bus
AUTHFN_EVENTBRIDGE_ENDPOINT=$AUTHFN_TEST_DYNAMODB_ENDPOINT
AUTHFN_AWS_TIMEOUT_SCALE=4
${AUTHFN_TEST_EXTRA_ENV:-}
EOF
    python3 "$_LAMBDA_ROOT/tests/support/template_deploy.py" deploy --template "$_LAMBDA_ROOT/template.yaml" \
        --settings "$settings" --table "$table" --dynamodb "$AUTHFN_TEST_DYNAMODB_ENDPOINT" \
        --parameter "MailIdentity=$AUTHFN_TEST_MAIL_IDENTITY" \
        --out "$LAMBDA_WATCH_ENV_DIR/functions" || { stop_lambda_watch; return 1; }
    for name in "${functions[@]}"; do
        if [[ ! -f "$LAMBDA_WATCH_ENV_DIR/functions/$name.env" ]]; then
            echo "start_lambda_watch: template.yaml deploys no function $name" >&2
            stop_lambda_watch
            return 1
        fi
    done

    # cargo runs each function through lambda-runner.sh, which gives it its own environment.
    local runner_var host
    host="$(rustc -vV | sed -n 's/^host: //p')"
    runner_var="CARGO_TARGET_$(echo "$host" | tr 'a-z-' 'A-Z_')_RUNNER"

    # --disable-cors: otherwise cargo lambda answers CORS itself and hides authfn's own CORS.
    # --ignore-changes: a source edit mid-run must not restart the functions under test.
    # --concurrency: parallel requests get parallel instances, so races are real races.
    LAMBDA_WATCH_LOG="$(mktemp "${TMPDIR:-/tmp}/lambda-watch.XXXXXX.log")"
    (cd "$_LAMBDA_ROOT" && export "$runner_var=$_LAMBDA_ROOT/tests/support/lambda-runner.sh" \
        AUTHFN_LAMBDA_ENV_DIR="$LAMBDA_WATCH_ENV_DIR/functions" &&
        exec cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
            --disable-cors --ignore-changes --concurrency 8) \
        </dev/null >"$LAMBDA_WATCH_LOG" 2>&1 &
    LAMBDA_WATCH_PID=$!
    export LAMBDA_WATCH_PID LAMBDA_WATCH_LOG LAMBDA_WATCH_ENV_DIR

    # If this shell dies without calling stop_lambda_watch, take cargo lambda with it.
    local owner=$BASHPID watched=$LAMBDA_WATCH_PID
    (
        while kill -0 "$owner" 2>/dev/null && kill -0 "$watched" 2>/dev/null; do sleep 1; done
        kill_tree "$watched"
    ) </dev/null >/dev/null 2>&1 &
    LAMBDA_WATCH_WATCHDOG_PID=$!
    export LAMBDA_WATCH_WATCHDOG_PID

    # Up means every function answers: the first invocation of each spawns its process, which
    # reads its configuration. A path off every route gets authfn's own 404 JSON.
    local base="http://127.0.0.1:$port" deadline=$((SECONDS + ${LAMBDA_WATCH_TIMEOUT:-180}))
    for name in "${functions[@]}"; do
        local url="$base/lambda-url/$name/readiness-probe"
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
    # Where the black-box suite's Mailbox reads the mail the functions sent.
    export AUTHFN_TEST_SES_URL="$AUTHFN_TEST_DYNAMODB_ENDPOINT"
    # Where the black-box suite reads the functions' log lines and their bus's events.
    export AUTHFN_TEST_SERVER_LOG="$LAMBDA_WATCH_LOG"
    export AUTHFN_TEST_EVENT_ARCHIVE="$AUTHFN_TEST_DYNAMODB_ENDPOINT/moto-api/data.json#$bus"
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
    if [[ -n "${LAMBDA_WATCH_ENV_DIR:-}" && -n "${AUTHFN_TEST_DYNAMODB_ENDPOINT:-}" ]]; then
        # Every request a function's template policy did not allow, to explain failures above.
        if [[ -n "${DDB_API_LOG:-}" ]]; then
            { grep '^denied: ' "$DDB_API_LOG" || true; } | sort | uniq -c >&2
        fi
        python3 "$_LAMBDA_ROOT/tests/support/template_deploy.py" undeploy --dynamodb "$AUTHFN_TEST_DYNAMODB_ENDPOINT" || true
    fi
    rm -rf "${LAMBDA_WATCH_LOG:-}" "${LAMBDA_WATCH_ENV_DIR:-}"
    unset LAMBDA_WATCH_PID LAMBDA_WATCH_LOG LAMBDA_WATCH_ENV_DIR LAMBDA_WATCH_WATCHDOG_PID AUTHFN_LAMBDA_BASE_URL AUTHFN_TEST_SES_URL \
        AUTHFN_TEST_SERVER_LOG AUTHFN_TEST_EVENT_ARCHIVE
}
