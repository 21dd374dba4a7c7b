#!/usr/bin/env bash
# Prints an AUTHFN_SESSION_KEYS (or AUTHFN_JWT_KEYS) value: comma-separated base64url keys of
# 32 random bytes, the signing key first. A single fresh key is also what a confidential OAuth
# client's secret (AUTHFN_OAUTH_CLIENT_<ID>_SECRET) must be at least: authfn refuses shorter
# ones at start-up.
#   infra/generate-keys.sh              a fresh single key
#   infra/generate-keys.sh "$CURRENT"   rotation: a fresh key, then CURRENT's signing key
#   infra/generate-keys.sh --public "$AUTHFN_JWT_KEYS"
#                                       the AUTHFN_JWT_PUBLIC_KEYS value for those Ed25519 seeds:
#                                       their public keys, same order (not a secret)
#   infra/generate-keys.sh --rsa        an AUTHFN_JWT_RSA_KEY value: a fresh 2048-bit RSA key
#                                       (base64url PKCS#1 DER) that signs ID tokens RS256
#   infra/generate-keys.sh --rsa-public "$AUTHFN_JWT_RSA_KEY"
#                                       the AUTHFN_JWT_RSA_PUBLIC_KEY value: those RSA keys'
#                                       public halves (PKCS#1 DER), same order (not a secret)
#   infra/generate-keys.sh --data               an AUTHFN_DATA_KEYS value: a fresh single key
#   infra/generate-keys.sh --data "$CURRENT"    data-key rotation: a fresh key, then EVERY key
#                                       of CURRENT (stored TOTP secrets stay encrypted under
#                                       the key that wrote them: retire a key only when
#                                       nothing is encrypted under it)
# After a rotation the old key only verifies; sessions it signed live at most
# AUTHFN_SESSION_ABSOLUTE_SECS, so rotate no more often than that and nothing valid is dropped.
# After rotating AUTHFN_JWT_KEYS, deploy the matching AUTHFN_JWT_PUBLIC_KEYS with it.
set -euo pipefail
if [[ "${1:-}" == "--rsa" ]]; then
    openssl genrsa 2048 2>/dev/null | openssl rsa -traditional -outform DER 2>/dev/null |
        python3 -c 'import base64, sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).rstrip(b"=").decode())'
    exit
fi
if [[ "${1:-}" == "--rsa-public" ]]; then
    [[ $# -eq 2 ]] || { echo "usage: generate-keys.sh --rsa-public RSA_KEYS" >&2; exit 2; }
    public=()
    IFS=, read -ra keys <<<"$2"
    for key in "${keys[@]}"; do
        public+=("$(python3 -c 'import base64, sys; k = sys.argv[1].strip(); sys.stdout.buffer.write(base64.urlsafe_b64decode(k + "=" * (-len(k) % 4)))' "$key" |
            openssl rsa -inform DER -RSAPublicKey_out -outform DER 2>/dev/null |
            python3 -c 'import base64, sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).rstrip(b"=").decode())')")
        [[ -n "${public[-1]}" ]] || { echo "generate-keys: not a base64url PKCS#1 DER RSA key" >&2; exit 1; }
    done
    (IFS=,; echo "${public[*]}")
    exit
fi
python3 - "$@" <<'PY'
import base64, secrets, subprocess, sys

def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

def ed25519_public(seed: bytes) -> bytes:
    # The seed as a PKCS#8 private key (RFC 8410), its public half derived by OpenSSL.
    der = bytes.fromhex("302e020100300506032b657004220420") + seed
    out = subprocess.run(["openssl", "pkey", "-inform", "DER", "-pubout", "-outform", "DER"],
                         input=der, capture_output=True, check=True).stdout
    return out[-32:]

if len(sys.argv) > 1 and sys.argv[1] == "--public":
    if len(sys.argv) != 3:
        sys.exit("usage: generate-keys.sh --public SEEDS")
    public = []
    for key in sys.argv[2].strip().split(","):
        try:
            seed = unb64url(key.strip())
        except ValueError:
            seed = b""
        if len(seed) != 32:
            sys.exit("generate-keys: every key must be base64url of 32 bytes")
        public.append(b64url(ed25519_public(seed)))
    print(",".join(public))
    sys.exit()

keys = [b64url(secrets.token_bytes(32))]
if len(sys.argv) > 1 and sys.argv[1] == "--data":
    if len(sys.argv) > 3:
        sys.exit("usage: generate-keys.sh --data [CURRENT]")
    for key in (sys.argv[2].strip().split(",") if len(sys.argv) == 3 else []):
        try:
            ok = len(unb64url(key.strip())) == 32
        except ValueError:
            ok = False
        if not ok:
            sys.exit("generate-keys: every data key must be base64url of 32 bytes")
        keys.append(key.strip())
    print(",".join(keys))
    sys.exit()
if len(sys.argv) > 1:
    previous = sys.argv[1].strip().split(",")[0].strip()
    try:
        ok = len(unb64url(previous)) >= 32
    except ValueError:
        ok = False
    if not ok:
        sys.exit("generate-keys: the current value's first key is not base64url of >= 32 bytes")
    keys.append(previous)
print(",".join(keys))
PY
