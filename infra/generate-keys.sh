#!/usr/bin/env bash
# Prints a fresh AUTHFN_SESSION_KEYS value (32 random bytes, base64url). To rotate, put the
# new key first and keep the old one after a comma until every session it signed has expired
# (AUTHFN_SESSION_ABSOLUTE_SECS), then drop it.
#   aws secretsmanager create-secret --name authfn/session-keys --secret-string "$(infra/generate-keys.sh)"
set -euo pipefail
python3 -c 'import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode())'
