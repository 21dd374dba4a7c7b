#!/usr/bin/env python3
"""Per-request CPU of `GET /auth/session` in workerd, for several Worker builds at once.

    bench/workerd_session_cpu.py [--requests N] [--rounds R] NAME=BASE_URL@PID...

`wrangler dev` reports no CPU per request, so this reads it from the kernel: the user + system
CPU time (/proc/<pid>/stat) of every workerd process under the wrangler process PID, before
and after N sequential requests on one keep-alive connection, divided by N. Each target gets
a user (one sign-up) and a warm-up first; rounds then visit the targets in a fresh random
order, so drift in the machine's load falls on all alike. Two requests are measured:
`GET /auth/session` signed in (200: cookie check and a KV read) and without a cookie (401:
no store access), and the median per request is printed with the ratio to the first
target. The figures include workerd's own HTTP work and wrangler's proxy worker, which are
the same for every build. Python 3 standard library only; Linux only (/proc).
"""

import argparse
import http.client
import json
import os
import random
import secrets
import statistics
import sys
import urllib.parse

ORIGIN = "http://localhost:5173"  # the SPA origin the test configurations trust
TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            found.append(c)
            todo.append(c)
    return found


def workerd_pids(root: int) -> list[int]:
    pids = []
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "workerd":
                    pids.append(pid)
        except OSError:
            pass
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICKS


class Target:
    def __init__(self, spec: str):
        self.name, rest = spec.split("=", 1)
        url, pid = rest.rsplit("@", 1)
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.pids = workerd_pids(int(pid))
        if not self.pids:
            sys.exit(f"{self.name}: no workerd process under pid {pid}")
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.cookie = ""

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                res = self.conn.getresponse()
                res.read()
                return res
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closed an idle keep-alive connection: open another, once.
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def sign_up(self) -> None:
        creds = {"email": f"bench-{secrets.token_hex(6)}@example.com", "password": secrets.token_urlsafe(18)}
        res = self.request("POST", "/auth/sign-up", json.dumps(creds).encode(),
                           {"Content-Type": "application/json", "Origin": ORIGIN})
        if res.status != 201:
            sys.exit(f"{self.name}: sign-up answered {res.status}")
        self.cookie = res.getheader("Set-Cookie").split(";", 1)[0]

    def session(self, signed_in: bool) -> int:
        return self.request("GET", "/auth/session", headers={"Cookie": self.cookie} if signed_in else {}).status

    def cpu_ms_per_request(self, signed_in: bool, n: int) -> float:
        expected = 200 if signed_in else 401
        # A fresh connection, opened before the clock starts: the last one may have idled out.
        self.conn.close()
        self.conn.connect()
        before = cpu_seconds(self.pids)
        for _ in range(n):
            status = self.session(signed_in)
            if status != expected:
                sys.exit(f"{self.name}: GET /auth/session answered {status}, not {expected}")
        return (cpu_seconds(self.pids) - before) * 1e3 / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("targets", nargs="+", help="NAME=BASE_URL@WRANGLER_PID")
    args = parser.parse_args()
    targets = [Target(spec) for spec in args.targets]
    for t in targets:
        t.sign_up()
        for _ in range(30):  # the isolate, its caches and the JIT warm up
            t.session(True)
            t.session(False)

    results = {(t.name, s): [] for t in targets for s in (True, False)}
    for _ in range(args.rounds):
        order = [(t, s) for t in targets for s in (True, False)]
        random.shuffle(order)
        for t, signed_in in order:
            results[(t.name, signed_in)].append(t.cpu_ms_per_request(signed_in, args.requests))

    print(f"{args.requests} sequential requests per measurement, {args.rounds} rounds; "
          f"workerd CPU (user + system) per request, median (min–max) over rounds.")
    print()
    print("| request | " + " | ".join(t.name for t in targets) + " | ratio " +
          " | ".join(f"{t.name}/{targets[0].name}" for t in targets[1:]) + " |")
    print("|---|" + "---:|" * (2 * len(targets) - 1))
    for signed_in, label in ((True, "`GET /auth/session` signed in (200)"), (False, "`GET /auth/session` no cookie (401)")):
        medians = [statistics.median(results[(t.name, signed_in)]) for t in targets]
        cells = [f"{m:.2f} ms ({min(results[(t.name, signed_in)]):.2f}–{max(results[(t.name, signed_in)]):.2f})"
                 for t, m in zip(targets, medians)]
        ratios = [f"{m / medians[0]:.2f}" for m in medians[1:]]
        print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
