#!/usr/bin/env bash
# Whether the time of sign-up, password/forgot and email-code/request says if an address has
# an account: shared/benches/accounts.rs, known ÷ unknown address, interleaved in one run
# (target 0.9–1.1). Twice: over the memory store and outbox (the code paths alone), then over
# DynamoDB's and SES's APIs on a local moto server (tests/support/dynamodb-api.sh), where every
# path makes its real round trips, as when deployed.
#
#   bench/account_timing.sh [ROUNDS]
#
# Not a test: the figures depend on the machine and its load.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export ROUNDS="${1:-60}"
# shellcheck source=../tests/support/dynamodb-api.sh
source tests/support/dynamodb-api.sh
cargo bench -p authfn --features dynamodb --bench accounts --no-run >&2
(unset AUTHFN_TEST_DYNAMODB_ENDPOINT; cargo bench -p authfn --features dynamodb --bench accounts 2>/dev/null)
trap 'stop_dynamodb_api' EXIT
start_dynamodb_api
AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 \
    cargo bench -p authfn --features dynamodb --bench accounts 2>/dev/null
