#!/usr/bin/env bash
# What each deployable weighs, as markdown on stdout (build output on stderr):
# every Lambda function's zip as `cargo lambda build --release --arm64 --output-format zip`
# makes it (what SAM's rust-cargolambda build uploads for template.yaml's arm64 functions),
# and the Worker's wasm and JavaScript, raw and gzip -9, each file apart. Cloudflare's limit
# counts the upload compressed; `wrangler deploy --dry-run` prints its own estimate, zlib's
# default level over the wasm and wrangler's bundled JavaScript together, about 1 % more.
#
#   bench/sizes.sh [--no-lambda] [--no-worker]
#
# Goals (issue 18): every zip ≤ 3 MB (taken as 3 MiB), the Worker ≤ 450 KiB gzip. Needs cargo-lambda (with zig)
# for the zips and infra/install-worker-tools.sh for the Worker.
set -euo pipefail
cd "$(dirname "$0")/.."

lambda=1 worker=1
for arg in "$@"; do
    case "$arg" in
    --no-lambda) lambda=0 ;;
    --no-worker) worker=0 ;;
    *) echo "usage: bench/sizes.sh [--no-lambda] [--no-worker]" >&2; exit 2 ;;
    esac
done

target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

if ((lambda)); then
    # shellcheck source=../tests/support/endpoints.sh
    source tests/support/endpoints.sh
    packages=()
    for p in $(authfn_functions) hello-lambda; do packages+=(-p "$p"); done
    cargo lambda build --release --arm64 --output-format zip "${packages[@]}" >&2
    echo "## Lambda function zips (arm64, release)"
    echo
    python3 - "$target_dir/lambda" "${packages[@]}" <<'PY'
import sys
from pathlib import Path

lambda_dir, names = Path(sys.argv[1]), sys.argv[3::2]  # after "-p" each
goal = 3 * 1024 * 1024  # 3 MiB, in the units of the table
rows = sorted(((lambda_dir / n / "bootstrap.zip").stat().st_size, n) for n in names)
print("| function | zip KiB | ≤ 3 MiB |")
print("|---|---:|:---:|")
for size, name in reversed(rows):
    print(f"| {name} | {size / 1024:,.0f} | {'yes' if size <= goal else '**no**'} |")
functions = [(s, n) for s, n in rows if n != "hello-lambda"]
print()
print(f"Largest {functions[-1][1]} {functions[-1][0] / 1024:,.0f} KiB, "
      f"smallest {functions[0][1]} {functions[0][0] / 1024:,.0f} KiB, "
      f"{sum(s > goal for s, _ in functions)} of {len(functions)} over 3 MiB.")
print()
PY
fi

if ((worker)); then
    infra/build-worker.sh >&2
    echo "## Worker bundle"
    echo
    python3 - worker/build/*.wasm worker/build/*.js <<'PY'
import gzip, os, sys

goal = 450 * 1024
print("| file | KiB | gzip -9 KiB |")
print("|---|---:|---:|")
total = 0
for f in sys.argv[1:]:
    data = open(f, "rb").read()
    packed = len(gzip.compress(data, 9))
    total += packed
    print(f"| {os.path.basename(f)} | {len(data) / 1024:,.0f} | {packed / 1024:,.0f} |")
print()
print(f"gzip total {total / 1024:,.0f} KiB: {'within' if total <= goal else '**over**'} the 450 KiB goal.")
PY
fi
