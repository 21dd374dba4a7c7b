//! `POST /auth/mfa/totp/enroll` (signed in, step-up) {current_password?} → 200 `{secret,
//! otpauth_uri, qr_svg, expires_at}`: a new authenticator app secret, which
//! `/auth/mfa/totp/confirm` turns on with its first code. An enrolment lives ten minutes, and
//! a newer one replaces it.

use std::time::Duration;

use http::StatusCode;
use serde::Serialize;

use super::{SecretUse, StepUpBody, seal_secret};
use crate::App;
use crate::clock::UnixTime;
use crate::endpoints::account::confirm_owner;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use crate::store::TotpEnrolment;
use crate::totp::TotpSecret;

/// How long an enrolment waits for its first code.
pub const ENROLMENT_LIFETIME: Duration = Duration::from_secs(10 * 60);

#[derive(Serialize)]
struct Enrolment<'a> {
    secret: &'a str,
    otpauth_uri: &'a str,
    qr_svg: &'a str,
    expires_at: UnixTime,
}

/// Makes and stores (encrypted) a new secret, and shows it once: as base32 for typing, as the
/// `otpauth://` URI and as that URI's QR code.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "totp-enroll").await?;
    let who = app.authenticate(req).await?;
    let body: StepUpBody = crate::request::json_body(req, &app.config)?;
    if who.user.factors.totp {
        return Err(ApiError::TotpEnabled);
    }
    confirm_owner(app, req, &who, body.current_password).await?;
    let secret = TotpSecret::generate()?;
    let enrolment = TotpEnrolment {
        user_id: who.user.id.clone(),
        encrypted_secret: seal_secret(app, SecretUse::Enrolment, &who.user.id, &secret)?,
        expires_at: app.now().plus(ENROLMENT_LIFETIME),
    };
    app.store.put_totp_enrolment(&enrolment).await?;
    let uri = secret.otpauth_uri(&app.config.product_name, who.user.email.as_str());
    let body = Enrolment {
        secret: &secret.to_base32(),
        otpauth_uri: &uri,
        qr_svg: &qr_svg(&uri)?,
        expires_at: enrolment.expires_at,
    };
    Ok(response::json(StatusCode::OK, &body))
}

/// The QR code of `text` as an SVG element to inline in a page: made only of our own `rect` and
/// `path` (no text, no script, nothing the user controls reaches the markup), without the XML
/// declaration that HTML does not want.
fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .map_err(|e| ApiError::Internal(crate::error::context("QR code", e.to_string())))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(svg
        .strip_prefix(r#"<?xml version="1.0" standalone="yes"?>"#)
        .unwrap_or(&svg)
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_one_inert_svg_element() {
        let svg = qr_svg("otpauth://totp/authfn:a%3Cb%3E%40example.com?secret=ABC").unwrap();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"));
        // Only the renderer's own elements: a rect, a path, and nothing of the encoded text.
        let tags: Vec<&str> = svg
            .split('<')
            .skip(1)
            .map(|t| t.split([' ', '>', '/']).next().unwrap())
            .collect();
        assert_eq!(tags, ["svg", "rect", "path", ""], "{svg}");
        assert!(!svg.contains("otpauth") && !svg.contains("example"));
    }
}
