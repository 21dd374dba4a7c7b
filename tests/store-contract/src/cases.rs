//! The contract cases. Each takes a fresh, empty store and returns its first failed check.
//! The fixtures are public so a harness can add cases of its own with the same data.
#![expect(
    missing_docs,
    reason = "a case's name is the sentence of behaviour it checks; the fixtures have docs"
)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use authfn::clock::UnixTime;
use authfn::email::Email;
use authfn::mailed::MailToken;
use authfn::password::PasswordHashString;
use authfn::store::{
    ChallengeAction, ChallengeKey, Counter, CounterKey, DeviceAuthorization, DeviceStatus,
    EmailChallenge, EmailChange, FederatedIdentity, FederationAttempt, Insert, RefreshTokenRecord,
    Rotation, SessionRecord, SignUpOutcome, Store, UserRecord,
};
use authfn::token::{SessionId, SessionToken, TokenHash, UserId};
use futures_util::future::join;

use crate::{Failure, Found, Outcome, check, check_eq, concurrently};

mod factors;
mod lists;
pub use factors::*;
pub use lists::*;

/// The time every case starts at: far from the real clock, so no backend may read its own.
pub const T0: UnixTime = UnixTime(1_700_000_000);
/// Fixtures' unit of lifetime: sessions, tokens and windows last whole days.
pub const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A new password user with this address, created at `T0`, at epoch 0.
pub fn user(email: &str) -> UserRecord {
    UserRecord {
        id: UserId::generate().unwrap(),
        email: Email::parse(email).unwrap(),
        password_hash: Some(PasswordHashString::from_stored("x".into())),
        created_at: T0,
        email_verified: false,
        session_epoch: 0,
        factors: authfn::store::FactorSummary::default(),
    }
}

/// A session of `user` created at `T0`, idle after a day, over after thirty. It counts only
/// while `user` exists (the Cloudflare store cannot find a deleted user's KV records, and
/// refuses them instead), so a case that reads one back creates its user first.
pub fn session_of(user: &UserRecord) -> SessionRecord {
    SessionRecord {
        id: SessionId::generate().unwrap(),
        token_hash: SessionToken::generate().unwrap().hash(),
        user_id: user.id.clone(),
        user_epoch: user.session_epoch,
        created_at: T0,
        authenticated_at: T0,
        expires_at: T0.plus(30 * DAY),
        idle_expires_at: T0.plus(DAY),
        renewed_at: T0,
        device: Some("Firefox on Linux".into()),
        network: Some("203.0.113.0/24".into()),
    }
}

/// The last second at which a record expiring at `t` is still live.
pub fn before(t: UnixTime) -> UnixTime {
    UnixTime(t.0 - 1)
}

pub async fn create_user_refuses_a_taken_email_without_partial_writes(
    store: Arc<dyn Store>,
) -> Outcome {
    let first = user("alice@example.com");
    let first_session = session_of(&first);
    check_eq!(
        store.create_user(&first, &first_session).await?,
        Insert::Inserted
    );

    // Differently cased, but the same normalised address.
    let second = user("ALICE@example.com");
    let second_session = session_of(&second);
    check_eq!(
        store.create_user(&second, &second_session).await?,
        Insert::AlreadyExists
    );

    check_eq!(
        store.user_by_email(&first.email).await?,
        Some(first.clone())
    );
    check_eq!(
        store.session(&first_session.token_hash, T0).await?,
        Some(first_session)
    );
    check_eq!(store.user_by_id(&second.id).await?, None);
    check_eq!(store.session(&second_session.token_hash, T0).await?, None);
    Ok(())
}

pub async fn create_user_refuses_a_taken_user_id_without_partial_writes(
    store: Arc<dyn Store>,
) -> Outcome {
    let first = user("alice@example.com");
    check_eq!(
        store.create_user(&first, &session_of(&first)).await?,
        Insert::Inserted
    );

    // Here the email claim would succeed and the user write fail: the claim must not stay.
    let clash = UserRecord {
        email: Email::parse("bob@example.com").unwrap(),
        ..first.clone()
    };
    let clash_session = session_of(&clash);
    check_eq!(
        store.create_user(&clash, &clash_session).await?,
        Insert::AlreadyExists
    );

    check_eq!(store.user_by_email(&clash.email).await?, None);
    check_eq!(store.user_by_id(&first.id).await?, Some(first));
    check_eq!(store.session(&clash_session.token_hash, T0).await?, None);
    Ok(())
}

pub async fn exactly_one_of_many_concurrent_sign_ups_wins(store: Arc<dyn Store>) -> Outcome {
    let outcomes = concurrently((0..16).map(|_| {
        let candidate = user("race@example.com");
        let session = session_of(&candidate);
        let store = Arc::clone(&store);
        async move {
            store
                .create_user(&candidate, &session)
                .await
                .map(|outcome| (candidate, session, outcome))
        }
    }))
    .await?;

    let winners: Vec<_> = outcomes
        .iter()
        .filter(|(_, _, o)| *o == Insert::Inserted)
        .collect();
    check_eq!(winners.len(), 1, "{} sign-ups won", winners.len());
    let (winner, _, _) = winners[0];
    check_eq!(
        store.user_by_email(&winner.email).await?.as_ref(),
        Some(winner)
    );
    for (candidate, session, outcome) in &outcomes {
        let stored = *outcome == Insert::Inserted;
        check_eq!(store.user_by_id(&candidate.id).await?.is_some(), stored);
        check_eq!(
            store.session(&session.token_hash, T0).await?.is_some(),
            stored
        );
    }
    Ok(())
}

pub async fn users_are_found_by_email_and_by_id(store: Arc<dyn Store>) -> Outcome {
    let alice = user("alice@example.com");
    let bob = user("bob@example.com");
    store.create_user(&alice, &session_of(&alice)).await?;
    store.create_user(&bob, &session_of(&bob)).await?;

    let typed = Email::parse(" Alice@Example.COM ").unwrap();
    check_eq!(store.user_by_email(&typed).await?, Some(alice.clone()));
    check_eq!(store.user_by_id(&alice.id).await?, Some(alice));
    check_eq!(store.user_by_id(&bob.id).await?, Some(bob));
    let nobody = Email::parse("carol@example.com").unwrap();
    check_eq!(store.user_by_email(&nobody).await?, None);
    check_eq!(store.user_by_id(&UserId::generate().unwrap()).await?, None);
    Ok(())
}

pub async fn look_alike_spellings_of_an_email_are_one_user(store: Arc<dyn Store>) -> Outcome {
    let jose = user("jos\u{E9}@b\u{FC}cher.example");
    check_eq!(
        store.create_user(&jose, &session_of(&jose)).await?,
        Insert::Inserted
    );
    // Decomposed é, fullwidth letters, an upper-case and an ASCII-encoded domain.
    for spelling in [
        "jose\u{301}@b\u{FC}cher.example",
        "ｊｏｓ\u{E9}@B\u{DC}CHER.example",
        "JOS\u{C9}@xn--bcher-kva.example",
    ] {
        let email = Email::parse(spelling).unwrap();
        check_eq!(
            store.user_by_email(&email).await?.as_ref(),
            Some(&jose),
            "{spelling}"
        );
        let twin = UserRecord {
            email,
            ..user("unused@example.com")
        };
        check_eq!(
            store.create_user(&twin, &session_of(&twin)).await?,
            Insert::AlreadyExists,
            "{spelling}"
        );
        check_eq!(store.user_by_id(&twin.id).await?, None);
    }
    Ok(())
}

pub async fn sessions_expire_at_the_idle_deadline(store: Arc<dyn Store>) -> Outcome {
    let alice = user("alice@example.com");
    let session = session_of(&alice);
    store.create_user(&alice, &session).await?;
    let hash = &session.token_hash;

    check_eq!(store.session(hash, T0).await?, Some(session.clone()));
    check_eq!(
        store.session(hash, before(session.idle_expires_at)).await?,
        Some(session.clone())
    );
    check_eq!(store.session(hash, session.idle_expires_at).await?, None);
    check_eq!(store.session(hash, session.expires_at).await?, None);
    Ok(())
}

pub async fn sessions_expire_at_the_absolute_deadline(store: Arc<dyn Store>) -> Outcome {
    // Renewed so often that the idle deadline is past the absolute one: the absolute wins.
    let alice = user("alice@example.com");
    let session = SessionRecord {
        idle_expires_at: T0.plus(40 * DAY),
        ..session_of(&alice)
    };
    store.create_user(&alice, &session).await?;
    let hash = &session.token_hash;

    check_eq!(
        store.session(hash, before(session.expires_at)).await?,
        Some(session.clone())
    );
    check_eq!(store.session(hash, session.expires_at).await?, None);
    Ok(())
}

pub async fn renewal_moves_the_idle_deadline(store: Arc<dyn Store>) -> Outcome {
    let alice = user("alice@example.com");
    let session = session_of(&alice);
    store.create_user(&alice, &session).await?;
    let renewed_at = T0.plus(DAY / 2);
    let idle_expires_at = renewed_at.plus(DAY);
    store
        .renew_session(&session.token_hash, renewed_at, idle_expires_at)
        .await?;

    let expected = SessionRecord {
        renewed_at,
        idle_expires_at,
        ..session.clone()
    };
    // Alive past the old idle deadline, gone at the new one.
    check_eq!(
        store
            .session(&session.token_hash, session.idle_expires_at)
            .await?,
        Some(expected)
    );
    check_eq!(
        store.session(&session.token_hash, idle_expires_at).await?,
        None
    );
    Ok(())
}

pub async fn renewal_never_creates_a_session(store: Arc<dyn Store>) -> Outcome {
    let session = session_of(&user("alice@example.com"));
    store
        .renew_session(&session.token_hash, T0, T0.plus(DAY))
        .await?;
    check_eq!(store.session(&session.token_hash, T0).await?, None);

    // Nor after a sign-out: a renewal racing a delete must not resurrect the session.
    store.put_session(&session).await?;
    store.delete_session(&session.token_hash, T0).await?;
    store
        .renew_session(&session.token_hash, T0, T0.plus(DAY))
        .await?;
    check_eq!(store.session(&session.token_hash, T0).await?, None);
    Ok(())
}

