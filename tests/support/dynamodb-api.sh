# Starts and stops a local, in-memory DynamoDB API (moto's server; see
# dynamodb_api_server.py for why moto) for the DynamoDB store tests; the same server is the
# local SES v2 API the Lambda functions and the Worker send mail through. Source this file
# (bash), then:
#
#   start_dynamodb_api   # exports AUTHFN_TEST_DYNAMODB_ENDPOINT, dummy AWS settings, and the
#                        # mail settings below, with AUTHFN_TEST_MAIL_IDENTITY verified in SES
#   ...
#   stop_dynamodb_api
#
# Needs `pip install "moto[server]"` (tests/install-tools.sh does it).

# shellcheck source=process.sh
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"

_DDB_TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The SES identity the test deployments send from (a domain, as a real one would usually be),
# and their From address on it.
export AUTHFN_TEST_MAIL_IDENTITY=mail.authfn.test
export AUTHFN_TEST_MAIL_FROM=no-reply@mail.authfn.test

# Verifies identity $1 for sending in the local SES (us-east-1, moto's default account), as a
# deployment's operator does once in the SES console. Before IAM is enforced (template_deploy.py).
verify_ses_identity() {
    python3 - "$AUTHFN_TEST_DYNAMODB_ENDPOINT" "$1" <<'PY'
import sys

import boto3

endpoint, identity = sys.argv[1:]
ses = boto3.client("sesv2", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="local", aws_secret_access_key="local")
ses.create_email_identity(EmailIdentity=identity)
PY
}

start_dynamodb_api() {
    local server="$_DDB_TESTS_DIR/support/dynamodb_api_server.py"
    if ! python3 -c 'import moto.server, werkzeug' 2>/dev/null; then
        echo "moto is not installed: pip install 'moto[server]'" >&2
        return 1
    fi
    if [[ -n "${DDB_API_PID:-}" ]] && kill -0 "$DDB_API_PID" 2>/dev/null; then
        echo "the DynamoDB API server is already running (pid $DDB_API_PID)" >&2
        return 1
    fi

    # Ask the kernel for a free port. Another process could take it before the server binds
    # it; then the server exits and the wait below says so.
    local port
    port="$(free_port)" || return 1

    # Everything stays in memory and is forgotten on exit.
    DDB_API_LOG="$(mktemp "${TMPDIR:-/tmp}/dynamodb-api.XXXXXX.log")"
    python3 "$server" "$port" >"$DDB_API_LOG" 2>&1 &
    DDB_API_PID=$!

    local deadline=$((SECONDS + 20))
    until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$port" 2>/dev/null; do
        if ! kill -0 "$DDB_API_PID" 2>/dev/null; then
            echo "the DynamoDB API server exited before accepting connections; its output:" >&2
            cat "$DDB_API_LOG" >&2
            rm -f "$DDB_API_LOG"
            unset DDB_API_PID DDB_API_LOG
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "the DynamoDB API server did not accept connections on 127.0.0.1:$port within 20 s; its output:" >&2
            cat "$DDB_API_LOG" >&2
            stop_dynamodb_api
            return 1
        fi
        sleep 0.1
    done

    # If this shell dies without calling stop_dynamodb_api (killed, timed out), take the
    # server with it rather than leave an orphan behind.
    local owner=$BASHPID server_pid=$DDB_API_PID
    (
        while kill -0 "$owner" 2>/dev/null && kill -0 "$server_pid" 2>/dev/null; do sleep 1; done
        kill "$server_pid" 2>/dev/null
    ) </dev/null >/dev/null 2>&1 &
    DDB_API_WATCHDOG_PID=$!

    export DDB_API_PID DDB_API_LOG DDB_API_WATCHDOG_PID
    export AUTHFN_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
    # A local server checks no signature, but the SDK insists on signing with something,
    # and with these set it never goes looking for real credentials.
    export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
    verify_ses_identity "$AUTHFN_TEST_MAIL_IDENTITY" || { stop_dynamodb_api; return 1; }
    echo "the DynamoDB API server listening on $AUTHFN_TEST_DYNAMODB_ENDPOINT (pid $DDB_API_PID)" >&2
}

