#!/usr/bin/env bash
# Schemathesis (PyPI) against a running authfn: requests generated from openapi.yaml, valid and
# invalid, every check on (statuses, content types, headers and bodies the document does not
# describe, 5xx, schema-valid requests refused and invalid ones accepted, ...), a bounded number
# of examples per operation (SCHEMATHESIS_MAX_EXAMPLES, 20). Two passes: signed out, then signed
# in (a session token as `Authorization: Bearer`, from a sign-up proven with its mailed code).
# tests/run.sh runs it against the dev server (stage 2) and the Worker in workerd (stage 4).
#
#   tests/support/schemathesis.sh [BASE_URL] [more schemathesis run options]
#
# Without BASE_URL (or with `-`) it starts the dev server (tests/support/dev-server.sh) with
# the token issuer on, and stops it afterwards. The sign-up's mail is read where the
# black-box suite reads it: moto's SES when AUTHFN_TEST_SES_URL is set (Lambda, workerd), else
# the dev server's GET /dev/mailbox. tests/install-tools.sh installs the pinned Schemathesis.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# The version tests/install-tools.sh pins.
if ! python3 -c "import schemathesis" 2>/dev/null; then
    echo "schemathesis.sh: Schemathesis is not installed: run tests/install-tools.sh" >&2
    exit 1
fi

base="${1:--}"
[[ $# -gt 0 ]] && shift
if [[ "$base" == "-" ]]; then
    # shellcheck source=dev-server.sh
    source "$root/tests/support/dev-server.sh"
    # shellcheck source=oauth.sh
    source "$root/tests/support/oauth.sh"
    port="$(free_port)"
    AUTHFN_TEST_EXTRA_ENV="AUTHFN_PUBLIC_URL=http://127.0.0.1:$port
$(oauth_env "$(new_resource_server_secret)")"
    export AUTHFN_TEST_EXTRA_ENV
    trap stop_dev_server EXIT
    start_dev_server "$port"
    base="$AUTHFN_DEV_BASE_URL"
fi

# tests/support/schemathesis.toml: the refusals of schema-valid requests no schema can express.
# Generated data is random: --seed makes a reported failure reproducible.
schemathesis() {
    python3 -m schemathesis.cli --config-file "$root/tests/support/schemathesis.toml" \
        run "$root/openapi.yaml" --url "$base" --checks all \
        --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-20}" --workers 1 \
        --no-color "$@"
}

status=0
echo "== signed out"
schemathesis "$@" || status=1

# A session token for the signed-in pass: sign up, prove the address with the mailed code.
email="schemathesis-$(date +%s)-$RANDOM@example.com"
post() { curl -sS -X POST -H 'Content-Type: application/json' -d "$2" "$base$1"; }
post /auth/sign-up "{\"email\":\"$email\",\"password\":\"correct horse battery\"}" >/dev/null
if [[ -n "${AUTHFN_TEST_SES_URL:-}" ]]; then
    mail_url="${AUTHFN_TEST_SES_URL%/}/moto-api/data.json"
else
    mail_url="$base/dev/mailbox"
fi
code="$(curl -sS "$mail_url" | python3 -c '
import json, re, sys
listed = json.load(sys.stdin)
if isinstance(listed, list):  # the dev server: newest first
    texts = [m["text"] for m in listed if m["to"] == sys.argv[1]]
else:  # moto: ses.Message in the order sent
    texts = [m.get("text") or m.get("body", "")
             for m in reversed(listed.get("ses", {}).get("Message", []))
             if sys.argv[1] in m["destinations"]["ToAddresses"]]
print(re.search(r"\b\d{3} ?\d{3}\b", texts[0]).group().replace(" ", ""))' "$email")"
token="$(post /auth/verify-email "{\"email\":\"$email\",\"code\":\"$code\",\"session_delivery\":\"token\"}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["session_token"])')"

echo "== signed in"
# Not the operations that end the session for those after them (a sign-in, a proof or a password
# change would too, but generated ones never succeed). `ignored_auth` is off: the session token is
# a header Schemathesis cannot take away, so its "without credentials" probes still carry it.
schemathesis -H "Authorization: Bearer $token" --exclude-checks ignored_auth \
    --exclude-operation-id signOut --exclude-operation-id signOutEverywhere \
    --exclude-operation-id deleteAccount "$@" || status=1
exit "$status"
