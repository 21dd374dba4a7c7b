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
    """{endpoint: {field: median, "requests": n}} over the successful requests in `path`
    that used the store (a sign-out without a session, say, has nothing to do); zeros for an
    endpoint none of whose requests did (the key documents). The access line leaves "store"
    out when a request made no store call."""
    samples, quiet = {}, {}
    for line in access_lines(path):
        endpoint, status = line.get("endpoint"), line.get("status", 0)
        if not endpoint or not 200 <= status < 400:
            continue
        if line.get("store"):
            samples.setdefault(endpoint, []).append([line["store"].get(f, 0) for f in fields])
        else:
            quiet[endpoint] = quiet.get(endpoint, 0) + 1
    out = {}
    for endpoint in set(samples) | set(quiet):
        rows = samples.get(endpoint) or [[0] * len(fields)]
        figures = {f: statistics.median(col) for f, col in zip(fields, zip(*rows))}
        figures["requests"] = len(samples.get(endpoint, [])) or quiet[endpoint]
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
    p.add_argument("--store", nargs=2, action="append", metavar=("STORE", "LOG"), default=[])
    p.add_argument("--from-json", metavar="FILE", help="tabulate an earlier run's --json output instead")
    p.add_argument("--json")
    p.add_argument("--readme")
    p.add_argument("--command", default="bench/round_trips.sh")
    args = p.parse_args()
    results = {}
    if args.from_json:
        doc = json.load(open(args.from_json, encoding="utf-8"))
        for endpoint, by_store in doc["endpoints"].items():
            for store, figures in by_store.items():
                results.setdefault(store, {})[endpoint] = figures
        stores = [s for s in FIELDS if s in results]
        args.json = None
    elif not args.store:
        sys.exit("give --store STORE LOG (repeatable) or --from-json FILE")
    for store, log in args.store:
        if store not in FIELDS:
            sys.exit(f"unknown store {store!r}: one of {', '.join(FIELDS)}")
        results[store] = medians(log, FIELDS[store])
    if not args.from_json:
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
            "note": "medians over the successful requests of the black-box suite (run one at a time) that used the store",
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
