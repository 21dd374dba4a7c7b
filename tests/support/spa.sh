# Runs the example SPA (examples/spa, Vite's dev server) on its own origin. Source this file
# (bash), then:
#
#   start_spa PORT API_URL [PROVIDERS]   # exports AUTHFN_SPA_URL=http://localhost:PORT
#   ...
#   stop_spa
#
# PROVIDERS is VITE_AUTHFN_PROVIDERS (`name=Label,…`). The SPA's origin must be among the
# API's AUTHFN_TRUSTED_ORIGINS, and API_URL on the same site (localhost), for the cookie.

# shellcheck source=process.sh
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"

_SPA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../examples/spa" && pwd)"

install_spa() {
    [[ -x "$_SPA_DIR/node_modules/.bin/vite" && -x "$_SPA_DIR/node_modules/.bin/openapi-typescript" ]] ||
        npm ci --prefix "$_SPA_DIR" --no-audit --no-fund --loglevel=error >&2
}

start_spa() {
    local port=$1 api=$2 providers=${3:-}
    install_spa || return 1
    SPA_LOG="$(mktemp "${TMPDIR:-/tmp}/spa.XXXXXX.log")"
    (cd "$_SPA_DIR" && VITE_AUTHFN_URL="$api" VITE_AUTHFN_PROVIDERS="$providers" \
        exec node_modules/.bin/vite --host 127.0.0.1 --port "$port" --strictPort --clearScreen false) \
        </dev/null >"$SPA_LOG" 2>&1 &
    SPA_PID=$!
    export SPA_PID SPA_LOG
    if ! wait_until_up "the example SPA" "$SPA_PID" "$SPA_LOG" 60 port_open "$port"; then
        stop_spa
        return 1
    fi
    export AUTHFN_SPA_URL="http://localhost:$port"
    echo "example SPA on $AUTHFN_SPA_URL (pid $SPA_PID)" >&2
}

stop_spa() {
    [[ -n "${SPA_PID:-}" ]] && kill_tree "$SPA_PID"
    [[ -n "${SPA_LOG:-}" ]] && rm -f "$SPA_LOG"
    unset SPA_PID SPA_LOG AUTHFN_SPA_URL
}
