//! What a user lists of their own: its activity (one item per entry, in the user's index
//! partition under a sort key that orders it newest first) and its sessions (read through the
//! same partition).

use std::collections::HashMap;

use super::items::*;
use super::*;
use crate::events::{ActivityCursor, ActivityEntry};

/// What every activity entry's `gsi1sk` begins with.
const ACTIVITY_PREFIX: &str = "ACTIVITY#";

/// The entry's place among its user's entries: `<time, 20 digits>#<id>`. The time is
/// zero-padded to a fixed width, so the byte order of these is (time, id) order: what a page
/// of activity is sorted and cut by.
fn activity_order(time: UnixTime, id: &str) -> String {
    // Entries are never dated before 1970; one that were would sort as 1970.
    let secs = u64::try_from(time.0).unwrap_or(0);
    format!("{secs:020}#{id}")
}

/// The entry's `gsi1sk`: `ACTIVITY#<time>#<id>`.
fn activity_sort_key(time: UnixTime, id: &str) -> String {
    format!("{ACTIVITY_PREFIX}{}", activity_order(time, id))
}

/// The entry's own key, `ACTIVITY#<user id>#<time>#<id>`: two users' entries (or one user's
/// with equal ids at different times) never share an item.
fn activity_key(user_id: &UserId, time: UnixTime, id: &str) -> String {
    format!("{ACTIVITY_PREFIX}{user_id}#{}", activity_order(time, id))
}

fn activity_item(entry: &ActivityEntry) -> Item {
    HashMap::from([
        (
            PK.into(),
            s(activity_key(&entry.user_id, entry.time, &entry.id)),
        ),
        (GSI1PK.into(), s(user_key(&entry.user_id))),
        (GSI1SK.into(), s(activity_sort_key(entry.time, &entry.id))),
        ("user_id".into(), s(entry.user_id.as_str())),
        ("event_id".into(), s(&entry.id)),
        ("time".into(), time(entry.time)),
        ("json".into(), s(&entry.json)),
        (TTL.into(), time(entry.expires_at)),
    ])
}

fn decode_activity(item: &Item) -> StoreResult<ActivityEntry> {
    let d = Decoder::new("activity", item);
    Ok(ActivityEntry {
        user_id: UserId::from_stored(d.string("user_id")?),
        id: d.string("event_id")?,
        time: d.time("time")?,
        expires_at: d.time(TTL)?,
        json: d.string("json")?,
    })
}

/// The token hash a session item is keyed by.
fn session_hash(item: &Item) -> StoreResult<TokenHash> {
    Decoder::new("session", item)
        .string(PK)?
        .strip_prefix(SESSION_PREFIX)
        .and_then(TokenHash::from_hex)
        .ok_or_else(|| StoreError::Corrupt("session item: its key is not a hash".into()))
}

/// Newest first: `time`, then `id`, both descending.
fn newest_first(entries: &mut [ActivityEntry]) {
    entries.sort_by(|a, b| (b.time, b.id.as_str()).cmp(&(a.time, a.id.as_str())));
}

/// How many entries one query asks the index for at most: a page's worth (the activity
/// endpoint's pages are small), not the whole partition.
const QUERY_LIMIT: usize = 100;

impl DynamoStore {
    pub(super) async fn put_activity(&self, entries: &[ActivityEntry]) -> StoreResult<()> {
        self.put_all(entries.iter().map(activity_item).collect())
            .await
    }

