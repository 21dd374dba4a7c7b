//! The one error type of the HTTP boundary. Every failure an endpoint can have is a variant
//! here, and [`ApiError::status`] is the only place that decides its HTTP status.

use std::borrow::Cow;
use std::time::Duration;

use http::StatusCode;

use crate::oauth::error::OAuthErrorCode;
use crate::store::StoreError;

/// The error behind a failure the client sees only as a code: kept, with its own causes, for
/// the log line (see [`crate::access_log`]), never shown to the client.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A [`Cause`] that says what was being done: `what` failed because of `source`.
pub fn context(what: impl Into<Cow<'static, str>>, source: impl Into<Cause>) -> Cause {
    Box::new(Context {
        what: what.into(),
        source: source.into(),
    })
}

/// `e` and its causes on one line, outermost first: `outer: inner: innermost`.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e;
    while let Some(inner) = cause.source() {
        line.push_str(": ");
        line.push_str(&inner.to_string());
        cause = inner;
    }
    line
}

/// One link of a cause chain: its Display is `what`, its `source()` the error underneath.
#[derive(Debug)]
struct Context {
    what: Cow<'static, str>,
    source: Cause,
}

impl std::fmt::Display for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Context {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Every way a request can fail, as the client is told it (see [`ApiError::status`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not JSON, or not valid UTF-8.
    InvalidJson(String),
    /// A field is missing, has the wrong type, or breaks a rule.
    InvalidField {
        /// The field's name in the request.
        field: &'static str,
        /// Which rule it broke, without echoing its value.
        message: String,
    },
    /// A request that only non-browser clients may make came from a browser.
    TokenDeliveryRefused,
    /// No valid session or token came with a request that needs one.
    Unauthenticated,
    /// A Bearer access token was presented and does not verify (RFC 6750 §3.1 `invalid_token`);
    /// the text says which check failed, never what the token held.
    InvalidAccessToken(&'static str),
    /// The access token verifies but was not granted the scope this resource needs.
    InsufficientScope {
        /// The scope the resource needs.
        scope: &'static str,
    },
    /// The email and password do not match an account (which of the two is never said).
    InvalidCredentials,
    /// A state-changing request failed the CSRF check (origin or token).
    CsrfRejected,
    /// A cross-origin request from an origin that is not trusted.
    CorsRejected,
    /// No endpoint serves this path.
    NotFound,
    /// The endpoint exists but does not serve this method.
    MethodNotAllowed {
        /// The `Allow` header's value: the methods it does serve.
        allow: &'static str,
    },
    /// An account already has this email.
    EmailTaken,
    /// A mailed link's token is malformed, used, replaced by a newer mail, expired, or for
    /// another purpose.
    InvalidMailToken,
    /// A mailed code is wrong, or its challenge is used, replaced, expired or dead after too
    /// many wrong codes.
    InvalidMailCode,
    /// A sensitive change needs a fresh proof that the signed-in person is the account's
    /// owner: a sign-in with every factor the account has in the last few minutes, or (for an
    /// account without a second factor) its current password.
    ReauthenticationRequired,
    /// The pending sign-in a second factor was sent for is missing, expired, used, voided
    /// (sign-out everywhere) or dead after too many wrong factors: sign in again.
    MfaExpired,
    /// A second factor (authenticator code or recovery code) is wrong, or already used.
    InvalidSecondFactor,
    /// The code that should turn on an authenticator app is wrong.
    InvalidEnrolmentCode,
    /// There is no live authenticator app enrolment to confirm (never begun, replaced by a
    /// newer one, or older than ten minutes).
    EnrolmentExpired,
    /// The authenticator app is on already: turn it off first to enrol another.
    TotpEnabled,
    /// The account has no second factor, so it has nothing that recovery codes stand in for.
    NoFactor,
    /// The body is larger than the configured limit.
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The request line's URI is longer than any authfn route and its parameters need.
    UriTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body's `Content-Type` is not the one this endpoint reads.
    UnsupportedMediaType {
        /// The media type it reads.
        expected: &'static str,
    },
    /// Too many failed sign-ins for this account from here; answered before any password check.
    AccountLocked {
        /// When the client may try again (`Retry-After`).
        retry_after: Duration,
    },
    /// Too many requests of this kind from this client or network.
    RateLimited {
        /// When the client may try again (`Retry-After`).
        retry_after: Duration,
    },
    /// The store could not be reached or refused the request; nothing was changed.
    StoreUnavailable(Cause),
    /// The mail provider could not be reached or refused the message; nothing that needed
    /// the mail was kept.
    MailUnavailable(Cause),
    /// No identity provider is configured under this name.
    UnknownProvider,
    /// The federation callback's `state` is unknown, used, expired, or from another browser.
    InvalidState(&'static str),
    /// The identity provider answered the sign-in with `error=<code>`.
    IdpError {
        /// The provider's `error` parameter.
        code: String,
    },
    /// The provider refused to exchange the authorization code (`error` of its token answer).
    CodeExchangeFailed {
        /// The `error` of the provider's token answer.
        code: String,
    },
    /// The ID token failed validation; its Display says which check, never what the token
    /// held.
    InvalidIdToken(crate::federation::id_token::IdTokenError),
    /// The provider could not be reached or answered nonsense. The cause goes to the log.
    IdpUnavailable(Cause),
    /// A resource server could not fetch the access-token issuer's key set, so it cannot
    /// tell a good token from a bad one. The cause goes to the log.
    KeysUnavailable(Cause),
    /// The provider did not assert a verified email, which authfn needs to create or link an
    /// account.
    EmailNotVerified,
    /// The provider's email is outside the domains this provider may sign in.
    EmailDomainNotAllowed,
    /// A local account has this email, and this provider may not link to it by email.
    AccountExists,
    /// An OAuth protocol error, answered with `error` and `error_description` as RFC 6749
    /// requires (and `message`, as every authfn error has).
    OAuth {
        /// RFC 6749's `error`.
        code: OAuthErrorCode,
        /// RFC 6749's `error_description`: for the client's developer, never holding a secret.
        description: String,
    },
    /// Too many failed authentications as this confidential client from this network: RFC
    /// 6749's `invalid_client` (401), with `Retry-After`, answered before any secret is checked.
    ClientLocked {
        /// When the client may try again (`Retry-After`).
        retry_after: Duration,
    },
    /// A bug or a broken invariant (an unreadable stored record, no OS randomness). The cause
    /// goes to the log, never to the client.
    Internal(Cause),
    /// A passkey response is not WebAuthn: bad JSON shape, base64url or CBOR.
    InvalidPasskeyCredential(crate::webauthn::ceremony::Malformed),
    /// A well-formed passkey response failed a check (origin, RP ID, flags, signature, counter,
    /// unknown credential, another account's): the client is told only that; the cause, which
    /// check, goes to the log.
    PasskeyRejected(Cause),
    /// The WebAuthn challenge is unknown, used, expired, or was issued for another ceremony.
    ChallengeExpired,
    /// The passkey is registered already (to this account or another).
    PasskeyExists,
    /// The account has no passkey with this id.
    PasskeyNotFound,
    /// The signed-in user has no live session with this id (whether or not someone else does).
    SessionNotFound,
}

impl ApiError {
    /// An OAuth protocol error with its `error_description`.
    pub fn oauth(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        ApiError::OAuth {
            code,
            description: description.into(),
        }
    }

    /// A field that breaks a rule; `message` says which, without echoing the value.
    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field,
            message: message.into(),
        }
    }

    /// The HTTP status of this error: the one place that decides it.
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidJson(_) | InvalidField { .. } | TokenDeliveryRefused => StatusCode::BAD_REQUEST,
            Unauthenticated | InvalidCredentials | InvalidAccessToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            InsufficientScope { .. } => StatusCode::FORBIDDEN,
            CsrfRejected | CorsRejected => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            EmailTaken => StatusCode::CONFLICT,
            InvalidMailToken | InvalidMailCode => StatusCode::BAD_REQUEST,
            ReauthenticationRequired | MfaExpired | InvalidSecondFactor => StatusCode::UNAUTHORIZED,
            InvalidEnrolmentCode | EnrolmentExpired => StatusCode::BAD_REQUEST,
            TotpEnabled | NoFactor => StatusCode::CONFLICT,
            PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AccountLocked { .. } => StatusCode::LOCKED,
            RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            StoreUnavailable(_) | MailUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            UnknownProvider => StatusCode::NOT_FOUND,
            InvalidState(_) | IdpError { .. } | CodeExchangeFailed { .. } => {
                StatusCode::BAD_REQUEST
            }
            InvalidIdToken(_) => StatusCode::UNAUTHORIZED,
            IdpUnavailable(_) => StatusCode::BAD_GATEWAY,
            KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            EmailNotVerified | EmailDomainNotAllowed => StatusCode::FORBIDDEN,
            AccountExists => StatusCode::CONFLICT,
            OAuth { code, .. } => code.status(),
            ClientLocked { .. } => OAuthErrorCode::InvalidClient.status(),
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            InvalidPasskeyCredential(_) | ChallengeExpired => StatusCode::BAD_REQUEST,
            PasskeyRejected(_) => StatusCode::UNAUTHORIZED,
            PasskeyExists => StatusCode::CONFLICT,
            PasskeyNotFound | SessionNotFound => StatusCode::NOT_FOUND,
        }
    }

