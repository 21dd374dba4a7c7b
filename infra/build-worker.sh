#!/usr/bin/env bash
# Builds the Worker bundle (worker/build/, or $1/build/) with worker-build: what `wrangler dev` and
# `wrangler deploy` run through wrangler.toml's [build] command.
#
# worker-build fetches wasm-bindgen and wasm-opt from GitHub and esbuild from npm unless told
# where they are. infra/install-worker-tools.sh installs all three at pinned versions; this
# script uses them when present.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${AUTHFN_TOOLS:-$HOME/.cache/authfn/tools}"

[[ -x "$tools/bin/wasm-bindgen" ]] && export WASM_BINDGEN_BIN="$tools/bin/wasm-bindgen"
[[ -x "$root/node_modules/.bin/wasm-opt" ]] && export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
[[ -x "$root/node_modules/.bin/esbuild" ]] && export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
worker_build="worker-build"
[[ -x "$tools/bin/worker-build" ]] && worker_build="$tools/bin/worker-build"

# The wasm is built with worker/Cargo.toml's `worker` profile: for size, except the crates whose speed
# is the Worker's CPU bill (there, why).

# A target directory of its own: tests/run.sh builds the Worker while other stages run cargo,
# and in a shared one each would wait for the other's lock.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/wasm"

# $1: the Worker crate, relative to the repository (default: the authfn Worker; the tests
# build tests/store-contract-worker too).
cd "$root/${1:-worker}"
"$worker_build" --profile worker

# worker-build has wasm-opt keep the name section (function names in a trap's stack trace):
# 110 KiB of the 906 KiB gzip bundle, which Workers' size limit counts
# and every cold isolate fetches. Dropped unless AUTHFN_WORKER_KEEP_NAMES=1, for a build meant for debugging.
# The same pass runs -Oz again until it stops shrinking (--converge): wasm-opt's passes leave
# work for each other, and a second round took another 2 KiB off the gzip (2026-12-02).
# --low-memory-unused lets it fold constant offsets into loads and stores (2.2 KiB): it
# assumes nothing lives in the first KiB of memory, which holds for Rust's wasm, where the
# stack sits below the data and grows down towards address 0 (reaching that low is a stack
# overflow already). The producers and target-features sections are for tools, not the
# runtime (0.2 KiB).
if [[ "${AUTHFN_WORKER_KEEP_NAMES:-}" != 1 ]]; then
    wasm_opt="${WASM_OPT_BIN:-wasm-opt}"
    if command -v "$wasm_opt" >/dev/null; then
        for wasm in build/*.wasm; do
            "$wasm_opt" "$wasm" -o "$wasm" --low-memory-unused -Oz --converge \
                --strip-debug --strip-producers --strip-target-features
        done
    else
        echo "build-worker: no wasm-opt (infra/install-worker-tools.sh): the name section stays" >&2
    fi
fi