pub async fn deleted_sessions_are_gone(store: Arc<dyn Store>) -> Outcome {
    let alice = user("alice@example.com");
    let (kept, deleted) = (session_of(&alice), session_of(&alice));
    store.create_user(&alice, &kept).await?;
    store.put_session(&deleted).await?;

    store.delete_session(&deleted.token_hash, T0).await?;
    check_eq!(store.session(&deleted.token_hash, T0).await?, None);
    check_eq!(store.session(&kept.token_hash, T0).await?, Some(kept));
    // Deleting again, or deleting what never existed, is not an error.
    store.delete_session(&deleted.token_hash, T0).await?;
    Ok(())
}

pub async fn a_session_is_read_with_its_user_and_only_as_its_users(
    store: Arc<dyn Store>,
) -> Outcome {
    let alice = user("alice@example.com");
    let bob = user("bob@example.com");
    let session = session_of(&alice);
    store.create_user(&alice, &session).await?;
    store.create_user(&bob, &session_of(&bob)).await?;
    let hash = &session.token_hash;

    check_eq!(
        store.session_and_user(hash, &alice.id, T0).await?,
        Some((session.clone(), alice.clone()))
    );
    // Named as someone else's, or as a user who does not exist, it is no session.
    check_eq!(store.session_and_user(hash, &bob.id, T0).await?, None);
    let nobody = UserId::generate().unwrap();
    check_eq!(store.session_and_user(hash, &nobody, T0).await?, None);
    // Past its idle deadline, and once deleted, it is gone as `session` says.
    check_eq!(
        store
            .session_and_user(hash, &alice.id, session.idle_expires_at)
            .await?,
        None
    );
    store.delete_session(hash, T0).await?;
    check_eq!(store.session_and_user(hash, &alice.id, T0).await?, None);
    Ok(())
}

pub async fn revoking_all_sessions_bumps_the_epoch_and_deletes_only_that_users_sessions(
    store: Arc<dyn Store>,
) -> Outcome {
    let alice = user("alice@example.com");
    let bob = user("bob@example.com");
    let alice_sessions: Vec<_> = (0..3).map(|_| session_of(&alice)).collect();
    let bob_session = session_of(&bob);
    store.create_user(&alice, &alice_sessions[0]).await?;
    store.create_user(&bob, &bob_session).await?;
    for session in &alice_sessions[1..] {
        store.put_session(session).await?;
    }

    store.revoke_all_sessions(&alice.id).await?;

    check_eq!(store.user_by_id(&alice.id).await?.found()?.session_epoch, 1);
    check_eq!(store.user_by_id(&bob.id).await?.found()?.session_epoch, 0);
    // The deletes are best-effort on DynamoDB (its index is eventually consistent); on a
    // local server they are not, and the epoch is what revokes in any case.
    for session in &alice_sessions {
        check_eq!(store.session(&session.token_hash, T0).await?, None);
    }
    check_eq!(
        store.session(&bob_session.token_hash, T0).await?,
        Some(bob_session)
    );

    store.revoke_all_sessions(&alice.id).await?;
    check_eq!(store.user_by_id(&alice.id).await?.found()?.session_epoch, 2);
    // An unknown user is not an error, and is not created.
    let nobody = UserId::generate().unwrap();
    store.revoke_all_sessions(&nobody).await?;
    check_eq!(store.user_by_id(&nobody).await?, None);
    Ok(())
}

pub async fn increments_count_up_and_keep_the_window(store: Arc<dyn Store>) -> Outcome {
    let key = CounterKey::rate_limit("sign-in", "192.0.2.1");
    let other = CounterKey::rate_limit("sign-in", "192.0.2.2");
    let window = T0.plus(Duration::from_secs(60));

    check_eq!(
        store.increment(&key, window, T0).await?,
        Counter {
            count: 1,
            expires_at: window
        }
    );
    // A later call proposes a later window; the live counter keeps its own.
    let later = UnixTime(T0.0 + 10);
    let proposed = later.plus(Duration::from_secs(60));
    check_eq!(
        store.increment(&key, proposed, later).await?,
        Counter {
            count: 2,
            expires_at: window
        }
    );
    check_eq!(
        store.increment(&other, window, T0).await?,
        Counter {
            count: 1,
            expires_at: window
        }
    );
    check_eq!(
        store.counter(&key, later).await?,
        Some(Counter {
            count: 2,
            expires_at: window
        })
    );
    Ok(())
}

pub async fn concurrent_increments_are_atomic(store: Arc<dyn Store>) -> Outcome {
    let key = CounterKey::sign_in_attempts(&Email::parse("alice@example.com").unwrap());
    let window = T0.plus(Duration::from_secs(900));
    let counters = concurrently((0..20).map(|_| {
        let (store, key) = (Arc::clone(&store), key.clone());
        async move { store.increment(&key, window, T0).await }
    }))
    .await?;
    let mut counts = BTreeSet::new();
    for counter in counters {
        check_eq!(counter.expires_at, window);
        counts.insert(counter.count);
    }

    check_eq!(
        counts,
        (1..=20).collect::<BTreeSet<u64>>(),
        "each increment must see a distinct count"
    );
    check_eq!(
        store.counter(&key, T0).await?,
        Some(Counter {
            count: 20,
            expires_at: window
        })
    );
    Ok(())
}

pub async fn an_expired_counter_restarts_at_one_with_the_new_window(
    store: Arc<dyn Store>,
) -> Outcome {
    let key = CounterKey::device_sign_in_attempts(&TokenHash::of(b"a device"));
    let first_window = T0.plus(Duration::from_secs(60));
    store.increment(&key, first_window, T0).await?;
    store.increment(&key, first_window, T0).await?;

    // Expiry is exclusive: at `first_window` the old counter is already gone.
    let second_window = first_window.plus(Duration::from_secs(60));
    let restarted = store.increment(&key, second_window, first_window).await?;
    check_eq!(
        restarted,
        Counter {
            count: 1,
            expires_at: second_window
        }
    );
    check_eq!(store.counter(&key, first_window).await?, Some(restarted));
    check_eq!(
        store
            .increment(&key, second_window, first_window)
            .await?
            .count,
        2
    );
    Ok(())
}

pub async fn counters_can_be_put_read_and_deleted(store: Arc<dyn Store>) -> Outcome {
    let key = CounterKey::device_sign_in_attempts(&TokenHash::of(b"a device"));
    check_eq!(store.counter(&key, T0).await?, None);

    let counter = Counter {
        count: 5,
        expires_at: T0.plus(Duration::from_secs(60)),
    };
    store.put_counter(&key, counter).await?;
    check_eq!(store.counter(&key, T0).await?, Some(counter));
    check_eq!(
        store.counter(&key, before(counter.expires_at)).await?,
        Some(counter)
    );
    check_eq!(store.counter(&key, counter.expires_at).await?, None);
    check_eq!(
        store.increment(&key, counter.expires_at, T0).await?.count,
        6
    );

    store.delete_counter(&key).await?;
    check_eq!(store.counter(&key, T0).await?, None);
    store.delete_counter(&key).await?;
    Ok(())
}

// --- federation ---------------------------------------------------------------------------

/// A federated sign-in attempt under a fresh random key, live until `expires_at`.
pub fn attempt(expires_at: UnixTime) -> FederationAttempt {
    FederationAttempt {
        key: SessionToken::generate().unwrap().hash(),
        binding_hash: SessionToken::generate().unwrap().hash(),
        provider: "okta".into(),
        return_to: "https://app.example.com/".into(),
        wants_json: true,
        expires_at,
    }
}

/// The account `subject` at one fixed issuer.
pub fn identity(subject: &str) -> FederatedIdentity {
    FederatedIdentity {
        issuer: "https://idp.example.com".into(),
        subject: subject.into(),
    }
}

/// Like [`user`], without a password: one who only signs in through a provider.
pub fn federated_user(email: &str) -> UserRecord {
    UserRecord {
        password_hash: None,
        ..user(email)
    }
}

pub async fn a_federation_attempt_is_taken_once_and_only_while_live(
    store: Arc<dyn Store>,
) -> Outcome {
    let live = attempt(T0.plus(DAY));
    store.put_federation_attempt(&live).await?;
    check_eq!(
        store.take_federation_attempt(&live.key, T0).await?,
        Some(live.clone())
    );
    check_eq!(
        store.take_federation_attempt(&live.key, T0).await?,
        None,
        "a state is used once"
    );

    let expired = attempt(T0);
    store.put_federation_attempt(&expired).await?;
    check_eq!(store.take_federation_attempt(&expired.key, T0).await?, None);
    let unknown = TokenHash::of(b"never stored");
    check_eq!(store.take_federation_attempt(&unknown, T0).await?, None);
    Ok(())
}

pub async fn exactly_one_of_many_concurrent_takers_gets_the_attempt(
    store: Arc<dyn Store>,
) -> Outcome {
    let a = attempt(T0.plus(DAY));
    store.put_federation_attempt(&a).await?;
    let taken = concurrently((0..8).map(|_| {
        let store = Arc::clone(&store);
        let hash = a.key;
        async move { store.take_federation_attempt(&hash, T0).await }
    }))
    .await?;
    check_eq!(taken.iter().filter(|t| t.is_some()).count(), 1);
    Ok(())
}

