#!/usr/bin/env python3
"""Cold start of Lambda binaries, measured against a stub of the Lambda Runtime API.

Called by bench/cold-start.sh with the built binaries; prints a markdown table. A binary's
cold start is the time from its exec to the moment its first request to the Runtime API
(`GET /2018-06-01/runtime/invocation/next`) arrives at a stub listening on loopback: by then
the process is loaded, `main` has built everything it builds once, and it is ready to serve.
The stub never answers; the process is killed as soon as the request is read.

Python 3 standard library only.
"""

import argparse
import math
import os
import random
import secrets
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

NEXT_INVOCATION = b"GET /2018-06-01/runtime/invocation/next "


class ColdStartError(Exception):
    pass


def shared_env(session_key: str, data_key: str, overrides: dict[str, str]) -> dict[str, str]:
    """What every function needs to initialise, plus the Lambda service's own settings.
    Nothing is inherited from this shell, so a developer's ~/.aws or AWS_* settings cannot
    change the result. DynamoDB is the real regional endpoint, as deployed (its TLS trust
    differs from a custom endpoint's); nothing may contact it during init, which the --trace
    column checks, and the credentials are fake in case something does."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "cold-start-bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDCOLDSTARTBENCH",
        "AWS_SECRET_ACCESS_KEY": "cold-start-bench-not-a-secret",
        "AUTHFN_SESSION_KEYS": session_key,
        "AUTHFN_TABLE": "authfn",
        # What template.yaml gives every function (Globals) and the functions that keep TOTP
        # secrets refuse to start without.
        "AUTHFN_APP_URL": "https://app.example.com/",
        "AUTHFN_MAIL_FROM": "no-reply@example.com",
        "AUTHFN_TRUSTED_ORIGINS": "https://app.example.com",
        "AUTHFN_DATA_KEYS": data_key,
    } | overrides


def process_env(shared: dict[str, str], binary: Path, runtime_api_port: int) -> dict[str, str]:
    return shared | {
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_api_port}",
        "AWS_LAMBDA_FUNCTION_NAME": binary.name,
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{binary.name}",
    }


def zipped_size(binary: Path) -> int:
    """Size of the deployment zip: the binary alone, named `bootstrap`, deflated, executable,
    as `cargo lambda build --output-format zip` packs it."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "bootstrap.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
            info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100755 << 16
            z.writestr(info, binary.read_bytes())
        return archive.stat().st_size