# Makes EventBridge bus $1 (if missing) and an archive of every authfn event put on it, named
# after it, as an operator's consumer would: GET /moto-api/data.json lists the archive's events
# (events.Archive[].events), which the black-box suite reads back. Before IAM is enforced.
event_bus_with_archive() {
    python3 - "$AUTHFN_TEST_DYNAMODB_ENDPOINT" "$1" <<'PY'
import json
import sys

import boto3

endpoint, bus = sys.argv[1:]
events = boto3.client("events", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
try:
    arn = events.create_event_bus(Name=bus)["EventBusArn"]
except events.exceptions.ResourceAlreadyExistsException:
    arn = events.describe_event_bus(Name=bus)["Arn"]
try:
    events.create_archive(ArchiveName=bus, EventSourceArn=arn, EventPattern=json.dumps({"source": ["authfn"]}))
except events.exceptions.ResourceAlreadyExistsException:
    pass
PY
}

# Makes an IAM user whose only permission is ses:SendEmail on identity $1 (the statement the
# README gives a Worker's operator) and prints its access key as the Worker's two SES secrets,
# AUTHFN_SES_ACCESS_KEY_ID=… and AUTHFN_SES_SECRET_ACCESS_KEY=… lines. Before IAM is enforced.
ses_sender_key() {
    python3 - "$AUTHFN_TEST_DYNAMODB_ENDPOINT" "$1" <<'PY'
import json
import os
import sys

import boto3

endpoint, identity = sys.argv[1:]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="local", aws_secret_access_key="local")
user = f"authfn-worker-{os.getpid()}"
iam.create_user(UserName=user)
statement = {"Effect": "Allow", "Action": "ses:SendEmail",
             "Resource": f"arn:aws:ses:us-east-1:123456789012:identity/{identity}"}
iam.put_user_policy(UserName=user, PolicyName="SendMail",
                    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
key = iam.create_access_key(UserName=user)["AccessKey"]
print(f"AUTHFN_SES_ACCESS_KEY_ID={key['AccessKeyId']}")
print(f"AUTHFN_SES_SECRET_ACCESS_KEY={key['SecretAccessKey']}")
PY
}

# From now on the server checks every request's signature and IAM permissions (`on`), or
# nothing (`off`), as template_deploy.py's deploy and undeploy do.
enforce_iam() {
    local count
    case "$1" in on) count=0 ;; off) count=inf ;; *) echo "enforce_iam on|off" >&2; return 1 ;; esac
    python3 - "$AUTHFN_TEST_DYNAMODB_ENDPOINT" "$count" <<'PY'
import sys
import urllib.request

endpoint, count = sys.argv[1:]
request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(), method="POST",
                                 headers={"Content-Type": "text/plain"})
urllib.request.urlopen(request, timeout=10).read()
PY
}

stop_dynamodb_api() {
    if [[ -n "${DDB_API_WATCHDOG_PID:-}" ]]; then
        kill "$DDB_API_WATCHDOG_PID" 2>/dev/null || true
        wait "$DDB_API_WATCHDOG_PID" 2>/dev/null || true
    fi
    if [[ -n "${DDB_API_PID:-}" ]]; then
        kill "$DDB_API_PID" 2>/dev/null || true
        wait "$DDB_API_PID" 2>/dev/null || true
    fi
    if [[ -n "${DDB_API_LOG:-}" ]]; then
        rm -f "$DDB_API_LOG"
    fi
    unset DDB_API_PID DDB_API_LOG DDB_API_WATCHDOG_PID AUTHFN_TEST_DYNAMODB_ENDPOINT
}
