//! One module per endpoint, and the table that names them.

use http::Method;

use crate::App;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::HttpResponse;

mod credentials;
pub mod federation;
pub mod me;
pub mod oauth;
pub mod session;
pub mod sign_in;
pub mod sign_out;
pub mod sign_up;

/// Every endpoint authfn serves. Each is deployed as its own function (`functions/<name>`);
/// the local dev server serves them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    SignUp,
    SignIn,
    SignOut,
    SignOutAll,
    Session,
    /// An example of a protected route in your own API.
    Me,
    FederationBegin,
    FederationCallback,
    DeviceAuthorize,
    DevicePage,
    DeviceVerify,
    Token,
    Jwks,
    OpenIdConfiguration,
    Introspect,
    Revoke,
    /// OpenID Connect's UserInfo endpoint: the user's claims for an access token.
    Userinfo,
}

impl Endpoint {
    pub const ALL: [Endpoint; 17] = [
        Endpoint::SignUp,
        Endpoint::SignIn,
        Endpoint::SignOut,
        Endpoint::SignOutAll,
        Endpoint::Session,
        Endpoint::Me,
        Endpoint::FederationBegin,
        Endpoint::FederationCallback,
        Endpoint::DeviceAuthorize,
        Endpoint::DevicePage,
        Endpoint::DeviceVerify,
        Endpoint::Token,
        Endpoint::Jwks,
        Endpoint::OpenIdConfiguration,
        Endpoint::Introspect,
        Endpoint::Revoke,
        Endpoint::Userinfo,
    ];

