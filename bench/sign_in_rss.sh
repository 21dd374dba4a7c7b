#!/usr/bin/env bash
# Resident memory under sign-in load, at the default argon2id cost (19 MiB, t=2, p=1): the
# dev server (in-memory store), and the `sign-in` Lambda binary under `cargo lambda watch`
# over a local DynamoDB API. Each signs in one user SIGN_INS times from two clients, and the
# RSS after the first sign-in, at each quarter and at the end is printed as a markdown table.
#
#   bench/sign_in_rss.sh [SIGN_INS] [--rev REV]
#
# SIGN_INS defaults to 200. --rev measures the code of another commit the same way (built
# from a temporary git worktree into this checkout's target directory, so dependencies are
# not rebuilt): `--rev HEAD~1` gives the before-figures of a change. Debug builds, as the
# test suite runs them. Needs cargo-lambda and moto[server] (see tests/run.sh).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
sign_ins=200
rev=""
while (($#)); do
    case "$1" in
        --rev) rev="$2"; shift 2 ;;
        [0-9]*) sign_ins="$1"; shift ;;
        *) echo "usage: bench/sign_in_rss.sh [SIGN_INS] [--rev REV]" >&2; exit 2 ;;
    esac
done

# shellcheck source=../tests/support/dynamodb-api.sh
source "$root/tests/support/dynamodb-api.sh"
# shellcheck source=../tests/support/process.sh
source "$root/tests/support/process.sh"

src="$root"
worktree=""
dev_pid="" watch_pid="" env_file=""
cleanup() {
    [[ -n "$dev_pid" ]] && kill_tree "$dev_pid"
    [[ -n "$watch_pid" ]] && kill_tree "$watch_pid"
    [[ -n "$env_file" ]] && rm -f "$env_file"
    stop_dynamodb_api || true
    if [[ -n "$worktree" ]]; then git -C "$root" worktree remove --force "$worktree" || true; fi
}
trap cleanup EXIT

if [[ -n "$rev" ]]; then
    worktree="$(mktemp -d "${TMPDIR:-/tmp}/authfn-rss.XXXXXX")"
    git -C "$root" worktree add --detach "$worktree" "$rev" >&2
    src="$worktree"
fi
label="${rev:-$(git -C "$root" describe --always --dirty)}"
export CARGO_TARGET_DIR="$root/target"

echo "building the dev server and the sign-up / sign-in functions ($label)" >&2
(cd "$src" && cargo build --quiet --bin authfn-dev --bin sign-up --bin sign-in)
# Copies: a later build (another --rev) must not replace a binary under measurement.
bin="$(mktemp -d "${TMPDIR:-/tmp}/authfn-rss-bin.XXXXXX")"
cp "$CARGO_TARGET_DIR/debug/authfn-dev" "$CARGO_TARGET_DIR/debug/sign-up" "$CARGO_TARGET_DIR/debug/sign-in" "$bin/"

key="$(new_session_key)"
common=(AUTHFN_SESSION_KEYS="$key" AUTHFN_COOKIE_SECURE=false AUTHFN_TRUSTED_ORIGINS=http://localhost:5173
    AUTHFN_RATE_LIMIT_PER_MINUTE=100000)

# The dev server, with its in-memory store.
port="$(free_port)"
log="$(mktemp "${TMPDIR:-/tmp}/authfn-rss-dev.XXXXXX.log")"
env -u AUTHFN_DYNAMODB_ENDPOINT "${common[@]}" "$bin/authfn-dev" --addr "127.0.0.1:$port" </dev/null >"$log" 2>&1 &
dev_pid=$!
wait_until_up "the dev server" "$dev_pid" "$log" 60 port_open "$port"
python3 "$root/bench/sign_in_rss.py" --header --name "dev server ($label)" --pid "$dev_pid" --sign-ins "$sign_ins" \
    --sign-up "http://127.0.0.1:$port/auth/sign-up" --sign-in "http://127.0.0.1:$port/auth/sign-in"
kill_tree "$dev_pid"
dev_pid=""

# The sign-in function under cargo lambda watch, over the local DynamoDB API. cargo lambda
# runs `cargo run --bin <function>` in the source tree: already built above, so no compile.
start_dynamodb_api >&2
table="rss-$RANDOM$RANDOM"
(cd "$src" && AUTHFN_DYNAMODB_ENDPOINT="$AUTHFN_TEST_DYNAMODB_ENDPOINT" AUTHFN_TABLE="$table" \
    "$bin/authfn-dev" --create-table-only) >&2
env_file="$(mktemp "${TMPDIR:-/tmp}/authfn-rss.XXXXXX.env")"
chmod 600 "$env_file"
printf '%s\n' "${common[@]}" "AUTHFN_TABLE=$table" "AUTHFN_DYNAMODB_ENDPOINT=$AUTHFN_TEST_DYNAMODB_ENDPOINT" \
    "AWS_ACCESS_KEY_ID=local" "AWS_SECRET_ACCESS_KEY=local" "AWS_REGION=us-east-1" >"$env_file"
port="$(free_port)"
(cd "$src" && exec cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" --disable-cors \
    --ignore-changes --env-file "$env_file") </dev/null >"$log" 2>&1 &
watch_pid=$!
wait_until_up "cargo lambda watch" "$watch_pid" "$log" 120 port_open "$port"
base="http://127.0.0.1:$port/lambda-url"
python3 "$root/bench/sign_in_rss.py" --name "sign-in Lambda ($label)" --exe-under "$watch_pid:sign-in" \
    --sign-ins "$sign_ins" --sign-up "$base/sign-up/auth/sign-up" --sign-in "$base/sign-in/auth/sign-in"
rm -rf "$bin" "$log"
