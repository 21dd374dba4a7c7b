#!/usr/bin/env python3
"""What authfn costs to run: per million requests of each endpoint, on AWS and on Cloudflare
Workers, and per month for stated user profiles beside Amazon Cognito's and Auth0's
per-MAU prices. Prints markdown; with --write-readme also puts it into README.md between
`<!-- cost-table:start -->` and `<!-- cost-table:end -->`.

    bench/cost.py [--round-trips bench/results/round-trips.json]
                  [--sizing bench/results/sizing.json] [--template template.yaml]
                  [--write-readme]

Inputs, all measured by other benches:
- round-trips.json (bench/round_trips.sh): per endpoint, the store's round trips and read /
  write request units on DynamoDB, KV reads / writes and D1 statements (or rows) on
  Cloudflare.
- sizing.json (bench/sizing.sh): per function, the handler's latency at each memory size
  with an in-memory store, and its CPU time.
- template.yaml: each function's MemorySize.

A Lambda function's billed duration is the measured handler time at its MemorySize plus
its store round trips, each taken as DYNAMODB_ROUND_TRIP_MS (an assumption, stated in the
output), rounded up to the millisecond. Workers CPU time is the native CPU time measured by
sizing.sh times the wasm/native factor it measured, if it did (`wasm_native_factor`).
Python 3 standard library only.
"""

