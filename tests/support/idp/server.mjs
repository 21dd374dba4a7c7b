// The upstream identity provider of the federation tests: a real OpenID provider
// (`oidc-provider` from npm) on loopback, with its development login and consent pages.
//
//   node tests/support/idp/server.mjs
//   env: IDP_PORT, IDP_CLIENT_ID, IDP_CLIENT_SECRET, IDP_REDIRECT_URIS (comma-separated)
//
// Accounts: any login name signs in. Its claims are `sub` = the login name, `email` = the
// login name (with `@example.test` added when it has no `@`), and `email_verified` = true
// unless the name starts with `unverified-`.
//
// FAULT INJECTION (test-only, named as such): a real provider never issues a bad ID token, so
// the negative cases arm one fault with `POST /__fault/<name>?sub=<account>`; the next token
// response for that account has its ID token rewritten and, where the fault needs it,
// re-signed with the provider's own key. Keyed by account so parallel tests do not collide. Faults: wrong_nonce, expired, wrong_audience,
// wrong_issuer, unsigned (alg none), hs256_with_public_key (algorithm confusion),
// bad_signature, rotated_key (signed with a new key that the JWKS publishes from then on),
// other_email_domain (the account's address at the provider has moved to elsewhere.test).
import { randomBytes } from "node:crypto";
import Provider from "oidc-provider";
import * as jose from "jose";

const port = Number(process.env.IDP_PORT ?? 4000);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.IDP_CLIENT_ID ?? "authfn-test";
const clientSecret = process.env.IDP_CLIENT_SECRET ?? "test-secret-".padEnd(40, "x");
const redirectUris = (process.env.IDP_REDIRECT_URIS ?? "").split(",").filter(Boolean);

async function signingKey(kid) {
    const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
    return { ...(await jose.exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
}

const providerKey = await signingKey("idp-key-1");
let rotatedKey = null; // published in the JWKS once the rotated_key fault has been used

const provider = new Provider(issuer, {
    clients: [{
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: redirectUris,
        response_types: ["code"],
        grant_types: ["authorization_code"],
        token_endpoint_auth_method: "client_secret_basic",
    }],
    jwks: { keys: [providerKey] },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    pkce: { required: () => true },
    // Put the scope's claims (email, email_verified) in the ID token, as Google and Azure AD
    // do; oidc-provider's default keeps them for the userinfo endpoint only.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, id) {
        const email = id.includes("@") ? id : `${id}@example.test`;
        return {
            accountId: id,
            async claims() {
                return { sub: id, email, email_verified: !id.startsWith("unverified-"), name: id };
            },
        };
    },
});

const armed = new Map(); // account id -> fault name

async function reSign(claims, header) {
    const key = await jose.importJWK(header.kid === providerKey.kid ? providerKey : rotatedKey, "RS256");
    return new jose.SignJWT(claims).setProtectedHeader(header).sign(key);
}

async function injectFault(fault, idToken) {
    const claims = jose.decodeJwt(idToken);
    const header = { alg: "RS256", kid: providerKey.kid, typ: "JWT" };
    const now = Math.floor(Date.now() / 1000);
    switch (fault) {
        case "wrong_nonce": return reSign({ ...claims, nonce: randomBytes(16).toString("hex") }, header);
        case "expired": return reSign({ ...claims, iat: now - 3600, exp: now - 1800 }, header);
        case "wrong_audience": return reSign({ ...claims, aud: "someone-else" }, header);
        case "wrong_issuer": return reSign({ ...claims, iss: "http://127.0.0.1:1" }, header);
        case "unsigned": {
            const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
            return `${enc({ alg: "none", typ: "JWT" })}.${enc(claims)}.`;
        }
        case "hs256_with_public_key": {
            const publicJwk = { kty: providerKey.kty, n: providerKey.n, e: providerKey.e };
            const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
            return new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: providerKey.kid }).sign(secret);
        }
        case "bad_signature": {
            const [h, p, s] = idToken.split(".");
            const sig = Buffer.from(s, "base64url");
            sig[0] ^= 0xff;
            return `${h}.${p}.${sig.toString("base64url")}`;
        }
        case "other_email_domain": return reSign({ ...claims, email: `${claims.sub}@elsewhere.test` }, header);
        case "rotated_key": {
            rotatedKey ??= await signingKey("idp-key-2");
            return reSign(claims, { ...header, kid: rotatedKey.kid });
        }
        default: throw new Error(`unknown fault ${fault}`);
    }
}

provider.use(async (ctx, next) => {
    if (ctx.path.startsWith("/__fault/") && ctx.method === "POST") {
        const sub = ctx.query.sub;
        if (!sub) ctx.throw(400, "sub is required");
        armed.set(sub, ctx.path.slice("/__fault/".length));
        ctx.body = { armed: Object.fromEntries(armed) };
        return;
    }
    await next();
    const sub = ctx.path === "/token" && ctx.body?.id_token ? jose.decodeJwt(ctx.body.id_token).sub : null;
    if (sub && armed.has(sub)) {
        const fault = armed.get(sub);
        armed.delete(sub);
        ctx.body = { ...ctx.body, id_token: await injectFault(fault, ctx.body.id_token) };
    }
    if (ctx.path === "/jwks" && rotatedKey && ctx.body?.keys) {
        const { d, p, q, dp, dq, qi, ...publicPart } = rotatedKey;
        ctx.body = { keys: [...ctx.body.keys, publicPart] };
    }
});

provider.listen(port, "127.0.0.1", () => console.log(`idp listening on ${issuer}`));
