//! `GET /auth/activity?limit=N&cursor=C` (signed in) → 200 `{"events":[…], "next_cursor":
//! "…"|null}`: the account's security events of the last 90 days, newest first.

use http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use super::cursor;
use crate::App;
use crate::error::ApiError;
use crate::events::{ActivityCursor, ActivityEntry};
use crate::request::{HttpRequest, Params};
use crate::response::{self, HttpResponse};
use crate::token::SessionId;

/// A page's size when the request names none.
pub const DEFAULT_LIMIT: usize = 20;
/// The largest page a request may ask for.
pub const MAX_LIMIT: usize = 100;

/// What a request asks for: how many, and from where.
#[derive(Debug, PartialEq, Eq)]
struct PageRequest {
    limit: usize,
    after: Option<ActivityCursor>,
}

impl PageRequest {
    fn parse(query: &str) -> Result<Self, ApiError> {
        let params = Params::parse(query)?;
        let limit = match params.get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    )
                })?,
        };
        let after = match params.get("cursor") {
            None => None,
            Some(text) => Some(cursor::decode(text).ok_or_else(|| {
                ApiError::invalid_field(
                    "cursor",
                    "is not a next_cursor from this endpoint; start again without one",
                )
            })?),
        };
        Ok(PageRequest { limit, after })
    }
}

#[derive(Serialize)]
struct Page {
    events: Vec<Map<String, Value>>,
    next_cursor: Option<String>,
}

/// One page of the signed-in user's activity. `next_cursor` is set only when more entries
/// follow, so a client's "more" never leads to an empty page.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let who = app.authenticate(req).await?;
    let page = PageRequest::parse(req.uri().query().unwrap_or(""))?;
    // One more than asked: whether it comes back says whether there is a next page.
    let mut entries = app
        .store
        .activity_of(&who.user.id, page.after.as_ref(), page.limit + 1, app.now())
        .await?;
    let more = entries.len() > page.limit;
    entries.truncate(page.limit);
    let next_cursor = entries.last().filter(|_| more).map(|last| {
        cursor::encode(&ActivityCursor {
            time: last.time,
            id: last.id.clone(),
        })
    });
    let events = entries
        .iter()
        .map(|entry| view(entry, &who.session.id))
        .collect::<Result<_, _>>()?;
    Ok(response::json(
        StatusCode::OK,
        &Page {
            events,
            next_cursor,
        },
    ))
}

/// The entry as the user sees it: the stored view as it was written (an entry written by a
/// newer deployment keeps fields this one does not know), marked when it is about the session
/// asking.
fn view(entry: &ActivityEntry, current: &SessionId) -> Result<Map<String, Value>, ApiError> {
    let mut view: Map<String, Value> = serde_json::from_str(&entry.json).map_err(|e| {
        ApiError::Internal(crate::error::context(
            "a stored activity entry is not a JSON object",
            e,
        ))
    })?;
    if view.get("session_id").and_then(Value::as_str) == Some(current.as_str()) {
        view.insert("current_session".into(), Value::Bool(true));
    }
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_and_message(query: &str) -> (&'static str, String) {
        let e = PageRequest::parse(query).unwrap_err();
        (e.code(), e.message())
    }

    #[test]
    fn the_limit_defaults_to_twenty_and_must_be_one_to_a_hundred() {
        assert_eq!(PageRequest::parse("").unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(PageRequest::parse("limit=1").unwrap().limit, 1);
        assert_eq!(PageRequest::parse("limit=100").unwrap().limit, 100);
        for bad in [
            "limit=0",
            "limit=101",
            "limit=-1",
            "limit=",
            "limit=ten",
            "limit=1.5",
        ] {
            let (code, message) = code_and_message(bad);
            assert_eq!(code, "invalid_request", "{bad}");
            assert!(message.starts_with("limit: "), "{bad}: {message}");
        }
    }

    #[test]
    fn a_repeated_parameter_or_a_bad_cursor_is_refused_by_name() {
        let (code, message) = code_and_message("limit=5&limit=6");
        assert_eq!(code, "invalid_request");
        assert!(message.contains("repeated"), "{message}");
        let (code, message) = code_and_message("cursor=zzz");
        assert_eq!(code, "invalid_request");
        assert!(message.starts_with("cursor: "), "{message}");
    }

    #[test]
    fn current_session_is_marked_only_on_its_own_events() {
        let entry = |session: &str| ActivityEntry {
            user_id: crate::token::UserId::from_stored("u".into()),
            id: "e".into(),
            time: crate::clock::UnixTime(1),
            expires_at: crate::clock::UnixTime(2),
            json: format!(
                r#"{{"id":"e","time":1,"event":"sign_in.failed","outcome":"failure","session_id":"{session}"}}"#
            ),
        };
        let me = SessionId::from_stored("mine".into());
        assert_eq!(view(&entry("mine"), &me).unwrap()["current_session"], true);
        assert!(
            view(&entry("other"), &me)
                .unwrap()
                .get("current_session")
                .is_none()
        );
    }
}
