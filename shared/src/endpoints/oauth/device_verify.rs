//! `POST /oidc/device/verify` {user_code, decision=approve|deny}: the signed-in user's answer
//! from the device page. CSRF-checked like every POST (the page is authfn's own origin).

use http::StatusCode;

use super::page::html;
use super::{issuer, pending_device};
use crate::App;
use crate::error::ApiError;
use crate::events::{Event, EventType};
use crate::oauth::UserCode;
use crate::request::{HttpRequest, Params, form_body};
use crate::response::HttpResponse;
use crate::store::DeviceStatus;

/// Records the signed-in user's approval or denial of a device's request.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    issuer(app)?;
    let params = Params::parse(form_body(req, &app.config)?)?;
    let who = app.authenticate(req).await?;
    app.rate_limit_by(req, "device-code", who.user.id.as_str())
        .await?;
    let approve = match params.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return Err(ApiError::invalid_field(
                "decision",
                "must be approve or deny",
            ));
        }
    };
    let code = params
        .get("user_code")
        .and_then(UserCode::normalise)
        .ok_or_else(|| ApiError::invalid_field("user_code", "is not a valid code"))?;
    let gone = || {
        html(
            StatusCode::BAD_REQUEST,
            "Code not recognised",
            "<p>This code is unknown, expired or already used.</p>",
        )
    };
    let Some(device) = pending_device(app, &code).await? else {
        return Ok(gone());
    };
    // The approval carries the user's session epoch: "sign out everywhere" after approving a
    // code someone else started stops that device from getting tokens.
    let answer = if approve {
        DeviceStatus::Approved {
            user_id: who.user.id.clone(),
            user_epoch: who.user.session_epoch,
        }
    } else {
        DeviceStatus::Denied
    };
    // Conditional on the code still pending (not on its version, which polls bump): of two
    // answers to one code (two tabs, a double click), one lands, and a poll never blocks one.
    if !app
        .store
        .decide_device_authorization(&device.device_code_hash, &answer, app.now())
        .await?
    {
        return Ok(html(
            StatusCode::CONFLICT,
            "Already answered",
            "<p>This code was answered a moment ago.</p>",
        ));
    }
    let decided = if approve {
        EventType::DeviceCodeApproved
    } else {
        EventType::DeviceCodeDenied
    };
    app.record(
        req,
        Event::new(decided)
            .user(&who.user.id)
            .session(&who.session.id)
            .client(device.client_id.as_str()),
    );
    Ok(if approve {
        html(
            StatusCode::OK,
            "Device connected",
            "<p>You can return to your device.</p>",
        )
    } else {
        html(
            StatusCode::OK,
            "Request denied",
            "<p>The device was not connected.</p>",
        )
    })
}
