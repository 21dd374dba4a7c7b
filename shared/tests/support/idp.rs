//! A fake OpenID provider behind authfn's outbound `HttpClient`: it serves its discovery
//! document and key set, signs in a user of the test's choosing, and exchanges the code as a
//! real provider does (single use, PKCE S256, the same redirect URI), with real Ed25519
//! signatures on its ID tokens. Each `Login` can be told what the provider gets wrong.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use authfn::Clock;
use authfn::clock::ManualClock;
use authfn::crypto::{b64url, sha256};
use authfn::federation::outbound::{HttpClient, OutboundError, OutboundRequest, OutboundResponse};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The provider's name in authfn's settings, and so in its paths.
pub const PROVIDER: &str = "idp";
/// authfn's client id and secret at the provider.
pub const CLIENT_ID: &str = "authfn-at-idp";
pub const CLIENT_SECRET: &str = "a client secret of some length";
/// Where the SPA is sent back to.
pub const RETURN_TO: &str = "https://app.example.com/";

/// Who signs in at the provider, and what the provider gets wrong while they do.
#[derive(Clone, Debug)]
pub struct Login {
    pub subject: String,
    pub email: String,
    pub email_verified: bool,
    /// The ID token carries this nonce instead of the one the sign-in sent.
    pub nonce: Option<String>,
    /// The ID token is signed by another key, under the provider's key id.
    pub forged_signature: bool,
    /// The token endpoint answers the code with this status and JSON body.
    pub token_error: Option<(u16, Value)>,
    /// How long the ID token lives, by the provider's clock (the test's clock).
    pub id_token_secs: i64,
    /// The ID token names this issuer instead of the provider's own.
    pub issuer: Option<String>,
    /// The ID token's `aud` instead of this app's client id (a string or a list).
    pub audience: Option<Value>,
    /// The ID token's `azp`, when it has one.
    pub azp: Option<String>,
}

impl Login {
    /// A user whose address the provider has verified.
    pub fn verified(email: &str) -> Login {
        Login {
            subject: format!("sub-{email}"),
            email: email.to_owned(),
            email_verified: true,
            nonce: None,
            forged_signature: false,
            token_error: None,
            id_token_secs: 300,
            issuer: None,
            audience: None,
            azp: None,
        }
    }
}

struct SignedIn {
    login: Login,
    nonce: String,
    code_challenge: String,
    redirect_uri: String,
}

struct Key {
    kid: String,
    signing: SigningKey,
}

impl Key {
    fn new(seed: u8) -> Key {
        Key {
            kid: format!("idp-key-{seed}"),
            signing: SigningKey::from_bytes(&[seed; 32]),
        }
    }

    fn jwk(&self) -> Value {
        let x = b64url(&self.signing.verifying_key().to_bytes());
        json!({ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": "EdDSA", "use": "sig" })
    }

    fn sign(&self, kid: &str, claims: &Value) -> String {
        let der = self.signing.to_pkcs8_der().expect("an Ed25519 key encodes");
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der.as_bytes()))
            .expect("signs")
    }
}

struct Inner {
    key: Key,
    codes: HashMap<String, SignedIn>,
    issued: u32,
    requests: Vec<String>,
}

pub struct FakeIdp {
    issuer: String,
    clock: ManualClock,
    inner: Mutex<Inner>,
}