pub async fn a_federated_user_is_found_by_identity_and_is_passwordless(
    store: Arc<dyn Store>,
) -> Outcome {
    let u = federated_user("fed@example.com");
    let s = session_of(&u);
    check_eq!(
        store
            .create_federated_user(&u, &identity("sub-1"), &s)
            .await?,
        Insert::Inserted
    );
    check_eq!(
        store.user_by_identity(&identity("sub-1")).await?,
        Some(u.clone())
    );
    check_eq!(
        store.user_by_email(&u.email).await?.found()?.password_hash,
        None
    );
    check_eq!(store.session(&s.token_hash, T0).await?, Some(s));
    // The subject is only unique within its issuer.
    let elsewhere = FederatedIdentity {
        issuer: "https://other.example.com".into(),
        subject: "sub-1".into(),
    };
    check_eq!(store.user_by_identity(&elsewhere).await?, None);
    Ok(())
}

pub async fn create_federated_user_refuses_a_taken_email_or_identity_without_partial_writes(
    store: Arc<dyn Store>,
) -> Outcome {
    let existing = user("taken@example.com");
    store.create_user(&existing, &session_of(&existing)).await?;
    let same_email = federated_user("taken@example.com");
    let s1 = session_of(&same_email);
    check_eq!(
        store
            .create_federated_user(&same_email, &identity("sub-2"), &s1)
            .await?,
        Insert::AlreadyExists
    );
    check_eq!(
        store.user_by_identity(&identity("sub-2")).await?,
        None,
        "no identity without its user"
    );
    check_eq!(store.session(&s1.token_hash, T0).await?, None);

    let first = federated_user("first@example.com");
    store
        .create_federated_user(&first, &identity("sub-3"), &session_of(&first))
        .await?;
    let same_identity = federated_user("second@example.com");
    let s2 = session_of(&same_identity);
    check_eq!(
        store
            .create_federated_user(&same_identity, &identity("sub-3"), &s2)
            .await?,
        Insert::AlreadyExists
    );
    check_eq!(
        store.user_by_email(&same_identity.email).await?,
        None,
        "no user without its identity"
    );
    check_eq!(
        store.user_by_identity(&identity("sub-3")).await?,
        Some(first)
    );
    Ok(())
}

pub async fn exactly_one_of_many_concurrent_first_federated_sign_ins_wins(
    store: Arc<dyn Store>,
) -> Outcome {
    let outcomes = concurrently((0..8).map(|i| {
        let store = Arc::clone(&store);
        async move {
            let u = federated_user(&format!("racer{i}@example.com"));
            store
                .create_federated_user(&u, &identity("racing-sub"), &session_of(&u))
                .await
        }
    }))
    .await?;
    check_eq!(
        outcomes.iter().filter(|o| **o == Insert::Inserted).count(),
        1
    );
    Ok(())
}

pub async fn an_identity_links_to_one_user_only(store: Arc<dyn Store>) -> Outcome {
    let a = user("a@example.com");
    let b = user("b@example.com");
    store.create_user(&a, &session_of(&a)).await?;
    store.create_user(&b, &session_of(&b)).await?;
    check_eq!(
        store.link_identity(&identity("sub-4"), &a.id).await?,
        Insert::Inserted
    );
    check_eq!(
        store.link_identity(&identity("sub-4"), &b.id).await?,
        Insert::AlreadyExists
    );
    check_eq!(store.user_by_identity(&identity("sub-4")).await?, Some(a));
    Ok(())
}

// --- device authorizations and refresh tokens -------------------------------------------------

/// The store sees user codes only as hashes; which hash is the endpoints' business.
pub fn code(user_code: &str) -> TokenHash {
    TokenHash::of(user_code.as_bytes())
}

/// A pending device authorization for `user_code`, at version 0, live until `expires_at`.
pub fn device(user_code: &str, expires_at: UnixTime) -> DeviceAuthorization {
    DeviceAuthorization {
        device_code_hash: SessionToken::generate().unwrap().hash(),
        user_code_hash: code(user_code),
        client_id: "cli".into(),
        scope: "openid offline_access".into(),
        status: DeviceStatus::Pending,
        interval: std::time::Duration::from_secs(5),
        last_polled_at: None,
        expires_at,
        version: 0,
        created_at: T0,
        requested_from: "2001:db8:1:2::/64".into(),
    }
}

/// An approval by a fresh user at epoch 7.
pub fn approval() -> DeviceStatus {
    DeviceStatus::Approved {
        user_id: UserId::generate().unwrap(),
        user_epoch: 7,
    }
}

/// A refresh token of `family`, for a fresh user: a day to live, thirty for its family.
pub fn refresh(family: &str, active: bool) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: SessionToken::generate().unwrap().hash(),
        family_id: family.into(),
        user_id: UserId::generate().unwrap(),
        client_id: "cli".into(),
        scope: "openid".into(),
        user_epoch: 3,
        active,
        expires_at: T0.plus(DAY),
        family_expires_at: T0.plus(30 * DAY),
    }
}

pub async fn a_live_user_code_is_claimed_once(store: Arc<dyn Store>) -> Outcome {
    let first = device("BCDFGHJK", T0.plus(DAY));
    check_eq!(
        store.create_device_authorization(&first, T0).await?,
        Insert::Inserted
    );
    let clash = device("BCDFGHJK", T0.plus(DAY));
    check_eq!(
        store.create_device_authorization(&clash, T0).await?,
        Insert::AlreadyExists
    );
    check_eq!(
        store
            .device_authorization(&clash.device_code_hash, T0)
            .await?,
        None
    );
    check_eq!(
        store
            .device_authorization_by_user_code(&code("BCDFGHJK"), T0)
            .await?,
        Some(first.clone())
    );
    check_eq!(
        store
            .device_authorization(&first.device_code_hash, T0)
            .await?,
        Some(first.clone())
    );

    // Once the first has expired, its user code may be handed out again.
    let later = first.expires_at;
    check_eq!(
        store
            .device_authorization_by_user_code(&code("BCDFGHJK"), later)
            .await?,
        None
    );
    let reuse = device("BCDFGHJK", later.plus(DAY));
    check_eq!(
        store.create_device_authorization(&reuse, later).await?,
        Insert::Inserted
    );
    check_eq!(
        store
            .device_authorization_by_user_code(&code("BCDFGHJK"), later)
            .await?,
        Some(reuse)
    );
    Ok(())
}

pub async fn device_updates_are_compare_and_swap(store: Arc<dyn Store>) -> Outcome {
    let d = device("LMNPQRST", T0.plus(DAY));
    store.create_device_authorization(&d, T0).await?;
    let approved = DeviceAuthorization {
        status: approval(),
        last_polled_at: Some(T0),
        version: 1,
        ..d.clone()
    };
    check!(store.update_device_authorization(&approved).await?);
    check!(
        !store.update_device_authorization(&approved).await?,
        "a second update from the same read fails"
    );
    check_eq!(
        store.device_authorization(&d.device_code_hash, T0).await?,
        Some(approved)
    );
    Ok(())
}

pub async fn exactly_one_of_many_concurrent_device_approvals_lands(
    store: Arc<dyn Store>,
) -> Outcome {
    let d = device("VWXZBCDF", T0.plus(DAY));
    store.create_device_authorization(&d, T0).await?;
    let landed = concurrently((0..8).map(|_| {
        let store = Arc::clone(&store);
        let next = DeviceAuthorization {
            status: approval(),
            version: 1,
            ..d.clone()
        };
        async move { store.update_device_authorization(&next).await }
    }))
    .await?;
    check_eq!(landed.iter().filter(|l| **l).count(), 1);
    Ok(())
}

pub async fn an_answer_lands_once_and_only_while_the_code_is_pending(
    store: Arc<dyn Store>,
) -> Outcome {
    let d = device("BCDFLMNP", T0.plus(DAY));
    store.create_device_authorization(&d, T0).await?;
    let approved = approval();
    check!(
        store
            .decide_device_authorization(&d.device_code_hash, &approved, T0)
            .await?
    );
    let stored = store
        .device_authorization(&d.device_code_hash, T0)
        .await?
        .found()?;
    check_eq!(
        stored,
        DeviceAuthorization {
            status: approved,
            version: 1,
            ..d.clone()
        },
        "the answer and its epoch are kept"
    );
    check!(
        !store
            .decide_device_authorization(&d.device_code_hash, &DeviceStatus::Denied, T0)
            .await?,
        "answered already"
    );
    // A stale poll (read before the answer) cannot overwrite it.
    check!(
        !store
            .update_device_authorization(&DeviceAuthorization {
                last_polled_at: Some(T0),
                version: 1,
                ..d.clone()
            })
            .await?
    );
    check_eq!(
        store.device_authorization(&d.device_code_hash, T0).await?,
        Some(stored)
    );

    let late = device("BCDFLMNQ", T0.plus(DAY));
    store.create_device_authorization(&late, T0).await?;
    check!(
        !store
            .decide_device_authorization(&late.device_code_hash, &approval(), late.expires_at)
            .await?,
        "expired"
    );
    let never = SessionToken::generate().unwrap().hash();
    check!(
        !store
            .decide_device_authorization(&never, &approval(), T0)
            .await?,
        "unknown"
    );
    Ok(())
}

pub async fn polls_racing_the_users_approval_never_make_it_fail(store: Arc<dyn Store>) -> Outcome {
    for round in 0..5 {
        let d = device(&format!("RACEPLL{round}"), T0.plus(DAY));
        store.create_device_authorization(&d, T0).await?;
        // Devices poll as the token endpoint does: read, then compare-and-swap a new poll
        // time, over and over, while the user answers once.
        let pollers = concurrently((0..6).map(|_| {
            let store = Arc::clone(&store);
            let hash = d.device_code_hash;
            async move {
                for _ in 0..5 {
                    let read = store.device_authorization(&hash, T0).await?.found()?;
                    let polled = DeviceAuthorization {
                        last_polled_at: Some(T0),
                        version: read.version + 1,
                        ..read
                    };
                    store.update_device_authorization(&polled).await?;
                }
                Ok::<_, Failure>(())
            }
        }));
        let answer = approval();
        let (approved, polled) = join(
            store.decide_device_authorization(&d.device_code_hash, &answer, T0),
            pollers,
        )
        .await;
        polled?;
        check!(
            approved?,
            "round {round}: the approval failed while the code was pending"
        );
        let stored = store
            .device_authorization(&d.device_code_hash, T0)
            .await?
            .found()?;
        check_eq!(
            stored.status,
            answer,
            "round {round}: a poll overwrote the answer"
        );
    }
    Ok(())
}

