//! `POST /oidc/device/authorize` (RFC 8628 §3.1–3.2): a device asks to be signed in.

use http::StatusCode;
use serde::Serialize;

use super::{client, issuer, requested_scope};
use crate::App;
use crate::error::ApiError;
use crate::oauth::{DeviceCode, UserCode, user_code};
use crate::request::{HttpRequest, Params, client_addr, form_body};
use crate::response::{self, HttpResponse};
use crate::store::{DeviceAuthorization, DeviceStatus, Insert};

#[derive(Serialize)]
struct Authorization {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: u64,
    interval: u64,
}

/// Issues a device code and a user code for a client, to be approved on the device page.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let config = issuer(app)?;
    app.rate_limit(req, "device-authorize").await?;
    let params = Params::parse(form_body(req, &app.config)?)?;
    let client = client(app, config, req, &params).await?;
    let scope = requested_scope(config, &params)?;
    let now = app.now();
    let requested_from = crate::network::coarse(client_addr(req, &app.config));

    // A fresh user code collides with a live one about once in 2^34 tries; a few retries
    // make a collision a non-event rather than an error.
    for _ in 0..5 {
        let expires_at = now.plus(config.device_code_lifetime);
        let device_code = DeviceCode::generate(expires_at)?;
        let code = UserCode::generate()?;
        let authorization = DeviceAuthorization {
            device_code_hash: device_code.hash(),
            user_code_hash: user_code::hash(&app.config.session_keys, &code),
            client_id: client.id.clone(),
            scope: scope.clone(),
            status: DeviceStatus::Pending,
            interval: config.device_interval,
            last_polled_at: None,
            expires_at,
            version: 0,
            created_at: now,
            requested_from: requested_from.clone(),
        };
        if app
            .store
            .create_device_authorization(&authorization, now)
            .await?
            == Insert::Inserted
        {
            let verification_uri = config.url("/oidc/device");
            let shown = code.display();
            let body = Authorization {
                device_code: device_code.secret().to_owned(),
                verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
                verification_uri,
                user_code: shown,
                expires_in: config.device_code_lifetime.as_secs(),
                interval: config.device_interval.as_secs(),
            };
            return Ok(response::json(StatusCode::OK, &body));
        }
    }
    Err(ApiError::StoreUnavailable(
        "every user code tried collided with a live one".into(),
    ))
}
