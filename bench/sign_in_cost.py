#!/usr/bin/env python3
"""Time of one sign-in on several authfn deployments, measured over loopback HTTP.

    bench/sign_in_cost.py [--runs N] NAME=BASE_URL...

Times N sign-ins per target (each with an address that has no account: the same argon2id
check against the dummy hash as a real account's), interleaved in a fresh random order each
round so drift in the machine's speed falls on all alike, and prints the
median and p90 per target with the ratio to the first. Each round also times a `GET
/auth/session` without a cookie, which touches no store and hashes nothing: the floor of
HTTP and runtime overhead. On an idle machine over loopback, sign-in minus that floor is
almost all argon2id CPU (plus the store's few reads and writes), so its ratio compares the
CPU cost of the same code natively and in the Workers runtime. Python 3 standard library
only.
"""

import argparse
import json
import math
import random
import secrets
import statistics
import sys
import time
import urllib.error
import urllib.request

ORIGIN = "http://localhost:5173"  # the SPA origin the test configurations trust


def post(url: str, body: dict) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Origin": ORIGIN})
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.status
    except urllib.error.HTTPError as e:
        return e.code


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as res:
            return res.status
    except urllib.error.HTTPError as e:
        return e.code


def timed(call) -> tuple[int, float]:
    start = time.perf_counter()
    status = call()
    return status, (time.perf_counter() - start) * 1e3


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="+", metavar="NAME=BASE_URL")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    targets = [tuple(t.split("=", 1)) for t in args.targets]

    # Each timed sign-in names an address that has no account, a fresh one each time: it is
    # answered 401 after a check against the dummy hash, the same argon2id work as a real
    # account's (so that timing cannot tell them apart), and no address reaches the lockout.
    # No sign-up is needed, whose mailed proof no bench can read on every runtime.
    def creds() -> dict:
        return {"email": f"bench-{secrets.token_hex(8)}@example.com", "password": "not the password"}

    for name, base in targets:
        post(f"{base}/auth/sign-in", creds())  # warm: the first request may compile or connect
    times: dict[str, list[float]] = {name: [] for name, _ in targets}
    floors: dict[str, list[float]] = {name: [] for name, _ in targets}
    for _ in range(args.runs):
        for name, base in random.sample(targets, len(targets)):
            status, elapsed = timed(lambda: post(f"{base}/auth/sign-in", creds()))
            if status != 401:
                print(f"{name}: sign-in answered {status}", file=sys.stderr)
                return 1
            times[name].append(elapsed)
            status, elapsed = timed(lambda: get(f"{base}/auth/session"))
            if status != 401:
                print(f"{name}: cookie-less session answered {status}", file=sys.stderr)
                return 1
            floors[name].append(elapsed)

    def net(name: str) -> float:
        return statistics.median(times[name]) - statistics.median(floors[name])

    first = targets[0][0]
    print(f"Sign-in over loopback HTTP, {args.runs} interleaved runs each. Floor = a cookie-less "
          f"`GET /auth/session` (no store, no hashing); ratio = (median − floor) ÷ that of `{first}`.\n")
    print("| target | sign-in median ms | p90 ms | floor ms | sign-in − floor ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, _ in targets:
        t = times[name]
        print(f"| {name} | {statistics.median(t):.1f} | {percentile(t, 90):.1f} | {statistics.median(floors[name]):.1f} "
              f"| {net(name):.1f} | {net(name) / net(first):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