import argparse
import json
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# List prices, US East (N. Virginia) for AWS, USD. `read` says when and how each figure was
# checked: "docs repo" = the source of Cloudflare's linked page (github.com/cloudflare/
# cloudflare-docs); "unverified" = the page could not be read where this was written: the
# figure is the last one published as far as we know (AWS cut DynamoDB on-demand prices on
# 2024-11-01 and moved Cognito to Lite/Essentials/Plus on 2024-11-22); check before quoting.
UNVERIFIED = "unverified, 2026-11-30"
PRICES = {
    "lambda_arm_gb_s": {
        "show": "$0.0000133334 per GB-s (arm64, first 7.5 billion GB-s a month)",
        "usd": 0.0000133334, "unit": "GB-s (arm64, first 7.5 billion GB-s a month)",
        "source": "https://aws.amazon.com/lambda/pricing/", "read": UNVERIFIED},
    "lambda_request": {
        "show": "$0.20 per million requests",
        "usd": 0.20 / 1e6, "unit": "request",
        "source": "https://aws.amazon.com/lambda/pricing/", "read": UNVERIFIED},
    "http_api_request": {
        "show": "$1.00 per million requests (first 300 million a month)",
        "usd": 1.00 / 1e6, "unit": "request (HTTP API, first 300 million a month)",
        "source": "https://aws.amazon.com/api-gateway/pricing/", "read": UNVERIFIED},
    "dynamodb_read_unit": {
        "show": "$0.125 per million read request units (on-demand)",
        "usd": 0.125 / 1e6, "unit": "read request unit (on-demand)",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/", "read": UNVERIFIED},
    "dynamodb_write_unit": {
        "show": "$0.625 per million write request units (on-demand)",
        "usd": 0.625 / 1e6, "unit": "write request unit (on-demand)",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/", "read": UNVERIFIED},
    "ses_mail": {
        "show": "$0.10 per 1,000 mails",
        "usd": 0.10 / 1000, "unit": "outbound mail",
        "source": "https://aws.amazon.com/ses/pricing/", "read": UNVERIFIED},
    "cloudwatch_logs_gb": {
        "show": "$0.50 per GB ingested (standard class)",
        "usd": 0.50, "unit": "GB of logs ingested (standard class)",
        "source": "https://aws.amazon.com/cloudwatch/pricing/", "read": UNVERIFIED},
    "cloudwatch_metric_month": {
        "show": "$0.30 per custom metric a month (first 10,000)",
        "usd": 0.30, "unit": "custom metric a month (first 10,000)",
        "source": "https://aws.amazon.com/cloudwatch/pricing/", "read": UNVERIFIED},
    "workers_paid_month": {
        "show": "$5 a month minimum, with the included usage below",
        "usd": 5.00, "unit": "month (Workers Paid minimum, includes the allowances below)",
        "source": "https://developers.cloudflare.com/workers/platform/pricing/", "read": "2026-11-30 (docs repo)"},
    "workers_request": {
        "show": "10 million a month included, then $0.30 per million",
        "usd": 0.30 / 1e6, "unit": "request beyond 10 million a month", "included": 10e6,
        "source": "https://developers.cloudflare.com/workers/platform/pricing/", "read": "2026-11-30 (docs repo)"},
    "workers_cpu_ms": {
        "show": "30 million CPU-ms a month included, then $0.02 per million CPU-ms",
        "usd": 0.02 / 1e6, "unit": "CPU-ms beyond 30 million a month", "included": 30e6,
        "source": "https://developers.cloudflare.com/workers/platform/pricing/", "read": "2026-11-30 (docs repo)"},
    "kv_read": {
        "show": "10 million a month included, then $0.50 per million",
        "usd": 0.50 / 1e6, "unit": "KV read beyond 10 million a month", "included": 10e6,
        "source": "https://developers.cloudflare.com/kv/platform/pricing/", "read": "2026-11-30 (docs repo)"},
    "kv_write": {
        "show": "writes and deletes: 1 million a month included each, then $5.00 per million",
        "usd": 5.00 / 1e6, "unit": "KV write or delete beyond 1 million a month", "included": 1e6,
        "source": "https://developers.cloudflare.com/kv/platform/pricing/", "read": "2026-11-30 (docs repo)"},
    "d1_row_read": {
        "show": "25 billion a month included, then $0.001 per million",
        "usd": 0.001 / 1e6, "unit": "D1 row read beyond 25 billion a month", "included": 25e9,
        "source": "https://developers.cloudflare.com/d1/platform/pricing/", "read": "2026-11-30 (docs repo)"},
    "d1_row_written": {
        "show": "50 million a month included, then $1.00 per million",
        "usd": 1.00 / 1e6, "unit": "D1 row written beyond 50 million a month", "included": 50e6,
        "source": "https://developers.cloudflare.com/d1/platform/pricing/", "read": "2026-11-30 (docs repo)"},
    "queues_operation": {
        "show": "1 million a month included, then $0.40 per million (3 per message)",
        "usd": 0.40 / 1e6, "unit": "Queues operation beyond 1 million a month (3 per message)",
        "included": 1e6,
        "source": "https://developers.cloudflare.com/queues/platform/pricing/", "read": "2026-11-30 (docs repo)"},
}

# Per-MAU prices of the hosted alternatives, USD a month.
COGNITO = {
    "source": "https://aws.amazon.com/cognito/pricing/", "read": UNVERIFIED,
    # (MAU up to, price per MAU) after the first 10,000 MAU, which are free on Lite and
    # Essentials.
    "free_mau": 10_000,
    "lite": [(100_000, 0.0055), (1_000_000, 0.0046), (10_000_000, 0.00325), (math.inf, 0.0025)],
    "essentials": [(math.inf, 0.015)],
}
AUTH0 = {
    "source": "https://auth0.com/pricing", "read": UNVERIFIED,
    # The self-serve B2C plans' published entry points: Essentials $35 for 500 MAU,
    # Professional $240 for 1,000 MAU. Larger tiers are quoted by the page's calculator,
    # Enterprise (which 1,000,000 MAU needs) by sales: not published.
    "essentials_per_mau": 35 / 500,
    "professional_per_mau": 240 / 1000,
    "self_serve_max_mau": 20_000,
    "free_mau": 25_000,
}

# What CloudWatch Logs ingests per request: the access line (188 bytes) and the metrics line
# (337 bytes), medians of a Lambda-stage log of tests/run.sh, plus Lambda's own JSON start and
# report records, estimated at 500 bytes.
LOG_BYTES_PER_REQUEST = 188 + 337 + 500


def always_on_metrics(sizes):
    """The custom metrics a stack always has: `Requests` per function and for the whole
    stack (README, "Metrics and alarms"); the other counters exist once something counts."""
    return len(sizes) + 1


# Not measured here: DynamoDB's latency inside a region is "single-digit milliseconds"
# (https://aws.amazon.com/dynamodb/); a round trip from Lambda is taken as this.
DYNAMODB_ROUND_TRIP_MS = 5.0

# The profiles: what one monthly active user does in a month. 10 visits of 10 page loads;
# each page load is one session check, and each visit starts with a sign-in (sessions end
# after 30 idle minutes by default); a few sign out; 5% of the month's users are new
# (sign-up + verification) and 2% reset a forgotten password.
PROFILE = {
    "session": 100,
    "sign-in": 10,
    "sign-out": 3,
    "sign-up": 0.05,
    "verify-email": 0.05,
    "password-forgot": 0.02,
    "password-reset": 0.02,
}
MAU_PROFILES = [10_000, 1_000_000]


def memory_sizes(template_path):
    """{function: MemorySize} from template.yaml (Globals' MemorySize unless overridden)."""
    text = open(template_path).read()
    default = int(re.search(r"^Globals:\n  Function:\n(?:    .*\n)*?    MemorySize: (\d+)", text, re.M).group(1))
    sizes = {}
    for block in re.split(r"\n(?=  [A-Za-z0-9]+:\n)", text):
        binary = re.search(r"BuildProperties: \{ Binary: ([a-z0-9-]+) \}", block)
        if binary:
            size = re.search(r"^      MemorySize: (\d+)", block, re.M)
            sizes[binary.group(1)] = int(size.group(1)) if size else default
    return sizes


def nearest(sizing, size):
    """The sizing row measured at `size`, or at the nearest size measured."""
    measured = sorted(int(s) for s in sizing)
    best = min(measured, key=lambda s: abs(s - size))
    return best, sizing[str(best)]


# The size at which Lambda gives one full vCPU, and the CFS period bench/sizing.sh emulates
# the share below it with.
FULL_VCPU_MB = 1769
PERIOD_MS = 20


def sdk_ms(sizing, sdk, size):
    """The time the AWS SDK's own CPU work adds at `size`, from a `sizing.sh --dynamodb` run:
    at full speed while the request's CPU fits one period's quota, else at the size's share."""
    if not sdk:
        return 0.0
    full = str(max(int(s) for s in sizing))
    sdk_full = sdk[str(max(int(s) for s in sdk))]["cpu_ms"]
    extra = max(0.0, sdk_full - sizing[full]["cpu_ms"])
    share = min(1.0, size / FULL_VCPU_MB)
    return extra if sdk_full <= share * PERIOD_MS else extra / share


def aws_cost(name, rt, sizing, size, sdk=None):
    """(USD per request, its parts, the billed ms) on AWS."""
    dyn = rt["dynamodb"]
    _, row = nearest(sizing, size)
    ms = math.ceil(row["p50_ms"] + sdk_ms(sizing, sdk, size) + dyn["round_trips"] * DYNAMODB_ROUND_TRIP_MS)
    parts = {
        "lambda": PRICES["lambda_request"]["usd"] + ms / 1000 * size / 1024 * PRICES["lambda_arm_gb_s"]["usd"],
        "http_api": PRICES["http_api_request"]["usd"],
        "dynamodb": dyn["read_units"] * PRICES["dynamodb_read_unit"]["usd"]
        + dyn["write_units"] * PRICES["dynamodb_write_unit"]["usd"],
        "ses": mails(name, rt) * PRICES["ses_mail"]["usd"],
        "logs": LOG_BYTES_PER_REQUEST / 1e9 * PRICES["cloudwatch_logs_gb"]["usd"],
    }
    return sum(parts.values()), parts, ms


# The mails a successful request sends, where round-trips.json does not say: the endpoints
# the `endpoints!` table flags SendsMail (shared/src/endpoints/mod.rs) send one on the path
# the benches take; mfa-verify's mail (a recovery code spent) is not that path.
MAILS = {name: 1 for name in [
    "sign-up", "verify-email-resend", "password-forgot", "email-change", "email-code-request",
    "passkey-register-finish", "passkey-delete", "totp-confirm", "totp-disable",
    "recovery-codes-regenerate"]}


def mails(name, rt):
    return rt.get("mails", MAILS.get(name, 0))


def d1_rows(cf):
    """(rows read, rows written) D1 bills. The store counts statements, not rows: a
    statement reads at least the one row its key finds, and a writing statement writes at
    least one (index rows come on top), so these are floors where rows were not counted."""
    return (cf.get("d1_rows_read", cf.get("d1_queries", 0)),
            cf.get("d1_rows_written", cf.get("d1_writes", 0)))


def workers_usage(name, rt, sizing, factor):
    """What one request uses on Workers, in each billed unit."""
    cf = rt["cloudflare"]
    rows_read, rows_written = d1_rows(cf)
    return {
        "workers_request": 1,
        "workers_cpu_ms": sizing[str(max(int(s) for s in sizing))]["cpu_ms"] * factor,
        "kv_read": cf["kv_reads"],
        "kv_write": cf["kv_writes"],
        "d1_row_read": rows_read,
        "d1_row_written": rows_written,
        "ses_mail": mails(name, rt),
        "queues_operation": 3 * rt.get("events", 0),
    }


def usd(x):
    if x >= 100:
        return f"${x:,.0f}"
    if x >= 1:
        return f"${x:,.2f}"
    return f"${x:.3f}" if x >= 0.01 else f"${x:.4f}"


def cognito_month(mau, plan):
    billable, cost, floor = max(0, mau - COGNITO["free_mau"]), 0.0, COGNITO["free_mau"]
    for upto, rate in COGNITO[plan]:
        band = min(mau, upto) - floor
        if band > 0:
            cost += band * rate
        floor = upto
        if mau <= upto:
            break
    return cost if billable else 0.0


def report(rt_doc, sizing_doc, sizes, factor, sdk_doc=None):
    out = []
    endpoints = rt_doc["endpoints"]
    functions = sizing_doc["functions"]
    both = [n for n in endpoints if n in functions
            and "dynamodb" in endpoints[n] and "cloudflare" in endpoints[n]]
    missing_sizing = sorted(n for n in endpoints if n not in both)
    out.append(f"Per million successful requests of each endpoint, at list prices, no free tier "
               f"or included usage applied. AWS: Lambda arm64 at the function's MemorySize "
               f"(requests + GB-s; duration = the handler's measured median at that size, plus the "
               f"AWS SDK's CPU measured over the local DynamoDB API, plus "
               f"{DYNAMODB_ROUND_TRIP_MS:g} ms per DynamoDB round trip, an assumption), HTTP API, "
               f"DynamoDB on-demand, SES (one mail where the endpoint sends one), CloudWatch Logs ({LOG_BYTES_PER_REQUEST:,} bytes a "
               f"request, partly estimated). Workers: requests, CPU time (native CPU × "
               f"{factor:.2f}, the wasm/native factor), KV, D1 (rows as counted, or the statements "
               f"as a floor where rows were not), SES (the Worker sends through SES). Workers Queues "
               f"(the optional event bus) are not counted.")
    out.append("")
    out.append("| endpoint | MemorySize | billed ms | AWS per 1M | of which Lambda | DynamoDB | Workers per 1M | of which CPU | KV | D1 |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    per_request = {}
    for name in both:
        size = sizes.get(name, 256)
        sdk = (sdk_doc or {}).get("functions", {}).get(name)
        aws, parts, ms = aws_cost(name, endpoints[name], functions[name], size, sdk)
        use = workers_usage(name, endpoints[name], functions[name], factor)
        cf_parts = {k: v * PRICES[k]["usd"] for k, v in use.items()}
        cf = sum(cf_parts.values())
        per_request[name] = (aws, cf, use)
        out.append(f"| {name} | {size} | {ms} | {usd(aws * 1e6)} | {usd(parts['lambda'] * 1e6)} | "
                   f"{usd(parts['dynamodb'] * 1e6)} | {usd(cf * 1e6)} | {usd(cf_parts['workers_cpu_ms'] * 1e6)} | "
                   f"{usd((cf_parts['kv_read'] + cf_parts['kv_write']) * 1e6)} | "
                   f"{usd((cf_parts['d1_row_read'] + cf_parts['d1_row_written']) * 1e6)} |")
    if missing_sizing:
        out.append("")
        out.append("Not priced (not sized by bench/sizing.sh, or counted on one store only): "
                   + ", ".join(missing_sizing) + ".")
    out.append("")

    mix = ", ".join(f"{n} {v:g}" for n, v in PROFILE.items())
    out.append(f"A month of authfn for N monthly active users (MAU), each making: {mix} requests "
               f"(10 visits of 10 page loads, each page load one `session` check, each visit a "
               f"sign-in, as sessions end after 30 idle minutes; 5% of users are new, 2% reset "
               f"their password). AWS without its free tier; Workers on the Paid plan ($5 a "
               f"month with its included usage); AWS includes the {always_on_metrics(sizes)} custom metrics "
               f"every stack has; stored data, Workers Logs and data transfer not counted. Beside them, the same MAU on Amazon Cognito (its 10,000 free MAU "
               f"applied) and Auth0.")
    out.append("")
    out.append("| MAU | authfn on AWS | authfn on Workers | Cognito Lite | Cognito Essentials | Auth0 B2C Essentials | Auth0 B2C Professional |")
    out.append("|---:|---:|---:|---:|---:|---:|---:|")
    unpriced = [n for n in PROFILE if n not in per_request]
    for mau in MAU_PROFILES:
        aws = (sum(per_request[n][0] * v * mau for n, v in PROFILE.items() if n in per_request)
               + always_on_metrics(sizes) * PRICES["cloudwatch_metric_month"]["usd"])
        totals = {}
        for n, v in PROFILE.items():
            if n in per_request:
                for unit, amount in per_request[n][2].items():
                    totals[unit] = totals.get(unit, 0) + amount * v * mau
        cf = PRICES["workers_paid_month"]["usd"] + sum(
            max(0.0, amount - PRICES[unit].get("included", 0)) * PRICES[unit]["usd"]
            for unit, amount in totals.items())
        if mau <= AUTH0["self_serve_max_mau"]:
            a0e = usd(mau * AUTH0["essentials_per_mau"]) + "¹"
            a0p = usd(mau * AUTH0["professional_per_mau"]) + "¹"
        else:
            a0e = a0p = "Enterprise: by quote²"
        def cognito(plan):
            cost = cognito_month(mau, plan)
            return usd(cost) if cost else "$0 (free MAU)"
        out.append(f"| {mau:,} | {usd(aws)} | {usd(cf)} | {cognito('lite')} | "
                   f"{cognito('essentials')} | {a0e} | {a0p} |")
    out.append("")
    out.append(f"¹ Auth0's published entry price per MAU (Essentials $35 for 500 MAU, Professional "
               f"$240 for 1,000) times the MAU; its calculator quotes each tier, and its Free plan "
               f"covers up to {AUTH0['free_mau']:,} MAU with fewer features. "
               f"² Auth0 publishes no self-serve price above {AUTH0['self_serve_max_mau']:,} MAU.")
    if unpriced:
        out.append("")
        out.append("Left out of the profile (not measured): " + ", ".join(unpriced) + ".")
    out.append("")
    out.append("| price (USD; AWS: US East) | list price | source | checked |")
    out.append("|---|---|---|---|")
    for key, p in PRICES.items():
        out.append(f"| {key.replace('_', ' ')} | {p['show']} | {p['source']} | {p['read']} |")
    out.append(f"| Cognito | first {COGNITO['free_mau']:,} MAU free; Lite ${COGNITO['lite'][0][1]} per MAU to "
               f"100,000, ${COGNITO['lite'][1][1]} to 1 million; Essentials ${COGNITO['essentials'][0][1]} per MAU | "
               f"{COGNITO['source']} | {COGNITO['read']} |")
    out.append(f"| Auth0 | B2C Essentials $35 a month for 500 MAU, Professional $240 for 1,000; free "
               f"plan to {AUTH0['free_mau']:,} MAU | {AUTH0['source']} | {AUTH0['read']} |")
    out.append("")
    out.append(f"Measured: round trips {rt_doc.get('measured_on', '?')} (`{rt_doc.get('command', '?')}`), "
               f"sizing {sizing_doc.get('measured_on', '?')} (`{sizing_doc.get('command', '?')}`). "
               f"Regenerate with `bench/cost.py --write-readme`.")
    return "\n".join(out)


def write_readme(path, table):
    text = open(path).read()
    start, end = "<!-- cost-table:start -->", "<!-- cost-table:end -->"
    if start not in text or end not in text:
        sys.exit(f"{path} has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    open(path, "w").write(f"{head}{start}\n{table}\n{end}{tail}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round-trips", default=os.path.join(ROOT, "bench/results/round-trips.json"))
    parser.add_argument("--sizing", default=os.path.join(ROOT, "bench/results/sizing.json"))
    parser.add_argument("--template", default=os.path.join(ROOT, "template.yaml"))
    parser.add_argument("--wasm-factor", type=float, default=None,
                        help="workerd CPU / native CPU (default: sizing.json's wasm_native_factor)")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    for path, maker in ((args.round_trips, "bench/round_trips.sh"), (args.sizing, "bench/sizing.sh")):
        if not os.path.exists(path):
            sys.exit(f"bench/cost.py: {path} is missing; {maker} writes it")
    rt_doc = json.load(open(args.round_trips))
    sizing_doc = json.load(open(args.sizing))
    factor = args.wasm_factor or sizing_doc.get("wasm_native_factor")
    if not factor:
        sys.exit("bench/cost.py: no wasm/native CPU factor: sizing.json has none (bench/sizing.sh "
                 "--workers measures it) and --wasm-factor was not given")
    sdk_path = os.path.join(os.path.dirname(args.sizing), "sizing-dynamodb.json")
    sdk_doc = json.load(open(sdk_path)) if os.path.exists(sdk_path) else None
    table = report(rt_doc, sizing_doc, memory_sizes(args.template), factor, sdk_doc)
    print(table)
    if args.write_readme:
        write_readme(os.path.join(ROOT, "README.md"), table)


if __name__ == "__main__":
    main()
