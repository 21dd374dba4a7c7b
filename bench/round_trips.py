#!/usr/bin/env python3
"""Store round trips and billed units per endpoint, from servers' access lines.

    bench/round_trips.py --store dynamodb LOG [--store cloudflare LOG] [--json OUT]
        [--readme README.md] [--command "..."]

Each LOG is a server's output while a client made requests one at a time. Every JSON access
line with a "store" field (what the request asked of the store: see shared/src/store/usage.rs)
counts for its endpoint when its answer was a success (2xx or 3xx): the table gives, per
endpoint and store, the median over those requests, and how many there were. Prints a
markdown table; --json writes the figures (bench/results/round-trips.json is what
bench/cost.py reads); --readme replaces the table between the README's
<!-- round-trips:start --> and <!-- round-trips:end --> markers.
"""

import argparse
import datetime
import json
import statistics
import sys

FIELDS = {
    "dynamodb": ["round_trips", "read_units", "write_units"],
    "cloudflare": ["round_trips", "kv_reads", "kv_writes", "d1_queries", "d1_writes"],
}
START, END = "<!-- round-trips:start -->", "<!-- round-trips:end -->"


def access_lines(path):
    """The access lines of a log whose other lines may be anything (wrangler's own output)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            start = raw.find("{")
            if start < 0:
                continue
            try:
                line = json.loads(raw[start:])
            except ValueError:
                continue
            if isinstance(line, dict) and "status" in line and "endpoint" in line:
                yield line


def medians(path, fields):
    """{endpoint: {field: median, "requests": n}} over the successful requests in `path`.
    A request that made no store call still counts, as zeros: the access line leaves
    "store" out only then."""
    samples = {}
    for line in access_lines(path):
        endpoint, status = line.get("endpoint"), line.get("status", 0)
        if not endpoint or not 200 <= status < 400:
            continue
        store = line.get("store") or {}
        samples.setdefault(endpoint, []).append([store.get(f, 0) for f in fields])
    out = {}
    for endpoint, rows in samples.items():
        figures = {f: statistics.median(col) for f, col in zip(fields, zip(*rows))}
        figures["requests"] = len(rows)
        out[endpoint] = figures
    return out


def fmt(v):
    return f"{v:g}" if isinstance(v, float) else str(v)


def table(results, stores):
    endpoints = sorted({e for s in stores for e in results[s]})
    head = ["endpoint"]
    for s in stores:
        head += [f"{s} {f.replace('_', ' ')}" for f in FIELDS[s]]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for e in endpoints:
        row = [f"`{e}`"]
        for s in stores:
            figures = results[s].get(e)
            row += [fmt(figures[f]) if figures else "–" for f in FIELDS[s]]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", nargs=2, action="append", metavar=("STORE", "LOG"), required=True)
    p.add_argument("--json")
    p.add_argument("--readme")
    p.add_argument("--command", default="bench/round_trips.sh")
    args = p.parse_args()
    results = {}
    for store, log in args.store:
        if store not in FIELDS:
            sys.exit(f"unknown store {store!r}: one of {', '.join(FIELDS)}")
        results[store] = medians(log, FIELDS[store])
    stores = [s for s, _ in args.store]
    md = table(results, stores)
    print(md)
    if args.json:
        endpoints = {}
        for s in stores:
            for e, figures in results[s].items():
                endpoints.setdefault(e, {})[s] = figures
        doc = {
            "endpoints": dict(sorted(endpoints.items())),
            "measured_on": datetime.date.today().isoformat(),
            "command": args.command,
            "note": "medians over the successful requests of the black-box suite, run one at a time",
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    if args.readme:
        text = open(args.readme, encoding="utf-8").read()
        if START not in text or END not in text:
            sys.exit(f"{args.readme} has no {START} … {END} markers")
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        with open(args.readme, "w", encoding="utf-8") as f:
            f.write(f"{before}{START}\n{md}\n{END}{after}")


if __name__ == "__main__":
    main()