pub async fn exactly_one_of_many_concurrent_answers_lands(store: Arc<dyn Store>) -> Outcome {
    let d = device("XZBCDFGH", T0.plus(DAY));
    store.create_device_authorization(&d, T0).await?;
    let landed = concurrently((0..8).map(|i| {
        let store = Arc::clone(&store);
        let hash = d.device_code_hash;
        let answer = if i % 2 == 0 {
            approval()
        } else {
            DeviceStatus::Denied
        };
        async move { store.decide_device_authorization(&hash, &answer, T0).await }
    }))
    .await?;
    check_eq!(landed.iter().filter(|l| **l).count(), 1);
    Ok(())
}

pub async fn a_refresh_token_rotates_once(store: Arc<dyn Store>) -> Outcome {
    let old = refresh("fam-1", true);
    store.put_refresh_token(&old).await?;
    let new = refresh("fam-1", true);
    check_eq!(
        store.rotate_refresh_token(&old.token_hash, &new).await?,
        Rotation::Rotated
    );
    check!(
        !store
            .refresh_token(&old.token_hash, T0)
            .await?
            .found()?
            .active
    );
    check_eq!(
        store.refresh_token(&new.token_hash, T0).await?,
        Some(new.clone())
    );
    let again = refresh("fam-1", true);
    check_eq!(
        store.rotate_refresh_token(&old.token_hash, &again).await?,
        Rotation::AlreadyUsed
    );
    check_eq!(
        store.refresh_token(&again.token_hash, T0).await?,
        None,
        "a failed rotation stores nothing"
    );
    check_eq!(
        store.refresh_token(&new.token_hash, new.expires_at).await?,
        None,
        "expired tokens are absent"
    );
    Ok(())
}

pub async fn exactly_one_of_many_concurrent_rotations_wins(store: Arc<dyn Store>) -> Outcome {
    let old = refresh("fam-2", true);
    store.put_refresh_token(&old).await?;
    let rotations = concurrently((0..8).map(|_| {
        let store = Arc::clone(&store);
        let hash = old.token_hash;
        async move {
            store
                .rotate_refresh_token(&hash, &refresh("fam-2", true))
                .await
        }
    }))
    .await?;
    check_eq!(
        rotations
            .iter()
            .filter(|r| **r == Rotation::Rotated)
            .count(),
        1
    );
    Ok(())
}

pub async fn a_token_of_a_revoked_family_does_not_rotate(store: Arc<dyn Store>) -> Outcome {
    let old = refresh("fam-5", true);
    store.put_refresh_token(&old).await?;
    store
        .revoke_token_family("fam-5", old.family_expires_at)
        .await?;
    let new = refresh("fam-5", true);
    check_eq!(
        store.rotate_refresh_token(&old.token_hash, &new).await?,
        Rotation::AlreadyUsed
    );
    check_eq!(
        store.refresh_token(&new.token_hash, T0).await?,
        None,
        "nothing stored for a revoked family"
    );
    check!(
        store
            .refresh_token(&old.token_hash, T0)
            .await?
            .found()?
            .active,
        "nothing written at all"
    );
    Ok(())
}

pub async fn revoked_families_stay_revoked_until_their_end(store: Arc<dyn Store>) -> Outcome {
    check!(!store.is_token_family_revoked("fam-3", T0).await?);
    store.revoke_token_family("fam-3", T0.plus(DAY)).await?;
    check!(store.is_token_family_revoked("fam-3", T0).await?);
    check!(!store.is_token_family_revoked("fam-3", T0.plus(DAY)).await?);
    check!(!store.is_token_family_revoked("fam-4", T0).await?);
    Ok(())
}

// --- mailed challenges and proven addresses ----------------------------------------------------

/// How many wrong codes kill a challenge in these cases (the endpoints use `mailed::MAX_CODE_FAILURES`).
pub const MAX_FAILURES: u32 = 5;

/// A challenge under `key` for `email`, with fresh token and code hashes, mailed at `T0` and
/// live until `expires_at`.
pub fn challenge(
    key: ChallengeKey,
    email: &str,
    action: ChallengeAction,
    expires_at: UnixTime,
) -> EmailChallenge {
    EmailChallenge {
        key,
        email: Email::parse(email).unwrap(),
        token_hash: MailToken::generate().unwrap().hash(),
        code_hash: TokenHash::of(SessionToken::generate().unwrap().hash().as_bytes()),
        failures: 0,
        action,
        created_at: T0,
        expires_at,
    }
}

/// A pending sign-up of `candidate` (its id and password hash), live for a day.
pub fn sign_up_challenge(candidate: &UserRecord) -> EmailChallenge {
    let action = ChallengeAction::SignUp {
        user_id: candidate.id.clone(),
        password_hash: candidate.password_hash.clone().unwrap(),
    };
    challenge(
        ChallengeKey::sign_up(&candidate.email),
        candidate.email.as_str(),
        action,
        T0.plus(DAY),
    )
}

/// A password reset for `user`, live for a day.
pub fn reset_challenge(user: &UserRecord) -> EmailChallenge {
    let action = ChallengeAction::ResetPassword {
        user_id: user.id.clone(),
    };
    challenge(
        ChallengeKey::password_reset(&user.email),
        user.email.as_str(),
        action,
        T0.plus(DAY),
    )
}

/// Like [`user`], with its address proven.
pub fn verified_user(email: &str) -> UserRecord {
    UserRecord {
        email_verified: true,
        ..user(email)
    }
}

/// A password hash different from every fixture's.
pub fn new_password() -> PasswordHashString {
    PasswordHashString::from_stored("$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3IGhhc2g".into())
}

pub async fn a_challenge_reads_back_by_key_and_by_token_whatever_its_action(
    store: Arc<dyn Store>,
) -> Outcome {
    let someone = user("someone@example.com");
    let id = someone.id.clone();
    let email = &someone.email;
    let challenges = [
        sign_up_challenge(&someone),
        challenge(
            ChallengeKey::password_reset(email),
            "someone@example.com",
            ChallengeAction::ResetPassword {
                user_id: id.clone(),
            },
            T0.plus(DAY),
        ),
        challenge(
            ChallengeKey::sign_in_code(email),
            "someone@example.com",
            ChallengeAction::SignIn {
                user_id: id.clone(),
            },
            T0.plus(DAY),
        ),
        challenge(
            ChallengeKey::email_change(&id),
            "new.address@example.com",
            ChallengeAction::ChangeEmail {
                user_id: id.clone(),
            },
            T0.plus(DAY),
        ),
    ];
    for c in &challenges {
        store.put_challenge(c).await?;
    }
    for c in &challenges {
        check_eq!(
            store.challenge(&c.key, T0).await?.as_ref(),
            Some(c),
            "by key {}",
            c.key.as_str()
        );
        check_eq!(
            store.challenge_by_token(&c.token_hash, T0).await?.as_ref(),
            Some(c),
            "by token {}",
            c.key.as_str()
        );
    }
    check_eq!(
        store
            .challenge(
                &ChallengeKey::sign_up(&Email::parse("nobody@example.com").unwrap()),
                T0
            )
            .await?,
        None
    );
    check_eq!(
        store
            .challenge_by_token(&MailToken::generate().unwrap().hash(), T0)
            .await?,
        None
    );
    Ok(())
}

pub async fn a_new_challenge_under_a_key_voids_the_old_one(store: Arc<dyn Store>) -> Outcome {
    let candidate = user("squatted@example.com");
    let old = sign_up_challenge(&candidate);
    store.put_challenge(&old).await?;
    // The owner of the address signs up later: their challenge replaces the squatter's.
    let owner = user("squatted@example.com");
    let new = sign_up_challenge(&owner);
    store.put_challenge(&new).await?;

    check_eq!(store.challenge(&new.key, T0).await?.as_ref(), Some(&new));
    check_eq!(
        store.challenge_by_token(&old.token_hash, T0).await?,
        None,
        "the old link stops working"
    );
    check_eq!(
        store
            .challenge_by_token(&new.token_hash, T0)
            .await?
            .as_ref(),
        Some(&new)
    );
    check_eq!(
        store
            .count_challenge_failure(&old.proof(), MAX_FAILURES, T0)
            .await?,
        None,
        "the old code stops working"
    );
    check!(
        !store.take_challenge(&old.proof(), T0).await?,
        "the old challenge cannot be taken"
    );
    check_eq!(
        store
            .complete_sign_up(&old.proof(), &candidate, &session_of(&candidate), T0)
            .await?,
        SignUpOutcome::ChallengeGone
    );
    check_eq!(store.user_by_email(&candidate.email).await?, None);
    // None of that touched the new one.
    check_eq!(store.challenge(&new.key, T0).await?.as_ref(), Some(&new));
    check!(store.take_challenge(&new.proof(), T0).await?);
    Ok(())
}

pub async fn an_expired_challenge_reads_as_absent_and_cannot_be_used(
    store: Arc<dyn Store>,
) -> Outcome {
    let candidate = user("late@example.com");
    let c = sign_up_challenge(&candidate);
    store.put_challenge(&c).await?;
    let existing = user("reset-late@example.com");
    store.create_user(&existing, &session_of(&existing)).await?;
    let reset = reset_challenge(&existing);
    store.put_challenge(&reset).await?;

    check_eq!(
        store
            .challenge(&c.key, before(c.expires_at))
            .await?
            .as_ref(),
        Some(&c)
    );
    check_eq!(
        store
            .challenge_by_token(&c.token_hash, before(c.expires_at))
            .await?
            .as_ref(),
        Some(&c)
    );
    // Expiry is exclusive: at `expires_at` it is gone, whether or not the backend deleted it.
    let late = c.expires_at;
    check_eq!(store.challenge(&c.key, late).await?, None);
    check_eq!(store.challenge_by_token(&c.token_hash, late).await?, None);
    check_eq!(
        store
            .count_challenge_failure(&c.proof(), MAX_FAILURES, late)
            .await?,
        None
    );
    check!(!store.take_challenge(&c.proof(), late).await?);
    check_eq!(
        store
            .complete_sign_up(&c.proof(), &candidate, &session_of(&candidate), late)
            .await?,
        SignUpOutcome::ChallengeGone
    );
    check_eq!(store.user_by_id(&candidate.id).await?, None);
    check_eq!(store.user_by_email(&candidate.email).await?, None);

    check_eq!(
        store
            .set_password(
                &existing.id,
                &new_password(),
                Some(&reset.proof()),
                reset.expires_at
            )
            .await?,
        None
    );
    check_eq!(
        store.user_by_id(&existing.id).await?,
        Some(existing),
        "an expired reset writes nothing"
    );
    Ok(())
}

