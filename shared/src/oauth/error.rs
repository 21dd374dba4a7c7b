//! OAuth 2.0 protocol errors (RFC 6749 §5.2, RFC 8628 §3.5, RFC 7009 §2.2.1): their codes are
//! what OAuth client libraries switch on, so they are answered exactly.

use http::StatusCode;

/// An OAuth `error` code that authfn answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    /// A parameter is missing, repeated or malformed.
    InvalidRequest,
    /// Client authentication failed (unknown client, wrong or missing secret).
    InvalidClient,
    /// The code or refresh token is invalid, expired, revoked or another client's.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is not one authfn implements.
    UnsupportedGrantType,
    /// A requested scope is unknown or not allowed.
    InvalidScope,
    /// Device grant: the user has not approved or denied yet; poll again.
    AuthorizationPending,
    /// Device grant: polling too fast; the interval grows, per RFC 8628.
    SlowDown,
    /// Device grant: the user denied the request.
    AccessDenied,
    /// Device grant: the device code expired; start over.
    ExpiredToken,
}

impl OAuthErrorCode {
    /// The code as it appears in the `error` field.
    pub fn as_str(self) -> &'static str {
        use OAuthErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            InvalidScope => "invalid_scope",
            AuthorizationPending => "authorization_pending",
            SlowDown => "slow_down",
            AccessDenied => "access_denied",
            ExpiredToken => "expired_token",
        }
    }

    /// The HTTP status the code is answered with.
    pub fn status(self) -> StatusCode {
        // RFC 6749 §5.2: 400, except a failed client authentication, which is 401.
        if self == OAuthErrorCode::InvalidClient {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        }
    }
}
