# Runs the Worker in the real Workers runtime (workerd, through `wrangler dev --local`, with
# Miniflare's local KV and D1) for the black-box suite. Source this file (bash), then:
#
#   start_wrangler_dev [PORT]   # exports AUTHFN_WORKERS_BASE_URL, e.g. http://127.0.0.1:PORT,
#                        # and AUTHFN_TEST_SERVER_LOG, wrangler's output (the Worker's log)
#   ...                  # every endpoint at its own path under that one host
#   stop_wrangler_dev
#
# The Worker runs with its event bus on: wrangler.toml's commented queue producer, uncommented
# in a copy (wrangler.toml itself leaves the bus off), and a test-only consumer Worker
# (tests/event-sink) in the same session, on the same local queue, which logs every message it
# receives for the suite to read (AUTHFN_TEST_EVENT_QUEUE names the queue).
#
# Settings in AUTHFN_TEST_EXTRA_ENV (KEY=VALUE lines) are added to the Worker's environment.
# WRANGLER_DEV_MAIN (a path from the repository's root) serves another entry module, which
# imports the built Worker (bench/soak.sh's memory probe, tests/soak/wasm-memory-probe.js).
# The Worker sends its mail to the local SES API (dynamodb-api.sh's server: the one running, or
# one started here) and AUTHFN_TEST_SES_URL says where, for the black-box suite's Mailbox. It
# signs with the key of an IAM user allowed only ses:SendEmail on the test identity, and the
# server enforces IAM until stop_wrangler_dev, so a bad signature or policy fails the suite.
#
# Needs the tools from infra/install-worker-tools.sh (tests/install-tools.sh calls it).

_WORKERS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=process.sh
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"
# shellcheck source=dynamodb-api.sh
source "$(dirname "${BASH_SOURCE[0]}")/dynamodb-api.sh"

# What the Worker bundle is built from, as one line: the commit and any change to the sources
# since (tracked or not); empty outside a git checkout, where nothing can be told.
worker_sources_stamp() {
    local paths=(worker shared Cargo.toml Cargo.lock infra/build-worker.sh)
    (
        cd "$_WORKERS_ROOT" && git rev-parse HEAD >/dev/null 2>&1 || exit 0
        {
            git rev-parse HEAD
            git diff HEAD -- "${paths[@]}"
            git ls-files --others --exclude-standard -z -- "${paths[@]}" | xargs -0 -r sha256sum
        } | sha256sum | cut -d' ' -f1
    )
}

