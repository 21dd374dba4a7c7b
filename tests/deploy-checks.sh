#!/usr/bin/env bash
# What `sam deploy` and `wrangler deploy` would build and upload, checked without a cloud
# account. Prints one `check <name> ... ok` line per check; exits non-zero at the first that
# fails.
#   1. template.yaml: cfn-lint clean, and `sam validate --lint` (SAM's transform, offline);
#   2. every Lambda function cross-compiles for arm64 (`cargo lambda build --release --arm64`,
#      zig from PyPI as the linker), as SAM's rust-cargolambda build method does (without the
#      release profile's LTO: see arm64_build);
#   3. `wrangler deploy --dry-run` builds the Worker bundle and reads its bindings.
# Needs: cfn-lint, aws-sam-cli and cargo-lambda (PyPI), infra/install-worker-tools.sh.
#
#   tests/deploy-checks.sh [CHECK...]    # all by default; else only those named (cfn-lint,
#                                        # sam-validate, lambda-arm64-build, wrangler-dry-run)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=support/endpoints.sh
source tests/support/endpoints.sh

only=("$@")
check() {
    local name=$1
    shift
    if ((${#only[@]} > 0)) && [[ " ${only[*]} " != *" $name "* ]]; then return 0; fi
    echo "check $name ..." >&2
    "$@" >&2
    echo "check $name ... ok"
}

# SAM and cfn-lint need a region, and nothing here may reach AWS.
export AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline SAM_CLI_TELEMETRY=0

check cfn-lint cfn-lint template.yaml
check sam-validate sam validate --lint --template-file template.yaml --region us-east-1

arm64_build() {
    rustup target add aarch64-unknown-linux-gnu
    local functions=() name
    for name in $(authfn_functions); do functions+=(--bin "$name"); done
    ((${#functions[@]} > 0))
    local out
    out="$(mktemp -d)"
    # What can break here is cross-compiling and linking each function for arm64. The release
    # profile's fat LTO and single codegen unit (Cargo.toml: the deployed size) cost about 40 s
    # a binary on two cores, for every function, and change neither; bench/cold-start.sh
    # builds with them and reports the deployed sizes.
    # Its own target directory: tests/run.sh runs this build while the browser stage runs
    # ./dev.sh, whose cargo build would otherwise wait for this one's lock on the shared one.
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/arm64-check" \
        CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        cargo lambda build --release --arm64 --lambda-dir "$out" "${functions[@]}"
    local name missing=0
    for ((i = 1; i < ${#functions[@]}; i += 2)); do
        name="${functions[i]}"
        # ELF e_machine (2 bytes at offset 18) is 183 for aarch64.
        if python3 -c 'import sys; b = open(sys.argv[1], "rb").read(20); sys.exit(b[:4] != b"\x7fELF" or int.from_bytes(b[18:20], "little") != 183)' "$out/$name/bootstrap" 2>/dev/null; then
            echo "$name: $(stat -c %s "$out/$name/bootstrap") bytes, arm64 (without LTO)"
        else
            echo "$name: no arm64 bootstrap" && missing=1
        fi
    done
    rm -rf "$out"
    return "$missing"
}
check lambda-arm64-build arm64_build

dry_run() {
    local out
    out="$(mktemp -d)"
    CI=true WRANGLER_SEND_METRICS=false node_modules/.bin/wrangler deploy --dry-run --outdir "$out"
    ls -l "$out"
    local found=0
    [[ -n "$(find "$out" -name '*.wasm' -size +1k)" ]] && found=1
    rm -rf "$out"
    ((found == 1))
}
check wrangler-dry-run dry_run
