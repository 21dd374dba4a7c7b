//! `POST /auth/passkeys/rename` {id, name} → 200 the passkey; `POST /auth/passkeys/delete`
//! {id, current_password?} (step-up) → 200 `{"status":"deleted"}`. Listing is `GET /auth/mfa`.

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{PasskeyView, checked_name};
use crate::App;
use crate::endpoints::account::{confirm_owner, mails};
use crate::error::ApiError;
use crate::events::{Event, EventType};
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use crate::store::{FactorId, Passkey};
use crate::token::UserId;

#[derive(Deserialize)]
struct RenameBody {
    id: String,
    name: String,
}

#[derive(Serialize)]
struct One<'a> {
    passkey: PasskeyView<'a>,
}

/// The user's passkey with this id.
async fn find(app: &App, user: &UserId, id: &FactorId) -> Result<Passkey, ApiError> {
    app.store
        .passkeys_of(user)
        .await?
        .into_iter()
        .find(|p| &p.id == id)
        .ok_or(ApiError::PasskeyNotFound)
}

/// Renames one of the signed-in user's passkeys (no step-up: a name proves and grants nothing).
pub async fn rename(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "passkey-rename").await?;
    let who = app.authenticate(req).await?;
    let body: RenameBody = crate::request::json_body(req, &app.config)?;
    let name = checked_name(&body.name)?;
    let id = FactorId::from_stored(body.id);
    if !app.store.rename_passkey(&who.user.id, &id, &name).await? {
        return Err(ApiError::PasskeyNotFound);
    }
    let passkey = find(app, &who.user.id, &id).await?;
    Ok(response::json(
        StatusCode::OK,
        &One {
            passkey: PasskeyView::of(&passkey),
        },
    ))
}

#[derive(Deserialize)]
struct DeleteBody {
    id: String,
    #[serde(default)]
    current_password: Option<String>,
}

/// Deletes one of the signed-in user's passkeys, after the step-up, telling the owner first.
/// If it was the account's last factor the recovery codes go too: they are a second factor's
/// backup, and an account without one signs in with its password alone.
pub async fn delete(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "passkey-delete").await?;
    let who = app.authenticate(req).await?;
    let body: DeleteBody = crate::request::json_body(req, &app.config)?;
    confirm_owner(app, req, &who, body.current_password).await?;
    let user = &who.user;
    let id = FactorId::from_stored(body.id);
    let passkey = find(app, &user.id, &id).await?;
    app.send_mail(&mails::passkey_removed(
        &app.config,
        &user.email,
        &passkey.name,
    ))
    .await?;
    if !app.store.remove_passkey(&user.id, &id).await? {
        return Err(ApiError::PasskeyNotFound);
    }
    app.record(
        req,
        Event::new(EventType::PasskeyRemoved)
            .user(&user.id)
            .session(&who.session.id),
    );
    let now = app
        .store
        .user_by_id(&user.id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if now.factors.is_empty() {
        app.store.delete_recovery_codes(&user.id).await?;
    }
    Ok(response::json(
        StatusCode::OK,
        &serde_json::json!({ "status": "deleted" }),
    ))
}
