//! The contract cases of what a user lists of their own: its sessions (and ending one of
//! them) and its activity.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use authfn::clock::UnixTime;
use authfn::events::{ACTIVITY_RETENTION, ActivityCursor, ActivityEntry};
use authfn::store::{SessionRecord, Store, UserRecord};
use authfn::token::{SessionId, UserId};

use super::{DAY, T0, before, session_of, user};
use crate::{Found, Outcome, check, check_eq};

const HOUR: Duration = Duration::from_secs(60 * 60);

/// A session of `user` made at `at`, idle a day later, over thirty days after it.
fn session_made_at(user: &UserRecord, at: UnixTime) -> SessionRecord {
    SessionRecord {
        created_at: at,
        authenticated_at: at,
        renewed_at: at,
        idle_expires_at: at.plus(DAY),
        expires_at: at.plus(30 * DAY),
        ..session_of(user)
    }
}

/// An activity entry of `user` at `time`, kept for the activity retention. Its JSON names the
/// entry only (as the real one does: no user id, no address), so each entry's is its own.
pub fn activity_entry(user: &UserRecord, time: UnixTime, id: &str) -> ActivityEntry {
    ActivityEntry {
        user_id: user.id.clone(),
        id: id.to_owned(),
        time,
        expires_at: time.plus(ACTIVITY_RETENTION),
        json: format!(
            r#"{{"id":"{id}","time":{},"event":"sign_in.succeeded"}}"#,
            time.0
        ),
    }
}

/// Every live entry of the user at `now`, read page by page (`page` entries each), checking
/// that no page is longer than asked.
async fn read_all(
    store: &dyn Store,
    user_id: &UserId,
    page: usize,
    now: UnixTime,
) -> Result<Vec<ActivityEntry>, crate::Failure> {
    let mut all: Vec<ActivityEntry> = Vec::new();
    let mut cursor: Option<ActivityCursor> = None;
    // More pages than entries could ever need means the cursor does not advance.
    for _ in 0..200 {
        let entries = store
            .activity_of(user_id, cursor.as_ref(), page, now)
            .await?;
        check!(
            entries.len() <= page,
            "a page of {} for {page}",
            entries.len()
        );
        let Some(last) = entries.last() else {
            return Ok(all);
        };
        cursor = Some(ActivityCursor {
            time: last.time,
            id: last.id.clone(),
        });
        all.extend(entries);
    }
    Err(crate::Failure::new("the cursor never reached the end"))
}

/// Newest first: `time`, then `id`, both descending.
fn newest_first(mut entries: Vec<ActivityEntry>) -> Vec<ActivityEntry> {
    entries.sort_by(|a, b| (b.time, b.id.as_str()).cmp(&(a.time, a.id.as_str())));
    entries
}

pub async fn a_users_session_list_holds_its_live_current_sessions_newest_first(
    store: Arc<dyn Store>,
) -> Outcome {
    let alice = user("alice@example.com");
    let bob = user("bob@example.com");
    let first = session_made_at(&alice, T0);
    store.create_user(&alice, &first).await?;
    let bobs = session_made_at(&bob, T0.plus(HOUR));
    store.create_user(&bob, &bobs).await?;

    // A sign-in that raced "sign out everywhere": it carries the epoch before the bump.
    store.revoke_all_sessions(&alice.id).await?;
    let alice = store.user_by_id(&alice.id).await?.found()?;
    let stale = session_made_at(&alice, T0.plus(HOUR));
    store
        .put_session(&SessionRecord {
            user_epoch: 0,
            ..stale
        })
        .await?;

    let now = T0.plus(2 * HOUR);
    let older = session_made_at(&alice, T0);
    // Two made in the same second: the id decides their order.
    let twins = [
        session_made_at(&alice, T0.plus(HOUR)),
        SessionRecord {
            // What a client that sent no User-Agent and no readable address leaves.
            device: None,
            network: None,
            ..session_made_at(&alice, T0.plus(HOUR))
        },
    ];
    let idle = SessionRecord {
        idle_expires_at: now,
        ..session_made_at(&alice, T0.plus(HOUR))
    };
    let over = SessionRecord {
        expires_at: now,
        ..session_made_at(&alice, T0.plus(HOUR))
    };
    let signed_out = session_made_at(&alice, T0.plus(HOUR));
    for s in [&older, &twins[0], &twins[1], &idle, &over, &signed_out] {
        store.put_session(s).await?;
    }
    store.delete_session(&signed_out.token_hash, now).await?;

    let mut expected = vec![twins[0].clone(), twins[1].clone()];
    expected.sort_by(|a, b| b.id.as_str().cmp(a.id.as_str()));
    expected.push(older.clone());
    check_eq!(store.sessions_of(&alice, now).await?, expected);
    check_eq!(store.sessions_of(&bob, now).await?, vec![bobs.clone()]);
    let nobody = user("nobody@example.com");
    check_eq!(
        store.sessions_of(&nobody, now).await?,
        Vec::<SessionRecord>::new()
    );

    // A renewal moves the listed session's "last seen" and keeps it listed past the deadline
    // it had; the others lapse at theirs.
    let renewed_at = T0.plus(20 * HOUR);
    store
        .renew_session(&older.token_hash, renewed_at, renewed_at.plus(DAY))
        .await?;
    let later = T0.plus(DAY + 2 * HOUR);
    check_eq!(
        store.sessions_of(&alice, later).await?,
        vec![SessionRecord {
            renewed_at,
            idle_expires_at: renewed_at.plus(DAY),
            ..older
        }]
    );
    Ok(())
}