    /// Up to `limit` live entries of the user older than `after`, newest first: the index
    /// gives their keys in order (it holds keys only), a batch read their items. An entry
    /// expired but not yet deleted is skipped, and the query goes on past it.
    pub(super) async fn activity_page(
        &self,
        user_id: &UserId,
        after: Option<&ActivityCursor>,
        limit: usize,
        now: UnixTime,
    ) -> StoreResult<Vec<ActivityEntry>> {
        let mut page: Vec<ActivityEntry> = Vec::new();
        if limit == 0 {
            return Ok(page);
        }
        // Key conditions allow one comparison on the sort key: between the prefix and the
        // cursor's own key, which is then dropped (BETWEEN includes its ends).
        let upper = after.map(|c| activity_sort_key(c.time, &c.id));
        let mut start = None;
        loop {
            // One more than needed: the cursor's own entry may be among them.
            let wanted = (limit - page.len()).min(QUERY_LIMIT) + 1;
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .scan_index_forward(false)
                .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                .expression_attribute_names("#gsi1pk", GSI1PK)
                .expression_attribute_names("#gsi1sk", GSI1SK)
                .expression_attribute_values(":user", s(user_key(user_id)))
                .expression_attribute_values(":prefix", s(ACTIVITY_PREFIX))
                .set_exclusive_start_key(start);
            let query = match &upper {
                Some(upper) => query
                    .key_condition_expression(
                        "#gsi1pk = :user AND #gsi1sk BETWEEN :prefix AND :upper",
                    )
                    .expression_attribute_values(":upper", s(upper)),
                None => query
                    .key_condition_expression("#gsi1pk = :user AND begins_with(#gsi1sk, :prefix)"),
            };
            let out = query.send().await.map_err(|e| unavailable("Query", e))?;
            let mut keys = Vec::new();
            for item in out.items() {
                let d = Decoder::new("activity index entry", item);
                if upper.as_deref() != Some(d.string(GSI1SK)?.as_str()) {
                    keys.push(d.string(PK)?);
                }
            }
            let mut found = self
                .get_all(keys)
                .await?
                .iter()
                .map(decode_activity)
                .collect::<StoreResult<Vec<_>>>()?;
            // Read back by key, so only the user's own, even were an index entry wrong.
            found.retain(|e| &e.user_id == user_id && is_live(e.expires_at, now));
            newest_first(&mut found);
            // Each query's entries are all older than the last's: appending keeps the order.
            page.extend(found);
            start = out.last_evaluated_key;
            if page.len() >= limit || start.is_none() {
                page.truncate(limit);
                return Ok(page);
            }
        }
    }

    /// The user's sessions that still count at `now`, newest first: the index gives the keys
    /// of its session items (eventually consistent), a strongly consistent batch read the
    /// items, and each is checked as a session read checks it, and for the user's epoch.
    pub(super) async fn live_sessions_of(
        &self,
        user: &UserRecord,
        now: UnixTime,
    ) -> StoreResult<Vec<SessionRecord>> {
        let items = self.get_all(self.session_keys_of(&user.id).await?).await?;
        let mut sessions = Vec::with_capacity(items.len());
        for item in &items {
            let session = decode_session(&session_hash(item)?, item)?;
            if session.user_id == user.id
                && session.user_epoch == user.session_epoch
                && is_live(session.idle_expires_at, now)
                && is_live(session.expires_at, now)
            {
                sessions.push(session);
            }
        }
        sessions.sort_by(|a, b| (b.created_at, b.id.as_str()).cmp(&(a.created_at, a.id.as_str())));
        Ok(sessions)
    }

    /// Ends the user's live session with public id `id`, found through the user's own
    /// partition (never by the id alone), and returns it as it was.
    pub(super) async fn end_session_of(
        &self,
        user_id: &UserId,
        id: &SessionId,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>> {
        let items = self.get_all(self.session_keys_of(user_id).await?).await?;
        for item in &items {
            let d = Decoder::new("session", item);
            if d.string("session_id")? != id.as_str() || d.string("user_id")? != user_id.as_str() {
                continue;
            }
            let session = decode_session(&session_hash(item)?, item)?;
            if !is_live(session.idle_expires_at, now) || !is_live(session.expires_at, now) {
                return Ok(None);
            }
            // As a sign-out ends a session: its item goes. Conditioned on the user, though
            // a token hash is 256 random bits and names no other item.
            let deleted = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(PK, s(session_key(&session.token_hash)))
                .condition_expression("user_id = :user")
                .expression_attribute_values(":user", s(user_id.as_str()))
                .send()
                .await;
            return match deleted {
                Ok(_) => Ok(Some(session)),
                // Gone since the read (a sign-out, an expiry): nothing left to end.
                Err(err) if condition_failed(&err) => Ok(None),
                Err(err) => Err(unavailable("DeleteItem", err)),
            };
        }
        Ok(None)
    }
}
