#!/usr/bin/env bash
# Installs what building and running the Worker needs, at pinned versions, without reaching
# GitHub (worker-build would otherwise download wasm-bindgen and wasm-opt from there):
#   - the wasm32-unknown-unknown target (rustup);
#   - worker-build and wasm-bindgen-cli (crates.io) into $AUTHFN_TOOLS (default
#     ~/.cache/authfn/tools), where infra/build-worker.sh finds them; kept between runs;
#   - wrangler, wasm-opt (binaryen) and esbuild (npm, package.json) into node_modules.
# wasm-bindgen-cli must be exactly the wasm-bindgen version in Cargo.lock.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${AUTHFN_TOOLS:-$HOME/.cache/authfn/tools}"
worker_build_version="0.8.6"
bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")"

rustup target add wasm32-unknown-unknown >&2

installed() { [[ -x "$tools/bin/$1" ]] && "$tools/bin/$1" --version 2>/dev/null | grep -qF "$2"; }
installed worker-build "$worker_build_version" ||
    cargo install --quiet --locked --root "$tools" worker-build --version "$worker_build_version" >&2
# Not --locked: wasm-bindgen-cli 0.2.130's published lockfile pins a webpki-roots release
# that crates.io no longer serves.
installed wasm-bindgen "$bindgen_version" ||
    cargo install --quiet --force --root "$tools" wasm-bindgen-cli --version "$bindgen_version" >&2

cd "$root"
if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error >&2
else
    npm install --no-audit --no-fund --loglevel=error >&2
fi