impl FakeIdp {
    /// A provider at an issuer URL of its own: authfn caches what it fetched per issuer for
    /// the whole process, so tests running side by side must not share one. Its clock is the
    /// test's.
    pub fn new(clock: ManualClock) -> FakeIdp {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let inner = Inner {
            key: Key::new(11),
            codes: HashMap::new(),
            issued: 0,
            requests: Vec::new(),
        };
        FakeIdp {
            issuer: format!("https://idp-{n}.example.com"),
            clock,
            inner: Mutex::new(inner),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// authfn's settings for this provider.
    pub fn settings(&self) -> Vec<(String, String)> {
        [
            ("AUTHFN_PUBLIC_URL", "https://auth.example.com"),
            ("AUTHFN_RETURN_TO", RETURN_TO),
            ("AUTHFN_FEDERATION_PROVIDERS", PROVIDER),
            ("AUTHFN_FEDERATION_IDP_ISSUER", &self.issuer),
            ("AUTHFN_FEDERATION_IDP_CLIENT_ID", CLIENT_ID),
            ("AUTHFN_FEDERATION_IDP_CLIENT_SECRET", CLIENT_SECRET),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// The provider starts signing with a new key (and publishes only that one).
    pub fn rotate_key(&self) {
        let mut inner = self.lock();
        let next = Key::new(inner.key.signing.to_bytes()[0] + 1);
        inner.key = next;
    }

    /// The URLs authfn called, in order.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// The user signs in at the authorization URL authfn sent the browser to; returns the
    /// callback's query, as the provider redirects the browser back with it.
    pub fn sign_in(&self, authorization_url: &str, login: Login) -> String {
        let params = self.authorization_request(authorization_url);
        let mut inner = self.lock();
        inner.issued += 1;
        let code = format!("code-{}", inner.issued);
        let signed_in = SignedIn {
            login,
            nonce: params["nonce"].clone(),
            code_challenge: params["code_challenge"].clone(),
            redirect_uri: params["redirect_uri"].clone(),
        };
        inner.codes.insert(code.clone(), signed_in);
        self.callback_query(&[("code", &code), ("state", &params["state"])])
    }

    /// The provider ends the sign-in with `error` (the user cancelled, say).
    pub fn refuse(&self, authorization_url: &str, error: &str) -> String {
        let params = self.authorization_request(authorization_url);
        self.callback_query(&[("error", error), ("state", &params["state"])])
    }

    fn callback_query(&self, pairs: &[(&str, &str)]) -> String {
        // RFC 9207: every answer names its provider.
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .append_pair("iss", &self.issuer)
            .finish()
    }

    /// The authorization request's parameters, checked as the provider checks them.
    fn authorization_request(&self, authorization_url: &str) -> HashMap<String, String> {
        let url = url::Url::parse(authorization_url).expect("an authorization URL");
        assert!(
            authorization_url.starts_with(&format!("{}/authorize?", self.issuer)),
            "{authorization_url}"
        );
        let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(params.get("client_id").map(String::as_str), Some(CLIENT_ID));
        assert_eq!(
            params.get("response_type").map(String::as_str),
            Some("code")
        );
        assert_eq!(
            params.get("code_challenge_method").map(String::as_str),
            Some("S256")
        );
        for needed in ["state", "nonce", "code_challenge", "redirect_uri"] {
            assert!(
                params.contains_key(needed),
                "{needed} missing from {authorization_url}"
            );
        }
        params
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    fn token(&self, form: &[(&'static str, String)]) -> OutboundResponse {
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let mut inner = self.lock();
        // A code is good for one exchange, by the sign-in it was issued to.
        let Some(signed_in) = inner.codes.remove(field("code")) else {
            return invalid_grant();
        };
        let verifier_ok =
            b64url(&sha256(field("code_verifier").as_bytes())) == signed_in.code_challenge;
        if field("grant_type") != "authorization_code"
            || field("redirect_uri") != signed_in.redirect_uri
            || !verifier_ok
        {
            return invalid_grant();
        }
        let login = signed_in.login;
        if let Some((status, body)) = login.token_error {
            return OutboundResponse {
                status,
                body: body.to_string().into_bytes(),
            };
        }
        let now = self.clock.now().0;
        let mut claims = json!({
            "iss": login.issuer.unwrap_or_else(|| self.issuer.clone()), "sub": login.subject,
            "aud": login.audience.unwrap_or_else(|| json!(CLIENT_ID)), "iat": now, "exp": now + login.id_token_secs,
            "nonce": login.nonce.unwrap_or(signed_in.nonce), "email": login.email, "email_verified": login.email_verified,
        });
        if let Some(azp) = login.azp {
            claims["azp"] = json!(azp);
        }
        let id_token = if login.forged_signature {
            Key::new(99).sign(&inner.key.kid, &claims)
        } else {
            inner.key.sign(&inner.key.kid, &claims)
        };
        let body = json!({ "access_token": "upstream-access-token", "token_type": "Bearer", "id_token": id_token });
        OutboundResponse {
            status: 200,
            body: body.to_string().into_bytes(),
        }
    }
}

fn invalid_grant() -> OutboundResponse {
    OutboundResponse {
        status: 400,
        body: br#"{"error":"invalid_grant"}"#.to_vec(),
    }
}

#[async_trait::async_trait]
impl HttpClient for FakeIdp {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let url = request.url().to_owned();
        self.lock().requests.push(url.clone());
        let ok = |body: Value| {
            Ok(OutboundResponse {
                status: 200,
                body: body.to_string().into_bytes(),
            })
        };
        let issuer = &self.issuer;
        match request {
            OutboundRequest::Get { .. }
                if url == format!("{issuer}/.well-known/openid-configuration") =>
            {
                ok(json!({
                    "issuer": issuer,
                    "authorization_endpoint": format!("{issuer}/authorize"),
                    "token_endpoint": format!("{issuer}/token"),
                    "jwks_uri": format!("{issuer}/jwks"),
                    "authorization_response_iss_parameter_supported": true,
                }))
            }
            OutboundRequest::Get { .. } if url == format!("{issuer}/jwks") => {
                ok(json!({ "keys": [self.lock().key.jwk()] }))
            }
            OutboundRequest::PostForm { form, .. } if url == format!("{issuer}/token") => {
                Ok(self.token(&form))
            }
            _ => Ok(OutboundResponse {
                status: 404,
                body: b"{}".to_vec(),
            }),
        }
    }
}