pub async fn ending_one_session_ends_only_that_live_session_of_that_user(
    store: Arc<dyn Store>,
) -> Outcome {
    let alice = user("alice@example.com");
    let bob = user("bob@example.com");
    let (ended, kept) = (session_of(&alice), session_of(&alice));
    let bobs = session_of(&bob);
    store.create_user(&alice, &ended).await?;
    store.put_session(&kept).await?;
    store.create_user(&bob, &bobs).await?;

    // Never another user's, whoever asks for it; nor an id no session has.
    check_eq!(store.revoke_session(&bob.id, &ended.id, T0).await?, None);
    check_eq!(store.revoke_session(&alice.id, &bobs.id, T0).await?, None);
    let unknown = SessionId::generate().unwrap();
    check_eq!(store.revoke_session(&alice.id, &unknown, T0).await?, None);
    check_eq!(
        store.session(&bobs.token_hash, T0).await?,
        Some(bobs.clone())
    );
    check_eq!(
        store.session(&ended.token_hash, T0).await?,
        Some(ended.clone())
    );

    check_eq!(
        store.revoke_session(&alice.id, &ended.id, T0).await?,
        Some(ended.clone())
    );
    check_eq!(store.session(&ended.token_hash, T0).await?, None);
    check_eq!(store.sessions_of(&alice, T0).await?, vec![kept.clone()]);
    check_eq!(store.session(&kept.token_hash, T0).await?, Some(kept));
    check_eq!(store.session(&bobs.token_hash, T0).await?, Some(bobs));
    // Once: it is not there to end again, and a renewal racing the end brings nothing back.
    check_eq!(store.revoke_session(&alice.id, &ended.id, T0).await?, None);
    store
        .renew_session(&ended.token_hash, T0, T0.plus(DAY))
        .await?;
    check_eq!(store.session(&ended.token_hash, T0).await?, None);
    check_eq!(store.sessions_of(&alice, T0).await?.len(), 1);

    // A session past its idle deadline is not there to end.
    let idle = SessionRecord {
        idle_expires_at: T0.plus(HOUR),
        ..session_of(&alice)
    };
    store.put_session(&idle).await?;
    check_eq!(
        store
            .revoke_session(&alice.id, &idle.id, T0.plus(HOUR))
            .await?,
        None
    );
    Ok(())
}