pub async fn wrong_codes_are_counted_and_the_last_one_deletes_the_challenge(
    store: Arc<dyn Store>,
) -> Outcome {
    let c = sign_up_challenge(&user("guessed@example.com"));
    store.put_challenge(&c).await?;
    for failures in 1..MAX_FAILURES {
        check_eq!(
            store
                .count_challenge_failure(&c.proof(), MAX_FAILURES, T0)
                .await?,
            Some(failures)
        );
        let stored = store.challenge(&c.key, T0).await?.found()?;
        check_eq!(
            stored,
            EmailChallenge {
                failures,
                ..c.clone()
            },
            "only the count changes"
        );
    }
    check_eq!(
        store
            .count_challenge_failure(&c.proof(), MAX_FAILURES, T0)
            .await?,
        Some(MAX_FAILURES)
    );
    check_eq!(
        store.challenge(&c.key, T0).await?,
        None,
        "the last wrong code kills it"
    );
    check_eq!(
        store.challenge_by_token(&c.token_hash, T0).await?,
        None,
        "its link dies with it"
    );
    check!(!store.take_challenge(&c.proof(), T0).await?);
    check_eq!(
        store
            .count_challenge_failure(&c.proof(), MAX_FAILURES, T0)
            .await?,
        None
    );

    // A replacement starts again at zero, and failures counted against the old one do not touch it.
    let old = sign_up_challenge(&user("guessed2@example.com"));
    store.put_challenge(&old).await?;
    store
        .count_challenge_failure(&old.proof(), MAX_FAILURES, T0)
        .await?;
    let new = EmailChallenge {
        token_hash: MailToken::generate().unwrap().hash(),
        failures: 0,
        ..old.clone()
    };
    store.put_challenge(&new).await?;
    check_eq!(
        store
            .count_challenge_failure(&old.proof(), MAX_FAILURES, T0)
            .await?,
        None
    );
    check_eq!(store.challenge(&new.key, T0).await?.found()?.failures, 0);
    Ok(())
}

pub async fn concurrent_wrong_codes_are_each_counted_once(store: Arc<dyn Store>) -> Outcome {
    let c = sign_up_challenge(&user("hammered@example.com"));
    store.put_challenge(&c).await?;
    let counted = concurrently((0..MAX_FAILURES + 3).map(|_| {
        let (store, proof) = (Arc::clone(&store), c.proof());
        async move {
            store
                .count_challenge_failure(&proof, MAX_FAILURES, T0)
                .await
        }
    }))
    .await?;
    let counts: BTreeSet<u32> = counted.iter().flatten().copied().collect();
    check_eq!(
        counts,
        (1..=MAX_FAILURES).collect::<BTreeSet<u32>>(),
        "each count once: {counted:?}"
    );
    check_eq!(
        counted.iter().filter(|c| c.is_none()).count(),
        3,
        "the rest found it gone: {counted:?}"
    );
    check_eq!(store.challenge(&c.key, T0).await?, None);
    Ok(())
}

pub async fn exactly_one_of_many_concurrent_takers_gets_the_challenge(
    store: Arc<dyn Store>,
) -> Outcome {
    let c = sign_up_challenge(&user("clicked-twice@example.com"));
    store.put_challenge(&c).await?;
    let taken = concurrently((0..8).map(|_| {
        let (store, proof) = (Arc::clone(&store), c.proof());
        async move { store.take_challenge(&proof, T0).await }
    }))
    .await?;
    check_eq!(taken.iter().filter(|t| **t).count(), 1, "{taken:?}");
    check_eq!(store.challenge(&c.key, T0).await?, None);
    check_eq!(store.challenge_by_token(&c.token_hash, T0).await?, None);
    Ok(())
}

pub async fn completing_a_sign_up_creates_the_user_and_its_session_and_takes_the_challenge(
    store: Arc<dyn Store>,
) -> Outcome {
    let candidate = verified_user("proven@example.com");
    let c = sign_up_challenge(&candidate);
    store.put_challenge(&c).await?;
    let session = session_of(&candidate);
    check_eq!(
        store
            .complete_sign_up(&c.proof(), &candidate, &session, T0)
            .await?,
        SignUpOutcome::Created
    );

    check_eq!(
        store.user_by_email(&candidate.email).await?.as_ref(),
        Some(&candidate)
    );
    check_eq!(
        store.user_by_id(&candidate.id).await?.as_ref(),
        Some(&candidate)
    );
    check_eq!(store.session(&session.token_hash, T0).await?, Some(session));
    check_eq!(store.challenge(&c.key, T0).await?, None);
    check_eq!(store.challenge_by_token(&c.token_hash, T0).await?, None);
    // The email claim holds: a plain sign-up with the address is refused.
    let twin = user("PROVEN@example.com");
    check_eq!(
        store.create_user(&twin, &session_of(&twin)).await?,
        Insert::AlreadyExists
    );

    // The same link again: gone, and nothing more is written.
    let again = user("proven@example.com");
    let again_session = session_of(&again);
    check_eq!(
        store
            .complete_sign_up(&c.proof(), &again, &again_session, T0)
            .await?,
        SignUpOutcome::ChallengeGone
    );
    check_eq!(store.user_by_id(&again.id).await?, None);
    check_eq!(store.session(&again_session.token_hash, T0).await?, None);
    Ok(())
}

pub async fn a_sign_up_whose_challenge_is_gone_writes_nothing(store: Arc<dyn Store>) -> Outcome {
    let candidate = verified_user("never-mailed@example.com");
    let never_put = sign_up_challenge(&candidate);
    let session = session_of(&candidate);
    check_eq!(
        store
            .complete_sign_up(&never_put.proof(), &candidate, &session, T0)
            .await?,
        SignUpOutcome::ChallengeGone
    );

    let taken = sign_up_challenge(&candidate);
    store.put_challenge(&taken).await?;
    check!(store.take_challenge(&taken.proof(), T0).await?);
    check_eq!(
        store
            .complete_sign_up(&taken.proof(), &candidate, &session, T0)
            .await?,
        SignUpOutcome::ChallengeGone
    );

    check_eq!(store.user_by_email(&candidate.email).await?, None);
    check_eq!(store.user_by_id(&candidate.id).await?, None);
    check_eq!(store.session(&session.token_hash, T0).await?, None);
    Ok(())
}

pub async fn a_sign_up_onto_a_taken_address_writes_nothing_and_leaves_the_challenge(
    store: Arc<dyn Store>,
) -> Outcome {
    let existing = verified_user("taken@example.com");
    store.create_user(&existing, &session_of(&existing)).await?;
    let candidate = verified_user("Taken@example.com");
    let c = EmailChallenge {
        failures: 2,
        ..sign_up_challenge(&candidate)
    };
    store.put_challenge(&c).await?;
    let session = session_of(&candidate);
    check_eq!(
        store
            .complete_sign_up(&c.proof(), &candidate, &session, T0)
            .await?,
        SignUpOutcome::EmailTaken
    );
    check_eq!(store.user_by_id(&candidate.id).await?, None);
    check_eq!(store.session(&session.token_hash, T0).await?, None);
    check_eq!(
        store.user_by_email(&existing.email).await?,
        Some(existing.clone())
    );
    check_eq!(
        store.challenge(&c.key, T0).await?.as_ref(),
        Some(&c),
        "left for the caller to take"
    );

    // A clash of user ids (the address is free): the address must not be claimed either.
    let clash = UserRecord {
        email: Email::parse("free@example.com").unwrap(),
        ..existing.clone()
    };
    let clash_challenge = sign_up_challenge(&clash);
    store.put_challenge(&clash_challenge).await?;
    let clash_session = session_of(&clash);
    check_eq!(
        store
            .complete_sign_up(&clash_challenge.proof(), &clash, &clash_session, T0)
            .await?,
        SignUpOutcome::EmailTaken
    );
    check_eq!(store.user_by_email(&clash.email).await?, None);
    check_eq!(store.user_by_id(&existing.id).await?, Some(existing));
    check_eq!(store.session(&clash_session.token_hash, T0).await?, None);
    check_eq!(
        store.challenge(&clash_challenge.key, T0).await?,
        Some(clash_challenge)
    );
    Ok(())
}

pub async fn exactly_one_of_many_concurrent_sign_up_completions_wins(
    store: Arc<dyn Store>,
) -> Outcome {
    let c = sign_up_challenge(&user("double-click@example.com"));
    store.put_challenge(&c).await?;
    let outcomes = concurrently((0..8).map(|_| {
        // Each request made its own user id and session, as the endpoint does.
        let candidate = verified_user("double-click@example.com");
        let session = session_of(&candidate);
        let (store, proof) = (Arc::clone(&store), c.proof());
        async move {
            store
                .complete_sign_up(&proof, &candidate, &session, T0)
                .await
                .map(|o| (candidate, session, o))
        }
    }))
    .await?;

    let created = outcomes
        .iter()
        .filter(|(_, _, o)| *o == SignUpOutcome::Created)
        .count();
    check_eq!(
        created,
        1,
        "{:?}",
        outcomes.iter().map(|(_, _, o)| o).collect::<Vec<_>>()
    );
    for (candidate, session, outcome) in &outcomes {
        let stored = *outcome == SignUpOutcome::Created;
        check!(
            stored || *outcome == SignUpOutcome::ChallengeGone,
            "a loser got {outcome:?}"
        );
        check_eq!(store.user_by_id(&candidate.id).await?.is_some(), stored);
        check_eq!(
            store.session(&session.token_hash, T0).await?.is_some(),
            stored
        );
    }
    check_eq!(store.challenge(&c.key, T0).await?, None);
    Ok(())
}

