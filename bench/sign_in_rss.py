#!/usr/bin/env python3
"""Resident memory of one authfn process over many sign-ins.

    bench/sign_in_rss.py --name NAME --pid PID | --exe-under PID:NAME
                         --sign-up URL --sign-in URL [--sign-ins N] [--clients C]

Signs one user up, then signs in N times (default 200) from C concurrent clients (default 2),
and reads VmRSS of the process from /proc after the first sign-in, at every quarter, and at
the end. With `--exe-under WATCHER:NAME` the process is found as the descendant of WATCHER
whose executable is called NAME (how `cargo lambda watch` runs a function), once the first
sign-in has started it. Prints one markdown table row. Python 3 standard library only.
"""

import argparse
import os
import secrets
import sys
import threading

from sign_in_cost import post  # same folder: one way to send a sign-in


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def children(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            pass
    return found


def descendant_named(root: int, name: str) -> int:
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == name:
                return pid
        except OSError:
            pass
        todo += children(pid)
    raise RuntimeError(f"no process {name!r} under pid {root}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--pid", type=int)
    which.add_argument("--exe-under", metavar="PID:NAME")
    parser.add_argument("--sign-up", required=True, metavar="URL")
    parser.add_argument("--sign-in", required=True, metavar="URL")
    parser.add_argument("--sign-ins", type=int, default=200)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--header", action="store_true", help="print the table header first")
    args = parser.parse_args()

    creds = {"email": f"rss-{secrets.token_hex(4)}@example.com", "password": secrets.token_urlsafe(16)}
    if (status := post(args.sign_up, creds)) != 201:
        print(f"{args.name}: sign-up answered {status}", file=sys.stderr)
        return 1
    if (status := post(args.sign_in, creds)) != 200:
        print(f"{args.name}: sign-in answered {status}", file=sys.stderr)
        return 1
    if args.pid:
        pid = args.pid
    else:
        watcher, exe = args.exe_under.split(":", 1)
        pid = descendant_named(int(watcher), exe)
    samples = {1: rss_mib(pid)}
    checkpoints = {args.sign_ins * q // 4 for q in (1, 2, 3, 4)}

    started = completed = 1
    lock = threading.Lock()
    failures = []

    def client() -> None:
        nonlocal started, completed
        while True:
            with lock:
                if started >= args.sign_ins or failures:
                    return
                started += 1
            status = post(args.sign_in, creds)
            with lock:
                if status != 200:
                    failures.append(status)
                    return
                completed += 1
                if completed in checkpoints:
                    samples[completed] = rss_mib(pid)

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        print(f"{args.name}: a sign-in answered {failures[0]}", file=sys.stderr)
        return 1
    samples[args.sign_ins] = rss_mib(pid)

    if args.header:
        cols = " | ".join(f"after {n}" for n in sorted(samples))
        print(f"| process ({args.clients} clients) | {cols} | growth after the first |")
        print("|---|" + "---:|" * (len(samples) + 1))
    ordered = [samples[n] for n in sorted(samples)]
    cells = " | ".join(f"{v:.0f} MiB" for v in ordered)
    print(f"| {args.name} | {cells} | {ordered[-1] - ordered[0]:+.0f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
