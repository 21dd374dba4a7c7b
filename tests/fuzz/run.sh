#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time: FUZZ_SECONDS each (default 60). A crash
# fails the run; libFuzzer prints the input and cargo fuzz saves it under
# tests/fuzz/artifacts/<target>/ (replay: cargo fuzz run --fuzz-dir tests/fuzz <target> <file>).
#
# cargo fuzz passes nightly-only flags (-Zsanitizer=address, …); this machine has only the
# stable toolchain, so RUSTC_BOOTSTRAP=1 lets stable rustc accept them. cargo-fuzz itself is
# installed into $AUTHFN_TOOLS (default ~/.cache/authfn/tools), beside the Worker tools.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
tools="${AUTHFN_TOOLS:-$HOME/.cache/authfn/tools}"
version="0.13.1"
seconds="${FUZZ_SECONDS:-60}"

if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -qF "$version"; then
    cargo install --quiet --locked --root "$tools" cargo-fuzz --version "$version" >&2
fi
export RUSTC_BOOTSTRAP=1

for target in cookie request; do
    corpus="$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$target.XXXXXX")"
    seeds=()
    [[ -d "tests/fuzz/seeds/$target" ]] && seeds=("tests/fuzz/seeds/$target")
    "$tools/bin/cargo-fuzz" run --fuzz-dir tests/fuzz "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -print_final_stats=1 2>&1 | grep -E "^(Done|stat::number_of_executed_units|INFO: seed corpus)|ERROR|panicked|SUMMARY" >&2
    rm -rf "$corpus"
    echo "check fuzz-$target-${seconds}s ... ok"
done
