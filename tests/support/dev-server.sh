# Runs the local dev server (in-memory store) for the black-box suite. Source this file
# (bash), then:
#
#   start_dev_server [PORT]   # exports AUTHFN_DEV_BASE_URL, e.g. http://127.0.0.1:PORT, and
#                             # AUTHFN_TEST_SERVER_LOG, the server's output (its log)
#
# Settings in AUTHFN_TEST_EXTRA_ENV (KEY=VALUE lines) are added to the server's environment.
#   ...
#   stop_dev_server

# shellcheck source=process.sh
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"

_DEV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

start_dev_server() {
    (cd "$_DEV_ROOT" && cargo build --quiet --bin authfn-dev) || return 1
    local port=${1:-}
    [[ -n "$port" ]] || port="$(free_port)" || return 1
    DEV_SERVER_LOG="$(mktemp "${TMPDIR:-/tmp}/dev-server.XXXXXX.log")"
    # The black-box suite plays an SPA on http://localhost:5173, and cannot wait out the
    # production rate limit between its many sign-ins from one address, and signs in with
    # mailed codes, which are off unless a deployment turns them on.
    local extra=()
    [[ -n "${AUTHFN_TEST_EXTRA_ENV:-}" ]] && mapfile -t extra <<<"$AUTHFN_TEST_EXTRA_ENV"
    env -u AUTHFN_DYNAMODB_ENDPOINT AUTHFN_TRUSTED_ORIGINS=http://localhost:5173 AUTHFN_RATE_LIMIT_PER_MINUTE=1000 AUTHFN_EMAIL_CODE_SIGN_IN=true "${extra[@]}" \
        "${CARGO_TARGET_DIR:-$_DEV_ROOT/target}/debug/authfn-dev" --addr "127.0.0.1:$port" </dev/null >"$DEV_SERVER_LOG" 2>&1 &
    DEV_SERVER_PID=$!
    export DEV_SERVER_PID DEV_SERVER_LOG

    if ! wait_until_up "the dev server" "$DEV_SERVER_PID" "$DEV_SERVER_LOG" 30 port_open "$port"; then
        stop_dev_server
        return 1
    fi
    export AUTHFN_DEV_BASE_URL="http://127.0.0.1:$port"
    export AUTHFN_TEST_SERVER_LOG="$DEV_SERVER_LOG"
    echo "dev server listening on $AUTHFN_DEV_BASE_URL (pid $DEV_SERVER_PID)" >&2
}

stop_dev_server() {
    if [[ -n "${DEV_SERVER_PID:-}" ]]; then
        kill "$DEV_SERVER_PID" 2>/dev/null || true
        wait "$DEV_SERVER_PID" 2>/dev/null || true
    fi
    [[ -n "${DEV_SERVER_LOG:-}" ]] && rm -f "$DEV_SERVER_LOG"
    unset DEV_SERVER_PID DEV_SERVER_LOG AUTHFN_DEV_BASE_URL AUTHFN_TEST_SERVER_LOG
}