    /// The route, as API Gateway writes it: `{provider}` stands for one path segment.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::SignUp => "/auth/sign-up",
            Endpoint::SignIn => "/auth/sign-in",
            Endpoint::SignOut => "/auth/sign-out",
            Endpoint::SignOutAll => "/auth/sign-out/all",
            Endpoint::Session => "/auth/session",
            Endpoint::Me => "/me",
            Endpoint::FederationBegin => "/auth/federation/{provider}/begin",
            Endpoint::FederationCallback => "/auth/federation/{provider}/callback",
            Endpoint::DeviceAuthorize => "/oidc/device/authorize",
            Endpoint::DevicePage => "/oidc/device",
            Endpoint::DeviceVerify => "/oidc/device/verify",
            Endpoint::Token => "/oidc/token",
            Endpoint::Jwks => "/.well-known/jwks.json",
            Endpoint::OpenIdConfiguration => "/.well-known/openid-configuration",
            Endpoint::Introspect => "/oidc/introspect",
            Endpoint::Revoke => "/oidc/revoke",
            Endpoint::Userinfo => "/oidc/userinfo",
        }
    }

    /// Whether a request path is this endpoint's route.
    pub fn matches(self, path: &str) -> bool {
        let mut actual = path.split('/');
        let mut route = self.path().split('/');
        loop {
            match (route.next(), actual.next()) {
                (None, None) => return true,
                (Some(r), Some(a)) if r.starts_with('{') => {
                    if a.is_empty() {
                        return false;
                    }
                }
                (Some(r), Some(a)) if r == a => {}
                _ => return false,
            }
        }
    }

    /// The methods it serves (besides `HEAD` for `GET`, and CORS preflight `OPTIONS`).
    pub fn method_names(self) -> &'static [&'static str] {
        match self {
            Endpoint::Session
            | Endpoint::Me
            | Endpoint::FederationBegin
            | Endpoint::DevicePage
            | Endpoint::Jwks
            | Endpoint::OpenIdConfiguration => &["GET"],
            Endpoint::SignUp
            | Endpoint::SignIn
            | Endpoint::SignOut
            | Endpoint::SignOutAll
            | Endpoint::DeviceAuthorize
            | Endpoint::DeviceVerify
            | Endpoint::Token
            | Endpoint::Introspect
            | Endpoint::Revoke => &["POST"],
            // `response_mode=query` arrives as GET, `form_post` as POST.
            Endpoint::FederationCallback => &["GET", "POST"],
            // OIDC Core §5.3.1: clients may use either.
            Endpoint::Userinfo => &["GET", "POST"],
        }
    }

    /// The value of an `Allow` header.
    pub fn allow_header(self) -> &'static str {
        match self.method_names() {
            ["GET"] => "GET",
            ["POST"] => "POST",
            _ => "GET, POST",
        }
    }

    pub fn accepts(self, method: &Method) -> bool {
        self.method_names().contains(&method.as_str())
    }

    /// The method a browser uses for it, for CORS preflight answers.
    pub fn method(self) -> Method {
        if self.method_names()[0] == "GET" { Method::GET } else { Method::POST }
    }

    /// Whether it makes outbound calls (to identity providers, or for the token issuer's
    /// JWKS), so its runtime must give the app an HTTP client.
    pub fn makes_outbound_calls(self) -> bool {
        matches!(self, Endpoint::FederationBegin | Endpoint::FederationCallback | Endpoint::Me)
    }

    /// Whether it signs tokens or authenticates OAuth clients, so its function needs the
    /// issuer's secrets (`AUTHFN_JWT_KEYS`, client secrets); the issuer's other functions get
    /// the public keys only (`AUTHFN_JWT_PUBLIC_KEYS`).
    pub fn uses_issuer_secrets(self) -> bool {
        matches!(self, Endpoint::DeviceAuthorize | Endpoint::Token | Endpoint::Introspect | Endpoint::Revoke)
    }

    /// The OAuth / OpenID Connect endpoints (`/oidc/*`): every error they answer, transport
    /// errors included, is in RFC 6749 form (with `error_description`).
    pub fn speaks_oauth(self) -> bool {
        self.path().starts_with("/oidc/")
    }

    /// The federation callback is a navigation from the identity provider's site (a cross-site
    /// form POST with `form_post`), so an `Origin` check would refuse every real one. Its
    /// protection is `state` plus the browser-binding cookie, checked by the endpoint.
    pub fn is_csrf_exempt(self) -> bool {
        self == Endpoint::FederationCallback
    }

    /// The name of the function crate (`functions/<name>`) and of the deployed function.
    pub fn function_name(self) -> &'static str {
        match self {
            Endpoint::SignUp => "sign-up",
            Endpoint::SignIn => "sign-in",
            Endpoint::SignOut => "sign-out",
            Endpoint::SignOutAll => "sign-out-all",
            Endpoint::Session => "session",
            Endpoint::Me => "me",
            Endpoint::FederationBegin => "federation-begin",
            Endpoint::FederationCallback => "federation-callback",
            Endpoint::DeviceAuthorize => "device-authorize",
            Endpoint::DevicePage => "device-page",
            Endpoint::DeviceVerify => "device-verify",
            Endpoint::Token => "token",
            Endpoint::Jwks => "jwks",
            Endpoint::OpenIdConfiguration => "openid-configuration",
            Endpoint::Introspect => "introspect",
            Endpoint::Revoke => "revoke",
            Endpoint::Userinfo => "userinfo",
        }
    }

    pub fn for_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.matches(path))
    }

    pub(crate) async fn call(self, app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
        match self {
            Endpoint::SignUp => sign_up::handle(app, req).await,
            Endpoint::SignIn => sign_in::handle(app, req).await,
            Endpoint::SignOut => sign_out::one(app, req).await,
            Endpoint::SignOutAll => sign_out::all(app, req).await,
            Endpoint::Session => session::handle(app, req).await,
            Endpoint::Me => me::handle(app, req).await,
            Endpoint::FederationBegin => federation::begin(app, req).await,
            Endpoint::FederationCallback => federation::callback(app, req).await,
            Endpoint::DeviceAuthorize => oauth::device_authorize::handle(app, req).await,
            Endpoint::DevicePage => oauth::device_page::handle(app, req).await,
            Endpoint::DeviceVerify => oauth::device_verify::handle(app, req).await,
            Endpoint::Token => oauth::token::handle(app, req).await,
            Endpoint::Jwks => oauth::jwks::handle(app, req).await,
            Endpoint::OpenIdConfiguration => oauth::discovery::handle(app, req).await,
            Endpoint::Introspect => oauth::introspect::handle(app, req).await,
            Endpoint::Revoke => oauth::revoke::handle(app, req).await,
            Endpoint::Userinfo => oauth::userinfo::handle(app, req).await,
        }
    }
}
