//! Sessions: creating them, finding the one a request presents, and sliding renewal.

use crate::App;
use crate::clock::UnixTime;
use crate::error::ApiError;
use crate::events::{Event, EventType};
use crate::request::{HttpRequest, Presented, presented_credential};
use crate::store::{SessionRecord, UserRecord, is_live};
use crate::token::{PresentedSession, SessionId, SessionToken, TokenHash, UserId};

/// A request whose session checked out: its user and session, as stored.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The signed-in user.
    pub user: UserRecord,
    /// The session the request presented, after any renewal.
    pub session: SessionRecord,
}

impl App {
    /// A new session for `user`, not yet stored. The token is fresh randomness every time:
    /// a session id is never reused or carried over from a previous cookie.
    pub(crate) fn new_session(
        &self,
        req: &HttpRequest,
        user: &UserRecord,
    ) -> Result<(SessionRecord, SessionToken), ApiError> {
        let now = self.now();
        let policy = self.config.session;
        let token = SessionToken::generate()?;
        let expires_at = now.plus(policy.absolute_lifetime);
        let record = SessionRecord {
            id: SessionId::generate()?,
            token_hash: token.hash(),
            user_id: user.id.clone(),
            user_epoch: user.session_epoch,
            created_at: now,
            authenticated_at: now,
            expires_at,
            idle_expires_at: now.plus(policy.idle_timeout).min(expires_at),
            renewed_at: now,
            device: req
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(crate::events::coarse_user_agent),
            network: crate::request::client_addr(req, &self.config)
                .map(|ip| crate::network::coarse(Some(ip))),
        };
        Ok((record, token))
    }

    /// The session value a request presents, if its HMAC tag verifies. Forged and tampered
    /// values stop here, without a store read.
    pub(crate) fn presented_session(&self, req: &HttpRequest) -> Option<PresentedSession> {
        let keys = &self.config.session_keys;
        match presented_credential(req, self.config.cookie.name()) {
            Presented::Bearer(value) => SessionToken::verify(value, keys),
            Presented::Cookies(values) => values
                .into_iter()
                .find_map(|v| SessionToken::verify(v, keys)),
            Presented::None => None,
        }
    }

    /// Ends the session the request presents, if any: sign-in and sign-up never keep the
    /// session they arrived with (no fixation), and sign-out ends it. Ending an absent session
    /// is not an error.
    pub(crate) async fn end_presented_session(&self, req: &HttpRequest) -> Result<(), ApiError> {
        if let Some(old) = self.presented_session(req) {
            self.store
                .delete_session(&old.token.hash(), self.now())
                .await?;
        }
        Ok(())
    }

    /// Authenticates a request by its session cookie or `Authorization: Bearer` token: the one
    /// call your own functions need.
    ///
    /// ```no_run
    /// # async fn handler(app: &authfn::App, req: authfn::request::HttpRequest) -> Result<(), authfn::ApiError> {
    /// let who = app.authenticate(&req).await?; // 401 `unauthenticated` when it fails
    /// println!("request from user {}", who.user.id);
    /// # Ok(()) }
    /// ```
    ///
    /// Slides the idle deadline forward, writing to the store at most once per half idle
    /// window (a write per request would cost money for nothing).
    pub async fn authenticate(&self, req: &HttpRequest) -> Result<Authenticated, ApiError> {
        let presented = self
            .presented_session(req)
            .ok_or(ApiError::Unauthenticated)?;
        let now = self.now();
        let hash = presented.token.hash();
        let Some((mut session, user)) = self.session_and_user(&hash, presented.user, now).await?
        else {
            self.note_expiry(req, &hash, now).await;
            return Err(ApiError::Unauthenticated);
        };
        if user.session_epoch != session.user_epoch {
            // Signed out everywhere after this session began.
            return Err(ApiError::Unauthenticated);
        }
        let idle = self.config.session.idle_timeout;
        if now.until(session.renewed_at.plus(idle / 2)).is_zero() {
            let idle_expires_at = now.plus(idle).min(session.expires_at);
            self.store
                .renew_session(&hash, now, idle_expires_at)
                .await?;
            session.renewed_at = now;
            session.idle_expires_at = idle_expires_at;
        }
        Ok(Authenticated { user, session })
    }