pub async fn setting_a_password_bumps_the_epoch_and_ends_every_session_of_the_user(
    store: Arc<dyn Store>,
) -> Outcome {
    let alice = user("alice@example.com");
    let bob = user("bob@example.com");
    let alice_sessions = [session_of(&alice), session_of(&alice)];
    let bob_session = session_of(&bob);
    store.create_user(&alice, &alice_sessions[0]).await?;
    store.put_session(&alice_sessions[1]).await?;
    store.create_user(&bob, &bob_session).await?;

    check_eq!(
        store
            .set_password(&alice.id, &new_password(), None, T0)
            .await?,
        Some(1)
    );
    let stored = store.user_by_id(&alice.id).await?.found()?;
    check_eq!(
        stored,
        UserRecord {
            password_hash: Some(new_password()),
            session_epoch: 1,
            ..alice.clone()
        },
        "without a proof the address stays unproven"
    );
    for session in &alice_sessions {
        check_eq!(store.session(&session.token_hash, T0).await?, None);
    }
    check_eq!(
        store.session(&bob_session.token_hash, T0).await?,
        Some(bob_session)
    );
    check_eq!(store.user_by_id(&bob.id).await?, Some(bob));

    check_eq!(
        store
            .set_password(&alice.id, &new_password(), None, T0)
            .await?,
        Some(2),
        "each change bumps again"
    );
    let nobody = UserId::generate().unwrap();
    check_eq!(
        store
            .set_password(&nobody, &new_password(), None, T0)
            .await?,
        None
    );
    check_eq!(
        store.user_by_id(&nobody).await?,
        None,
        "an unknown user is not created"
    );
    Ok(())
}

pub async fn a_reset_takes_its_challenge_and_proves_the_address(store: Arc<dyn Store>) -> Outcome {
    let forgetful = user("forgetful@example.com");
    let session = session_of(&forgetful);
    store.create_user(&forgetful, &session).await?;
    let reset = reset_challenge(&forgetful);
    store.put_challenge(&reset).await?;

    check_eq!(
        store
            .set_password(&forgetful.id, &new_password(), Some(&reset.proof()), T0)
            .await?,
        Some(1)
    );
    let expected = UserRecord {
        password_hash: Some(new_password()),
        session_epoch: 1,
        email_verified: true,
        ..forgetful.clone()
    };
    check_eq!(
        store.user_by_id(&forgetful.id).await?.as_ref(),
        Some(&expected)
    );
    check_eq!(
        store.user_by_email(&forgetful.email).await?.as_ref(),
        Some(&expected)
    );
    check_eq!(store.session(&session.token_hash, T0).await?, None);
    check_eq!(
        store.challenge(&reset.key, T0).await?,
        None,
        "a reset link works once"
    );
    check!(!store.take_challenge(&reset.proof(), T0).await?);

    // The same link again writes nothing.
    let other =
        PasswordHashString::from_stored("$argon2id$v=19$m=19456,t=2,p=1$b3RoZXI$b3RoZXI".into());
    check_eq!(
        store
            .set_password(&forgetful.id, &other, Some(&reset.proof()), T0)
            .await?,
        None
    );
    check_eq!(store.user_by_id(&forgetful.id).await?, Some(expected));
    Ok(())
}

pub async fn a_reset_with_a_gone_challenge_or_for_an_unknown_user_writes_nothing(
    store: Arc<dyn Store>,
) -> Outcome {
    let forgetful = user("forgetful@example.com");
    let session = session_of(&forgetful);
    store.create_user(&forgetful, &session).await?;
    let replaced = reset_challenge(&forgetful);
    store.put_challenge(&replaced).await?;
    let live = reset_challenge(&forgetful);
    store.put_challenge(&live).await?;

    check_eq!(
        store
            .set_password(&forgetful.id, &new_password(), Some(&replaced.proof()), T0)
            .await?,
        None
    );
    let never_put = reset_challenge(&forgetful);
    check_eq!(
        store
            .set_password(&forgetful.id, &new_password(), Some(&never_put.proof()), T0)
            .await?,
        None
    );
    check_eq!(
        store.user_by_id(&forgetful.id).await?.as_ref(),
        Some(&forgetful),
        "password, epoch and proof untouched"
    );
    check_eq!(
        store.session(&session.token_hash, T0).await?.as_ref(),
        Some(&session),
        "its sessions still count"
    );
    check_eq!(store.challenge(&live.key, T0).await?.as_ref(), Some(&live));

    // A live challenge, but its user is gone: nothing is created, and the challenge stays.
    let nobody = UserId::generate().unwrap();
    check_eq!(
        store
            .set_password(&nobody, &new_password(), Some(&live.proof()), T0)
            .await?,
        None
    );
    check_eq!(store.user_by_id(&nobody).await?, None);
    check_eq!(store.challenge(&live.key, T0).await?, Some(live));
    Ok(())
}

pub async fn marking_an_address_proven_needs_the_user_to_still_have_it(
    store: Arc<dyn Store>,
) -> Outcome {
    let legacy = user("legacy@example.com");
    let session = session_of(&legacy);
    store.create_user(&legacy, &session).await?;
    // The address the code went to is no longer the user's: nothing is written.
    check!(
        !store
            .mark_email_verified(&legacy.id, &Email::parse("elsewhere@example.com").unwrap())
            .await?
    );
    check!(!store.user_by_id(&legacy.id).await?.found()?.email_verified);
    check!(
        !store
            .mark_email_verified(&UserId::generate().unwrap(), &legacy.email)
            .await?,
        "an unknown user"
    );
    check!(store.mark_email_verified(&legacy.id, &legacy.email).await?);
    // Proven, and nothing else changed: the same record but for the flag, the session still valid.
    let expected = UserRecord {
        email_verified: true,
        ..legacy.clone()
    };
    check_eq!(
        store.user_by_email(&legacy.email).await?,
        Some(expected.clone())
    );
    check_eq!(
        store
            .session(&session.token_hash, T0)
            .await?
            .found()?
            .user_epoch,
        0
    );
    check!(
        store.mark_email_verified(&legacy.id, &legacy.email).await?,
        "idempotent"
    );
    check_eq!(store.user_by_id(&legacy.id).await?, Some(expected));
    Ok(())
}

pub async fn users_keep_whether_their_address_is_proven(store: Arc<dyn Store>) -> Outcome {
    let proven = verified_user("proven@example.com");
    let unproven = user("unproven@example.com");
    let federated = UserRecord {
        email_verified: true,
        ..federated_user("federated@example.com")
    };
    store.create_user(&proven, &session_of(&proven)).await?;
    store.create_user(&unproven, &session_of(&unproven)).await?;
    store
        .create_federated_user(
            &federated,
            &identity("verified-sub"),
            &session_of(&federated),
        )
        .await?;
    for u in [&proven, &unproven, &federated] {
        check_eq!(
            store.user_by_id(&u.id).await?.found()?.email_verified,
            u.email_verified,
            "{}",
            u.email.as_str()
        );
        check_eq!(store.user_by_email(&u.email).await?.as_ref(), Some(u));
    }
    check_eq!(
        store.user_by_identity(&identity("verified-sub")).await?,
        Some(federated)
    );
    // Bumping the epoch keeps it.
    store.revoke_all_sessions(&proven.id).await?;
    check!(store.user_by_id(&proven.id).await?.found()?.email_verified);
    Ok(())
}

// --- email changes and account deletion --------------------------------------------------------

/// A change of `user`'s address to `new_email`, live for a day.
pub fn email_change_challenge(user: &UserRecord, new_email: &str) -> EmailChallenge {
    let action = ChallengeAction::ChangeEmail {
        user_id: user.id.clone(),
    };
    challenge(
        ChallengeKey::email_change(&user.id),
        new_email,
        action,
        T0.plus(DAY),
    )
}

/// A one-time sign-in code for `user`, live for a day.
pub fn sign_in_code_challenge(user: &UserRecord) -> EmailChallenge {
    let action = ChallengeAction::SignIn {
        user_id: user.id.clone(),
    };
    challenge(
        ChallengeKey::sign_in_code(&user.email),
        user.email.as_str(),
        action,
        T0.plus(DAY),
    )
}

/// Checks that `user` reads back exactly as given, by id and by its address, and that
/// `not_claimed` has no account: what "nothing was written" looks like after a refused change.
async fn still_unchanged(store: &dyn Store, user: &UserRecord, not_claimed: &Email) -> Outcome {
    check_eq!(store.user_by_id(&user.id).await?.as_ref(), Some(user));
    check_eq!(store.user_by_email(&user.email).await?.as_ref(), Some(user));
    check_eq!(
        store.user_by_email(not_claimed).await?,
        None,
        "{} was claimed",
        not_claimed.as_str()
    );
    Ok(())
}

