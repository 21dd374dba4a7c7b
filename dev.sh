#!/usr/bin/env bash
# The local development environment, no cloud account needed:
#   - every authfn endpoint on http://localhost:3000 (the dev server, in-memory store);
#   - the example SPA (examples/spa) on http://localhost:5173: sign-up (its mail's link or code
#     proves the address; mail is printed here and listed at /dev/mailbox), sign-in, sign-out,
#     password reset and change, email change, account deletion, sign-in with a mailed code
#     (AUTHFN_EMAIL_CODE_SIGN_IN=true here; off by default), "Sign in with Local IdP", the
#     device-approval link;
#   - a local OpenID provider (oidc-provider, the one the tests use) behind "Local IdP": any
#     login name signs in, as <name>@example.test.
# Ctrl-C stops all three. Ports: AUTHFN_DEV_PORT, AUTHFN_SPA_PORT. Keys are fresh each run, so
# sessions and tokens end when it stops.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
# shellcheck source=tests/support/idp.sh
source tests/support/idp.sh
# shellcheck source=tests/support/oauth.sh
source tests/support/oauth.sh
# shellcheck source=tests/support/spa.sh
source tests/support/spa.sh

api_port="${AUTHFN_DEV_PORT:-3000}"
spa_port="${AUTHFN_SPA_PORT:-5173}"
api="http://localhost:$api_port"
spa="http://localhost:$spa_port"

[[ -d node_modules/oidc-provider && -d node_modules/@scalar/api-reference ]] || npm ci --no-audit --no-fund --loglevel=error
install_spa
cargo build --quiet --bin authfn-dev

server_pid=""
stop_all() {
    [[ -n "$server_pid" ]] && kill_tree "$server_pid"
    stop_spa || true
    stop_idp || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

start_idp "$api"
settings="$(federation_env "$api")
$(oauth_env "$(new_resource_server_secret)")
AUTHFN_TRUSTED_ORIGINS=$spa,$api,http://127.0.0.1:$api_port
AUTHFN_RETURN_TO=$spa/
AUTHFN_SIGN_IN_URL=$spa/
AUTHFN_APP_URL=$spa/
AUTHFN_EMAIL_CODE_SIGN_IN=true"
mapfile -t settings <<<"$settings"
env "${settings[@]}" "${CARGO_TARGET_DIR:-target}/debug/authfn-dev" --addr "127.0.0.1:$api_port" </dev/null &
server_pid=$!
wait_until_up "the dev server" "$server_pid" /dev/null 30 port_open "$api_port"

start_spa "$spa_port" "$api" "idp=Local IdP"
cat <<MSG

  authfn dev server   $api
  example SPA         $spa     <- open this
  local OpenID IdP    $AUTHFN_TEST_IDP_URL (any login name)

MSG
# Until Ctrl-C, or until one of them stops.
wait -n "$server_pid" "$SPA_PID" "$IDP_PID"
