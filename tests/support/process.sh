# Helpers shared by the scripts that start servers for the tests. Source this file (bash).

# Stops a process and every descendant, by process id, children found first so that none is
# orphaned on the way (cargo lambda runs functions as `cargo run` children; wrangler runs
# workerd): TERM, up to 10 s for the root to go, then KILL whatever is left.
kill_tree() {
    local pids=("$1") i=0 child
    while ((i < ${#pids[@]})); do
        for child in $(pgrep -P "${pids[i]}" 2>/dev/null); do pids+=("$child"); done
        i=$((i + 1))
    done
    kill -TERM "${pids[@]}" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while kill -0 "$1" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    for child in "${pids[@]}"; do
        if kill -0 "$child" 2>/dev/null; then kill -KILL "$child" 2>/dev/null || true; fi
    done
}

# A free TCP port on loopback.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A fresh 32-byte session key, base64url without padding (AUTHFN_SESSION_KEYS).
new_session_key() {
    python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))'
}

# True once an authfn endpoint itself answers `url` with its JSON error shape (as a GET
# without a session, or a GET of a POST endpoint, gets), rather than a proxy or nothing.
authfn_answers() {
    python3 - "$1" <<'PY' 2>/dev/null
import json, sys, urllib.error, urllib.request
try:
    body = urllib.request.urlopen(sys.argv[1], timeout=60).read()
except urllib.error.HTTPError as e:
    body = e.read()
answer = json.loads(body)
sys.exit(0 if "error" in answer and "message" in answer else 1)
PY
}

# Waits until CHECK (a command and its arguments) succeeds: fails, printing LOG, if process
# PID exits or SECS pass first.
#   wait_until_up "the dev server" "$pid" "$log" 30 port_open "$port"
wait_until_up() {
    local name=$1 pid=$2 log=$3 deadline=$((SECONDS + $4))
    shift 4
    until "$@" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
            echo "$name did not come up; its output:" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
    done
}

# True once something accepts TCP connections on loopback PORT.
port_open() {
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$1"
}
