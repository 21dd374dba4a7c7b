# Runs the upstream OpenID provider of the federation tests (tests/support/idp/server.mjs,
# oidc-provider from npm) on loopback. Source this file (bash), then:
#
#   start_idp AUTHFN_PUBLIC_URL   # registers its callbacks; exports AUTHFN_TEST_IDP_URL
#   federation_env AUTHFN_PUBLIC_URL   # exports the AUTHFN_FEDERATION_* settings for authfn
#   ...
#   stop_idp
#
# Two providers point at the one IdP: `idp` (response_mode=query, no linking by email, only
# addresses at example.test) and `idp-linking` (response_mode=form_post, links to a local
# account with the verified email).

# shellcheck source=process.sh
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"

_IDP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
IDP_TEST_CLIENT_ID=authfn-test
IDP_PROVIDERS=(idp idp-linking)

start_idp() {
    local public_url=$1 port uris="" name
    port="$(free_port)" || return 1
    for name in "${IDP_PROVIDERS[@]}"; do
        uris+="${uris:+,}$public_url/auth/federation/$name/callback"
    done
    IDP_TEST_CLIENT_SECRET="idp-secret-$(new_session_key)"
    IDP_LOG="$(mktemp "${TMPDIR:-/tmp}/idp.XXXXXX.log")"
    IDP_PORT="$port" IDP_CLIENT_ID="$IDP_TEST_CLIENT_ID" IDP_CLIENT_SECRET="$IDP_TEST_CLIENT_SECRET" \
        IDP_REDIRECT_URIS="$uris" node "$_IDP_ROOT/tests/support/idp/server.mjs" </dev/null >"$IDP_LOG" 2>&1 &
    IDP_PID=$!
    export IDP_PID IDP_LOG IDP_TEST_CLIENT_SECRET
    if ! wait_until_up "the OpenID provider" "$IDP_PID" "$IDP_LOG" 30 grep -q "idp listening" "$IDP_LOG"; then
        stop_idp
        return 1
    fi
    export AUTHFN_TEST_IDP_URL="http://127.0.0.1:$port"
    echo "OpenID provider listening on $AUTHFN_TEST_IDP_URL (pid $IDP_PID)" >&2
}

# Prints the authfn settings for the two test providers as KEY=VALUE lines.
federation_env() {
    local public_url=$1
    cat <<ENV
AUTHFN_PUBLIC_URL=$public_url
AUTHFN_RETURN_TO=http://localhost:5173/,http://localhost:5173/settings
AUTHFN_FEDERATION_PROVIDERS=idp,idp-linking
AUTHFN_FEDERATION_IDP_ISSUER=$AUTHFN_TEST_IDP_URL
AUTHFN_FEDERATION_IDP_CLIENT_ID=$IDP_TEST_CLIENT_ID
AUTHFN_FEDERATION_IDP_CLIENT_SECRET=$IDP_TEST_CLIENT_SECRET
AUTHFN_FEDERATION_IDP_ALLOWED_EMAIL_DOMAINS=example.test
AUTHFN_FEDERATION_IDP_LINKING_ISSUER=$AUTHFN_TEST_IDP_URL
AUTHFN_FEDERATION_IDP_LINKING_CLIENT_ID=$IDP_TEST_CLIENT_ID
AUTHFN_FEDERATION_IDP_LINKING_CLIENT_SECRET=$IDP_TEST_CLIENT_SECRET
AUTHFN_FEDERATION_IDP_LINKING_RESPONSE_MODE=form_post
AUTHFN_FEDERATION_IDP_LINKING_LINK_BY_EMAIL=true
ENV
}

stop_idp() {
    if [[ -n "${IDP_PID:-}" ]]; then
        kill "$IDP_PID" 2>/dev/null || true
        wait "$IDP_PID" 2>/dev/null || true
    fi
    [[ -n "${IDP_LOG:-}" ]] && rm -f "$IDP_LOG"
    unset IDP_PID IDP_LOG AUTHFN_TEST_IDP_URL
}
