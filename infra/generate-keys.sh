#!/usr/bin/env bash
# Prints an AUTHFN_SESSION_KEYS value: comma-separated base64url keys of 32 random bytes, the
# signing key first.
#   infra/generate-keys.sh              a fresh single key
#   infra/generate-keys.sh "$CURRENT"   rotation: a fresh key, then CURRENT's signing key
#   infra/generate-keys.sh --rsa        an AUTHFN_JWT_RSA_KEY value: a fresh 2048-bit RSA key
#                                       (base64url PKCS#1 DER) that signs ID tokens RS256
# After a rotation the old key only verifies; sessions it signed live at most
# AUTHFN_SESSION_ABSOLUTE_SECS, so rotate no more often than that and nothing valid is dropped.
set -euo pipefail
if [[ "${1:-}" == "--rsa" ]]; then
    openssl genrsa 2048 2>/dev/null | openssl rsa -traditional -outform DER 2>/dev/null |
        python3 -c 'import base64, sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).rstrip(b"=").decode())'
    exit
fi
python3 - "$@" <<'PY'
import base64, secrets, sys

def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

keys = [b64url(secrets.token_bytes(32))]
if len(sys.argv) > 1:
    previous = sys.argv[1].strip().split(",")[0].strip()
    padded = previous + "=" * (-len(previous) % 4)
    try:
        ok = len(base64.urlsafe_b64decode(padded)) >= 32
    except ValueError:
        ok = False
    if not ok:
        sys.exit("generate-keys: the current value's first key is not base64url of >= 32 bytes")
    keys.append(previous)
print(",".join(keys))
PY
