//! What sign-up and sign-in share: the request body, and the response that hands over a
//! new session.

use http::header::SET_COOKIE;
use http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use crate::App;
use crate::clock::UnixTime;
use crate::device::{DEVICE_LIFETIME, DeviceToken};
use crate::email::Email;
use crate::error::ApiError;
use crate::password::Password;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use crate::store::SessionRecord;
use crate::token::{SessionToken, UserId};

#[derive(Deserialize)]
pub(super) struct CredentialsBody {
    email: String,
    password: String,
    #[serde(default)]
    session_delivery: SessionDelivery,
    /// The device token of a non-browser client, which has no cookie jar (see `device`).
    #[serde(default)]
    device_token: Option<String>,
}

/// How the new session reaches the client. Browsers get a cookie and never see the token;
/// a CLI or mobile app asks for `"session_delivery": "token"` and sends it back as
/// `Authorization: Bearer <token>`.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SessionDelivery {
    #[default]
    Cookie,
    Token,
}

pub(super) struct Credentials {
    pub email: Email,
    pub raw_password: String,
    pub delivery: SessionDelivery,
    device_token: Option<String>,
}

impl SessionDelivery {
    /// The delivery a request asked for, unless a browser asked for the token: browsers get a
    /// cookie and never see it.
    pub(super) fn checked(self, req: &HttpRequest) -> Result<Self, ApiError> {
        if self == SessionDelivery::Token && crate::csrf::is_browser(req) {
            return Err(ApiError::TokenDeliveryRefused);
        }
        Ok(self)
    }
}

impl Credentials {
    pub(super) fn parse(app: &App, req: &HttpRequest) -> Result<Self, ApiError> {
        let body: CredentialsBody = crate::request::json_body(req, &app.config)?;
        let email = Email::parse(&body.email).map_err(|m| ApiError::invalid_field("email", m))?;
        Ok(Credentials {
            email,
            raw_password: body.password,
            delivery: body.session_delivery.checked(req)?,
            device_token: body.device_token,
        })
    }

    pub(super) fn password_for_sign_up(&self) -> Result<Password, ApiError> {
        Password::new_for_sign_up(self.raw_password.clone())
            .map_err(|m| ApiError::invalid_field("password", m))
    }

    pub(super) fn password_presented(&self) -> Result<Password, ApiError> {
        Password::presented(self.raw_password.clone())
            .map_err(|m| ApiError::invalid_field("password", m))
    }

    /// The body's `device_token`, if the client sent one.
    pub(super) fn device_token(&self) -> Option<&str> {
        self.device_token.as_deref()
    }

    /// The device cookie (or body `device_token`) that vouches for this client on `user`'s
    /// account, if any: forged, expired and other accounts' values count for nothing.
    pub(super) fn device_for(
        &self,
        app: &App,
        req: &HttpRequest,
        user: &UserId,
    ) -> Option<DeviceToken> {
        presented_device(app, req, self.device_token.as_deref(), user)
    }
}

/// The device cookie (or the body's `device_token`) that vouches for this client on `user`'s
/// account, if any: forged, expired and other accounts' values count for nothing.
pub(crate) fn presented_device(
    app: &App,
    req: &HttpRequest,
    body_token: Option<&str>,
    user: &UserId,
) -> Option<DeviceToken> {
    let keys = &app.config.session_keys;
    let now = app.now();
    crate::cookie::find(req.headers(), app.config.cookie.device_name())
        .into_iter()
        .chain(body_token)
        .filter_map(|v| DeviceToken::verify(v, keys, now))
        .find(|d| d.is_for(user))
}

/// The device cookie for `user` (see `device`), as a `Set-Cookie` value, for the sign-ins
/// that answer with a redirect rather than [`session_issued`] (federation).
pub(crate) fn device_cookie(app: &App, user: &UserId) -> Result<String, ApiError> {
    let device = DeviceToken::issue(user, app.now())?.sign(&app.config.session_keys);
    Ok(crate::cookie::device(
        &app.config.cookie,
        &device,
        DEVICE_LIFETIME,
    ))
}

#[derive(Serialize)]
struct Issued<'a> {
    user_id: &'a str,
    session_id: &'a str,
    expires_at: UnixTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_token: Option<&'a str>,
}

/// The response that starts a session: cookies for browsers, the tokens in the body for
/// clients that asked for them. Either way the client gets a new device token for the account.
pub(crate) fn session_issued(
    app: &App,
    status: StatusCode,
    session: &SessionRecord,
    token: &SessionToken,
    delivery: SessionDelivery,
) -> Result<HttpResponse, ApiError> {
    let signed = token.sign(&session.user_id, &app.config.session_keys);
    let device = DeviceToken::issue(&session.user_id, app.now())?.sign(&app.config.session_keys);
    let as_token = delivery == SessionDelivery::Token;
    let body = Issued {
        user_id: session.user_id.as_str(),
        session_id: session.id.as_str(),
        expires_at: session.expires_at,
        session_token: as_token.then(|| signed.secret().as_str()),
        device_token: as_token.then(|| device.secret().as_str()),
    };
    let mut res = response::json(status, &body);
    if delivery == SessionDelivery::Cookie {
        let policy = &app.config.cookie;
        let cookies = [
            crate::cookie::session(policy, &signed, app.config.session.absolute_lifetime),
            crate::cookie::device(policy, &device, DEVICE_LIFETIME),
        ];
        for cookie in cookies {
            res.headers_mut().append(
                SET_COOKIE,
                HeaderValue::from_str(&cookie).expect("cookie is ASCII"),
            );
        }
    }
    Ok(res)
}