def one_cold_start(binary: Path, shared: dict[str, str], timeout: float) -> float:
    """Milliseconds from exec to the first Runtime API request, for one fresh process."""
    with socket.create_server(("127.0.0.1", 0)) as server, tempfile.TemporaryFile() as stderr:
        server.setblocking(False)
        env = process_env(shared, binary, server.getsockname()[1])
        # The child stamps the clock itself, after fork and just before exec, so the time
        # Python spends setting up the spawn is not counted. CLOCK_MONOTONIC is shared by
        # all processes, so the stamp compares with the parent's.
        stamp_r, stamp_w = os.pipe()

        def stamp():
            os.write(stamp_w, str(time.monotonic_ns()).encode())

        proc = subprocess.Popen(
            [str(binary)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=stderr, preexec_fn=stamp, start_new_session=True,
        )
        os.close(stamp_w)
        try:
            with os.fdopen(stamp_r, "rb") as r:
                exec_ns = int(r.read())
            conn = accept(server, proc, timeout)
            with conn:
                line, arrived_ns = read_request_line(conn, timeout)
            if not line.startswith(NEXT_INVOCATION):
                raise ColdStartError(f"first request was {line[:80]!r}, not the next invocation")
            return (arrived_ns - exec_ns) / 1e6
        except ColdStartError as e:
            stderr.seek(0)
            tail = stderr.read()[-2000:].decode(errors="replace")
            raise ColdStartError(f"{binary.name}: {e}\n--- its stderr ---\n{tail}") from None
        finally:
            kill(proc)


def accept(server: socket.socket, proc: subprocess.Popen, timeout: float) -> socket.socket:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Short waits, so a process that exits during init is noticed at once.
        if select.select([server], [], [], 0.05)[0]:
            conn, _ = server.accept()
            conn.setblocking(True)
            conn.settimeout(timeout)
            return conn
        if proc.poll() is not None:
            raise ColdStartError(f"exited with status {proc.returncode} before calling the Runtime API")
    raise ColdStartError(f"no Runtime API request within {timeout} s")


def read_request_line(conn: socket.socket, timeout: float) -> tuple[bytes, int]:
    data = b""
    deadline = time.monotonic() + timeout
    while b"\r\n" not in data:
        if time.monotonic() > deadline or len(data) > 8192:
            raise ColdStartError("no complete request line")
        try:
            chunk = conn.recv(4096)
        except socket.timeout:
            raise ColdStartError("no complete request line") from None
        if not chunk:
            raise ColdStartError("connection closed before a request line")
        data += chunk
    return data.split(b"\r\n", 1)[0], time.monotonic_ns()


def kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # already gone
    proc.wait(timeout=10)


def network_at_init(binary: Path, shared: dict[str, str], timeout: float) -> str:
    """Every connect() the process makes before its first Runtime API request, other than
    that one, via strace: a cold start that includes a network round trip shows here."""
    with socket.create_server(("127.0.0.1", 0)) as server, tempfile.TemporaryDirectory() as tmp:
        server.setblocking(False)
        port = server.getsockname()[1]
        log = Path(tmp) / "strace"
        env = process_env(shared, binary, port)
        proc = subprocess.Popen(
            ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(log), str(binary)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            with accept(server, proc, timeout) as conn:
                read_request_line(conn, timeout)
        except ColdStartError as e:
            return f"trace failed: {e}"
        finally:
            kill(proc)
        others = [
            line.split("connect(", 1)[1].strip()
            for line in log.read_text().splitlines()
            if "connect(" in line and f"sin_port=htons({port})" not in line
        ]
        return "none" if not others else "; ".join(sorted(set(others)))[:300]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+", type=Path)
    parser.add_argument("--baseline", required=True, help="name of the baseline binary (file name)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--deadline", type=float, default=600, help="stop measuring after this many seconds")
    parser.add_argument("--timeout", type=float, default=10, help="seconds one process may take to start")
    parser.add_argument("--trace", action="store_true", help="also list connect() calls made during init (strace)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="add to (or override) every binary's environment, to try a change")
    args = parser.parse_args()
    overrides = {}
    for pair in args.env:
        name, sep, value = pair.partition("=")
        if not sep:
            parser.error(f"--env {pair}: expected NAME=VALUE")
        overrides[name] = value

    # Absolute, since exec does not search the current directory for a bare name.
    args.binaries = [b.resolve() for b in args.binaries]
    names = [b.name for b in args.binaries]
    if args.baseline not in names:
        parser.error(f"baseline {args.baseline} is not among the binaries")
    # 32-byte keys, base64url, unpadded.
    shared = shared_env(secrets.token_urlsafe(32), secrets.token_urlsafe(32), overrides)
    rng = random.Random(args.seed)
    times: dict[str, list[float]] = {name: [] for name in names}

    # One untimed start each, so the first timed one does not pay for reading the binary
    # from disk; a failing function stops everything here, with its stderr.
    try:
        for binary in args.binaries:
            one_cold_start(binary, shared, args.timeout)
        deadline = time.monotonic() + args.deadline
        completed = 0
        for _ in range(args.runs):
            if time.monotonic() > deadline:
                break
            # A fresh order each round, so drift in the machine's speed falls on all alike.
            for binary in rng.sample(args.binaries, len(args.binaries)):
                times[binary.name].append(one_cold_start(binary, shared, args.timeout))
            completed += 1
    except ColdStartError as e:
        print(f"cold start failed: {e}", file=sys.stderr)
        return 1

    base = statistics.median(times[args.baseline])
    print(f"Cold start: exec → first `GET …/runtime/invocation/next`, {completed} interleaved runs "
          f"per binary, on {os.cpu_count()} CPUs; ratio = median ÷ median of `{args.baseline}`.\n")
    trace_col = " | connect() during init" if args.trace else ""
    print(f"| function | binary KiB | zip KiB | median ms | p90 ms | ratio{trace_col} |")
    print(f"|---|---:|---:|---:|---:|---:|{'---|' if args.trace else ''}")
    for binary in args.binaries:
        t = times[binary.name]
        median = statistics.median(t)
        row = (f"| {binary.name} | {binary.stat().st_size / 1024:,.0f} | {zipped_size(binary) / 1024:,.0f} "
               f"| {median:.2f} | {percentile(t, 90):.2f} | {median / base:.2f} |")
        if args.trace:
            row += f" {network_at_init(binary, shared, args.timeout)} |"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
