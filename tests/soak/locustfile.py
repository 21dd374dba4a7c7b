"""The soak test's user: whole journeys, one after another, as an SPA user and a CLI would make them.

One journey:
  1. sign-up, then the link from the mail it sent (verify-email): session A, the one kept;
  2. sign-in with the password: session B;
  3. 20 session checks (GET /auth/session) with B, as 20 page loads would;
  4. refresh: B approves a device (the device authorization grant, as a CLI signs in), the
     device's code is exchanged for tokens, and the refresh token is used once (rotation);
  5. sign-out of B.
Every completed journey is written down (A, B, the newest refresh token) for tests/soak/report.py,
which checks afterwards that A and the refresh token are still live and B is not.

Settings (environment): SOAK_MAILBOX, where the server's mail is read back: `dev:<base URL>` (the
dev server's GET /dev/mailbox) or `ses:<base URL>` (the local SES's GET /authfn-test/mail, see
tests/support/dynamodb_api_server.py);
SOAK_ORIGIN, an origin the server trusts (browser requests carry it); SOAK_OUT, the directory
for journeys.json, statuses.json and stats.json (statuses.json: every answer by endpoint and
status; `"dev_proxy": true` marks wrangler dev's own 503s, see DEV_PROXY_503).

Every request is named after its endpoint in Locust's statistics; an answer other than the one
the journey needs is a failure, and the journey stops there.
"""

import collections
import json
import os
import re
import secrets
import threading
import time

import requests
from locust import HttpUser, between, events, task

MAILBOX = os.environ.get("SOAK_MAILBOX", "")
ORIGIN = os.environ.get("SOAK_ORIGIN", "http://localhost:5173")
OUT = os.environ.get("SOAK_OUT", ".")
SESSION_CHECKS = 20
CLIENT_ID = "cli"

# (endpoint name, HTTP status) -> count; every answer, expected or not.
statuses = collections.Counter()
# The 503 that `wrangler dev`'s proxy Worker answers itself, never passing on the Worker's
# answer, when its connection to workerd breaks under a request that is not a GET or HEAD
# (wrangler's templates/startDevWorker/ProxyWorker.ts: GET and HEAD are retried). Under load,
# workerd logs `Connection reset by peer` on that connection just before it. Counted apart:
# no deployment has that proxy.
DEV_PROXY_503 = "Your worker restarted mid-request."
# endpoint name -> count of those.
dev_proxy_resets = collections.Counter()
journeys = []
lock = threading.Lock()


class JourneyFailed(Exception):
    """A step got an answer the journey cannot go on from (already counted as a failure)."""


class Mailbox:
    """The server's sent mail, read the way tests/blackbox/src/mailbox.rs reads it. Not part of
    the measured load: its requests go around Locust's client."""

    def __init__(self, setting):
        kind, _, base = setting.partition(":")
        base = base.rstrip("/")
        if kind == "dev":
            self.url, self.read = f"{base}/dev/mailbox", self._dev
        elif kind == "ses":
            self.url, self.read = f"{base}/authfn-test/mail", self._ses
        else:
            raise SystemExit(f"SOAK_MAILBOX must be dev:<url> or ses:<url>, not {setting!r}")
        self.http = requests.Session()

    @staticmethod
    def _dev(listed, to):
        return [m["text"] for m in listed if m["to"].lower() == to]

    @staticmethod
    def _ses(listed, to):
        return [m["text"] for m in listed]

    def link_token(self, to, wait=30.0):
        """The `token=` of the link in the newest mail to `to`, waiting for it to arrive."""
        deadline = time.monotonic() + wait
        while True:
            texts = self.read(self.http.get(self.url, params={"to": to}, timeout=60).json(), to.lower())
            for text in texts:
                found = re.search(r"#\S*?[?&/]token=([A-Za-z0-9_-]+)", text)
                if found:
                    return found.group(1)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.5)


def session_cookie(response):
    """`name=value` of the session cookie a response sets (`__Host-` prefixed or not)."""
    for header in response.raw.headers.getlist("Set-Cookie"):
        pair = header.split(";", 1)[0].strip()
        if re.match(r"(__Host-)?authfn_session=.", pair):
            return pair
    return None


