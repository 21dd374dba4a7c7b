//! `POST /oidc/token`: the device code grant (RFC 8628 §3.4–3.5) and refresh-token rotation
//! with reuse detection (OAuth 2.0 Security BCP §4.14).

use std::time::Duration;

use http::StatusCode;

use super::{Family, client, issue, issuer};
use crate::App;
use crate::error::ApiError;
use crate::events::{AuthMethod, Event, EventType};
use crate::oauth::error::OAuthErrorCode::{self, *};
use crate::oauth::{DeviceCode, OAuthClient, OAuthConfig, RefreshToken};
use crate::protocol::Scope;
use crate::request::{HttpRequest, Params, form_body};
use crate::response::{self, HttpResponse};
use crate::store::{DeviceAuthorization, DeviceStatus, RefreshTokenRecord, Rotation};

/// The `grant_type` a device polls with (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// RFC 8628 §3.5: what each `slow_down` adds to a device's polling interval.
const SLOW_DOWN: Duration = Duration::from_secs(5);

fn error(code: OAuthErrorCode, description: &str) -> ApiError {
    ApiError::oauth(code, description)
}

/// Exchanges an approved device code, or a refresh token, for a new token pair.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let config = issuer(app)?;
    let params = Params::parse(form_body(req, &app.config)?)?;
    let grant = params.get("grant_type");
    // Polls of a live device code are paced by that code's own interval (`slow_down`), and
    // every device behind one NAT polls: they do not spend the per-IP budget. Everything
    // else does, a guessed device code included (see `device_code`).
    if grant != Some(DEVICE_CODE_GRANT) {
        app.rate_limit(req, "token").await?;
    }
    let client = client(app, config, req, &params).await?;
    match grant {
        Some(DEVICE_CODE_GRANT) => device_code(app, req, config, client, &params).await,
        Some("refresh_token") => refresh(app, req, config, client, &params).await,
        Some(_) => Err(error(
            UnsupportedGrantType,
            "use the device_code or refresh_token grant",
        )),
        None => Err(error(InvalidRequest, "grant_type is required")),
    }
}

async fn device_code(
    app: &App,
    req: &HttpRequest,
    config: &OAuthConfig,
    client: &OAuthClient,
    params: &Params,
) -> Result<HttpResponse, ApiError> {
    let code = params
        .get("device_code")
        .ok_or_else(|| error(InvalidRequest, "device_code is required"))?;
    let code = DeviceCode::presented(code);
    let now = app.now();
    let Some(device) = app.store.device_authorization(&code.hash(), now).await? else {
        app.rate_limit(req, "token").await?;
        // Expired records read as absent; the code itself says when it was to expire, which
        // only decides between two refusals.
        let expired = code.stated_expiry().is_some_and(|t| t <= now);
        return Err(if expired {
            error(ExpiredToken, "the device code has expired; start again")
        } else {
            error(InvalidGrant, "unknown device code")
        });
    };
    if device.client_id != client.id {
        return Err(error(
            InvalidGrant,
            "the device code was issued to another client",
        ));
    }
    if let Some(last) = device.last_polled_at
        && now < last.plus(device.interval)
    {
        // RFC 8628 §3.5: too fast; the interval grows by 5 s for good.
        let slowed = DeviceAuthorization {
            interval: device.interval + SLOW_DOWN,
            last_polled_at: Some(now),
            version: device.version + 1,
            ..device
        };
        app.store.update_device_authorization(&slowed).await?;
        return Err(error(
            SlowDown,
            "polling too fast; wait the interval (now 5 s longer)",
        ));
    }
    let polled = DeviceAuthorization {
        last_polled_at: Some(now),
        version: device.version + 1,
        ..device.clone()
    };
    match &device.status {
        DeviceStatus::Pending => {
            app.store.update_device_authorization(&polled).await?;
            Err(error(AuthorizationPending, "the user has not answered yet"))
        }
        DeviceStatus::Denied => Err(error(AccessDenied, "the user denied the request")),
        DeviceStatus::Consumed => Err(error(InvalidGrant, "the device code has been used")),
        DeviceStatus::Approved {
            user_id,
            user_epoch,
        } => {
            let Some(user) = app.store.user_by_id(user_id).await? else {
                return Err(error(InvalidGrant, "the user no longer exists"));
            };
            if user.session_epoch != *user_epoch {
                // The user signed out everywhere after approving: perhaps they approved a
                // code someone else started. The approval ends with their sessions.
                return Err(error(
                    AccessDenied,
                    "the user signed out everywhere after approving; start again",
                ));
            }
            let consumed = DeviceAuthorization {
                status: DeviceStatus::Consumed,
                ..polled
            };
            // Compare-and-swap: of concurrent polls of one approval, one gets the tokens.
            if !app.store.update_device_authorization(&consumed).await? {
                return Err(error(InvalidGrant, "the device code has been used"));
            }
            let (response, refresh) =
                issue(config, now, &user, &client.id, &device.scope, None).await?;
            if let Some(record) = refresh {
                app.store.put_refresh_token(&record).await?;
            }
            app.record(
                req,
                Event::new(EventType::TokensIssued)
                    .user(&user.id)
                    .client(client.id.as_str())
                    .method(AuthMethod::DeviceCode),
            );
            Ok(response::json(StatusCode::OK, &response))
        }
    }
}