start_wrangler_dev() {
    if [[ -n "${WRANGLER_DEV_PID:-}" ]] && kill -0 "$WRANGLER_DEV_PID" 2>/dev/null; then
        echo "start_wrangler_dev: already running (pid $WRANGLER_DEV_PID)" >&2
        return 1
    fi
    local wrangler="$_WORKERS_ROOT/node_modules/.bin/wrangler"
    if [[ ! -x "$wrangler" ]]; then
        echo "start_wrangler_dev: wrangler is not installed: infra/install-worker-tools.sh" >&2
        return 1
    fi
    # No telemetry, no prompts, no update checks from a test run.
    export WRANGLER_SEND_METRICS=false CI=true

    # A fresh state directory per run: KV and D1 start empty, as a new deployment does.
    WRANGLER_DEV_STATE="$(mktemp -d "${TMPDIR:-/tmp}/wrangler-dev.XXXXXX")"
    export WRANGLER_DEV_STATE
    (cd "$_WORKERS_ROOT" && "$wrangler" d1 migrations apply DB --local --persist-to "$WRANGLER_DEV_STATE") >&2 || return 1

    # The build first, on its own, so a compile error shows as one and the wait below
    # measures start-up; wrangler dev then serves it as built (its [build] is left out below).
    # Once per test run: a later start from the same sources (this shell or its children)
    # reuses the bundle, as even a cached build re-runs wasm-bindgen and wasm-opt (a minute or
    # two on two cores).
    local stamp
    stamp="$(worker_sources_stamp)"
    if [[ -z "$stamp" || "${WRANGLER_DEV_BUILT:-}" != "$stamp" || ! -f "$_WORKERS_ROOT/worker/build/index.js" ]]; then
        echo "start_wrangler_dev: building the Worker" >&2
        "$_WORKERS_ROOT/infra/build-worker.sh" >&2 || return 1
        WRANGLER_DEV_BUILT="$stamp"
        export WRANGLER_DEV_BUILT
    else
        echo "start_wrangler_dev: the Worker is built from these sources already" >&2
    fi

    local port=${1:-} key data_key ses_key
    [[ -n "$port" ]] || port="$(free_port)" || return 1
    key="$(new_session_key)" || return 1
    data_key="$(new_session_key)" || return 1

    # The local SES API for the Worker's mail.
    if [[ -z "${AUTHFN_TEST_DYNAMODB_ENDPOINT:-}" ]]; then
        start_dynamodb_api || return 1
        WRANGLER_DEV_OWNS_SES=1
        export WRANGLER_DEV_OWNS_SES
    fi
    ses_key="$(ses_sender_key "$AUTHFN_TEST_MAIL_IDENTITY")" || return 1

    # Local secrets and settings go in an env file (wrangler's local stand-in for
    # `wrangler secret put`), so the session key is not on a command line.
    WRANGLER_DEV_ENV="$WRANGLER_DEV_STATE/test.env"
    (umask 077 && cat >"$WRANGLER_DEV_ENV" <<EOF
AUTHFN_SESSION_KEYS=$key
AUTHFN_DATA_KEYS=$data_key
AUTHFN_COOKIE_SECURE=false
AUTHFN_TRUSTED_ORIGINS=http://localhost:5173
AUTHFN_RATE_LIMIT_PER_MINUTE=1000
AUTHFN_EMAIL_CODE_SIGN_IN=true
AUTHFN_MAIL_FROM=$AUTHFN_TEST_MAIL_FROM
AUTHFN_SES_REGION=us-east-1
AUTHFN_SES_ENDPOINT=$AUTHFN_TEST_DYNAMODB_ENDPOINT
$ses_key
${AUTHFN_TEST_EXTRA_ENV:-}
EOF
    )

    enforce_iam on || return 1
    WRANGLER_DEV_ENFORCES_IAM=1
    export WRANGLER_DEV_ENFORCES_IAM

    # wrangler.toml with its event bus on. Next to it, so that its relative paths still hold.
    WRANGLER_DEV_CONFIG="$_WORKERS_ROOT/.wrangler-test-$BASHPID.toml"
    python3 - "$_WORKERS_ROOT/wrangler.toml" "$WRANGLER_DEV_CONFIG" "${WRANGLER_DEV_MAIN:-}" <<'PY' || return 1
import sys

source, target, main = sys.argv[1:]
block = ['# [[queues.producers]]', '# binding = "EVENTS"', '# queue = "authfn-events"']
lines = open(source).read().split("\n")
at = next((i for i in range(len(lines)) if lines[i:i + len(block)] == block), None)
if at is None:
    sys.exit(f"start_wrangler_dev: {source} has no commented queue producer block {block}")
lines[at:at + len(block)] = [line[2:] for line in block]
# Without its [build] table: the bundle was just built above, and wrangler would run the same
# build command again, which re-runs wasm-bindgen and wasm-opt over an unchanged wasm.
start = lines.index("[build]")
end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
lines[start:end] = []
# Another entry module in front of the built Worker (bench/soak.sh's memory probe).
if main:
    lines = [f'main = "{main}"' if line.startswith("main = ") else line for line in lines]
open(target, "w").write("\n".join(lines))
PY
    export WRANGLER_DEV_CONFIG
    export AUTHFN_TEST_EVENT_QUEUE=authfn-events

    WRANGLER_DEV_LOG="$WRANGLER_DEV_STATE/wrangler-dev.log"
    (cd "$_WORKERS_ROOT" && exec "$wrangler" dev --local --ip 127.0.0.1 --port "$port" \
        --config "$WRANGLER_DEV_CONFIG" --config tests/event-sink/wrangler.toml \
        --persist-to "$WRANGLER_DEV_STATE" --env-file "$WRANGLER_DEV_ENV" \
        --show-interactive-dev-session=false --live-reload=false) \
        </dev/null >"$WRANGLER_DEV_LOG" 2>&1 &
    WRANGLER_DEV_PID=$!
    export WRANGLER_DEV_PID WRANGLER_DEV_LOG WRANGLER_DEV_ENV

    # If this shell dies without calling stop_wrangler_dev, take wrangler and workerd with it.
    local owner=$BASHPID watched=$WRANGLER_DEV_PID
    (
        while kill -0 "$owner" 2>/dev/null && kill -0 "$watched" 2>/dev/null; do sleep 1; done
        kill_tree "$watched"
    ) </dev/null >/dev/null 2>&1 &
    WRANGLER_DEV_WATCHDOG_PID=$!
    export WRANGLER_DEV_WATCHDOG_PID

    # Up means the Worker itself answers: authfn's JSON 401 for a session-less request.
    local base="http://127.0.0.1:$port" deadline=$((SECONDS + ${WRANGLER_DEV_TIMEOUT:-600}))
    until authfn_answers "$base/auth/session"; do
        if ! kill -0 "$WRANGLER_DEV_PID" 2>/dev/null; then
            echo "start_wrangler_dev: wrangler dev exited; its output:" >&2
            cat "$WRANGLER_DEV_LOG" >&2
            stop_wrangler_dev
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "start_wrangler_dev: $base did not answer in time; wrangler's output:" >&2
            tail -n 40 "$WRANGLER_DEV_LOG" >&2
            stop_wrangler_dev
            return 1
        fi
        sleep 0.5
    done

    export AUTHFN_WORKERS_BASE_URL="$base"
    export AUTHFN_TEST_SES_URL="$AUTHFN_TEST_DYNAMODB_ENDPOINT"
    # Where the black-box suite reads the Worker's log lines (and the consumer's).
    export AUTHFN_TEST_SERVER_LOG="$WRANGLER_DEV_LOG"
    echo "wrangler dev serving the Worker at $base (pid $WRANGLER_DEV_PID)" >&2
}

