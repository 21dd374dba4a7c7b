// authfn's token issuer driven by libraries outside this project: `openid-client` (discovery,
// the device authorization grant, refresh) and `jose` (verifying an access token against the
// published JWKS). Prints one `check <name> ... ok` line per step; exits non-zero on failure.
//
//   AUTHFN_BASE_URL=http://127.0.0.1:PORT node tests/oauth-client/device-flow.mjs
//
// The deployment must be an issuer at AUTHFN_BASE_URL (AUTHFN_PUBLIC_URL) with the public
// client `cli` (tests/support/oauth.sh), and trust the origin AUTHFN_TEST_TRUSTED_ORIGIN.
import { randomBytes } from "node:crypto";
import * as client from "openid-client";
import * as jose from "jose";

const base = process.env.AUTHFN_BASE_URL;
const origin = process.env.AUTHFN_TEST_TRUSTED_ORIGIN ?? "http://localhost:5173";
if (!base) throw new Error("AUTHFN_BASE_URL is required");

function check(name, ok, detail = "") {
    if (!ok) {
        console.error(`check ${name} ... FAILED ${detail}`);
        process.exit(1);
    }
    console.log(`check ${name} ... ok`);
}

const insecure = base.startsWith("http://") ? { execute: [client.allowInsecureRequests] } : {};
// The library's defaults: ID tokens RS256 (tests/support/oauth.sh configures an RSA key).
const config = await client.discovery(new URL(base), "cli", undefined, client.None(), insecure);
check("openid-client-discovery", config.serverMetadata().device_authorization_endpoint?.endsWith("/oidc/device/authorize"));
check("discovery-userinfo-endpoint", config.serverMetadata().userinfo_endpoint?.endsWith("/oidc/userinfo"));

// The mails the deployment sent, newest first: moto's SES when AUTHFN_TEST_SES_URL is set
// (the Worker), else the dev server's outbox.
async function mailsTo(to) {
    const ses = process.env.AUTHFN_TEST_SES_URL;
    if (ses) {
        const models = await (await fetch(`${ses.replace(/\/$/, "")}/moto-api/data.json`)).json();
        return (models.ses?.Message ?? [])
            .filter((m) => (m.destinations?.ToAddresses ?? []).includes(to))
            .map((m) => ({ text: m.text ?? m.body ?? "" }))
            .reverse();
    }
    return (await (await fetch(`${base}/dev/mailbox`)).json()).filter((m) => m.to === to);
}

// A user with a browser session, who will approve the device: sign-up mails a link, and
// following it (POSTing its token, as the SPA does) creates the account and its session.
const email = `oc-${randomBytes(8).toString("hex")}@example.com`;
const signUp = await fetch(`${base}/auth/sign-up`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "correct horse battery" }),
});
check("sign-up", signUp.status === 202, `${signUp.status}`);
const token = (await mailsTo(email))[0]?.text.match(/#[^\s]*[?&]token=([A-Za-z0-9_-]+)/)?.[1];
check("sign-up-mail", typeof token === "string", "no link token in the mail");
const verified = await fetch(`${base}/auth/verify-email`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
});
check("verify-email", verified.status === 200, `${verified.status}`);
const cookie = verified.headers.get("set-cookie").split(";")[0];
const userId = (await verified.json()).user_id;

const device = await client.initiateDeviceAuthorization(config, { scope: "openid email offline_access" });
check("openid-client-device-authorization", /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/.test(device.user_code), device.user_code);

// Approve while the library polls.
const polling = client.pollDeviceAuthorizationGrant(config, device);
const approval = await fetch(`${base}/oidc/device/verify`, {
    method: "POST",
    headers: { cookie, origin, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ user_code: device.user_code, decision: "approve" }),
});
check("approve-on-device-page", approval.status === 200, `${approval.status}`);
const tokens = await polling;
check("openid-client-device-grant", typeof tokens.access_token === "string" && typeof tokens.refresh_token === "string");
check("openid-client-id-token", tokens.claims()?.sub === userId && tokens.claims()?.email === email, JSON.stringify(tokens.claims()));

const userinfo = await client.fetchUserInfo(config, tokens.access_token, userId);
check("openid-client-userinfo", userinfo.sub === userId && userinfo.email === email && userinfo.email_verified === true, JSON.stringify(userinfo));

const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, {
    issuer: config.serverMetadata().issuer,
    audience: config.serverMetadata().issuer,
    typ: "at+jwt",
    algorithms: ["EdDSA"],
});
check("jose-verifies-access-token", payload.sub === userId && protectedHeader.kid && payload.client_id === "cli");

// The ID token: RS256, the algorithm every OpenID client must accept, with a published key.
const idToken = await jose.jwtVerify(tokens.id_token, jwks, {
    issuer: config.serverMetadata().issuer,
    audience: "cli",
    algorithms: ["RS256"],
});
check("jose-verifies-rs256-id-token", idToken.payload.sub === userId && idToken.payload.email === email, JSON.stringify(idToken.payload));
check("discovery-offers-rs256", config.serverMetadata().id_token_signing_alg_values_supported?.includes("RS256"));

const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
check("openid-client-refresh", refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token);

let reuse = null;
try {
    await client.refreshTokenGrant(config, tokens.refresh_token);
} catch (e) {
    reuse = e;
}
check("openid-client-sees-reuse-refused", reuse?.error === "invalid_grant", `${reuse}`);
