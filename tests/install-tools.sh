#!/usr/bin/env bash
# Installs what tests/run.sh needs beyond cargo, python3 (with pip) and node (with npm), at
# pinned versions; tests/run.sh runs it first, so on a fresh machine the test command is all
# there is to type. Each step checks what is there first, so a second run changes nothing and
# takes a second or two.
#   1. PyPI: cargo-lambda runs the real Lambda binaries locally and cross-compiles them for
#      arm64 (it ships zig); moto's server is the local DynamoDB API (see
#      tests/support/dynamodb_api_server.py); cfn-lint and SAM check template.yaml offline;
#      openapi-spec-validator checks openapi.yaml against the OpenAPI 3.1 schema, and
#      Schemathesis tests the servers against it (tests/support/schemathesis.sh); Locust runs
#      the soak test's journeys (bench/soak.sh, tests/soak/).
#   2. Debian: chromium, which the browser tests drive (playwright-core never downloads one).
#   3. The Worker's toolchain and the npm packages: infra/install-worker-tools.sh.
# tests/fuzz/run.sh installs cargo-fuzz, and the example SPA's npm packages are installed
# on first use (tests/support/spa.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

pins=("cargo-lambda==1.9.2" "moto[server]==5.2.5" "cfn-lint==1.58.0" "aws-sam-cli==1.170.0"
      "openapi-spec-validator==0.9.0" "schemathesis==4.32.5" "locust==2.47.0")
# True when every pin is installed at its version, with its extra's requirements present.
pins_installed() {
    python3 - "${pins[@]}" <<'PY'
import importlib.metadata as meta, re, sys

def version(dist):
    try:
        return meta.version(dist)
    except meta.PackageNotFoundError:
        return None

for pin in sys.argv[1:]:
    name, wanted = pin.split("==")
    name, _, extra = name.partition("[")
    if version(name) != wanted:
        sys.exit(1)
    marker = f'extra == "{extra.rstrip("]")}"'
    for requirement in meta.requires(name) or []:
        if extra and marker in requirement and version(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0]) is None:
            sys.exit(1)
PY
}
if ! pins_installed; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "${pins[@]}"
fi

if [[ ! -x /usr/bin/chromium ]]; then
    export DEBIAN_FRONTEND=noninteractive
    sudo_if_needed() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
    sudo_if_needed apt-get update -qq
    sudo_if_needed apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

"$root/infra/install-worker-tools.sh"