    /// The stable, machine-readable `error` code clients switch on.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            InvalidField { .. } => "invalid_request",
            TokenDeliveryRefused => "token_delivery_refused",
            Unauthenticated => "unauthenticated",
            InvalidAccessToken(_) => "invalid_token",
            InsufficientScope { .. } => "insufficient_scope",
            InvalidCredentials => "invalid_credentials",
            CsrfRejected => "csrf_rejected",
            CorsRejected => "cors_rejected",
            NotFound => "not_found",
            MethodNotAllowed { .. } => "method_not_allowed",
            EmailTaken => "email_taken",
            InvalidMailToken => "invalid_token",
            InvalidMailCode => "invalid_code",
            ReauthenticationRequired => "reauthentication_required",
            MfaExpired => "mfa_expired",
            InvalidSecondFactor | InvalidEnrolmentCode => "invalid_code",
            EnrolmentExpired => "enrolment_expired",
            TotpEnabled => "totp_enabled",
            NoFactor => "no_factor",
            PayloadTooLarge { .. } => "payload_too_large",
            UriTooLong { .. } => "uri_too_long",
            UnsupportedMediaType { .. } => "unsupported_media_type",
            AccountLocked { .. } => "account_locked",
            RateLimited { .. } => "rate_limited",
            StoreUnavailable(_) => "store_unavailable",
            MailUnavailable(_) => "mail_unavailable",
            UnknownProvider => "unknown_provider",
            InvalidState(_) => "invalid_state",
            IdpError { .. } => "idp_error",
            CodeExchangeFailed { .. } => "code_exchange_failed",
            InvalidIdToken(_) => "invalid_id_token",
            IdpUnavailable(_) => "idp_unavailable",
            KeysUnavailable(_) => "keys_unavailable",
            EmailNotVerified => "email_not_verified",
            EmailDomainNotAllowed => "email_domain_not_allowed",
            AccountExists => "account_exists",
            OAuth { code, .. } => code.as_str(),
            ClientLocked { .. } => OAuthErrorCode::InvalidClient.as_str(),
            Internal(_) => "internal_error",
            InvalidPasskeyCredential(_) => "invalid_credential",
            PasskeyRejected(_) => "passkey_rejected",
            ChallengeExpired => "challenge_expired",
            PasskeyExists => "passkey_exists",
            PasskeyNotFound | SessionNotFound => "not_found",
        }
    }

    /// The human-readable message. Never contains secrets or stored data.
    pub fn message(&self) -> String {
        use ApiError::*;
        match self {
            InvalidJson(detail) => format!("request body is not valid JSON: {detail}"),
            InvalidField { field, message } => format!("{field}: {message}"),
            TokenDeliveryRefused => {
                "session tokens are only returned to non-browser clients; browsers get a cookie"
                    .into()
            }
            Unauthenticated => "sign in first".into(),
            InvalidAccessToken(why) => format!("the access token is invalid: {why}"),
            InsufficientScope { scope } => {
                format!("the access token was not granted the {scope} scope")
            }
            InvalidCredentials => "email or password is wrong".into(),
            CsrfRejected => "cross-site request refused: the Origin is not trusted".into(),
            CorsRejected => "origin not allowed".into(),
            NotFound => "no such endpoint".into(),
            MethodNotAllowed { allow } => format!("method not allowed; use {allow}"),
            EmailTaken => "an account with this email already exists".into(),
            InvalidMailToken => "this link is invalid, used or expired; ask for a new mail".into(),
            InvalidMailCode => {
                "this code is wrong or expired; check it, or ask for a new mail".into()
            }
            ReauthenticationRequired => "enter your password, or sign in again, to do this".into(),
            MfaExpired => "this sign-in has expired or ended; sign in again".into(),
            InvalidSecondFactor => "this code is wrong or was used already".into(),
            InvalidEnrolmentCode => {
                "this code is wrong; check the authenticator app's clock and try the next code"
                    .into()
            }
            EnrolmentExpired => {
                "there is no authenticator app set-up to confirm; start again".into()
            }
            TotpEnabled => "an authenticator app is on already; turn it off first".into(),
            NoFactor => "the account has no second factor".into(),
            PayloadTooLarge { limit } => format!("request body exceeds {limit} bytes"),
            UriTooLong { limit } => format!("the URI exceeds {limit} bytes"),
            UnsupportedMediaType { expected } => format!("send Content-Type: {expected}"),
            AccountLocked { retry_after } => {
                format!(
                    "too many failed sign-ins; try again in {} s",
                    retry_after.as_secs()
                )
            }
            RateLimited { retry_after } => {
                format!("too many requests; retry in {} s", retry_after.as_secs())
            }
            StoreUnavailable(_) => {
                "storage is unavailable; nothing was changed, retry shortly".into()
            }
            MailUnavailable(_) => {
                "mail could not be sent; nothing was changed, retry shortly".into()
            }
            UnknownProvider => "no identity provider is configured under this name".into(),
            InvalidState(why) => format!("this sign-in cannot be completed: {why}; start again"),
            IdpError { code } => format!("the identity provider ended the sign-in: {code}"),
            CodeExchangeFailed { code } => {
                format!("the identity provider refused the sign-in code: {code}")
            }
            InvalidIdToken(why) => why.to_string(),
            IdpUnavailable(_) => "the identity provider could not be reached; retry shortly".into(),
            KeysUnavailable(_) => {
                "the token issuer's signing keys could not be fetched; retry shortly".into()
            }
            EmailNotVerified => {
                "the identity provider did not confirm a verified email address".into()
            }
            EmailDomainNotAllowed => "accounts with this email domain may not sign in here".into(),
            AccountExists => {
                "an account with this email already exists; sign in with its password instead"
                    .into()
            }
            OAuth { description, .. } => description.clone(),
            ClientLocked { retry_after } => {
                format!(
                    "too many failed client authentications from this network; retry in {} s",
                    retry_after.as_secs()
                )
            }
            Internal(_) => "internal error".into(),
            InvalidPasskeyCredential(why) => why.to_string(),
            PasskeyRejected(_) => "this passkey was not accepted".into(),
            ChallengeExpired => {
                "this passkey request is used, expired or for another step; start again".into()
            }
            PasskeyExists => "this passkey is registered already".into(),
            PasskeyNotFound => "no passkey with this id".into(),
            SessionNotFound => "you have no active session with this id".into(),
        }
    }

    /// The `WWW-Authenticate` challenge every 401 carries (RFC 9110 §11.6.1), and the Bearer
    /// one of a 403 for a missing scope: `Basic` where the client authenticates with its
    /// secret (RFC 6749 §5.2), `Bearer` with an RFC 6750 error for access tokens, and a plain
    /// `Bearer` challenge for sessions, whose token non-browser clients send as a Bearer.
    pub fn www_authenticate(&self) -> Option<String> {
        const REALM: &str = "realm=\"authfn\"";
        match self {
            ApiError::OAuth {
                code: OAuthErrorCode::InvalidClient,
                ..
            }
            | ApiError::ClientLocked { .. } => Some(format!("Basic {REALM}, charset=\"UTF-8\"")),
            ApiError::InvalidAccessToken(why) => Some(format!(
                "Bearer {REALM}, error=\"invalid_token\", error_description=\"{why}\""
            )),
            ApiError::InsufficientScope { scope } => Some(format!(
                "Bearer {REALM}, error=\"insufficient_scope\", scope=\"{scope}\""
            )),
            _ if self.status() == StatusCode::UNAUTHORIZED => {
                Some(crate::response::SESSION_CHALLENGE.to_owned())
            }
            _ => None,
        }
    }

    /// Seconds for a `Retry-After` header, where one applies: the one place a wait becomes
    /// a number of seconds.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::AccountLocked { retry_after }
            | ApiError::RateLimited { retry_after }
            | ApiError::ClientLocked { retry_after } => Some(retry_after.as_secs()),
            ApiError::StoreUnavailable(_)
            | ApiError::KeysUnavailable(_)
            | ApiError::MailUnavailable(_) => Some(1),
            _ => None,
        }
    }

    /// The cause of a failure the client sees only as a code, and that cause's own causes,
    /// as one line (`outer: inner: innermost`) for the log; `None` for the client's own errors.
    pub fn cause_chain(&self) -> Option<String> {
        std::error::Error::source(self).map(chain)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ApiError::StoreUnavailable(Box::new(e)),
            StoreError::Corrupt(_) => ApiError::Internal(Box::new(e)),
        }
    }
}