pub async fn activity_reads_back_newest_first_in_pages_without_gaps_or_repeats(
    store: Arc<dyn Store>,
) -> Outcome {
    let alice = user("alice@example.com");
    let bob = user("bob@example.com");
    let now = T0.plus(DAY);
    // Several entries in one second (only the id orders them), more than one batch write
    // holds, delivered in calls of mixed users and orders.
    let mut alices = Vec::new();
    for i in 0..30_i64 {
        let time = UnixTime(T0.0 + i / 4);
        alices.push(activity_entry(
            &alice,
            time,
            &format!("evt-{:02}", (i * 7) % 30),
        ));
    }
    // Bob's share times and ids with Alice's: they are his, never hers.
    let bobs: Vec<ActivityEntry> = alices[..5]
        .iter()
        .map(|e| ActivityEntry {
            user_id: bob.id.clone(),
            json: format!(r#"{{"bob":"{}"}}"#, e.id),
            ..e.clone()
        })
        .collect();
    let expired = [
        ActivityEntry {
            expires_at: now,
            ..activity_entry(&alice, T0.plus(HOUR), "lapsed")
        },
        // Lapsed, yet newer than every live entry: a page reads past it.
        ActivityEntry {
            expires_at: now,
            ..activity_entry(&alice, T0.plus(2 * HOUR), "lapsed-newest")
        },
    ];
    let mut first_call: Vec<ActivityEntry> = alices[..27].iter().rev().cloned().collect();
    first_call.extend(bobs.iter().cloned());
    first_call.extend(expired.iter().cloned());
    store.add_activity(&first_call).await?;
    store.add_activity(&alices[27..]).await?;
    store.add_activity(&[]).await?;

    let expected = newest_first(alices.clone());
    for page in [1, 2, 7, 30, 100] {
        check_eq!(
            read_all(&*store, &alice.id, page, now).await?,
            expected,
            "in pages of {page}"
        );
    }
    check_eq!(
        read_all(&*store, &bob.id, 2, now).await?,
        newest_first(bobs.clone())
    );
    check_eq!(
        read_all(&*store, &UserId::generate().unwrap(), 10, now).await?,
        Vec::<ActivityEntry>::new()
    );
    // Before they lapse, the lapsed ones are there, in their places.
    let mut with_lapsed = alices.clone();
    with_lapsed.extend(expired.iter().cloned());
    check_eq!(
        read_all(&*store, &alice.id, 4, before(now)).await?,
        newest_first(with_lapsed)
    );

    // The limit is respected, and a cursor need not name a stored entry: a page starts just
    // older than it.
    check_eq!(
        store.activity_of(&alice.id, None, 3, now).await?,
        expected[..3].to_vec()
    );
    check_eq!(
        store.activity_of(&alice.id, None, 0, now).await?,
        Vec::<ActivityEntry>::new()
    );
    let between = ActivityCursor {
        time: UnixTime(T0.0 + 3),
        // Between two stored entries of that second (evt-08 and evt-15).
        id: "evt-10".into(),
    };
    let older: Vec<ActivityEntry> = expected
        .iter()
        .filter(|e| (e.time, e.id.as_str()) < (between.time, between.id.as_str()))
        .cloned()
        .collect();
    check!(!older.is_empty() && older.len() < expected.len());
    check_eq!(
        store
            .activity_of(&alice.id, Some(&between), 100, now)
            .await?,
        older
    );
    let ids: BTreeSet<&str> = expected.iter().map(|e| e.id.as_str()).collect();
    check_eq!(ids.len(), expected.len(), "the fixture's ids are distinct");
    Ok(())
}

pub async fn deleting_a_user_removes_its_activity_and_sessions(store: Arc<dyn Store>) -> Outcome {
    let leaving = user("leaving@example.com");
    let staying = user("staying@example.com");
    let (leaving_session, staying_session) = (session_of(&leaving), session_of(&staying));
    store.create_user(&leaving, &leaving_session).await?;
    store.create_user(&staying, &staying_session).await?;
    let second = session_of(&leaving);
    store.put_session(&second).await?;
    let theirs: Vec<ActivityEntry> = (0..3)
        .map(|i| activity_entry(&leaving, T0.plus(i * HOUR), &format!("l{i}")))
        .collect();
    let kept: Vec<ActivityEntry> = (0..3)
        .map(|i| activity_entry(&staying, T0.plus(i * HOUR), &format!("s{i}")))
        .collect();
    store.add_activity(&theirs).await?;
    store.add_activity(&kept).await?;

    check!(store.delete_user(&leaving).await?);

    check_eq!(
        store.activity_of(&leaving.id, None, 10, T0).await?,
        Vec::<ActivityEntry>::new()
    );
    check_eq!(
        store.sessions_of(&leaving, T0).await?,
        Vec::<SessionRecord>::new()
    );
    for s in [&leaving_session, &second] {
        check_eq!(store.session(&s.token_hash, T0).await?, None);
    }
    check_eq!(
        store.activity_of(&staying.id, None, 10, T0).await?,
        newest_first(kept)
    );
    check_eq!(
        store.sessions_of(&staying, T0).await?,
        vec![staying_session]
    );
    Ok(())
}