    /// The live session under `hash` and its user: one store round trip when the presented
    /// value names the user (every value signed since `v2.`), the session first otherwise. A
    /// named user that is not the session's is treated as no session: only a holder of the
    /// signing key could have made such a value.
    async fn session_and_user(
        &self,
        hash: &TokenHash,
        user: Option<UserId>,
        now: UnixTime,
    ) -> Result<Option<(SessionRecord, UserRecord)>, ApiError> {
        let found = match user {
            Some(user) => self.store.session_and_user(hash, &user, now).await?,
            None => match self.store.session(hash, now).await? {
                Some(session) => {
                    let user = self.store.user_by_id(&session.user_id).await?;
                    user.map(|user| (session, user))
                }
                None => None,
            },
        };
        Ok(found)
    }

    /// Records `session.ended` (reason `expired`) for a presented session that the store no
    /// longer answers at `now` because a deadline passed, then deletes its record, so the
    /// expiry is told once (a browser keeps sending the cookie until it lapses itself).
    ///
    /// The store hides such a session; asked as of the epoch it still answers with the record
    /// if it has it (not yet swept by its TTL), while one signed out, revoked or of an earlier
    /// epoch stays hidden on every store. A session whose record is gone ended unseen: no
    /// event. Best-effort: a store error here leaves the answer as it was (401).
    async fn note_expiry(&self, req: &HttpRequest, hash: &TokenHash, now: UnixTime) {
        let Ok(Some(stale)) = self.store.session(hash, UnixTime(0)).await else {
            return;
        };
        if is_live(stale.idle_expires_at, now) && is_live(stale.expires_at, now) {
            // Renewed or otherwise live again since the first read: not expired.
            return;
        }
        if self.store.delete_session(hash, now).await.is_ok() {
            self.record(req, ended(&stale, "expired"));
        }
    }

    /// Verifies the request's `Authorization: Bearer` access token (a JWT from this
    /// deployment's token issuer, or the one `AUTHFN_ACCESS_TOKEN_ISSUER` names) against the
    /// issuer's published JWKS, cached per warm instance (or against the keys themselves when
    /// this deployment is the issuer): the one call a resource server needs for CLI and
    /// mobile clients. 401 `unauthenticated` without one, 401 `invalid_token` (with its
    /// RFC 6750 `WWW-Authenticate` challenge) unless it verifies.
    ///
    /// ```no_run
    /// # async fn handler(app: &authfn::App, req: authfn::request::HttpRequest) -> Result<(), authfn::ApiError> {
    /// let claims = app.verify_access_token(&req).await?;
    /// println!("user {} via client {} with scope {}", claims.sub, claims.client_id, claims.scope);
    /// # Ok(()) }
    /// ```
    pub async fn verify_access_token(
        &self,
        req: &HttpRequest,
    ) -> Result<crate::oauth::AccessTokenClaims, ApiError> {
        use crate::oauth::verifier::{self, VerifyError};
        let token = crate::request::bearer_jwt(req).ok_or(ApiError::Unauthenticated)?;
        let config = self.config.access_tokens.as_ref().ok_or_else(|| {
            ApiError::Internal("access tokens are not configured: set AUTHFN_PUBLIC_URL or AUTHFN_ACCESS_TOKEN_ISSUER".into())
        })?;
        // When this deployment is the issuer it holds the keys: no fetch (a Worker fetching its
        // own route would not even reach itself).
        if let Some(issuer) = self
            .config
            .oauth
            .as_ref()
            .filter(|o| o.issuer == config.issuer)
        {
            return crate::oauth::access_token::verify(
                token,
                &issuer.keys,
                &config.issuer,
                &config.audience,
                self.now(),
            )
            .await
            .map_err(|e| ApiError::InvalidAccessToken(e.0));
        }
        let client = self
            .http_client()
            .ok_or_else(|| ApiError::Internal("no outbound HTTP client is configured".into()))?;
        match verifier::verify(client, config, token, self.now()).await {
            Ok(claims) => Ok(claims),
            Err(VerifyError::Invalid(e)) => Err(ApiError::InvalidAccessToken(e.0)),
            Err(e @ VerifyError::KeysUnavailable(_)) => Err(ApiError::KeysUnavailable(Box::new(e))),
        }
    }
}

/// The `session.ended` event of `session`, for `reason` (`sign_out`, `sign_out_all`,
/// `revoked`, `expired`).
pub(crate) fn ended(session: &SessionRecord, reason: &'static str) -> Event {
    Event::new(EventType::SessionEnded)
        .user(&session.user_id)
        .session(&session.id)
        .reason(reason)
}
