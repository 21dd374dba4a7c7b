//! `GET /auth/sessions` (signed in) → 200 `{"sessions":[{id, created_at, last_seen_at, device,
//! network, current}]}`, newest first.

use http::StatusCode;
use serde::Serialize;

use crate::App;
use crate::clock::UnixTime;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use crate::store::SessionRecord;
use crate::token::SessionId;

#[derive(Serialize)]
struct Sessions<'a> {
    sessions: Vec<SessionView<'a>>,
}

/// What the user sees of one session: never its token or hash, only its public id.
#[derive(Serialize)]
struct SessionView<'a> {
    id: &'a str,
    created_at: UnixTime,
    /// When the session was last renewed: "last seen" to within half the idle window, since a
    /// request renews (writes) at most that often.
    last_seen_at: UnixTime,
    device: Option<&'a str>,
    network: Option<&'a str>,
    current: bool,
}

impl<'a> SessionView<'a> {
    fn of(session: &'a SessionRecord, current: &SessionId) -> Self {
        SessionView {
            id: session.id.as_str(),
            created_at: session.created_at,
            last_seen_at: session.renewed_at,
            device: session.device.as_deref(),
            network: session.network.as_deref(),
            current: &session.id == current,
        }
    }
}

/// Lists the signed-in user's live sessions, marking the one this request presented.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let who = app.authenticate(req).await?;
    let mut sessions = app.store.sessions_of(&who.user, app.now()).await?;
    // The presenting session is live by definition, and its record as just authenticated (and
    // perhaps renewed) is the freshest; a store listing through an eventually consistent index
    // may not show a session made a moment ago, but the user must always see this one.
    sessions.retain(|s| s.id != who.session.id);
    sessions.push(who.session.clone());
    // Newest first. The id breaks every tie, so a stable sort would order them no differently.
    sessions
        .sort_unstable_by(|a, b| (b.created_at, b.id.as_str()).cmp(&(a.created_at, a.id.as_str())));
    let body = Sessions {
        sessions: sessions
            .iter()
            .map(|s| SessionView::of(s, &who.session.id))
            .collect(),
    };
    Ok(response::json(StatusCode::OK, &body))
}
