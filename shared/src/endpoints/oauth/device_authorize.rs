//! `POST /oidc/device/authorize` (RFC 8628 §3.1–3.2): a device asks to be signed in.

use http::StatusCode;
use serde::Serialize;

use super::{client, issuer, new_secret, requested_scope};
use crate::App;
use crate::error::ApiError;
use crate::oauth::user_code;
use crate::request::{HttpRequest, Params, client_addr, client_ip, form_body};
use crate::response::{self, HttpResponse};
use crate::store::{DeviceAuthorization, DeviceStatus, Insert};
use crate::token::TokenHash;

#[derive(Serialize)]
struct Authorization {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: i64,
    interval: u64,
}

pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let config = issuer(app)?;
    app.rate_limit("device-authorize", &client_ip(req, &app.config)).await?;
    let params = Params::parse(form_body(req, &app.config)?)?;
    let client = client(app, config, req, &params).await?;
    let scope = requested_scope(config, &params)?;
    let now = app.now();
    let requested_from = crate::network::coarse(client_addr(req, &app.config));

    // A fresh user code collides with a live one about once in 2^34 tries; a few retries
    // make a collision a non-event rather than an error.
    for _ in 0..5 {
        let expires_at = crate::clock::UnixTime(now.0 + config.device_code_secs);
        let device_code = super::token::device_code_with_expiry(expires_at, &new_secret()?);
        let code = user_code::generate()?;
        let authorization = DeviceAuthorization {
            device_code_hash: TokenHash::of(device_code.as_bytes()),
            user_code_hash: user_code::hash(&app.config.session_keys, &code),
            client_id: client.id.clone(),
            scope: scope.clone(),
            status: DeviceStatus::Pending,
            interval_secs: config.device_interval_secs,
            last_polled_at: None,
            expires_at,
            version: 0,
            created_at: now,
            requested_from: requested_from.clone(),
        };
        if app.store.create_device_authorization(&authorization, now).await? == Insert::Inserted {
            let verification_uri = config.url("/oidc/device");
            let shown = user_code::display(&code);
            let body = Authorization {
                device_code,
                verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
                verification_uri,
                user_code: shown,
                expires_in: config.device_code_secs,
                interval: config.device_interval_secs,
            };
            return Ok(response::json(StatusCode::OK, &body));
        }
    }
    Err(ApiError::StoreUnavailable("every user code tried collided with a live one".into()))
}