impl From<crate::mail::MailError> for ApiError {
    fn from(e: crate::mail::MailError) -> Self {
        ApiError::MailUnavailable(Box::new(e))
    }
}

impl From<crate::password::HashError> for ApiError {
    fn from(e: crate::password::HashError) -> Self {
        ApiError::Internal(Box::new(e))
    }
}

impl From<getrandom::Error> for ApiError {
    fn from(e: getrandom::Error) -> Self {
        // getrandom's error implements `Error` only with its `std` feature: its text is kept.
        ApiError::Internal(context("no OS randomness", e.to_string()))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ApiError::StoreUnavailable(cause)
            | ApiError::MailUnavailable(cause)
            | ApiError::IdpUnavailable(cause)
            | ApiError::KeysUnavailable(cause)
            | ApiError::Internal(cause)
            | ApiError::PasskeyRejected(cause) => Some(&**cause),
            // The message names the check; what the parser found goes to the log.
            ApiError::InvalidIdToken(why) => std::error::Error::source(why),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_failure_keeps_its_cause_for_the_log_and_shows_only_the_code() {
        let e = ApiError::from(StoreError::Unavailable(
            "DynamoDB GetItem: timed out".into(),
        ));
        assert_eq!(e.code(), "store_unavailable");
        assert_eq!(
            e.cause_chain().as_deref(),
            Some("store unavailable: DynamoDB GetItem: timed out")
        );
        assert!(!e.message().contains("DynamoDB"));
    }

    /// Stands in for an SDK or network error, whose own cause is the OS error.
    #[derive(Debug, thiserror::Error)]
    #[error("dispatch failure")]
    struct SdkLike(#[source] std::io::Error);

    #[test]
    fn a_wrapped_store_cause_reaches_the_log_line_but_not_the_client() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let e = ApiError::from(StoreError::Unavailable(context(
            "DynamoDB GetItem: could not connect",
            SdkLike(io),
        )));
        assert_eq!(
            e.cause_chain().as_deref(),
            Some(
                "store unavailable: DynamoDB GetItem: could not connect: dispatch failure: connection refused"
            )
        );
        assert!(
            !e.message().contains("refused") && !e.message().contains("GetItem"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn a_mail_outage_is_a_503_to_retry_with_its_cause_in_the_log_only() {
        let e = ApiError::from(crate::mail::MailError::Unavailable(context(
            "SES SendEmail",
            "throttled",
        )));
        assert_eq!(
            (e.status(), e.code(), e.retry_after()),
            (StatusCode::SERVICE_UNAVAILABLE, "mail_unavailable", Some(1))
        );
        assert_eq!(
            e.cause_chain().as_deref(),
            Some("mail provider unavailable: SES SendEmail: throttled")
        );
        assert!(
            !e.message().contains("SES") && !e.message().contains("throttled"),
            "{}",
            e.message()
        );
    }

    #[tokio::test]
    async fn a_bad_json_body_keeps_the_parser_error_for_the_log_only() {
        use crate::federation::outbound::{
            HttpClient, OutboundError, OutboundRequest, OutboundResponse, get_json,
        };
        use crate::oauth::verifier::VerifyError;
        struct NotJson;
        #[async_trait::async_trait]
        impl HttpClient for NotJson {
            async fn send(&self, _: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
                Ok(OutboundResponse {
                    status: 200,
                    body: b"<html>".to_vec(),
                })
            }
        }
        let fetched = get_json::<serde_json::Value>(&NotJson, "https://idp.example.com/jwks")
            .await
            .unwrap_err();
        let e = ApiError::KeysUnavailable(Box::new(VerifyError::KeysUnavailable(fetched)));
        let logged = e.cause_chain().unwrap();
        assert!(
            logged.starts_with("the issuer's key set could not be fetched: GET https://idp.example.com/jwks: not the expected JSON: expected value"),
            "{logged}"
        );
        assert!(
            !e.message().contains("expected value") && !e.message().contains("idp.example.com"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn a_cause_chain_lists_every_link_outermost_first() {
        let e = ApiError::IdpUnavailable(context(
            "token endpoint",
            context("upstream request failed", "connection reset"),
        ));
        assert_eq!(
            e.cause_chain().as_deref(),
            Some("token endpoint: upstream request failed: connection reset")
        );
        assert_eq!(ApiError::InvalidCredentials.cause_chain(), None);
    }
}