class JourneyUser(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self):
        self.mailbox = Mailbox(MAILBOX)

    def call(self, name, method, path, expect, **kwargs):
        """One request, named `name`, that must answer `expect`: the response, or JourneyFailed."""
        # The session cookies are sent by hand: the client's own jar would mix the two sessions.
        self.client.cookies.clear()
        with self.client.request(method, path, name=name, catch_response=True, **kwargs) as response:
            with lock:
                if response.status_code == 503 and response.text.startswith(DEV_PROXY_503):
                    dev_proxy_resets[name] += 1
                else:
                    statuses[(name, response.status_code)] += 1
            if response.status_code != expect:
                response.failure(f"HTTP {response.status_code} (wanted {expect}): {response.text[:200]}")
                raise JourneyFailed(name)
            response.success()
            return response

    def browser(self, cookie):
        """The headers of a request from a page of the SPA: its session and its origin."""
        return {"Cookie": cookie, "Origin": ORIGIN}

    @task
    def journey(self):
        email = f"soak-{secrets.token_hex(8)}@example.com"
        password = f"soak {secrets.token_urlsafe(12)}"
        try:
            self.call("sign-up", "POST", "/auth/sign-up", 202, json={"email": email, "password": password})
            token = self.mailbox.link_token(email)
            if token is None:
                events.request.fire(request_type="MAIL", name="sign-up mail", response_time=0,
                                    response_length=0, exception=Exception(f"no link mailed to {email}"))
                return
            kept = session_cookie(self.call("verify-email", "POST", "/auth/verify-email", 200, json={"token": token}))

            signed_in = session_cookie(self.call("sign-in", "POST", "/auth/sign-in", 200,
                                                 json={"email": email, "password": password}))
            for _ in range(SESSION_CHECKS):
                self.call("session", "GET", "/auth/session", 200, headers={"Cookie": signed_in})

            refresh_token = self.refresh(signed_in)
            self.call("sign-out", "POST", "/auth/sign-out", 204, headers=self.browser(signed_in))
        except JourneyFailed:
            return
        with lock:
            journeys.append({"email": email, "live": kept, "ended": signed_in, "refresh_token": refresh_token})

    def refresh(self, cookie):
        """A device approved by `cookie`'s session, its tokens, then one refresh: the newest
        refresh token."""
        asked = self.call("device-authorize", "POST", "/oidc/device/authorize", 200,
                          data={"client_id": CLIENT_ID, "scope": "openid offline_access"}).json()
        self.call("device-verify", "POST", "/oidc/device/verify", 200, headers=self.browser(cookie),
                  data={"user_code": asked["user_code"], "decision": "approve"})
        tokens = self.call("token (device code)", "POST", "/oidc/token", 200, data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": asked["device_code"], "client_id": CLIENT_ID}).json()
        refreshed = self.call("token (refresh)", "POST", "/oidc/token", 200, data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": CLIENT_ID}).json()
        return refreshed["refresh_token"]


@events.quitting.add_listener
def write_results(environment, **_):
    with lock:
        with open(os.path.join(OUT, "journeys.json"), "w") as f:
            json.dump(journeys, f)
        with open(os.path.join(OUT, "statuses.json"), "w") as f:
            json.dump([{"name": n, "status": s, "count": c} for (n, s), c in sorted(statuses.items())]
                      + [{"name": n, "status": 503, "count": c, "dev_proxy": True}
                         for n, c in sorted(dev_proxy_resets.items())], f)
    # Locust's figures as they stand at the end (its CSV files may lag by a few seconds).
    stats = [{"name": e.name, "requests": e.num_requests, "failures": e.num_failures,
              "p50_ms": e.get_response_time_percentile(0.5), "p99_ms": e.get_response_time_percentile(0.99)}
             for e in environment.stats.entries.values()]
    with open(os.path.join(OUT, "stats.json"), "w") as f:
        json.dump(stats, f)