stop_wrangler_dev() {
    if [[ -n "${WRANGLER_DEV_WATCHDOG_PID:-}" ]]; then
        kill "$WRANGLER_DEV_WATCHDOG_PID" 2>/dev/null || true
        wait "$WRANGLER_DEV_WATCHDOG_PID" 2>/dev/null || true
    fi
    if [[ -n "${WRANGLER_DEV_PID:-}" ]]; then
        kill_tree "$WRANGLER_DEV_PID"
        wait "$WRANGLER_DEV_PID" 2>/dev/null || true
    fi
    if [[ -n "${WRANGLER_DEV_STATE:-}" ]]; then rm -rf "$WRANGLER_DEV_STATE"; fi
    if [[ -n "${WRANGLER_DEV_CONFIG:-}" ]]; then rm -f "$WRANGLER_DEV_CONFIG"; fi
    if [[ -n "${WRANGLER_DEV_ENFORCES_IAM:-}" && -n "${AUTHFN_TEST_DYNAMODB_ENDPOINT:-}" ]]; then
        # Every request the Worker's key was refused, to explain failures above.
        if [[ -n "${DDB_API_LOG:-}" ]]; then
            { grep '^denied: ' "$DDB_API_LOG" || true; } | sort | uniq -c >&2
        fi
        enforce_iam off || true
    fi
    if [[ -n "${WRANGLER_DEV_OWNS_SES:-}" ]]; then stop_dynamodb_api; fi
    unset WRANGLER_DEV_PID WRANGLER_DEV_LOG WRANGLER_DEV_ENV WRANGLER_DEV_STATE WRANGLER_DEV_WATCHDOG_PID AUTHFN_WORKERS_BASE_URL \
        AUTHFN_TEST_SES_URL WRANGLER_DEV_OWNS_SES WRANGLER_DEV_ENFORCES_IAM WRANGLER_DEV_CONFIG AUTHFN_TEST_SERVER_LOG \
        AUTHFN_TEST_EVENT_QUEUE
}
