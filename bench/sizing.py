#!/usr/bin/env python3
"""Latency and GB-s per request of each function at Lambda's memory sizes, measured under a
CPU quota. Run by bench/sizing.sh, which starts the server this drives.

    bench/sizing.py --base-url URL --cgroup NAME [--runs N] [--sizes 128,256,...]
                    [--only sign-in,session] [--json PATH]
    bench/sizing.py --report bench/results/sizing.json [--write-readme]

Lambda gives a function CPU in proportion to its memory, one full vCPU at 1,769 MB
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html). The server under
test (one process, every endpoint) sits in a cgroup v1 `cpu` group; for each memory size
the group's CFS quota is set to (size / 1769) of one CPU, and each function's typical
successful request is timed there. The state a request needs (an account, a session, a
mailed token) is made beforehand with the quota lifted, so only the measured request runs
at the emulated size. The `cpuacct` group beside it gives the CPU time each request used.

Lambda bills the handler's duration rounded up to 1 ms, times the memory in GB
(https://aws.amazon.com/lambda/pricing/); `gb_s` is that for the median request. The
server keeps its data in memory: a deployed function also waits on its store's round
trips, which take no CPU and are added from the round-trip table by bench/cost.py, not
here. Python 3 standard library only.
"""

import argparse
import base64
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import statistics
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ORIGIN = "http://localhost:5173"  # the SPA origin bench/sizing.sh trusts
PASSWORD = "sizing-bench-password-1"
OTHER_PASSWORD = "sizing-bench-password-2"
FULL_VCPU_MB = 1769
CLIENT = "cli"  # the public OAuth client bench/sizing.sh configures


def percentile(values, p):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body or b"null")


class Client:
    """One user agent: a cookie jar, and the server's address."""

    def __init__(self, base):
        self.base = base
        self.cookies = {}

    def send(self, method, path, *, json_body=None, form=None, bearer=None, browser=True,
             query=None):
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {}
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if browser:
            headers["Origin"] = ORIGIN
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as res:
                reply = Reply(res.status, res.headers, res.read())
        except urllib.error.HTTPError as e:
            reply = Reply(e.code, e.headers, e.read())
        for cookie in reply.headers.get_all("Set-Cookie") or []:
            pair = cookie.split(";", 1)[0]
            name, _, value = pair.partition("=")
            attrs = cookie.lower()
            if value == "" or "max-age=0" in attrs:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()
        return reply

    def expect(self, status, *args, **kwargs):
        reply = self.send(*args, **kwargs)
        if reply.status != status:
            raise RuntimeError(f"{args[0]} {args[1]}: expected {status}, got {reply.status}: "
                               f"{reply.body[:300]!r}")
        return reply


def mails_to(base, email):
    with urllib.request.urlopen(base + "/dev/mailbox", timeout=30) as res:
        return [m for m in json.load(res) if m["to"] == email]  # newest first


def latest_mail(base, email):
    for _ in range(50):
        found = mails_to(base, email)
        if found:
            return found[0]["text"]
        time.sleep(0.05)
    raise RuntimeError(f"no mail to {email}")


def link_token(text):
    match = re.search(r"[#?&]token=([A-Za-z0-9_\-.~%]+)", text)
    if not match:
        raise RuntimeError(f"no token in mail: {text[:200]}")
    return urllib.parse.unquote(match.group(1))


def six_digit_code(text):
    match = re.search(r"(?<![A-Za-z0-9_-])(\d{6})(?![A-Za-z0-9_-])", text)
    if not match:
        raise RuntimeError(f"no code in mail: {text[:200]}")
    return match.group(1)


