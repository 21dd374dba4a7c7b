//! `GET /oidc/device[?user_code=XXXX-XXXX]`: the page where a signed-in user confirms what a
//! device asked for. Signed-out users are sent to sign in and back.

use http::StatusCode;

use super::page::{escape, html};
use super::{issuer, pending_device};
use crate::App;
use crate::clock::UnixTime;
use crate::error::ApiError;
use crate::oauth::UserCode;
use crate::oauth::config::OAuthConfig;
use crate::request::{HttpRequest, Params};
use crate::response::HttpResponse;

/// Shows a signed-in user what a user code asks for (or a form to type one); signed-out users
/// get a link to sign in and come back. A person followed a link to get here, so the page's own
/// failures are pages too; with the issuer off it is an unknown route, answered as any other.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let config = issuer(app)?;
    Ok(page(app, req, config).await.unwrap_or_else(error_page))
}

/// `e` as a page, with the status, headers (`Retry-After`) and log code of its JSON answer.
fn error_page(e: ApiError) -> HttpResponse {
    let (title, text) = match &e {
        ApiError::InvalidField { .. } => (
            "Link not recognised",
            "<p>This link is malformed. Start again on your device.</p>",
        ),
        ApiError::RateLimited { .. } => (
            "Too many attempts",
            "<p>Too many codes were tried from this account. Wait a minute, then try again.</p>",
        ),
        _ => (
            "Something went wrong",
            "<p>This page could not be shown. Try again in a moment.</p>",
        ),
    };
    let page = html(e.status(), title, text);
    let mut res = crate::response::error(e, true);
    for (name, value) in page.headers() {
        res.headers_mut().insert(name.clone(), value.clone());
    }
    *res.body_mut() = page.into_body();
    res
}

async fn page(
    app: &App,
    req: &HttpRequest,
    config: &OAuthConfig,
) -> Result<HttpResponse, ApiError> {
    let params = Params::parse(req.uri().query().unwrap_or(""))?;
    let typed = params.get("user_code");
    let code = typed.and_then(UserCode::normalise);

    let who = match app.authenticate(req).await {
        Ok(who) => who,
        Err(ApiError::Unauthenticated) => {
            let here = match &code {
                Some(c) => format!("{}?user_code={}", config.url("/oidc/device"), c.display()),
                None => config.url("/oidc/device"),
            };
            let sign_in = format!(
                "{}{}return_to={}",
                config.sign_in_url,
                if config.sign_in_url.contains('?') {
                    "&"
                } else {
                    "?"
                },
                url::form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>()
            );
            let body = format!(
                "<p>Sign in first, then come back to this page.</p><p><a href=\"{}\">Sign in</a></p>",
                escape(&sign_in)
            );
            return Ok(html(
                StatusCode::UNAUTHORIZED,
                "Sign in to connect a device",
                &body,
            ));
        }
        Err(other) => return Err(other),
    };

    let Some(code) = code else {
        let hint = if typed.is_some() {
            "<p>That is not a valid code: it has 8 letters, like BCDF-GHJK.</p>"
        } else {
            ""
        };
        let body = format!(
            "{hint}<form method=\"get\" action=\"/oidc/device\"><label>Code shown on your device \
             <input name=\"user_code\" autocomplete=\"off\" autofocus></label> <button>Continue</button></form>"
        );
        let status = if typed.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        return Ok(html(status, "Connect a device", &body));
    };

    // Every look-up is a guess at a code: counted per user, so a session cannot scan them.
    app.rate_limit_by(req, "device-code", who.user.id.as_str())
        .await?;
    let Some(device) = pending_device(app, &code).await? else {
        return Ok(html(
            StatusCode::BAD_REQUEST,
            "Code not recognised",
            "<p>This code is unknown, expired or already used. Start again on your device.</p>",
        ));
    };
    // RFC 8628 §5.4: what a user needs to notice a code someone else started and sent them.
    let client = config
        .clients
        .get(&device.client_id)
        .map_or(device.client_id.as_str(), |c| c.display_name.as_str());
    let body = format!(
        "<p>Signed in as <strong>{email}</strong>.</p>\
         <p>The application <strong>{client}</strong> asks for: <strong>{scope}</strong>.</p>\
         <p>The request was made <strong>{when}</strong> from the network <strong>{network}</strong>.</p>\
         <p role=\"alert\"><strong>Only approve a code you started yourself, on a device in front of you.</strong> \
         If someone sent you this code or link, deny: approving would sign them in as you.</p>\
         <p>Only continue if your device shows the code <strong>{shown}</strong>.</p>\
         <form method=\"post\" action=\"/oidc/device/verify\">\
         <input type=\"hidden\" name=\"user_code\" value=\"{shown}\">\
         <button name=\"decision\" value=\"approve\">Allow</button> \
         <button name=\"decision\" value=\"deny\">Deny</button></form>",
        email = escape(who.user.email.as_str()),
        client = escape(client),
        scope = escape(device.scope.as_str()),
        when = escape(&asked(device.created_at, app.now())),
        network = escape(&device.requested_from),
        shown = escape(&code.display()),
    );
    Ok(html(StatusCode::OK, "Connect a device", &body))
}

/// "3 minutes ago (at 14:03 UTC)": relative, as a user thinks about it, and absolute, to
/// compare with the clock of the device in front of them.
fn asked(at: UnixTime, now: UnixTime) -> String {
    let minutes = at.until(now).as_secs() / 60;
    let ago = match minutes {
        0 => "less than a minute ago".to_owned(),
        1 => "1 minute ago".to_owned(),
        m => format!("{m} minutes ago"),
    };
    let of_day = at.0.rem_euclid(86_400);
    format!(
        "{ago} (at {:02}:{:02} UTC)",
        of_day / 3600,
        of_day % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_time_reads_as_a_person_would_say_it() {
        let at = UnixTime(1_800_000_000); // 08:00 UTC
        assert_eq!(asked(at, at), "less than a minute ago (at 08:00 UTC)");
        assert_eq!(
            asked(at, UnixTime(at.0 + 61)),
            "1 minute ago (at 08:00 UTC)"
        );
        assert_eq!(
            asked(at, UnixTime(at.0 + 300)),
            "5 minutes ago (at 08:00 UTC)"
        );
    }
}