pub async fn changing_an_email_moves_the_user_to_the_proven_address_and_frees_the_old_one(
    store: Arc<dyn Store>,
) -> Outcome {
    let mover = user("mover@example.com");
    store.create_user(&mover, &session_of(&mover)).await?;
    let bystander = user("bystander@example.com");
    store
        .create_user(&bystander, &session_of(&bystander))
        .await?;
    let c = email_change_challenge(&mover, "moved@example.com");
    store.put_challenge(&c).await?;

    check_eq!(
        store
            .change_email(&c.proof(), &mover.id, &c.email, T0)
            .await?,
        EmailChange::Changed
    );
    let moved = UserRecord {
        email: c.email.clone(),
        email_verified: true,
        ..mover.clone()
    };
    check_eq!(
        store.user_by_id(&mover.id).await?.as_ref(),
        Some(&moved),
        "the new address, proven; nothing else changes"
    );
    check_eq!(
        store
            .user_by_email(&Email::parse("Moved@Example.com").unwrap())
            .await?
            .as_ref(),
        Some(&moved)
    );
    check_eq!(
        store.user_by_email(&mover.email).await?,
        None,
        "the old address is released"
    );
    check_eq!(
        store.challenge(&c.key, T0).await?,
        None,
        "the link works once"
    );
    check_eq!(store.challenge_by_token(&c.token_hash, T0).await?, None);
    check_eq!(
        store
            .change_email(&c.proof(), &mover.id, &c.email, T0)
            .await?,
        EmailChange::ChallengeGone
    );

    // The new address is claimed; the old one can be signed up for again.
    let twin = user("MOVED@example.com");
    check_eq!(
        store.create_user(&twin, &session_of(&twin)).await?,
        Insert::AlreadyExists
    );
    let newcomer = user("mover@example.com");
    check_eq!(
        store.create_user(&newcomer, &session_of(&newcomer)).await?,
        Insert::Inserted
    );
    check_eq!(store.user_by_email(&mover.email).await?, Some(newcomer));
    check_eq!(store.user_by_id(&mover.id).await?, Some(moved));
    check_eq!(
        store.user_by_email(&bystander.email).await?,
        Some(bystander)
    );
    Ok(())
}

pub async fn an_email_change_whose_challenge_or_user_is_gone_writes_nothing(
    store: Arc<dyn Store>,
) -> Outcome {
    let mover = user("mover@example.com");
    store.create_user(&mover, &session_of(&mover)).await?;
    let new_email = Email::parse("elsewhere@example.com").unwrap();

    let never_put = email_change_challenge(&mover, new_email.as_str());
    check_eq!(
        store
            .change_email(&never_put.proof(), &mover.id, &new_email, T0)
            .await?,
        EmailChange::ChallengeGone
    );
    still_unchanged(&*store, &mover, &new_email).await?;

    let replaced = email_change_challenge(&mover, new_email.as_str());
    store.put_challenge(&replaced).await?;
    let live = email_change_challenge(&mover, new_email.as_str());
    store.put_challenge(&live).await?;
    check_eq!(
        store
            .change_email(&replaced.proof(), &mover.id, &new_email, T0)
            .await?,
        EmailChange::ChallengeGone
    );
    still_unchanged(&*store, &mover, &new_email).await?;

    // Expiry is exclusive: at `expires_at` it is gone, whether or not the backend deleted it.
    check_eq!(
        store
            .change_email(&live.proof(), &mover.id, &new_email, live.expires_at)
            .await?,
        EmailChange::ChallengeGone
    );
    still_unchanged(&*store, &mover, &new_email).await?;
    check_eq!(
        store.challenge(&live.key, T0).await?.as_ref(),
        Some(&live),
        "the live one is untouched"
    );

    check!(store.take_challenge(&live.proof(), T0).await?);
    check_eq!(
        store
            .change_email(&live.proof(), &mover.id, &new_email, T0)
            .await?,
        EmailChange::ChallengeGone
    );
    still_unchanged(&*store, &mover, &new_email).await?;

    // A live challenge, but its user is gone: no user and no claim are made, and it stays.
    let ghost = user("ghost@example.com");
    let haunting = email_change_challenge(&ghost, new_email.as_str());
    store.put_challenge(&haunting).await?;
    check_eq!(
        store
            .change_email(&haunting.proof(), &ghost.id, &new_email, T0)
            .await?,
        EmailChange::ChallengeGone
    );
    check_eq!(store.user_by_id(&ghost.id).await?, None);
    check_eq!(store.user_by_email(&new_email).await?, None);
    check_eq!(store.user_by_email(&ghost.email).await?, None);
    check_eq!(store.challenge(&haunting.key, T0).await?, Some(haunting));
    Ok(())
}

pub async fn an_email_change_onto_a_taken_address_writes_nothing_and_leaves_the_challenge(
    store: Arc<dyn Store>,
) -> Outcome {
    let mover = user("mover@example.com");
    store.create_user(&mover, &session_of(&mover)).await?;
    let owner = verified_user("owner@example.com");
    store.create_user(&owner, &session_of(&owner)).await?;

    let c = EmailChallenge {
        failures: 2,
        ..email_change_challenge(&mover, "Owner@example.com")
    };
    store.put_challenge(&c).await?;
    check_eq!(
        store
            .change_email(&c.proof(), &mover.id, &c.email, T0)
            .await?,
        EmailChange::EmailTaken
    );
    check_eq!(store.user_by_id(&mover.id).await?.as_ref(), Some(&mover));
    check_eq!(
        store.user_by_email(&mover.email).await?.as_ref(),
        Some(&mover)
    );
    check_eq!(store.user_by_id(&owner.id).await?.as_ref(), Some(&owner));
    check_eq!(
        store.user_by_email(&owner.email).await?.as_ref(),
        Some(&owner),
        "the owner keeps its address"
    );
    check_eq!(
        store.challenge(&c.key, T0).await?.as_ref(),
        Some(&c),
        "left for the caller to take"
    );

    // Its own address has an account too: the user's own.
    let own = email_change_challenge(&mover, "MOVER@example.com");
    store.put_challenge(&own).await?;
    check_eq!(
        store
            .change_email(&own.proof(), &mover.id, &own.email, T0)
            .await?,
        EmailChange::EmailTaken
    );
    check_eq!(
        store.user_by_id(&mover.id).await?.as_ref(),
        Some(&mover),
        "not even proven"
    );
    check_eq!(store.user_by_email(&mover.email).await?, Some(mover));
    check_eq!(store.challenge(&own.key, T0).await?, Some(own));
    Ok(())
}

pub async fn exactly_one_of_many_concurrent_email_changes_of_one_challenge_wins(
    store: Arc<dyn Store>,
) -> Outcome {
    let mover = user("double-click@example.com");
    store.create_user(&mover, &session_of(&mover)).await?;
    let c = email_change_challenge(&mover, "moved@example.com");
    store.put_challenge(&c).await?;
    let outcomes = concurrently((0..8).map(|_| {
        let (store, proof, id, email) = (
            Arc::clone(&store),
            c.proof(),
            mover.id.clone(),
            c.email.clone(),
        );
        async move { store.change_email(&proof, &id, &email, T0).await }
    }))
    .await?;

    check_eq!(
        outcomes
            .iter()
            .filter(|o| **o == EmailChange::Changed)
            .count(),
        1,
        "{outcomes:?}"
    );
    check!(
        outcomes
            .iter()
            .all(|o| matches!(o, EmailChange::Changed | EmailChange::ChallengeGone)),
        "{outcomes:?}"
    );
    let moved = UserRecord {
        email: c.email.clone(),
        email_verified: true,
        ..mover.clone()
    };
    check_eq!(store.user_by_email(&c.email).await?.as_ref(), Some(&moved));
    check_eq!(store.user_by_id(&mover.id).await?, Some(moved));
    check_eq!(store.user_by_email(&mover.email).await?, None);
    check_eq!(store.challenge(&c.key, T0).await?, None);
    Ok(())
}

pub async fn of_users_racing_onto_one_address_exactly_one_gets_it(
    store: Arc<dyn Store>,
) -> Outcome {
    for round in 0..3 {
        let contested = Email::parse(&format!("contested{round}@example.com")).unwrap();
        let racers: Vec<UserRecord> = (0..4)
            .map(|i| user(&format!("racer{round}-{i}@example.com")))
            .collect();
        let mut challenges = Vec::new();
        for racer in &racers {
            store.create_user(racer, &session_of(racer)).await?;
            let c = email_change_challenge(racer, contested.as_str());
            store.put_challenge(&c).await?;
            challenges.push(c);
        }
        let outcomes = concurrently(racers.iter().zip(&challenges).map(|(racer, c)| {
            let (store, proof, id, email) = (
                Arc::clone(&store),
                c.proof(),
                racer.id.clone(),
                contested.clone(),
            );
            async move { store.change_email(&proof, &id, &email, T0).await }
        }))
        .await?;

        check_eq!(
            outcomes
                .iter()
                .filter(|o| **o == EmailChange::Changed)
                .count(),
            1,
            "round {round}: {outcomes:?}"
        );
        for ((racer, c), outcome) in racers.iter().zip(&challenges).zip(&outcomes) {
            if *outcome == EmailChange::Changed {
                let moved = UserRecord {
                    email: contested.clone(),
                    email_verified: true,
                    ..racer.clone()
                };
                check_eq!(
                    store.user_by_email(&contested).await?.as_ref(),
                    Some(&moved),
                    "round {round}"
                );
                check_eq!(
                    store.user_by_id(&racer.id).await?,
                    Some(moved),
                    "round {round}"
                );
                check_eq!(
                    store.user_by_email(&racer.email).await?,
                    None,
                    "round {round}: the winner's old address"
                );
                check_eq!(store.challenge(&c.key, T0).await?, None, "round {round}");
            } else {
                check_eq!(*outcome, EmailChange::EmailTaken, "round {round}: a loser");
                check_eq!(
                    store.user_by_id(&racer.id).await?.as_ref(),
                    Some(racer),
                    "round {round}"
                );
                check_eq!(
                    store.user_by_email(&racer.email).await?.as_ref(),
                    Some(racer),
                    "round {round}"
                );
                check_eq!(
                    store.challenge(&c.key, T0).await?.as_ref(),
                    Some(c),
                    "round {round}: a loser's challenge stays"
                );
            }
        }
    }
    Ok(())
}

