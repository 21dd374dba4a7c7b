//! One module per endpoint, and the table that names them.
//!
//! `endpoints!` below is the only list of endpoints: the enum, [`Endpoint::ALL`], routing
//! ([`Endpoint::for_path`]), 404 / 405 / `Allow`, CORS preflight and the dispatch to each
//! handler are generated from it. The dev server serves it through [`App::route`], and so does
//! the Worker (one Worker, every path of the table: an endpoint's Worker route is its path);
//! `authfn-dev --list-endpoints` prints it for scripts; `tests/blackbox/tests/deployment.rs`
//! checks `functions/*` and `template.yaml` against it.

use http::Method;

use crate::App;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::HttpResponse;

pub mod account;
mod credentials;
pub mod federation;
pub mod me;
pub mod mfa;
mod new_device;
pub mod oauth;
pub mod passkeys;
pub mod session;
pub mod sessions;
pub mod sign_in;
pub mod sign_out;
pub mod sign_up;

/// What sets an endpoint apart, in the table's last column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    /// It calls identity providers or fetches the token issuer's JWKS, so its runtime must give
    /// the app an HTTP client (its function crate calls `serve_with_http_client`).
    OutboundCalls,
    /// It signs tokens or authenticates OAuth clients, so its function needs the issuer's
    /// secrets, not only its public keys.
    IssuerSecrets,
    /// A cross-site navigation by design, so no `Origin` check (see [`Endpoint::is_csrf_exempt`]).
    CsrfExempt,
    /// It sends mail, so its runtime must give the app a mailer, and its function may call the
    /// mail provider (on AWS: `ses:SendEmail` on the sending identity, and nothing else may).
    SendsMail,
    /// It reads or writes TOTP secrets, so its function needs `AUTHFN_DATA_KEYS` (and is the
    /// only kind that gets them).
    DataKeys,
    /// It can end in a session for an existing account, so with `AUTHFN_NEW_DEVICE_MAIL` on it
    /// mails the new-device notice: its runtime must then give the app a mailer, and on AWS
    /// its function may send as the mail identity under the `NewDeviceMail` condition.
    SignsIn,
}

/// One row of the table.
struct Spec {
    function: &'static str,
    /// The first is the method a browser uses, the one CORS preflight allows.
    methods: &'static [&'static str],
    /// `methods` as an `Allow` header.
    allow: &'static str,
    path: &'static str,
    flags: &'static [Flag],
}

/// Declares every endpoint, one row each:
/// `Variant = "function-crate" [METHODS] "/path" => handler [Flags];`.
macro_rules! endpoints {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $function:literal [$first:ident $(, $method:ident)*] $path:literal
            => $handler:path $([$($flag:ident),+])?;
    )+) => {
        /// Every endpoint authfn serves. Each is deployed as its own function (`functions/<name>`);
        /// the local dev server and the Worker serve them all.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Endpoint {
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!("`", stringify!($first) $(, ", ", stringify!($method))*, " ", $path, "`, deployed as `functions/", $function, "`.")]
                $variant,
            )+
        }

        impl Endpoint {
            /// Every endpoint, in the table's order.
            pub const ALL: [Endpoint; [$(Endpoint::$variant),+].len()] = [$(Endpoint::$variant),+];

            const fn spec(self) -> &'static Spec {
                match self {
                    $(Endpoint::$variant => &Spec {
                        function: $function,
                        methods: &[stringify!($first) $(, stringify!($method))*],
                        allow: concat!(stringify!($first) $(, ", ", stringify!($method))*),
                        path: $path,
                        flags: &[$($(Flag::$flag),+)?],
                    },)+
                }
            }

            /// Dispatch at run time, for a process that serves every endpoint: whatever calls
            /// it links every handler.
            pub(crate) async fn call(self, app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
                match self {
                    $(Endpoint::$variant => $handler(app, req).await,)+
                }
            }
        }

        /// Each endpoint as a type, for the functions that serve one endpoint each: `lambda::serve`
        /// and [`App::handle_function`] take one as a type parameter, so that a function's
        /// binary links its own handler and no other.
        #[cfg(not(target_arch = "wasm32"))]
        pub mod functions {
            use super::*;

            $(
                #[doc = concat!("[`Endpoint::", stringify!($variant), "`], served by `functions/", $function, "`.")]
                #[derive(Debug, Clone, Copy)]
                pub struct $variant;

                impl Handler for $variant {
                    const ENDPOINT: Endpoint = Endpoint::$variant;

                    fn call(
                        app: &App,
                        req: &HttpRequest,
                    ) -> impl Future<Output = Result<HttpResponse, ApiError>> + Send {
                        $handler(app, req)
                    }
                }
            )+
        }
    };
}

