//! `POST /auth/sessions/{id}/revoke` (signed in) → 204; 404 `not_found` unless `{id}` is one of
//! the caller's live sessions. Revoking the session that sent the request also clears its
//! cookie, as signing out does.

use crate::App;
use crate::endpoints::sign_out;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use crate::token::SessionId;

/// The longest session id accepted from a path: far above the 22 characters authfn makes,
/// and a bound on what reaches a store key.
const MAX_ID_LEN: usize = 64;

/// Ends one of the signed-in user's sessions, by its public id.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "session-revoke").await?;
    let who = app.authenticate(req).await?;
    // A malformed id names no session of anyone's: the same 404 as another user's id.
    let id = id_in_path(req.uri().path()).ok_or(ApiError::SessionNotFound)?;
    let revoked = app
        .store
        .revoke_session(&who.user.id, &id, app.now())
        .await?
        .ok_or(ApiError::SessionNotFound)?;
    app.record(req, crate::session::ended(&revoked, "revoked"));
    if revoked.id == who.session.id {
        return Ok(sign_out::cleared(app));
    }
    Ok(response::no_content())
}

/// The `{id}` of `/auth/sessions/{id}/revoke`, if it has a session id's alphabet (base64url)
/// and a plausible length. Not percent-decoded: no session id needs it.
fn id_in_path(path: &str) -> Option<SessionId> {
    let id = path
        .strip_prefix("/auth/sessions/")?
        .strip_suffix("/revoke")?;
    let plausible = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plausible.then(|| SessionId::from_stored(id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_base64url_id_of_plausible_length_is_read_from_the_path() {
        let id = |p: &str| id_in_path(p).map(|id| id.as_str().to_owned());
        assert_eq!(
            id("/auth/sessions/AbC-_09/revoke").as_deref(),
            Some("AbC-_09")
        );
        assert_eq!(id("/auth/sessions//revoke"), None);
        assert_eq!(id("/auth/sessions/%7Bid%7D/revoke"), None);
        assert_eq!(id("/auth/sessions/a.b/revoke"), None);
        assert_eq!(
            id(&format!("/auth/sessions/{}/revoke", "a".repeat(65))),
            None
        );
        assert!(id(&format!("/auth/sessions/{}/revoke", "a".repeat(64))).is_some());
    }
}
