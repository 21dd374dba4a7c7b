#!/usr/bin/env bash
# Size and cold start of every function in functions/*, against the hello-world lambda_http
# baseline (bench/hello-lambda), all built with the workspace release profile.
#
#   bench/cold-start.sh [RUNS] [--trace] [--env NAME=VALUE]...
#
# RUNS (default 150; in 30, functions within a few percent of each other swap ranks from
# run to run) starts of each binary, interleaved in a fresh random order each round.
# --trace adds one strace'd start per binary listing any connect() made during init; --env
# changes every binary's environment, to try a fix (e.g. --env SSL_CERT_DIR=/nonexistent).
# Other options go to bench/cold_start.py (see its --help). Prints a markdown table on
# stdout; build output goes to stderr.
#
# Cold start here is process start to readiness on this machine with the binary in the page
# cache: it leaves out what the Lambda service adds (fetching and unpacking the zip, starting
# the micro-VM), which is the same for every function of the same size class.
set -euo pipefail

cd "$(dirname "$0")/.."

runs=150
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  runs=$1
  shift
fi
if [[ " $* " == *" --trace "* ]] && ! command -v strace >/dev/null; then
  echo "--trace needs strace (apt-get install strace)" >&2
  exit 2
fi

# Each function's package name (also its binary's name), from the endpoint table.
# shellcheck source=../tests/support/endpoints.sh
source tests/support/endpoints.sh
packages=()
for p in $(authfn_functions); do packages+=("$p"); done
((${#packages[@]} > 0))
baseline=hello-lambda

package_args=()
for p in "${packages[@]}" "$baseline"; do package_args+=(-p "$p"); done
cargo build --release "${package_args[@]}" >&2

target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
binaries=()
for p in "${packages[@]}" "$baseline"; do binaries+=("$target_dir/release/$p"); done

exec python3 bench/cold_start.py --baseline "$baseline" --runs "$runs" "$@" -- "${binaries[@]}"