/// An endpoint known at compile time (a type of [`functions`]): what one deployed function
/// serves. Only native targets have it: the Worker serves every endpoint, through
/// [`App::route`].
#[cfg(not(target_arch = "wasm32"))]
pub trait Handler {
    /// The endpoint: its row of the table.
    const ENDPOINT: Endpoint;

    /// Its handler.
    fn call(
        app: &App,
        req: &HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, ApiError>> + Send;
}

endpoints! {
    // Variant          = "function crate"       [methods]   "path"                                 => handler [flags]
    SignUp              = "sign-up"              [POST]      "/auth/sign-up"                        => sign_up::handle [SendsMail];
    SignIn              = "sign-in"              [POST]      "/auth/sign-in"                        => sign_in::handle [SignsIn];
    VerifyEmail         = "verify-email"         [POST]      "/auth/verify-email"                   => account::verify_email::handle;
    ResendVerification  = "verify-email-resend"  [POST]      "/auth/verify-email/resend"            => account::resend_verification::handle [SendsMail];
    ForgotPassword      = "password-forgot"      [POST]      "/auth/password/forgot"                => account::forgot_password::handle [SendsMail];
    ResetPassword       = "password-reset"       [POST]      "/auth/password/reset"                 => account::reset_password::handle [SignsIn];
    /// Signed in, with the current password.
    ChangePassword      = "password-change"      [POST]      "/auth/password/change"                => account::change_password::handle;
    /// Signed in, with the current password (or a recent sign-in, for an account without one).
    ChangeEmail         = "email-change"         [POST]      "/auth/email/change"                   => account::change_email::request [SendsMail];
    /// With the link's token, or signed in with the code.
    VerifyEmailChange   = "email-verify"         [POST]      "/auth/email/verify"                   => account::change_email::verify;
    /// Signed in, with the current password (or a recent sign-in, for an account without one).
    DeleteAccount       = "account-delete"       [POST]      "/auth/account/delete"                 => account::delete_account::handle;
    /// Off (404) unless `AUTHFN_EMAIL_CODE_SIGN_IN=true`.
    EmailCodeRequest    = "email-code-request"   [POST]      "/auth/email-code/request"             => account::email_code::request [SendsMail];
    /// Off (404) unless `AUTHFN_EMAIL_CODE_SIGN_IN=true`.
    EmailCodeSignIn     = "email-code-sign-in"   [POST]      "/auth/email-code/sign-in"             => account::email_code::sign_in [SignsIn];
    SignOut             = "sign-out"             [POST]      "/auth/sign-out"                       => sign_out::one;
    SignOutAll          = "sign-out-all"         [POST]      "/auth/sign-out/all"                   => sign_out::all;
    Session             = "session"              [GET]       "/auth/session"                        => session::handle;
    /// An example of a protected route in your own API.
    Me                  = "me"                   [GET]       "/me"                                  => me::handle [OutboundCalls];
    FederationBegin     = "federation-begin"     [GET]       "/auth/federation/{provider}/begin"    => federation::begin [OutboundCalls];
    /// `response_mode=query` arrives as GET, `form_post` as POST.
    FederationCallback  = "federation-callback"  [GET, POST] "/auth/federation/{provider}/callback" => federation::callback [OutboundCalls, CsrfExempt, SignsIn];
    DeviceAuthorize     = "device-authorize"     [POST]      "/oidc/device/authorize"               => oauth::device_authorize::handle [IssuerSecrets];
    DevicePage          = "device-page"          [GET]       "/oidc/device"                         => oauth::device_page::handle;
    DeviceVerify        = "device-verify"        [POST]      "/oidc/device/verify"                  => oauth::device_verify::handle;
    Token               = "token"                [POST]      "/oidc/token"                          => oauth::token::handle [IssuerSecrets];
    Jwks                = "jwks"                 [GET]       "/.well-known/jwks.json"               => oauth::jwks::handle;
    OpenIdConfiguration = "openid-configuration" [GET]       "/.well-known/openid-configuration"    => oauth::discovery::handle;
    Introspect          = "introspect"           [POST]      "/oidc/introspect"                     => oauth::introspect::handle [IssuerSecrets];
    Revoke              = "revoke"               [POST]      "/oidc/revoke"                         => oauth::revoke::handle [IssuerSecrets];
    /// OpenID Connect's UserInfo endpoint: the user's claims for an access token. Clients may
    /// use either method (OIDC Core §5.3.1).
    Userinfo            = "userinfo"             [GET, POST] "/oidc/userinfo"                       => oauth::userinfo::handle;
    /// Signed in, with step-up: the creation options for a new passkey.
    PasskeyRegisterBegin  = "passkey-register-begin"  [POST] "/auth/passkeys/register/begin"  => passkeys::register::begin;
    /// Signed in: stores the new passkey (and mails the account).
    PasskeyRegisterFinish = "passkey-register-finish" [POST] "/auth/passkeys/register/finish" => passkeys::register::finish [SendsMail];
    /// No session needed: a discoverable sign-in, or the second factor of a pending sign-in.
    PasskeySignInBegin    = "passkey-sign-in-begin"   [POST] "/auth/passkeys/sign-in/begin"   => passkeys::sign_in::begin;
    PasskeySignInFinish   = "passkey-sign-in-finish"  [POST] "/auth/passkeys/sign-in/finish"  => passkeys::sign_in::finish [SignsIn];
    /// Signed in.
    PasskeyRename         = "passkey-rename"          [POST] "/auth/passkeys/rename"          => passkeys::manage::rename;
    /// Signed in, with step-up (and mails the account).
    PasskeyDelete         = "passkey-delete"          [POST] "/auth/passkeys/delete"          => passkeys::manage::delete [SendsMail];
    /// With a pending sign-in: completes it with a second factor.
    MfaVerify           = "mfa-verify"           [POST]      "/auth/mfa/verify"                     => mfa::verify::handle [SendsMail, DataKeys, SignsIn];
    /// Signed in: the account's second factors.
    MfaFactors          = "mfa-factors"          [GET]       "/auth/mfa"                            => mfa::factors::handle;
    /// Signed in, step-up: a new authenticator app secret to confirm.
    TotpEnroll          = "totp-enroll"          [POST]      "/auth/mfa/totp/enroll"                => mfa::totp_enroll::handle [DataKeys];
    /// Signed in: turns the authenticator app on with its first code.
    TotpConfirm         = "totp-confirm"         [POST]      "/auth/mfa/totp/confirm"               => mfa::totp_confirm::handle [SendsMail, DataKeys];
    /// Signed in, step-up: turns the authenticator app off.
    TotpDisable         = "totp-disable"         [POST]      "/auth/mfa/totp/disable"               => mfa::totp_disable::handle [SendsMail];
    /// Signed in, step-up: a new set of recovery codes.
    RegenerateRecoveryCodes = "recovery-codes-regenerate" [POST] "/auth/mfa/recovery-codes/regenerate" => mfa::recovery_codes::regenerate [SendsMail];
    /// Signed in: the account's live sessions, the current one marked.
    Sessions            = "sessions"             [GET]       "/auth/sessions"                       => sessions::list::handle;
    /// Signed in: ends one of the account's sessions (404 for any other id).
    SessionRevoke       = "session-revoke"       [POST]      "/auth/sessions/{id}/revoke"           => sessions::revoke::handle;
    /// Signed in: the account's security events of the last 90 days, newest first, paged.
    Activity            = "activity"             [GET]       "/auth/activity"                       => sessions::activity::handle;
}

impl Endpoint {
    /// The route, as API Gateway writes it: `{provider}` or `{id}` stands for one path segment.
    pub fn path(self) -> &'static str {
        self.spec().path
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
        self.spec().methods
    }

