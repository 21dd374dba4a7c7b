#!/usr/bin/env bash
# Cargo's runner for the Lambda functions under `cargo lambda watch` (lambda.sh sets it): starts
# the function binary ($1) with exactly the environment its template.yaml block gives it
# ($AUTHFN_LAMBDA_ENV_DIR/<binary>.env, written by template_deploy.py) plus what the Lambda
# runtime itself provides (AWS_LAMBDA_*, _HANDLER), and nothing else of the caller's.
set -euo pipefail
name="$(basename "$1")"
env_file="${AUTHFN_LAMBDA_ENV_DIR:?}/$name.env"
if [[ ! -f "$env_file" ]]; then
    echo "lambda-runner: template.yaml deploys no function $name ($env_file is missing)" >&2
    exit 1
fi
runtime=()
for var in $(compgen -e); do
    case "$var" in
        AWS_LAMBDA_* | _HANDLER | RUST_LOG | RUST_BACKTRACE) runtime+=("$var=${!var}") ;;
    esac
done
mapfile -t settings <"$env_file"
exec env -i "${runtime[@]}" "${settings[@]}" "$@"