async fn refresh(
    app: &App,
    req: &HttpRequest,
    config: &OAuthConfig,
    client: &OAuthClient,
    params: &Params,
) -> Result<HttpResponse, ApiError> {
    let presented = params
        .get("refresh_token")
        .ok_or_else(|| error(InvalidRequest, "refresh_token is required"))?;
    let hash = RefreshToken::presented(presented).hash();
    let now = app.now();
    let Some(record) = app.store.refresh_token(&hash, now).await? else {
        return Err(error(InvalidGrant, "unknown or expired refresh token"));
    };
    if record.client_id != client.id {
        return Err(error(
            InvalidGrant,
            "the refresh token was issued to another client",
        ));
    }
    if app
        .store
        .is_token_family_revoked(&record.family_id, now)
        .await?
    {
        return Err(error(InvalidGrant, "the refresh token has been revoked"));
    }
    if !record.active {
        // Reuse of a rotated token: it was stolen, or the client is broken. Either way no
        // token of this family may be trusted any more.
        return Err(reuse_detected(app, req, &record).await?);
    }
    let Some(user) = app.store.user_by_id(&record.user_id).await? else {
        return Err(error(InvalidGrant, "the user no longer exists"));
    };
    if user.session_epoch != record.user_epoch {
        // "Sign out everywhere" since this family began: it ends CLI and mobile sign-ins too.
        app.store
            .revoke_token_family(&record.family_id, record.family_expires_at)
            .await?;
        return Err(error(
            InvalidGrant,
            "the user signed out everywhere; sign in again",
        ));
    }
    let scope = match params.get("scope") {
        None => record.scope.clone(),
        Some(narrower) => narrowed(&record.scope, narrower)?,
    };
    let family = Family {
        id: record.family_id.clone(),
        expires_at: record.family_expires_at,
    };
    let (response, new_record) =
        issue(config, now, &user, &client.id, &scope, Some(family)).await?;
    let new_record = new_record
        .ok_or_else(|| ApiError::Internal("refresh grant without offline_access".into()))?;
    match app.store.rotate_refresh_token(&hash, &new_record).await? {
        Rotation::Rotated => {
            app.record(
                req,
                Event::new(EventType::RefreshRotated)
                    .user(&user.id)
                    .client(client.id.as_str())
                    .method(AuthMethod::RefreshToken),
            );
            Ok(response::json(StatusCode::OK, &response))
        }
        // Someone rotated it between our read and our write: the same reuse as above.
        Rotation::AlreadyUsed => Err(reuse_detected(app, req, &record).await?),
    }
}

/// A rotated refresh token came back: revokes its whole family (a `refresh.reuse_detected`
/// event) and returns the refusal.
async fn reuse_detected(
    app: &App,
    req: &HttpRequest,
    record: &RefreshTokenRecord,
) -> Result<ApiError, ApiError> {
    app.store
        .revoke_token_family(&record.family_id, record.family_expires_at)
        .await?;
    app.record(
        req,
        Event::new(EventType::RefreshReuseDetected)
            .user(&record.user_id)
            .client(record.client_id.as_str())
            .reason("refresh_token_reused"),
    );
    Ok(error(
        InvalidGrant,
        "the refresh token was already used; every token issued from it is revoked",
    ))
}

/// RFC 6749 §6: a refresh may ask for less than was granted, never more. `offline_access`
/// stays, since the answer carries the family's next refresh token.
fn narrowed(granted: &Scope, requested: &str) -> Result<Scope, ApiError> {
    if requested
        .split_whitespace()
        .any(|scope| !granted.contains(scope))
    {
        return Err(error(
            InvalidScope,
            "a refresh cannot widen the granted scope",
        ));
    }
    Ok(Scope::of(
        requested.split_whitespace().chain(["offline_access"]),
    ))
}