    /// The value of an `Allow` header.
    pub fn allow_header(self) -> &'static str {
        self.spec().allow
    }

    /// Whether it serves `method` (`HEAD` and `OPTIONS` are the caller's to handle).
    pub fn accepts(self, method: &Method) -> bool {
        self.method_names().contains(&method.as_str())
    }

    /// The method a browser uses for it (the table's first), for CORS preflight answers.
    pub fn method(self) -> Method {
        if self.method_names()[0] == "GET" {
            Method::GET
        } else {
            Method::POST
        }
    }

    /// Whether it makes outbound calls (to identity providers, or for the token issuer's
    /// JWKS), so its runtime must give the app an HTTP client.
    pub const fn makes_outbound_calls(self) -> bool {
        self.has(Flag::OutboundCalls)
    }

    /// Whether it signs tokens or authenticates OAuth clients, so its function needs the
    /// issuer's secrets (`AUTHFN_JWT_KEYS`, client secrets); the issuer's other functions get
    /// the public keys only (`AUTHFN_JWT_PUBLIC_KEYS`).
    pub const fn uses_issuer_secrets(self) -> bool {
        self.has(Flag::IssuerSecrets)
    }

    /// The OAuth / OpenID Connect endpoints (`/oidc/*`): every error they answer, transport
    /// errors included, is in RFC 6749 form (with `error_description`).
    pub fn speaks_oauth(self) -> bool {
        self.path().starts_with("/oidc/")
    }

    /// The federation callback is a navigation from the identity provider's site (a cross-site
    /// form POST with `form_post`), so an `Origin` check would refuse every real one. Its
    /// protection is `state` plus the browser-binding cookie, checked by the endpoint.
    pub const fn is_csrf_exempt(self) -> bool {
        self.has(Flag::CsrfExempt)
    }

    /// Whether it sends mail (address proofs, resets, notices), so its runtime must give the
    /// app a mailer and its function may call the mail provider.
    pub const fn sends_mail(self) -> bool {
        self.has(Flag::SendsMail)
    }

    /// Whether it can end in a session for an existing account (a sign-in, the second factor
    /// of one, a password reset), so it sends the new-device notice when
    /// `AUTHFN_NEW_DEVICE_MAIL` is on (see [`App::sends_mail`]).
    pub const fn signs_in(self) -> bool {
        self.has(Flag::SignsIn)
    }

    /// Whether it reads or writes TOTP secrets, so its function needs `AUTHFN_DATA_KEYS`; no
    /// other function is given them.
    pub const fn uses_data_keys(self) -> bool {
        self.has(Flag::DataKeys)
    }

    /// Whether its row has `flag`. A `const fn`, so that a function can decide at compile time
    /// what its binary needs (see `lambda::serve`).
    const fn has(self, flag: Flag) -> bool {
        let flags = self.spec().flags;
        let mut i = 0;
        while i < flags.len() {
            if flags[i] as u8 == flag as u8 {
                return true;
            }
            i += 1;
        }
        false
    }

    /// The name of the function crate (`functions/<name>`), its binary, and the deployed function.
    pub fn function_name(self) -> &'static str {
        self.spec().function
    }

    /// The endpoint whose route `path` is, if any.
    pub fn for_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.matches(path))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn each_function_name_and_path_belongs_to_one_endpoint() {
        let functions: HashSet<_> = Endpoint::ALL.iter().map(|e| e.function_name()).collect();
        assert_eq!(functions.len(), Endpoint::ALL.len());
        for endpoint in Endpoint::ALL {
            assert_eq!(
                Endpoint::for_path(endpoint.path()),
                Some(endpoint),
                "{endpoint:?}"
            );
        }
    }

    #[test]
    fn the_allow_header_lists_the_methods_in_table_order() {
        assert_eq!(Endpoint::Session.allow_header(), "GET");
        assert_eq!(Endpoint::SignIn.allow_header(), "POST");
        assert_eq!(Endpoint::FederationCallback.allow_header(), "GET, POST");
        assert_eq!(Endpoint::Userinfo.method_names(), ["GET", "POST"]);
        assert_eq!(Endpoint::Userinfo.method(), Method::GET);
    }
}