pub async fn deleting_a_user_removes_everything_that_names_it_and_nothing_else(
    store: Arc<dyn Store>,
) -> Outcome {
    let leaving = user("leaving@example.com");
    let staying = user("staying@example.com");
    let leaving_sessions = [session_of(&leaving), session_of(&leaving)];
    let staying_session = session_of(&staying);
    store.create_user(&leaving, &leaving_sessions[0]).await?;
    store.put_session(&leaving_sessions[1]).await?;
    store.create_user(&staying, &staying_session).await?;
    store
        .link_identity(&identity("leaving-sub"), &leaving.id)
        .await?;
    store
        .link_identity(&identity("staying-sub"), &staying.id)
        .await?;

    // One family rotated once and then revoked, and one still live.
    let rotated = RefreshTokenRecord {
        user_id: leaving.id.clone(),
        ..refresh("leaving-family-1", true)
    };
    store.put_refresh_token(&rotated).await?;
    let current = RefreshTokenRecord {
        user_id: leaving.id.clone(),
        ..refresh("leaving-family-1", true)
    };
    check_eq!(
        store
            .rotate_refresh_token(&rotated.token_hash, &current)
            .await?,
        Rotation::Rotated
    );
    store
        .revoke_token_family("leaving-family-1", rotated.family_expires_at)
        .await?;
    let other_family = RefreshTokenRecord {
        user_id: leaving.id.clone(),
        ..refresh("leaving-family-2", true)
    };
    store.put_refresh_token(&other_family).await?;
    let staying_token = RefreshTokenRecord {
        user_id: staying.id.clone(),
        ..refresh("staying-family", true)
    };
    store.put_refresh_token(&staying_token).await?;
    store
        .revoke_token_family("staying-family", staying_token.family_expires_at)
        .await?;

    let leaving_challenges = [
        sign_up_challenge(&leaving),
        reset_challenge(&leaving),
        sign_in_code_challenge(&leaving),
        email_change_challenge(&leaving, "leaving.new@example.com"),
    ];
    let staying_challenges = [
        reset_challenge(&staying),
        sign_in_code_challenge(&staying),
        email_change_challenge(&staying, "staying.new@example.com"),
    ];
    for c in leaving_challenges.iter().chain(&staying_challenges) {
        store.put_challenge(c).await?;
    }
    let counters_of = |u: &UserRecord| {
        [
            CounterKey::sign_in_attempts(&u.email),
            CounterKey::mail_to(&u.email),
        ]
    };
    for key in counters_of(&leaving).iter().chain(&counters_of(&staying)) {
        store.increment(key, T0.plus(DAY), T0).await?;
    }

    let leaving_factors = every_factor_record_of(&*store, &leaving, b"leaving-key").await?;
    let staying_factors = every_factor_record_of(&*store, &staying, b"staying-key").await?;
    // As stored now, with their factors counted.
    let leaving = store.user_by_id(&leaving.id).await?.found()?;
    let staying = store.user_by_id(&staying.id).await?.found()?;

    // Someone else's id with the address: not this store's user, and nothing is done.
    let impostor = UserRecord {
        id: UserId::generate().unwrap(),
        ..leaving.clone()
    };
    check!(!store.delete_user(&impostor).await?);
    check_eq!(
        store.user_by_email(&leaving.email).await?.as_ref(),
        Some(&leaving)
    );
    check_eq!(
        store
            .challenge(&leaving_challenges[1].key, T0)
            .await?
            .as_ref(),
        Some(&leaving_challenges[1])
    );
    check!(
        store
            .counter(&CounterKey::mail_to(&leaving.email), T0)
            .await?
            .is_some()
    );

    check!(store.delete_user(&leaving).await?);

    check_eq!(store.user_by_id(&leaving.id).await?, None);
    check_eq!(store.user_by_email(&leaving.email).await?, None);
    check_eq!(
        store.user_by_identity(&identity("leaving-sub")).await?,
        None
    );
    for s in &leaving_sessions {
        check_eq!(store.session(&s.token_hash, T0).await?, None);
    }
    for t in [&rotated, &current, &other_family] {
        check_eq!(
            store.refresh_token(&t.token_hash, T0).await?,
            None,
            "family {}",
            t.family_id
        );
    }
    check!(
        !store
            .is_token_family_revoked("leaving-family-1", T0)
            .await?,
        "its family's revocation is gone too"
    );
    for c in &leaving_challenges {
        check_eq!(
            store.challenge(&c.key, T0).await?,
            None,
            "{}",
            c.key.as_str()
        );
        check_eq!(
            store.challenge_by_token(&c.token_hash, T0).await?,
            None,
            "{}",
            c.key.as_str()
        );
    }
    for key in counters_of(&leaving) {
        check_eq!(store.counter(&key, T0).await?, None, "{}", key.as_str());
    }
    leaving_factors.check(&*store, true).await?;

    // The other user keeps everything.
    check_eq!(
        store.user_by_id(&staying.id).await?.as_ref(),
        Some(&staying)
    );
    check_eq!(
        store.user_by_email(&staying.email).await?.as_ref(),
        Some(&staying)
    );
    check_eq!(
        store
            .user_by_identity(&identity("staying-sub"))
            .await?
            .as_ref(),
        Some(&staying)
    );
    check_eq!(
        store.session(&staying_session.token_hash, T0).await?,
        Some(staying_session)
    );
    check_eq!(
        store.refresh_token(&staying_token.token_hash, T0).await?,
        Some(staying_token)
    );
    check!(store.is_token_family_revoked("staying-family", T0).await?);
    for c in &staying_challenges {
        check_eq!(
            store.challenge(&c.key, T0).await?.as_ref(),
            Some(c),
            "{}",
            c.key.as_str()
        );
    }
    for key in counters_of(&staying) {
        check_eq!(
            store.counter(&key, T0).await?,
            Some(Counter {
                count: 1,
                expires_at: T0.plus(DAY)
            }),
            "{}",
            key.as_str()
        );
    }

    staying_factors.check(&*store, false).await?;
    check_eq!(
        store
            .take_webauthn_challenge(&staying_factors.registration.challenge_hash, T0)
            .await?,
        Some(staying_factors.registration.clone())
    );

    check!(!store.delete_user(&leaving).await?, "gone already");
    // Its passkey's credential id is free again.
    check_eq!(
        store
            .add_passkey(&passkey(&staying, b"leaving-key"), None)
            .await?,
        authfn::store::PasskeyInsert::Inserted
    );
    // The address and the identity are free again; deleting the old user again touches neither.
    let newcomer = user("leaving@example.com");
    let newcomer_session = session_of(&newcomer);
    check_eq!(
        store.create_user(&newcomer, &newcomer_session).await?,
        Insert::Inserted
    );
    check_eq!(
        store
            .link_identity(&identity("leaving-sub"), &newcomer.id)
            .await?,
        Insert::Inserted
    );
    check!(!store.delete_user(&leaving).await?);
    check_eq!(
        store.user_by_email(&leaving.email).await?.as_ref(),
        Some(&newcomer)
    );
    check_eq!(
        store.user_by_identity(&identity("leaving-sub")).await?,
        Some(newcomer)
    );
    check_eq!(
        store.session(&newcomer_session.token_hash, T0).await?,
        Some(newcomer_session)
    );
    Ok(())
}

pub async fn deleting_a_federated_user_unlinks_every_identity(store: Arc<dyn Store>) -> Outcome {
    let federated = UserRecord {
        email_verified: true,
        ..federated_user("federated@example.com")
    };
    let session = session_of(&federated);
    store
        .create_federated_user(&federated, &identity("first-sub"), &session)
        .await?;
    check_eq!(
        store
            .link_identity(&identity("second-sub"), &federated.id)
            .await?,
        Insert::Inserted
    );

    check!(store.delete_user(&federated).await?);
    check_eq!(store.user_by_identity(&identity("first-sub")).await?, None);
    check_eq!(store.user_by_identity(&identity("second-sub")).await?, None);
    check_eq!(store.user_by_email(&federated.email).await?, None);
    check_eq!(store.user_by_id(&federated.id).await?, None);
    check_eq!(store.session(&session.token_hash, T0).await?, None);

    // Both identities are free: signing in with them again makes a new account.
    let again = UserRecord {
        email_verified: true,
        ..federated_user("federated@example.com")
    };
    check_eq!(
        store
            .create_federated_user(&again, &identity("first-sub"), &session_of(&again))
            .await?,
        Insert::Inserted
    );
    check_eq!(
        store
            .link_identity(&identity("second-sub"), &again.id)
            .await?,
        Insert::Inserted
    );
    check_eq!(
        store.user_by_identity(&identity("second-sub")).await?,
        Some(again)
    );
    Ok(())
}

pub async fn ending_every_session_keeps_the_users_other_records(store: Arc<dyn Store>) -> Outcome {
    let busy = user("busy@example.com");
    let session = session_of(&busy);
    store.create_user(&busy, &session).await?;
    store.link_identity(&identity("busy-sub"), &busy.id).await?;
    let token = RefreshTokenRecord {
        user_id: busy.id.clone(),
        ..refresh("busy-family", true)
    };
    store.put_refresh_token(&token).await?;
    let code = sign_in_code_challenge(&busy);
    store.put_challenge(&code).await?;
    let reset = reset_challenge(&busy);
    store.put_challenge(&reset).await?;

    store.revoke_all_sessions(&busy.id).await?;
    check_eq!(
        store
            .set_password(&busy.id, &new_password(), Some(&reset.proof()), T0)
            .await?,
        Some(2)
    );
    check_eq!(store.session(&session.token_hash, T0).await?, None);
    // The epoch ends the refresh family; the records stay until the store drops them.
    check_eq!(
        store.refresh_token(&token.token_hash, T0).await?,
        Some(token)
    );
    check_eq!(
        store
            .user_by_identity(&identity("busy-sub"))
            .await?
            .found()?
            .id,
        busy.id
    );
    check_eq!(store.challenge(&code.key, T0).await?, Some(code.clone()));
    check_eq!(
        store.challenge_by_token(&code.token_hash, T0).await?,
        Some(code)
    );
    Ok(())
}
