"""The soak test's verdicts, as a markdown report: after the load, checks that every completed
journey left what it should (its kept session answers 200, its signed-out one 401, its newest
refresh token still refreshes), then reads Locust's statistics and the RSS samples.

Usage: report.py TARGET BASE_URL OUT_DIR [--rss-bound PERCENT] [--rss-not-judged WHY]
OUT_DIR holds the locustfile's stats.json, journeys.json and statuses.json, and
rss.tsv (seconds since the start, resident KiB of the server's processes), one sample a line,
and for a Worker wasm.tsv (seconds since the start, bytes of the isolate's wasm linear memory).
Prints the report on stdout; exits 1 when a requirement fails.

Requirements: no 5xx answer; no session lost (every kept session and refresh token live, every
signed-out session ended); at least one whole journey; resident memory flat: the mean of the
last third of the samples at most PERCENT (default 10) above the mean of the middle third (the
first third is start-up and ramp-up); for a Worker, the same of its wasm linear memory (where the
RSS is not judged: --rss-not-judged).
"""

import argparse
import json
import os
import statistics
import sys

import requests


def final_check(base, journeys):
    """(lost, not ended): the sessions and refresh tokens that should be live and are not, and the
    signed-out sessions that still answer."""
    http = requests.Session()
    lost, not_ended = [], []
    for j in journeys:
        live = http.get(f"{base}/auth/session", headers={"Cookie": j["live"]}, timeout=60)
        if live.status_code != 200:
            lost.append(f"{j['email']}: kept session answered {live.status_code}")
        ended = http.get(f"{base}/auth/session", headers={"Cookie": j["ended"]}, timeout=60)
        if ended.status_code != 401:
            not_ended.append(f"{j['email']}: signed-out session answered {ended.status_code}")
        refreshed = http.post(f"{base}/oidc/token", timeout=60, data={
            "grant_type": "refresh_token", "refresh_token": j["refresh_token"], "client_id": "cli"})
        if refreshed.status_code != 200:
            lost.append(f"{j['email']}: refresh token answered {refreshed.status_code}")
    return lost, not_ended


def thirds(samples):
    n = len(samples) // 3
    return samples[:n], samples[n:2 * n], samples[2 * n:]


def memory_growth(what, samples):
    """Prints a line on `samples` ((seconds, KiB) pairs); returns the growth in percent of the
    last third's mean over the middle third's, or None with too few samples to tell."""
    if len(samples) < 6:
        return None
    _, middle, last = thirds([kib for _, kib in samples])
    mid, end = statistics.mean(middle), statistics.mean(last)
    growth = (end / mid - 1) * 100
    print(f"{what} ({len(samples)} samples over {samples[-1][0]:.0f} s): "
          f"start {samples[0][1] / 1024:.1f} MiB, middle third mean {mid / 1024:.1f} MiB, "
          f"last third mean {end / 1024:.1f} MiB ({growth:+.1f} %), end {samples[-1][1] / 1024:.1f} MiB, "
          f"peak {max(k for _, k in samples) / 1024:.1f} MiB.\n")
    return growth


def flat(name, growth, bound):
    """The verdict on a memory's growth (None: too few samples, a failure)."""
    if growth is None:
        return (name, False, "fewer than 6 samples")
    return (f"{name} (last third ≤ middle third + {bound:g} %)", growth <= bound, f"grew {growth:+.1f} %")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("base")
    parser.add_argument("out")
    parser.add_argument("--rss-bound", type=float, default=10.0)
    # Why the RSS is reported but not judged, when it is not the server's own (say, a local
    # runtime that grows by itself).
    parser.add_argument("--rss-not-judged", default="")
    args = parser.parse_args()

    journeys = json.load(open(os.path.join(args.out, "journeys.json")))
    statuses = json.load(open(os.path.join(args.out, "statuses.json")))
    rows = json.load(open(os.path.join(args.out, "stats.json")))
    rss = [(float(t), int(kib)) for t, kib in
           (line.split() for line in open(os.path.join(args.out, "rss.tsv")) if line.strip())]

    lost, not_ended = final_check(args.base.rstrip("/"), journeys)
    server_errors = sum(s["count"] for s in statuses if s["status"] >= 500 and not s.get("dev_proxy"))
    # wrangler dev's proxy's own 503s (tests/soak/locustfile.py, DEV_PROXY_503): reported, and
    # not counted as the server's failures or 5xx.
    proxy_resets = sum(s["count"] for s in statuses if s.get("dev_proxy"))

    print(f"### {args.target}\n")
    print(f"{len(journeys)} whole journeys completed.\n")
    print("| endpoint | requests | failures | 5xx | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in sorted(rows, key=lambda r: r["name"]):
        fivexx = sum(s["count"] for s in statuses
                     if s["name"] == r["name"] and s["status"] >= 500 and not s.get("dev_proxy"))
        print(f"| {r['name']} | {r['requests']} | {r['failures']} | {fivexx} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} |")
    print()

    failures = sum(r["failures"] for r in rows) - proxy_resets
    if proxy_resets:
        by_name = ", ".join(f"{s['name']} {s['count']}" for s in statuses if s.get("dev_proxy"))
        print(f"Not counted above as failures or 5xx: {proxy_resets} answers were wrangler dev's proxy's "
              f"own 503 (\"Your worker restarted mid-request\", a broken local connection to workerd; "
              f"no deployment has that proxy), each ending its journey: {by_name}.\n")
    verdicts = [
        ("no failed request", failures == 0, f"{failures} requests got another answer than the journey needs"),
        ("no 5xx", server_errors == 0, f"{server_errors} answers were 5xx"),
        ("no session lost", not lost, f"{len(lost)} lost: " + "; ".join(lost[:5])),
        ("every signed-out session ended", not not_ended, f"{len(not_ended)} still live: " + "; ".join(not_ended[:5])),
        ("journeys completed", len(journeys) > 0, "no journey completed"),
    ]
    growth = memory_growth("Resident memory", rss)
    if args.rss_not_judged:
        print(f"Resident memory is reported, not judged: {args.rss_not_judged}\n")
    else:
        verdicts.append(flat("memory flat", growth, args.rss_bound))
    wasm_file = os.path.join(args.out, "wasm.tsv")
    if os.path.exists(wasm_file):
        wasm = [(float(t), int(b) // 1024) for t, b in
                (line.split() for line in open(wasm_file) if line.strip())]
        verdicts.append(flat("wasm memory flat", memory_growth("The Worker's wasm linear memory", wasm),
                             args.rss_bound))
    for name, ok, why in verdicts:
        print(f"- {'PASS' if ok else 'FAIL'}: {name}" + ("" if ok else f" ({why})"))
    print()
    sys.exit(0 if all(ok for _, ok, _ in verdicts) else 1)


if __name__ == "__main__":
    main()
