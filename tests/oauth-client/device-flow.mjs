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
const config = await client.discovery(new URL(base), "cli", { id_token_signed_response_alg: "EdDSA" }, client.None(), insecure);
check("openid-client-discovery", config.serverMetadata().device_authorization_endpoint?.endsWith("/oidc/device/authorize"));

// A user with a browser session, who will approve the device.
const email = `oc-${randomBytes(8).toString("hex")}@example.com`;
const signUp = await fetch(`${base}/auth/sign-up`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "correct horse battery" }),
});
check("sign-up", signUp.status === 201, `${signUp.status}`);
const cookie = signUp.headers.get("set-cookie").split(";")[0];
const userId = (await signUp.json()).user_id;

const device = await client.initiateDeviceAuthorization(config, { scope: "openid offline_access" });
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
check("openid-client-id-token", tokens.claims()?.sub === userId, JSON.stringify(tokens.claims()));

const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, {
    issuer: config.serverMetadata().issuer,
    audience: config.serverMetadata().issuer,
    typ: "at+jwt",
    algorithms: ["EdDSA"],
});
check("jose-verifies-access-token", payload.sub === userId && protectedHeader.kid && payload.client_id === "cli");

const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
check("openid-client-refresh", refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token);

let reuse = null;
try {
    await client.refreshTokenGrant(config, tokens.refresh_token);
} catch (e) {
    reuse = e;
}
check("openid-client-sees-reuse-refused", reuse?.error === "invalid_grant", `${reuse}`);