def totp(secret_b32, at=None):
    """RFC 6238 with SHA-1, six digits, 30-second steps: what authfn's TOTP uses."""
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    step = int((at or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


class Bench:
    """Makes the state each function's request needs and builds the request to time."""

    def __init__(self, base, oauth, verification=True):
        self.base = base
        self.oauth = oauth
        # Off (AUTHFN_EMAIL_VERIFICATION=off): sign-up makes the account at once, so a target
        # whose mail this cannot read (workerd's goes to a local SES) can still have accounts.
        self.verification = verification
        self.shared = None  # a signed-in account for read-only requests

    def email(self, kind):
        return f"sizing-{kind}-{secrets.token_hex(6)}@example.com"

    def account(self, kind="user"):
        """A verified account, signed in: (client, email)."""
        client = Client(self.base)
        email = self.email(kind)
        if not self.verification:
            client.expect(201, "POST", "/auth/sign-up", json_body={"email": email, "password": PASSWORD})
            return client, email
        client.expect(202, "POST", "/auth/sign-up", json_body={"email": email, "password": PASSWORD})
        token = link_token(latest_mail(self.base, email))
        client.expect(200, "POST", "/auth/verify-email", json_body={"token": token})
        return client, email

    def shared_account(self):
        if self.shared is None:
            self.shared = self.account("shared")
        return self.shared

    def totp_account(self):
        """A signed-in account with an authenticator app: (client, email, secret)."""
        client, email = self.account("totp")
        secret = client.expect(200, "POST", "/auth/mfa/totp/enroll",
                               json_body={"current_password": PASSWORD}).json()["secret"]
        client.expect(200, "POST", "/auth/mfa/totp/confirm", json_body={"code": totp(secret)})
        return client, email, secret

    def device_tokens(self):
        """A finished device flow: the token response (access and refresh tokens)."""
        client, _ = self.shared_account()
        device = Client(self.base)
        auth = device.expect(200, "POST", "/oidc/device/authorize", browser=False,
                             form={"client_id": CLIENT, "scope": "openid offline_access"}).json()
        client.expect(200, "POST", "/oidc/device/verify",
                      form={"user_code": auth["user_code"], "decision": "approve"})
        grant = "urn:ietf:params:oauth:grant-type:device_code"
        return device.expect(200, "POST", "/oidc/token", browser=False, form={
            "grant_type": grant, "device_code": auth["device_code"], "client_id": CLIENT}).json()

    # Each scenario makes its state (unthrottled) and returns (expected status, the request).
    def scenarios(self):
        b = self.base
        s = {}

        def sign_up():
            email = self.email("sign-up")
            return 202, lambda: Client(b).send("POST", "/auth/sign-up",
                                               json_body={"email": email, "password": PASSWORD})
        s["sign-up"] = sign_up

        def verify_email():
            client, email = Client(b), self.email("verify")
            client.expect(202, "POST", "/auth/sign-up", json_body={"email": email, "password": PASSWORD})
            token = link_token(latest_mail(b, email))
            return 200, lambda: client.send("POST", "/auth/verify-email", json_body={"token": token})
        s["verify-email"] = verify_email

        def verify_email_resend():
            client, email = Client(b), self.email("resend")
            client.expect(202, "POST", "/auth/sign-up", json_body={"email": email, "password": PASSWORD})
            return 202, lambda: client.send("POST", "/auth/verify-email/resend", json_body={"email": email})
        s["verify-email-resend"] = verify_email_resend

        def sign_in():
            _, email = self.shared_account()
            return 200, lambda: Client(b).send("POST", "/auth/sign-in",
                                               json_body={"email": email, "password": PASSWORD})
        s["sign-in"] = sign_in

        def signed_in_get(path):
            def scenario():
                client, _ = self.shared_account()
                return 200, lambda: client.send("GET", path)
            return scenario
        s["session"] = signed_in_get("/auth/session")
        s["me"] = signed_in_get("/me")
        s["sessions"] = signed_in_get("/auth/sessions")
        s["activity"] = signed_in_get("/auth/activity")
        s["mfa-factors"] = signed_in_get("/auth/mfa")

        def sign_out(path):
            def scenario():
                _, email = self.shared_account()
                client = Client(b)
                client.expect(200, "POST", "/auth/sign-in", json_body={"email": email, "password": PASSWORD})
                return 204, lambda: client.send("POST", path)
            return scenario
        s["sign-out"] = sign_out("/auth/sign-out")

        def sign_out_all():
            client, _ = self.account("sign-out-all")
            return 204, lambda: client.send("POST", "/auth/sign-out/all")
        s["sign-out-all"] = sign_out_all

        def session_revoke():
            client, email = self.account("revoke")
            Client(b).expect(200, "POST", "/auth/sign-in", json_body={"email": email, "password": PASSWORD})
            other = next(x["id"] for x in client.expect(200, "GET", "/auth/sessions").json()["sessions"]
                         if not x["current"])
            return 204, lambda: client.send("POST", f"/auth/sessions/{other}/revoke")
        s["session-revoke"] = session_revoke

        # A fresh account for each mail: an address gets only so many mails an hour.
        def password_forgot():
            _, email = self.account("forgot")
            return 202, lambda: Client(b).send("POST", "/auth/password/forgot", json_body={"email": email})
        s["password-forgot"] = password_forgot

        def password_reset():
            _, email = self.account("reset")
            Client(b).expect(202, "POST", "/auth/password/forgot", json_body={"email": email})
            token = link_token(latest_mail(b, email))
            return 200, lambda: Client(b).send("POST", "/auth/password/reset",
                                               json_body={"token": token, "password": OTHER_PASSWORD})
        s["password-reset"] = password_reset

        def password_change():
            client, _ = self.account("change")
            return 200, lambda: client.send("POST", "/auth/password/change", json_body={
                "current_password": PASSWORD, "new_password": OTHER_PASSWORD})
        s["password-change"] = password_change

        def email_change():
            client, _ = self.account("email-change")
            new = self.email("new-address")
            return 202, lambda: client.send("POST", "/auth/email/change",
                                            json_body={"new_email": new, "password": PASSWORD})
        s["email-change"] = email_change

        def email_verify():
            client, _ = self.account("email-verify")
            new = self.email("new-address")
            client.expect(202, "POST", "/auth/email/change", json_body={"new_email": new, "password": PASSWORD})
            token = link_token(latest_mail(b, new))
            return 200, lambda: Client(b).send("POST", "/auth/email/verify", json_body={"token": token})
        s["email-verify"] = email_verify

        def account_delete():
            client, _ = self.account("delete")
            return 200, lambda: client.send("POST", "/auth/account/delete", json_body={"password": PASSWORD})
        s["account-delete"] = account_delete

        def email_code_request():
            _, email = self.account("code-request")
            return 202, lambda: Client(b).send("POST", "/auth/email-code/request", json_body={"email": email})
        s["email-code-request"] = email_code_request

        def email_code_sign_in():
            _, email = self.account("code")
            Client(b).expect(202, "POST", "/auth/email-code/request", json_body={"email": email})
            code = six_digit_code(latest_mail(b, email))
            return 200, lambda: Client(b).send("POST", "/auth/email-code/sign-in",
                                               json_body={"email": email, "code": code})
        s["email-code-sign-in"] = email_code_sign_in

        def totp_enroll():
            client, _ = self.account("enroll")
            return 200, lambda: client.send("POST", "/auth/mfa/totp/enroll",
                                            json_body={"current_password": PASSWORD})
        s["totp-enroll"] = totp_enroll

        def totp_confirm():
            client, _ = self.account("confirm")
            secret = client.expect(200, "POST", "/auth/mfa/totp/enroll",
                                   json_body={"current_password": PASSWORD}).json()["secret"]
            code = totp(secret)
            return 200, lambda: client.send("POST", "/auth/mfa/totp/confirm", json_body={"code": code})
        s["totp-confirm"] = totp_confirm

        def mfa_verify():
            _, email, secret = self.totp_account()
            client = Client(b)
            client.expect(200, "POST", "/auth/sign-in", json_body={"email": email, "password": PASSWORD})
            # A time step is good once, and the confirm used the current one: the next step's
            # code is within the one step of drift the server allows.
            code = totp(secret, time.time() + 30)
            return 200, lambda: client.send("POST", "/auth/mfa/verify", json_body={"method": "totp", "code": code})
        s["mfa-verify"] = mfa_verify

        def step_up(path, status):
            def scenario():
                client, _, _ = self.totp_account()
                return status, lambda: client.send("POST", path, json_body={})
            return scenario
        s["recovery-codes-regenerate"] = step_up("/auth/mfa/recovery-codes/regenerate", 200)
        s["totp-disable"] = step_up("/auth/mfa/totp/disable", 200)

        def passkey_register_begin():
            client, _ = self.account("passkey")
            return 200, lambda: client.send("POST", "/auth/passkeys/register/begin",
                                            json_body={"current_password": PASSWORD})
        s["passkey-register-begin"] = passkey_register_begin

        def passkey_sign_in_begin():
            return 200, lambda: Client(b).send("POST", "/auth/passkeys/sign-in/begin", json_body={})
        s["passkey-sign-in-begin"] = passkey_sign_in_begin

        if self.oauth:
            def public_get(path):
                return lambda: (200, lambda: Client(b).send("GET", path, browser=False))
            s["jwks"] = public_get("/.well-known/jwks.json")
            s["openid-configuration"] = public_get("/.well-known/openid-configuration")

            def device_authorize():
                return 200, lambda: Client(b).send("POST", "/oidc/device/authorize", browser=False,
                                                   form={"client_id": CLIENT, "scope": "openid offline_access"})
            s["device-authorize"] = device_authorize

            def device_page():
                client, _ = self.shared_account()
                code = Client(b).expect(200, "POST", "/oidc/device/authorize", browser=False, form={
                    "client_id": CLIENT, "scope": "openid offline_access"}).json()["user_code"]
                return 200, lambda: client.send("GET", "/oidc/device", query={"user_code": code})
            s["device-page"] = device_page

            def device_verify():
                client, _ = self.shared_account()
                code = Client(b).expect(200, "POST", "/oidc/device/authorize", browser=False, form={
                    "client_id": CLIENT, "scope": "openid offline_access"}).json()["user_code"]
                return 200, lambda: client.send("POST", "/oidc/device/verify",
                                                form={"user_code": code, "decision": "approve"})
            s["device-verify"] = device_verify

            def token():
                # The call a client makes most: a refresh (rotating the refresh token).
                refresh = self.device_tokens()["refresh_token"]
                return 200, lambda: Client(b).send("POST", "/oidc/token", browser=False, form={
                    "grant_type": "refresh_token", "refresh_token": refresh, "client_id": CLIENT})
            s["token"] = token

            def userinfo():
                access = self.device_tokens()["access_token"]
                return 200, lambda: Client(b).send("GET", "/oidc/userinfo", browser=False, bearer=access)
            s["userinfo"] = userinfo

            def introspect():
                access = self.device_tokens()["access_token"]
                return 200, lambda: Client(b).send("POST", "/oidc/introspect", browser=False, form={
                    "token": access, "client_id": "resource-server",
                    "client_secret": self.oauth["resource_server_secret"]})
            s["introspect"] = introspect

            def revoke():
                refresh = self.device_tokens()["refresh_token"]
                return 200, lambda: Client(b).send("POST", "/oidc/revoke", browser=False,
                                                   form={"token": refresh, "client_id": CLIENT})
            s["revoke"] = revoke
        return s


class Quota:
    """The cgroup's CPU quota, and the CPU time its tasks have used."""

    def __init__(self, name, period_us):
        self.cpu = f"/sys/fs/cgroup/cpu/{name}"
        self.acct = f"/sys/fs/cgroup/cpuacct/{name}"
        self.period_us = period_us
        self._write(f"{self.cpu}/cpu.cfs_period_us", period_us)
        # The quota caps the server; a high weight lets it have that much on a machine busy
        # with other work (a Lambda function's share is reserved for it, not contended).
        self._write(f"{self.cpu}/cpu.shares", 10240)

    @staticmethod
    def _write(path, value):
        with open(path, "w") as f:
            f.write(str(value))

    def limit(self, memory_mb):
        share = min(1.0, memory_mb / FULL_VCPU_MB)
        self._write(f"{self.cpu}/cpu.cfs_quota_us", max(1000, round(self.period_us * share)))

    def lift(self):
        self._write(f"{self.cpu}/cpu.cfs_quota_us", -1)

    def cpu_ns(self):
        with open(f"{self.acct}/cpuacct.usage") as f:
            return int(f.read())


def measure(bench, quota, name, scenario, sizes, runs, settle):
    """{size: {p50_ms, p90_ms, gb_s, cpu_ms}} for one function."""
    out = {}
    for size in sizes:
        wall, cpu = [], []
        for _ in range(runs):
            quota.lift()
            status, request = scenario()
            time.sleep(settle)  # let the setup's CPU use leave the quota's accounting
            quota.limit(size)
            cpu_before = quota.cpu_ns()
            start = time.perf_counter()
            reply = request()
            elapsed = (time.perf_counter() - start) * 1e3
            cpu.append((quota.cpu_ns() - cpu_before) / 1e6)
            quota.lift()
            if reply.status != status:
                raise RuntimeError(f"{name} at {size} MB: expected {status}, got {reply.status}: "
                                   f"{reply.body[:300]!r}")
            wall.append(elapsed)
        p50 = statistics.median(wall)
        out[str(size)] = {
            "p50_ms": round(p50, 1),
            "p90_ms": round(percentile(wall, 90), 1),
            "cpu_ms": round(statistics.median(cpu), 2),
            # Billed: the duration rounded up to the next millisecond, times the memory in GB.
            "gb_s": round(math.ceil(p50) / 1000 * size / 1024, 7),
        }
        print(f"  {name:27} {size:5} MB  p50 {p50:8.1f} ms  p90 {out[str(size)]['p90_ms']:8.1f} ms"
              f"  cpu {out[str(size)]['cpu_ms']:6.2f} ms", file=sys.stderr)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url")
    parser.add_argument("--cgroup", help="the cgroup v1 group name the server is in")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sizes", default="128,256,512,1024,1769")
    parser.add_argument("--period-ms", type=float, default=20.0)
    parser.add_argument("--only", default="", help="comma-separated function names")
    parser.add_argument("--resource-server-secret", default="")
    parser.add_argument("--json", default="")
    parser.add_argument("--command", default="bench/sizing.py")
    parser.add_argument("--argon2", default="")
    parser.add_argument("--host", default="")
    parser.add_argument("--store", default="in-memory store; its round trips take no time")
    parser.add_argument("--no-verification", action="store_true",
                        help="the target runs with AUTHFN_EMAIL_VERIFICATION=off")
    parser.add_argument("--report", metavar="JSON", help="print the table of an earlier run; measure nothing")
    parser.add_argument("--write-readme", action="store_true", help="with --report: into README.md too")
    args = parser.parse_args()
    if args.report:
        with open(args.report) as f:
            report = json.load(f)
        sdk_path = os.path.join(os.path.dirname(args.report), "sizing-dynamodb.json")
        sdk = None
        if os.path.exists(sdk_path):
            with open(sdk_path) as f:
                sdk = json.load(f)
        table = markdown(report, sdk)
        print(table)
        if args.write_readme:
            write_readme(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md"), table)
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    load_at_start = open("/proc/loadavg").read().split()[0]
    oauth = {"resource_server_secret": args.resource_server_secret} if args.resource_server_secret else None
    bench = Bench(args.base_url.rstrip("/"), oauth, verification=not args.no_verification)
    quota = Quota(args.cgroup, int(args.period_ms * 1000))
    scenarios = bench.scenarios()
    only = [n for n in args.only.split(",") if n]
    results, failed = {}, {}
    try:
        for name, scenario in scenarios.items():
            if only and name not in only:
                continue
            try:
                # One unmeasured request first: a function's first call pays one-time set-up.
                quota.lift()
                _, request = scenario()
                request()
                results[name] = measure(bench, quota, name, scenario, sizes, args.runs, settle=0.05)
            except RuntimeError as e:
                failed[name] = str(e)
                print(f"  {name}: FAILED: {e}", file=sys.stderr)
    finally:
        quota.lift()

    command = args.command
    if only and args.json and os.path.exists(args.json):
        # A partial run (--only) updates those functions in the last full run's file.
        with open(args.json) as f:
            earlier = json.load(f)
        earlier["functions"].update(results)
        results = earlier["functions"]
        command = f"{earlier['command']}; then {args.command}"
    report = {
        "functions": results,
        "measured_on": time.strftime("%Y-%m-%d", time.gmtime()),
        "command": command,
        "method": (f"release dev server ({args.store}) in a cgroup v1 cpu group, CFS period "
                   f"{args.period_ms:g} ms, quota = size/{FULL_VCPU_MB} of one CPU; {args.runs} "
                   f"sequential successful requests per function and size over loopback HTTP; "
                   f"latency is client-side; cpu_ms is the server's CPU time (cpuacct); gb_s = "
                   f"ceil(p50 ms) x size"),
        "argon2": args.argon2,
        "load_average_at_start": load_at_start,
        "host": args.host,
        "sizes_mb": sizes,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, sort_keys=False)
            f.write("\n")
    print(markdown(report))
    if failed:
        print(f"failed, not measured: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


# How the MemorySize is chosen from the figures (recommend):
# - CPU-bound functions (argon2id): a deployed function also waits on its store, billed like
#   CPU time, so each size's GB-s is priced with STORE_WAIT_MS more (two DynamoDB round trips
#   of about 5 ms; bench/cost.py uses the measured counts). The choice is the largest size
#   whose GB-s per request is within TOLERANCE of the cheapest size's: more memory only while
#   it buys speed at nearly no cost.
# - I/O-bound functions (a median under IO_BOUND_MS at a full vCPU): IO_BOUND_MB. Their CPU
#   with the AWS SDK (`--dynamodb`: 0.5 to 6 ms a request, median 3) is what a small size
#   must fit in one CFS period: at 128 MB a 20-ms period gives 1.45 ms, so most would
#   wait a period (about 18 ms) for more; 256 MB gives 2.9 ms, twice the session check's 1.3
#   (every page load), for about $0.02 more per million requests than 128 MB.
STORE_WAIT_MS = 10
TOLERANCE = 1.2
IO_BOUND_MS = 5
IO_BOUND_MB = 256


def gb_s_with_wait(row, size):
    return math.ceil(row["p50_ms"] + STORE_WAIT_MS) / 1000 * size / 1024


def recommend(by_size):
    sizes = sorted(int(s) for s in by_size)
    if by_size[str(sizes[-1])]["p50_ms"] < IO_BOUND_MS:
        return IO_BOUND_MB
    cost = {s: gb_s_with_wait(by_size[str(s)], s) for s in sizes}
    cheapest = min(cost.values())
    return max(s for s in sizes if cost[s] <= cheapest * TOLERANCE)


def markdown(report, sdk=None):
    """The table; `sdk` is a --dynamodb run's report, whose CPU time per request it adds."""
    sizes = report["sizes_mb"]
    head = ("| function | " + " | ".join(f"{s} MB" for s in sizes)
            + " | CPU ms | with SDK | MemorySize |")
    lines = [head, "|---|" + "---:|" * (len(sizes) + 3)]
    for name, by_size in report["functions"].items():
        cells = []
        for s in sizes:
            r = by_size[str(s)]
            cells.append(f"{r['p50_ms']:.0f} ({r['p90_ms']:.0f}) · {r['gb_s'] * 1e6:,.0f}")
        full = by_size[str(max(sizes))]
        with_sdk = ""
        if sdk and name in sdk["functions"]:
            sdk_rows = sdk["functions"][name]
            with_sdk = f"{sdk_rows[str(max(int(x) for x in sdk_rows))]['cpu_ms']:.1f}"
        lines.append(f"| {name} | " + " | ".join(cells)
                     + f" | {full['cpu_ms']:.1f} | {with_sdk} | {recommend(by_size)} |")
    lines.append("")
    lines.append(f"Each size: median ms (p90) · GB-s per million requests, the handler alone over an "
                 f"in-memory store. CPU ms: its CPU time per request; with SDK: the same over the "
                 f"local DynamoDB API, AWS SDK included. Measured {report['measured_on']} on "
                 f"{report.get('host', '?')}: `{report['command']}`"
                 + (f" and `{sdk['command']}`" if sdk else "") + ".")
    return "\n".join(lines)


def write_readme(path, table):
    text = open(path).read()
    start, end = "<!-- sizing-table:start -->", "<!-- sizing-table:end -->"
    if start not in text or end not in text:
        sys.exit(f"{path} has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    open(path, "w").write(f"{head}{start}\n{table}\n{end}{tail}")


if __name__ == "__main__":
    sys.exit(main())
