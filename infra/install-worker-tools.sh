#!/usr/bin/env bash
# Installs what building and running the Worker needs, at pinned versions, without reaching
# GitHub (worker-build would otherwise download wasm-bindgen and wasm-opt from there):
#   - the wasm32-unknown-unknown target (rustup);
#   - worker-build and wasm-bindgen-cli (crates.io) into $AUTHFN_TOOLS (default
#     ~/.cache/authfn/tools), where infra/build-worker.sh finds them; kept between runs;
#   - wrangler, wasm-opt (binaryen) and esbuild (npm, package.json) into node_modules.
# wasm-bindgen-cli must be exactly the wasm-bindgen version in Cargo.lock. What is already
# there at the right version is left alone, so a second run changes nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${AUTHFN_TOOLS:-$HOME/.cache/authfn/tools}"
worker_build_version="0.8.6"
bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")"

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown >&2

installed() { [[ -x "$tools/bin/$1" ]] && "$tools/bin/$1" --version 2>/dev/null | grep -qF "$2"; }
installed worker-build "$worker_build_version" ||
    cargo install --quiet --locked --root "$tools" worker-build --version "$worker_build_version" >&2
# Not --locked: wasm-bindgen-cli 0.2.130's published lockfile pins a webpki-roots release
# that crates.io no longer serves.
installed wasm-bindgen "$bindgen_version" ||
    cargo install --quiet --force --root "$tools" wasm-bindgen-cli --version "$bindgen_version" >&2

# npm ci starts from an empty node_modules every time: run it only when node_modules was not
# installed from this very package-lock.json (the stamp below records which one it was).
cd "$root"
stamp=node_modules/.authfn-package-lock.sha256
lock="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$lock" ]]; then
    npm ci --no-audit --no-fund --loglevel=error >&2
    echo "$lock" >"$stamp"
fi
