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

# The workspace's release profile strips symbols for the Lambda binaries; for wasm that also
# drops the section wasm-bindgen reads to learn which wasm features are on. wasm-opt strips
# what is left afterwards.
export CARGO_PROFILE_RELEASE_STRIP=false
# The wasm keeps the release profile's opt-level 3. CARGO_PROFILE_RELEASE_OPT_LEVEL=z builds it
# for size instead (bench/sizes.sh: 1,045 KiB gzip at 3, 712 KiB at z), but a sign-in's argon2
# then takes about 1.4x the CPU in workerd: fat LTO re-optimises every crate at the Worker
# crate's level, so no per-package override keeps argon2 at 3.

# A target directory of its own: tests/run.sh builds the Worker while other stages run cargo,
# and in a shared one each would wait for the other's lock.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/wasm"

# $1: the Worker crate, relative to the repository (default: the authfn Worker; the tests
# build tests/store-contract-worker too).
cd "$root/${1:-worker}"
"$worker_build" --release

# worker-build has wasm-opt keep the name section (function names in a trap's stack trace):
# 62 KiB of the 1,107 KiB gzip bundle (98 KiB at opt-level z), which Workers' size limit counts
# and every cold isolate fetches. Dropped unless AUTHFN_WORKER_KEEP_NAMES=1, for a build meant for debugging.
if [[ "${AUTHFN_WORKER_KEEP_NAMES:-}" != 1 ]]; then
    wasm_opt="${WASM_OPT_BIN:-wasm-opt}"
    if command -v "$wasm_opt" >/dev/null; then
        for wasm in build/*.wasm; do
            "$wasm_opt" "$wasm" -o "$wasm" --strip-debug
        done
    else
        echo "build-worker: no wasm-opt (infra/install-worker-tools.sh): the name section stays" >&2
    fi
fi
