#!/usr/bin/env bash
# Per-request CPU of `GET /auth/session` in workerd: this checkout's Worker against the Worker
# of a baseline commit, both under `wrangler dev` at once and measured in the same run by
# bench/workerd_session_cpu.py (CPU time of the workerd processes over N requests).
#
#   bench/workerd_session_cpu.sh BASELINE [REQUESTS] [ROUNDS] [NAME=CHECKOUT...]
#
# BASELINE is a commit (cloned into a temporary directory and built there: slow, a release
# wasm build) or the path of a checkout of it (built there if needed, reused afterwards).
# NAME=CHECKOUT adds more built checkouts to the same run (say, a variant that isolates one
# change).
# Every Worker gets the same settings: those of a full deployment (issuer keys, providers).
# Needs infra/install-worker-tools.sh. Prints markdown on stdout; build output on stderr.
# Not a test: the figures depend on the machine and its load.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
baseline="${1:?usage: bench/workerd_session_cpu.sh BASELINE [REQUESTS] [ROUNDS] [NAME=CHECKOUT...]}"
requests="${2:-300}"
rounds="${3:-5}"
shift $(($# < 3 ? $# : 3))

# shellcheck source=../tests/support/workers.sh
source "$root/tests/support/workers.sh"
# shellcheck source=../tests/support/oauth.sh
source "$root/tests/support/oauth.sh"
# shellcheck source=../tests/support/idp.sh
source "$root/tests/support/idp.sh"

clone=""
if [[ -d "$baseline" ]]; then
    base_dir="$(cd "$baseline" && pwd)"
else
    clone="$(mktemp -d "${TMPDIR:-/tmp}/authfn-baseline.XXXXXX")"
    git clone --quiet "$root" "$clone"
    git -C "$clone" checkout --quiet "$baseline"
    base_dir="$clone"
fi
[[ -e "$base_dir/node_modules" ]] || ln -s "$root/node_modules" "$base_dir/node_modules"

# start_wrangler_dev serves the checkout named by _WORKERS_ROOT; each instance's variables
# are kept so each can be stopped.
declare -A pid state watchdog
stop_all() {
    local name
    for name in "${!pid[@]}"; do
        WRANGLER_DEV_PID="${pid[$name]}" WRANGLER_DEV_STATE="${state[$name]}" \
            WRANGLER_DEV_WATCHDOG_PID="${watchdog[$name]}" stop_wrangler_dev || true
    done
    if [[ -n "$clone" ]]; then rm -rf "$clone"; fi
}
trap stop_all EXIT

# The settings of a full deployment, as the black-box suite uses: token issuer keys (Ed25519
# and RSA) and two identity providers, all of which the Worker parses from its environment.
# The provider is never called: a session check makes no outbound request.
AUTHFN_TEST_IDP_URL=https://idp.example.test IDP_TEST_CLIENT_SECRET="idp-secret-$(new_session_key)"
AUTHFN_TEST_EXTRA_ENV="$(federation_env http://127.0.0.1:8787)
$(oauth_env "$(new_resource_server_secret)")"
export AUTHFN_TEST_EXTRA_ENV

declare -A url dir=([baseline]="$base_dir" [current]="$root")
names=(baseline current)
for extra in "$@"; do
    names+=("${extra%%=*}")
    dir[${extra%%=*}]="$(cd "${extra#*=}" && pwd)"
    [[ -e "${dir[${extra%%=*}]}/node_modules" ]] || ln -s "$root/node_modules" "${dir[${extra%%=*}]}/node_modules"
done
for name in "${names[@]}"; do
    _WORKERS_ROOT="${dir[$name]}"
    start_wrangler_dev >&2
    pid[$name]="$WRANGLER_DEV_PID" state[$name]="$WRANGLER_DEV_STATE" watchdog[$name]="$WRANGLER_DEV_WATCHDOG_PID"
    url[$name]="$AUTHFN_WORKERS_BASE_URL"
    unset WRANGLER_DEV_PID WRANGLER_DEV_STATE WRANGLER_DEV_WATCHDOG_PID
done

echo "## Worker CPU per \`GET /auth/session\`: $(git -C "$base_dir" rev-parse --short HEAD) (baseline) vs $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- shared worker || echo ' + uncommitted changes') (current)"
echo
targets=()
for name in "${names[@]}"; do targets+=("$name=${url[$name]}@${pid[$name]}"); done
python3 "$root/bench/workerd_session_cpu.py" --requests "$requests" --rounds "$rounds" "${targets[@]}"
