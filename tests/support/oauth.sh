# The token issuer's settings for the black-box suite: a public client `cli`, a confidential
# client `resource-server` (for introspection), fresh signing keys (Ed25519 for access tokens,
# RSA for RS256 ID tokens) and their public halves (what the functions that only publish keys
# get on AWS), and a 1-second polling
# interval so the device flow tests do not wait 5 s per poll. Source this file (bash), then:
#
#   AUTHFN_TEST_RESOURCE_SERVER_SECRET="$(new_resource_server_secret)"
#   oauth_env "$AUTHFN_TEST_RESOURCE_SERVER_SECRET"   # prints KEY=VALUE lines

# shellcheck source=process.sh
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"

_OAUTH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

new_resource_server_secret() {
    echo "rs-$(new_session_key)"
}

oauth_env() {
    local seeds rsa
    seeds="$(new_session_key),$(new_session_key)"
    rsa="$("$_OAUTH_ROOT/infra/generate-keys.sh" --rsa)"
    cat <<ENV
AUTHFN_OAUTH_CLIENTS=cli,resource-server
AUTHFN_OAUTH_CLIENT_RESOURCE_SERVER_SECRET=$1
AUTHFN_JWT_KEYS=$seeds
AUTHFN_JWT_PUBLIC_KEYS=$("$_OAUTH_ROOT/infra/generate-keys.sh" --public "$seeds")
AUTHFN_JWT_RSA_KEY=$rsa
AUTHFN_JWT_RSA_PUBLIC_KEY=$("$_OAUTH_ROOT/infra/generate-keys.sh" --rsa-public "$rsa")
AUTHFN_DEVICE_INTERVAL_SECS=1
ENV
}
