//! `GET /oidc/device[?user_code=XXXX-XXXX]`: the page where a signed-in user confirms what a
//! device asked for. Signed-out users are sent to sign in and back.

use http::StatusCode;

use super::page::{escape, html};
use super::issuer;
use crate::App;
use crate::error::ApiError;
use crate::oauth::user_code;
use crate::request::{HttpRequest, Params};
use crate::response::HttpResponse;
use crate::store::DeviceStatus;

pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let config = issuer(app)?;
    let params = Params::parse(req.uri().query().unwrap_or(""))?;
    let typed = params.get("user_code");
    let code = typed.and_then(user_code::normalise);

    let who = match app.authenticate(req).await {
        Ok(who) => who,
        Err(ApiError::Unauthenticated) => {
            let here = match &code {
                Some(c) => format!("{}?user_code={}", config.url("/oidc/device"), user_code::display(c)),
                None => config.url("/oidc/device"),
            };
            let sign_in = format!(
                "{}{}return_to={}",
                config.sign_in_url,
                if config.sign_in_url.contains('?') { "&" } else { "?" },
                url::form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>()
            );
            let body = format!("<p>Sign in first, then come back to this page.</p><p><a href=\"{}\">Sign in</a></p>", escape(&sign_in));
            return Ok(html(StatusCode::UNAUTHORIZED, "Sign in to connect a device", &body));
        }
        Err(other) => return Err(other),
    };

    let Some(code) = code else {
        let hint = if typed.is_some() { "<p>That is not a valid code: it has 8 letters, like BCDF-GHJK.</p>" } else { "" };
        let body = format!(
            "{hint}<form method=\"get\" action=\"/oidc/device\"><label>Code shown on your device \
             <input name=\"user_code\" autocomplete=\"off\" autofocus></label> <button>Continue</button></form>"
        );
        let status = if typed.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
        return Ok(html(status, "Connect a device", &body));
    };

    // Every look-up is a guess at a code: counted per user, so a session cannot scan them.
    app.rate_limit("device-code", who.user.id.as_str()).await?;
    let pending = app
        .store
        .device_authorization_by_user_code(&code, app.now())
        .await?
        .filter(|d| d.status == DeviceStatus::Pending);
    let Some(device) = pending else {
        return Ok(html(StatusCode::BAD_REQUEST, "Code not recognised", "<p>This code is unknown, expired or already used. Start again on your device.</p>"));
    };
    let body = format!(
        "<p>Signed in as <strong>{email}</strong>.</p>\
         <p>The application <strong>{client}</strong> asks for: <strong>{scope}</strong>.</p>\
         <p>Only continue if your device shows the code <strong>{shown}</strong>.</p>\
         <form method=\"post\" action=\"/oidc/device/verify\">\
         <input type=\"hidden\" name=\"user_code\" value=\"{shown}\">\
         <button name=\"decision\" value=\"approve\">Allow</button> \
         <button name=\"decision\" value=\"deny\">Deny</button></form>",
        email = escape(who.user.email.as_str()),
        client = escape(&device.client_id),
        scope = escape(&device.scope),
        shown = escape(&user_code::display(&code)),
    );
    Ok(html(StatusCode::OK, "Connect a device", &body))
}
