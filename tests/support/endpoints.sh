# The endpoint table as the program has it (`authfn-dev --list-endpoints`, built on first use),
# for scripts that need every function: none keeps a copy of the list. Source this file (bash).

_ENDPOINTS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Every function crate (functions/<name>, also its binary's name), one a line.
authfn_functions() {
    local list
    list="$(cd "$_ENDPOINTS_ROOT" && cargo run --quiet -p authfn-dev-server -- --list-endpoints)" || return 1
    cut -d' ' -f1 <<<"$list"
}
