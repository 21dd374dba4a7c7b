//! The [`Store`] contract, written once and run against every backend, so the in-memory store
//! the handler tests use cannot drift from the DynamoDB store production uses.
//!
//! The DynamoDB cases need a local DynamoDB API and are ignored by default; `tests/run.sh`
//! starts one and runs them. Each case makes its own table, so they can run in parallel.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authfn::clock::UnixTime;
use authfn::email::Email;
use authfn::password::PasswordHashString;
use authfn::store::dynamodb::DynamoStore;
use authfn::store::{
    Counter, CounterKey, DeviceAuthorization, DeviceStatus, FederatedIdentity, FederationAttempt, Insert, MemoryStore,
    RefreshTokenRecord, Rotation, SessionRecord, Store, StoreError, UserRecord,
};
use authfn::token::{SessionId, SessionToken, TokenHash, UserId};
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};

/// Runs every contract case against one backend: `contract!(name = factory)`, where
/// `factory()` gives a fresh, empty `Arc<dyn Store>`. Attributes after it go on every case.
macro_rules! contract {
    ($backend:ident = $factory:path $(, #[$attr:meta])*) => {
        mod $backend {
            contract!(@cases $factory, [$(#[$attr])*],
                create_user_refuses_a_taken_email_without_partial_writes,
                create_user_refuses_a_taken_user_id_without_partial_writes,
                exactly_one_of_many_concurrent_sign_ups_wins,
                users_are_found_by_email_and_by_id,
                look_alike_spellings_of_an_email_are_one_user,
                sessions_expire_at_the_idle_deadline,
                sessions_expire_at_the_absolute_deadline,
                renewal_moves_the_idle_deadline,
                renewal_never_creates_a_session,
                deleted_sessions_are_gone,
                revoking_all_sessions_bumps_the_epoch_and_deletes_only_that_users_sessions,
                increments_count_up_and_keep_the_window,
                concurrent_increments_are_atomic,
                an_expired_counter_restarts_at_one_with_the_new_window,
                counters_can_be_put_read_and_deleted,
                a_federation_attempt_is_taken_once_and_only_while_live,
                exactly_one_of_many_concurrent_takers_gets_the_attempt,
                a_federated_user_is_found_by_identity_and_is_passwordless,
                create_federated_user_refuses_a_taken_email_or_identity_without_partial_writes,
                exactly_one_of_many_concurrent_first_federated_sign_ins_wins,
                an_identity_links_to_one_user_only,
                a_live_user_code_is_claimed_once,
                device_updates_are_compare_and_swap,
                exactly_one_of_many_concurrent_device_approvals_lands,
                an_answer_lands_once_and_only_while_the_code_is_pending,
                polls_racing_the_users_approval_never_make_it_fail,
                exactly_one_of_many_concurrent_answers_lands,
                a_refresh_token_rotates_once,
                exactly_one_of_many_concurrent_rotations_wins,
                a_token_of_a_revoked_family_does_not_rotate,
                revoked_families_stay_revoked_until_their_end,
            );
        }
    };
    // One case at a time: the attributes repeat once per case, which a single nested
    // repetition cannot express.
    (@cases $factory:path, [$($attr:tt)*], $case:ident, $($rest:ident,)*) => {
        // Several worker threads, so the concurrency cases really run in parallel.
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        $($attr)*
        async fn $case() {
            super::$case($factory().await).await;
        }
        contract!(@cases $factory, [$($attr)*], $($rest,)*);
    };
    (@cases $factory:path, [$($attr:tt)*],) => {};
}

contract!(memory = super::memory_store);
contract!(dynamodb = super::dynamo_store, #[ignore = "needs a local DynamoDB API: run tests/run.sh"]);

async fn memory_store() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

async fn dynamo_store() -> Arc<dyn Store> {
    let endpoint = std::env::var("AUTHFN_TEST_DYNAMODB_ENDPOINT")
        .expect("AUTHFN_TEST_DYNAMODB_ENDPOINT is unset: run tests/run.sh, or source tests/support/dynamodb-api.sh and run start_dynamodb_api");
    let table = format!("authfn-test-{}", UserId::generate().unwrap());
    let store = DynamoStore::connect_with(local_aws(), table, Some(endpoint)).await;
    store.create_table_if_missing().await.expect("creating the test table");
    Arc::new(store)
}

/// Fixed region and dummy credentials: a local server checks neither, and with them set the
/// SDK never looks for real ones (which would mean calling the instance metadata service).
fn local_aws() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "authfn-tests"))
}

const T0: UnixTime = UnixTime(1_700_000_000);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn user(email: &str) -> UserRecord {
    UserRecord {
        id: UserId::generate().unwrap(),
        email: Email::parse(email).unwrap(),
        password_hash: Some(PasswordHashString::from_stored("x".into())),
        created_at: T0,
        session_epoch: 0,
    }
}

/// A session of `user` created at `T0`, idle after a day, over after thirty.
fn session_of(user: &UserRecord) -> SessionRecord {
    SessionRecord {
        id: SessionId::generate().unwrap(),
        token_hash: SessionToken::generate().unwrap().hash(),
        user_id: user.id.clone(),
        user_epoch: user.session_epoch,
        created_at: T0,
        expires_at: T0.plus(30 * DAY),
        idle_expires_at: T0.plus(DAY),
        renewed_at: T0,
    }
}

fn before(t: UnixTime) -> UnixTime {
    UnixTime(t.0 - 1)
}

async fn create_user_refuses_a_taken_email_without_partial_writes(store: Arc<dyn Store>) {
    let first = user("alice@example.com");
    let first_session = session_of(&first);
    assert_eq!(store.create_user(&first, &first_session).await.unwrap(), Insert::Inserted);

    // Differently cased, but the same normalised address.
    let second = user("ALICE@example.com");
    let second_session = session_of(&second);
    assert_eq!(store.create_user(&second, &second_session).await.unwrap(), Insert::AlreadyExists);

    assert_eq!(store.user_by_email(&first.email).await.unwrap(), Some(first.clone()));
    assert_eq!(store.session(&first_session.token_hash, T0).await.unwrap(), Some(first_session));
    assert_eq!(store.user_by_id(&second.id).await.unwrap(), None);
    assert_eq!(store.session(&second_session.token_hash, T0).await.unwrap(), None);
}

async fn create_user_refuses_a_taken_user_id_without_partial_writes(store: Arc<dyn Store>) {
    let first = user("alice@example.com");
    assert_eq!(store.create_user(&first, &session_of(&first)).await.unwrap(), Insert::Inserted);

    // Here the email claim would succeed and the user write fail: the claim must not stay.
    let clash = UserRecord { email: Email::parse("bob@example.com").unwrap(), ..first.clone() };
    let clash_session = session_of(&clash);
    assert_eq!(store.create_user(&clash, &clash_session).await.unwrap(), Insert::AlreadyExists);

    assert_eq!(store.user_by_email(&clash.email).await.unwrap(), None);
    assert_eq!(store.user_by_id(&first.id).await.unwrap(), Some(first));
    assert_eq!(store.session(&clash_session.token_hash, T0).await.unwrap(), None);
}

async fn exactly_one_of_many_concurrent_sign_ups_wins(store: Arc<dyn Store>) {
    let attempts: Vec<_> = (0..16)
        .map(|_| {
            let candidate = user("race@example.com");
            let session = session_of(&candidate);
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let outcome = store.create_user(&candidate, &session).await.unwrap();
                (candidate, session, outcome)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for attempt in attempts {
        outcomes.push(attempt.await.unwrap());
    }

    let winners: Vec<_> = outcomes.iter().filter(|(_, _, o)| *o == Insert::Inserted).collect();
    assert_eq!(winners.len(), 1, "{} sign-ups won", winners.len());
    let (winner, _, _) = winners[0];
    assert_eq!(store.user_by_email(&winner.email).await.unwrap().as_ref(), Some(winner));
    for (candidate, session, outcome) in &outcomes {
        let stored = *outcome == Insert::Inserted;
        assert_eq!(store.user_by_id(&candidate.id).await.unwrap().is_some(), stored);
        assert_eq!(store.session(&session.token_hash, T0).await.unwrap().is_some(), stored);
    }
}

async fn users_are_found_by_email_and_by_id(store: Arc<dyn Store>) {
    let alice = user("alice@example.com");
    let bob = user("bob@example.com");
    store.create_user(&alice, &session_of(&alice)).await.unwrap();
    store.create_user(&bob, &session_of(&bob)).await.unwrap();

    let typed = Email::parse(" Alice@Example.COM ").unwrap();
    assert_eq!(store.user_by_email(&typed).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.user_by_id(&alice.id).await.unwrap(), Some(alice));
    assert_eq!(store.user_by_id(&bob.id).await.unwrap(), Some(bob));
    let nobody = Email::parse("carol@example.com").unwrap();
    assert_eq!(store.user_by_email(&nobody).await.unwrap(), None);
    assert_eq!(store.user_by_id(&UserId::generate().unwrap()).await.unwrap(), None);
}

async fn look_alike_spellings_of_an_email_are_one_user(store: Arc<dyn Store>) {
    let jose = user("jos\u{E9}@b\u{FC}cher.example");
    assert_eq!(store.create_user(&jose, &session_of(&jose)).await.unwrap(), Insert::Inserted);
    // Decomposed é, fullwidth letters, an upper-case and an ASCII-encoded domain.
    for spelling in ["jose\u{301}@b\u{FC}cher.example", "ｊｏｓ\u{E9}@B\u{DC}CHER.example", "JOS\u{C9}@xn--bcher-kva.example"] {
        let email = Email::parse(spelling).unwrap();
        assert_eq!(store.user_by_email(&email).await.unwrap().as_ref(), Some(&jose), "{spelling}");
        let twin = UserRecord { email, ..user("unused@example.com") };
        assert_eq!(store.create_user(&twin, &session_of(&twin)).await.unwrap(), Insert::AlreadyExists, "{spelling}");
        assert_eq!(store.user_by_id(&twin.id).await.unwrap(), None);
    }
}

async fn sessions_expire_at_the_idle_deadline(store: Arc<dyn Store>) {
    let session = session_of(&user("alice@example.com"));
    store.put_session(&session).await.unwrap();
    let hash = &session.token_hash;

    assert_eq!(store.session(hash, T0).await.unwrap(), Some(session.clone()));
    assert_eq!(store.session(hash, before(session.idle_expires_at)).await.unwrap(), Some(session.clone()));
    assert_eq!(store.session(hash, session.idle_expires_at).await.unwrap(), None);
    assert_eq!(store.session(hash, session.expires_at).await.unwrap(), None);
}

async fn sessions_expire_at_the_absolute_deadline(store: Arc<dyn Store>) {
    // Renewed so often that the idle deadline is past the absolute one: the absolute wins.
    let session = SessionRecord { idle_expires_at: T0.plus(40 * DAY), ..session_of(&user("alice@example.com")) };
    store.put_session(&session).await.unwrap();
    let hash = &session.token_hash;

    assert_eq!(store.session(hash, before(session.expires_at)).await.unwrap(), Some(session.clone()));
    assert_eq!(store.session(hash, session.expires_at).await.unwrap(), None);
}

async fn renewal_moves_the_idle_deadline(store: Arc<dyn Store>) {
    let session = session_of(&user("alice@example.com"));
    store.put_session(&session).await.unwrap();
    let renewed_at = T0.plus(DAY / 2);
    let idle_expires_at = renewed_at.plus(DAY);
    store.renew_session(&session.token_hash, renewed_at, idle_expires_at).await.unwrap();

    let expected = SessionRecord { renewed_at, idle_expires_at, ..session.clone() };
    // Alive past the old idle deadline, gone at the new one.
    assert_eq!(store.session(&session.token_hash, session.idle_expires_at).await.unwrap(), Some(expected));
    assert_eq!(store.session(&session.token_hash, idle_expires_at).await.unwrap(), None);
}

async fn renewal_never_creates_a_session(store: Arc<dyn Store>) {
    let session = session_of(&user("alice@example.com"));
    store.renew_session(&session.token_hash, T0, T0.plus(DAY)).await.unwrap();
    assert_eq!(store.session(&session.token_hash, T0).await.unwrap(), None);

    // Nor after a sign-out: a renewal racing a delete must not resurrect the session.
    store.put_session(&session).await.unwrap();
    store.delete_session(&session.token_hash).await.unwrap();
    store.renew_session(&session.token_hash, T0, T0.plus(DAY)).await.unwrap();
    assert_eq!(store.session(&session.token_hash, T0).await.unwrap(), None);
}

async fn deleted_sessions_are_gone(store: Arc<dyn Store>) {
    let alice = user("alice@example.com");
    let (kept, deleted) = (session_of(&alice), session_of(&alice));
    store.put_session(&kept).await.unwrap();
    store.put_session(&deleted).await.unwrap();

    store.delete_session(&deleted.token_hash).await.unwrap();
    assert_eq!(store.session(&deleted.token_hash, T0).await.unwrap(), None);
    assert_eq!(store.session(&kept.token_hash, T0).await.unwrap(), Some(kept));
    // Deleting again, or deleting what never existed, is not an error.
    store.delete_session(&deleted.token_hash).await.unwrap();
}

async fn revoking_all_sessions_bumps_the_epoch_and_deletes_only_that_users_sessions(store: Arc<dyn Store>) {
    let alice = user("alice@example.com");
    let bob = user("bob@example.com");
    let alice_sessions: Vec<_> = (0..3).map(|_| session_of(&alice)).collect();
    let bob_session = session_of(&bob);
    store.create_user(&alice, &alice_sessions[0]).await.unwrap();
    store.create_user(&bob, &bob_session).await.unwrap();
    for session in &alice_sessions[1..] {
        store.put_session(session).await.unwrap();
    }

    store.revoke_all_sessions(&alice.id).await.unwrap();

    assert_eq!(store.user_by_id(&alice.id).await.unwrap().unwrap().session_epoch, 1);
    assert_eq!(store.user_by_id(&bob.id).await.unwrap().unwrap().session_epoch, 0);
    // The deletes are best-effort on DynamoDB (its index is eventually consistent); on a
    // local server they are not, and the epoch is what revokes in any case.
    for session in &alice_sessions {
        assert_eq!(store.session(&session.token_hash, T0).await.unwrap(), None);
    }
    assert_eq!(store.session(&bob_session.token_hash, T0).await.unwrap(), Some(bob_session));

    store.revoke_all_sessions(&alice.id).await.unwrap();
    assert_eq!(store.user_by_id(&alice.id).await.unwrap().unwrap().session_epoch, 2);
    // An unknown user is not an error, and is not created.
    let nobody = UserId::generate().unwrap();
    store.revoke_all_sessions(&nobody).await.unwrap();
    assert_eq!(store.user_by_id(&nobody).await.unwrap(), None);
}

async fn increments_count_up_and_keep_the_window(store: Arc<dyn Store>) {
    let key = CounterKey::rate_limit("sign-in", "192.0.2.1");
    let other = CounterKey::rate_limit("sign-in", "192.0.2.2");
    let window = T0.plus(Duration::from_secs(60));

    assert_eq!(store.increment(&key, window, T0).await.unwrap(), Counter { count: 1, expires_at: window });
    // A later call proposes a later window; the live counter keeps its own.
    let later = UnixTime(T0.0 + 10);
    let proposed = later.plus(Duration::from_secs(60));
    assert_eq!(store.increment(&key, proposed, later).await.unwrap(), Counter { count: 2, expires_at: window });
    assert_eq!(store.increment(&other, window, T0).await.unwrap(), Counter { count: 1, expires_at: window });
    assert_eq!(store.counter(&key, later).await.unwrap(), Some(Counter { count: 2, expires_at: window }));
}

async fn concurrent_increments_are_atomic(store: Arc<dyn Store>) {
    let key = CounterKey::sign_in_attempts(&Email::parse("alice@example.com").unwrap());
    let window = T0.plus(Duration::from_secs(900));
    let increments: Vec<_> = (0..20)
        .map(|_| {
            let (store, key) = (Arc::clone(&store), key.clone());
            tokio::spawn(async move { store.increment(&key, window, T0).await.unwrap() })
        })
        .collect();
    let mut counts = BTreeSet::new();
    for increment in increments {
        let counter = increment.await.unwrap();
        assert_eq!(counter.expires_at, window);
        counts.insert(counter.count);
    }

    assert_eq!(counts, (1..=20).collect::<BTreeSet<u64>>(), "each increment must see a distinct count");
    assert_eq!(store.counter(&key, T0).await.unwrap(), Some(Counter { count: 20, expires_at: window }));
}

async fn an_expired_counter_restarts_at_one_with_the_new_window(store: Arc<dyn Store>) {
    let key = CounterKey::device_sign_in_attempts(&TokenHash::of(b"a device"));
    let first_window = T0.plus(Duration::from_secs(60));
    store.increment(&key, first_window, T0).await.unwrap();
    store.increment(&key, first_window, T0).await.unwrap();

    // Expiry is exclusive: at `first_window` the old counter is already gone.
    let second_window = first_window.plus(Duration::from_secs(60));
    let restarted = store.increment(&key, second_window, first_window).await.unwrap();
    assert_eq!(restarted, Counter { count: 1, expires_at: second_window });
    assert_eq!(store.counter(&key, first_window).await.unwrap(), Some(restarted));
    assert_eq!(store.increment(&key, second_window, first_window).await.unwrap().count, 2);
}

async fn counters_can_be_put_read_and_deleted(store: Arc<dyn Store>) {
    let key = CounterKey::device_sign_in_attempts(&TokenHash::of(b"a device"));
    assert_eq!(store.counter(&key, T0).await.unwrap(), None);

    let counter = Counter { count: 5, expires_at: T0.plus(Duration::from_secs(60)) };
    store.put_counter(&key, counter).await.unwrap();
    assert_eq!(store.counter(&key, T0).await.unwrap(), Some(counter));
    assert_eq!(store.counter(&key, before(counter.expires_at)).await.unwrap(), Some(counter));
    assert_eq!(store.counter(&key, counter.expires_at).await.unwrap(), None);
    assert_eq!(store.increment(&key, counter.expires_at, T0).await.unwrap().count, 6);

    store.delete_counter(&key).await.unwrap();
    assert_eq!(store.counter(&key, T0).await.unwrap(), None);
    store.delete_counter(&key).await.unwrap();
}

/// With DynamoDB unreachable, calls fail fast with `Unavailable` (a 503) instead of hanging
/// the function until its own timeout, and the error does not quote the request.
#[tokio::test]
async fn dynamodb_refusing_connections_is_unavailable_quickly() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let store = DynamoStore::connect_with(local_aws(), "authfn-outage".into(), Some(local_url(closed_port))).await;
    let alice = user("outage@example.com");

    let started = Instant::now();
    assert_unavailable("read", bounded(store.user_by_email(&alice.email)).await.map(|_| ()));
    assert_unavailable("write", bounded(store.create_user(&alice, &session_of(&alice))).await.map(|_| ()));
    // Refused connections fail at once; what time there is goes to the retries' backoff.
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

/// A server that takes connections and never answers (a hung endpoint, a black-holed
/// network) is cut off by the operation timeout, retries included.
#[tokio::test]
async fn dynamodb_never_answering_is_unavailable_within_the_operation_timeout() {
    // Listening but never accepting: the kernel completes the handshake, nobody replies.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let store = DynamoStore::connect_with(local_aws(), "authfn-outage".into(), Some(local_url(port))).await;

    let started = Instant::now();
    let key = CounterKey::rate_limit("sign-in", "192.0.2.1");
    assert_unavailable("write", bounded(store.increment(&key, T0, T0)).await.map(|_| ()));
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}, past the 5 s operation timeout");
    drop(silent);
}

fn local_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// Fails the test rather than hanging the suite if the store's own timeouts regress.
async fn bounded<T>(call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), call).await.expect("the store call hung")
}

fn assert_unavailable(what: &str, result: Result<(), StoreError>) {
    match result {
        Err(StoreError::Unavailable(message)) => {
            assert!(!message.contains("outage@example.com"), "the {what} error quotes the request: {message}")
        }
        other => panic!("the {what} gave {other:?}, not Unavailable"),
    }
}

// --- federation ---------------------------------------------------------------------------

fn attempt(expires_at: UnixTime) -> FederationAttempt {
    FederationAttempt {
        key: SessionToken::generate().unwrap().hash(),
        binding_hash: SessionToken::generate().unwrap().hash(),
        provider: "okta".into(),
        return_to: "https://app.example.com/".into(),
        wants_json: true,
        expires_at,
    }
}

fn identity(subject: &str) -> FederatedIdentity {
    FederatedIdentity { issuer: "https://idp.example.com".into(), subject: subject.into() }
}

fn federated_user(email: &str) -> UserRecord {
    UserRecord { password_hash: None, ..user(email) }
}

async fn a_federation_attempt_is_taken_once_and_only_while_live(store: Arc<dyn Store>) {
    let live = attempt(T0.plus(DAY));
    store.put_federation_attempt(&live).await.unwrap();
    assert_eq!(store.take_federation_attempt(&live.key, T0).await.unwrap(), Some(live.clone()));
    assert_eq!(store.take_federation_attempt(&live.key, T0).await.unwrap(), None, "a state is used once");

    let expired = attempt(T0);
    store.put_federation_attempt(&expired).await.unwrap();
    assert_eq!(store.take_federation_attempt(&expired.key, T0).await.unwrap(), None);
    let unknown = TokenHash::of(b"never stored");
    assert_eq!(store.take_federation_attempt(&unknown, T0).await.unwrap(), None);
}

async fn exactly_one_of_many_concurrent_takers_gets_the_attempt(store: Arc<dyn Store>) {
    let a = attempt(T0.plus(DAY));
    store.put_federation_attempt(&a).await.unwrap();
    let takers: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            let hash = a.key;
            tokio::spawn(async move { store.take_federation_attempt(&hash, T0).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for t in takers {
        winners += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(winners, 1);
}

async fn a_federated_user_is_found_by_identity_and_is_passwordless(store: Arc<dyn Store>) {
    let u = federated_user("fed@example.com");
    let s = session_of(&u);
    assert_eq!(store.create_federated_user(&u, &identity("sub-1"), &s).await.unwrap(), Insert::Inserted);
    assert_eq!(store.user_by_identity(&identity("sub-1")).await.unwrap(), Some(u.clone()));
    assert_eq!(store.user_by_email(&u.email).await.unwrap().unwrap().password_hash, None);
    assert_eq!(store.session(&s.token_hash, T0).await.unwrap(), Some(s));
    // The subject is only unique within its issuer.
    let elsewhere = FederatedIdentity { issuer: "https://other.example.com".into(), subject: "sub-1".into() };
    assert_eq!(store.user_by_identity(&elsewhere).await.unwrap(), None);
}

async fn create_federated_user_refuses_a_taken_email_or_identity_without_partial_writes(store: Arc<dyn Store>) {
    let existing = user("taken@example.com");
    store.create_user(&existing, &session_of(&existing)).await.unwrap();
    let same_email = federated_user("taken@example.com");
    let s1 = session_of(&same_email);
    assert_eq!(store.create_federated_user(&same_email, &identity("sub-2"), &s1).await.unwrap(), Insert::AlreadyExists);
    assert_eq!(store.user_by_identity(&identity("sub-2")).await.unwrap(), None, "no identity without its user");
    assert_eq!(store.session(&s1.token_hash, T0).await.unwrap(), None);

    let first = federated_user("first@example.com");
    store.create_federated_user(&first, &identity("sub-3"), &session_of(&first)).await.unwrap();
    let same_identity = federated_user("second@example.com");
    let s2 = session_of(&same_identity);
    assert_eq!(store.create_federated_user(&same_identity, &identity("sub-3"), &s2).await.unwrap(), Insert::AlreadyExists);
    assert_eq!(store.user_by_email(&same_identity.email).await.unwrap(), None, "no user without its identity");
    assert_eq!(store.user_by_identity(&identity("sub-3")).await.unwrap(), Some(first));
}

async fn exactly_one_of_many_concurrent_first_federated_sign_ins_wins(store: Arc<dyn Store>) {
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let u = federated_user(&format!("racer{i}@example.com"));
                store.create_federated_user(&u, &identity("racing-sub"), &session_of(&u)).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for r in racers {
        winners += usize::from(r.await.unwrap() == Insert::Inserted);
    }
    assert_eq!(winners, 1);
}

async fn an_identity_links_to_one_user_only(store: Arc<dyn Store>) {
    let a = user("a@example.com");
    let b = user("b@example.com");
    store.create_user(&a, &session_of(&a)).await.unwrap();
    store.create_user(&b, &session_of(&b)).await.unwrap();
    assert_eq!(store.link_identity(&identity("sub-4"), &a.id).await.unwrap(), Insert::Inserted);
    assert_eq!(store.link_identity(&identity("sub-4"), &b.id).await.unwrap(), Insert::AlreadyExists);
    assert_eq!(store.user_by_identity(&identity("sub-4")).await.unwrap(), Some(a));
}

// --- device authorizations and refresh tokens -------------------------------------------------

/// The store sees user codes only as hashes; which hash is the endpoints' business.
fn code(user_code: &str) -> TokenHash {
    TokenHash::of(user_code.as_bytes())
}

fn device(user_code: &str, expires_at: UnixTime) -> DeviceAuthorization {
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

fn approval() -> DeviceStatus {
    DeviceStatus::Approved { user_id: UserId::generate().unwrap(), user_epoch: 7 }
}

fn refresh(family: &str, active: bool) -> RefreshTokenRecord {
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

async fn a_live_user_code_is_claimed_once(store: Arc<dyn Store>) {
    let first = device("BCDFGHJK", T0.plus(DAY));
    assert_eq!(store.create_device_authorization(&first, T0).await.unwrap(), Insert::Inserted);
    let clash = device("BCDFGHJK", T0.plus(DAY));
    assert_eq!(store.create_device_authorization(&clash, T0).await.unwrap(), Insert::AlreadyExists);
    assert_eq!(store.device_authorization(&clash.device_code_hash, T0).await.unwrap(), None);
    assert_eq!(store.device_authorization_by_user_code(&code("BCDFGHJK"), T0).await.unwrap(), Some(first.clone()));
    assert_eq!(store.device_authorization(&first.device_code_hash, T0).await.unwrap(), Some(first.clone()));

    // Once the first has expired, its user code may be handed out again.
    let later = first.expires_at;
    assert_eq!(store.device_authorization_by_user_code(&code("BCDFGHJK"), later).await.unwrap(), None);
    let reuse = device("BCDFGHJK", later.plus(DAY));
    assert_eq!(store.create_device_authorization(&reuse, later).await.unwrap(), Insert::Inserted);
    assert_eq!(store.device_authorization_by_user_code(&code("BCDFGHJK"), later).await.unwrap(), Some(reuse));
}

async fn device_updates_are_compare_and_swap(store: Arc<dyn Store>) {
    let d = device("LMNPQRST", T0.plus(DAY));
    store.create_device_authorization(&d, T0).await.unwrap();
    let approved = DeviceAuthorization {
        status: approval(),
        last_polled_at: Some(T0),
        version: 1,
        ..d.clone()
    };
    assert!(store.update_device_authorization(&approved).await.unwrap());
    assert!(!store.update_device_authorization(&approved).await.unwrap(), "a second update from the same read fails");
    assert_eq!(store.device_authorization(&d.device_code_hash, T0).await.unwrap(), Some(approved));
}

async fn exactly_one_of_many_concurrent_device_approvals_lands(store: Arc<dyn Store>) {
    let d = device("VWXZBCDF", T0.plus(DAY));
    store.create_device_authorization(&d, T0).await.unwrap();
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            let next = DeviceAuthorization {
                status: approval(),
                version: 1,
                ..d.clone()
            };
            tokio::spawn(async move { store.update_device_authorization(&next).await.unwrap() })
        })
        .collect();
    let mut landed = 0;
    for r in racers {
        landed += usize::from(r.await.unwrap());
    }
    assert_eq!(landed, 1);
}

async fn an_answer_lands_once_and_only_while_the_code_is_pending(store: Arc<dyn Store>) {
    let d = device("BCDFLMNP", T0.plus(DAY));
    store.create_device_authorization(&d, T0).await.unwrap();
    let approved = approval();
    assert!(store.decide_device_authorization(&d.device_code_hash, &approved, T0).await.unwrap());
    let stored = store.device_authorization(&d.device_code_hash, T0).await.unwrap().unwrap();
    assert_eq!(stored, DeviceAuthorization { status: approved, version: 1, ..d.clone() }, "the answer and its epoch are kept");
    assert!(!store.decide_device_authorization(&d.device_code_hash, &DeviceStatus::Denied, T0).await.unwrap(), "answered already");
    // A stale poll (read before the answer) cannot overwrite it.
    assert!(!store.update_device_authorization(&DeviceAuthorization { last_polled_at: Some(T0), version: 1, ..d.clone() }).await.unwrap());
    assert_eq!(store.device_authorization(&d.device_code_hash, T0).await.unwrap(), Some(stored));

    let late = device("BCDFLMNQ", T0.plus(DAY));
    store.create_device_authorization(&late, T0).await.unwrap();
    assert!(!store.decide_device_authorization(&late.device_code_hash, &approval(), late.expires_at).await.unwrap(), "expired");
    let never = SessionToken::generate().unwrap().hash();
    assert!(!store.decide_device_authorization(&never, &approval(), T0).await.unwrap(), "unknown");
}

async fn polls_racing_the_users_approval_never_make_it_fail(store: Arc<dyn Store>) {
    for round in 0..5 {
        let d = device(&format!("RACEPLL{round}"), T0.plus(DAY));
        store.create_device_authorization(&d, T0).await.unwrap();
        // Devices poll as the token endpoint does: read, then compare-and-swap a new poll
        // time, over and over, while the user answers once.
        let pollers: Vec<_> = (0..6)
            .map(|_| {
                let store = Arc::clone(&store);
                let hash = d.device_code_hash;
                tokio::spawn(async move {
                    for _ in 0..5 {
                        let read = store.device_authorization(&hash, T0).await.unwrap().unwrap();
                        let polled = DeviceAuthorization { last_polled_at: Some(T0), version: read.version + 1, ..read };
                        store.update_device_authorization(&polled).await.unwrap();
                    }
                })
            })
            .collect();
        let answer = approval();
        let approved = store.decide_device_authorization(&d.device_code_hash, &answer, T0).await.unwrap();
        for p in pollers {
            p.await.unwrap();
        }
        assert!(approved, "round {round}: the approval failed while the code was pending");
        let stored = store.device_authorization(&d.device_code_hash, T0).await.unwrap().unwrap();
        assert_eq!(stored.status, answer, "round {round}: a poll overwrote the answer");
    }
}

async fn exactly_one_of_many_concurrent_answers_lands(store: Arc<dyn Store>) {
    let d = device("XZBCDFGH", T0.plus(DAY));
    store.create_device_authorization(&d, T0).await.unwrap();
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            let hash = d.device_code_hash;
            let answer = if i % 2 == 0 { approval() } else { DeviceStatus::Denied };
            tokio::spawn(async move { store.decide_device_authorization(&hash, &answer, T0).await.unwrap() })
        })
        .collect();
    let mut landed = 0;
    for r in racers {
        landed += usize::from(r.await.unwrap());
    }
    assert_eq!(landed, 1);
}

async fn a_refresh_token_rotates_once(store: Arc<dyn Store>) {
    let old = refresh("fam-1", true);
    store.put_refresh_token(&old).await.unwrap();
    let new = refresh("fam-1", true);
    assert_eq!(store.rotate_refresh_token(&old.token_hash, &new).await.unwrap(), Rotation::Rotated);
    assert!(!store.refresh_token(&old.token_hash, T0).await.unwrap().unwrap().active);
    assert_eq!(store.refresh_token(&new.token_hash, T0).await.unwrap(), Some(new.clone()));
    let again = refresh("fam-1", true);
    assert_eq!(store.rotate_refresh_token(&old.token_hash, &again).await.unwrap(), Rotation::AlreadyUsed);
    assert_eq!(store.refresh_token(&again.token_hash, T0).await.unwrap(), None, "a failed rotation stores nothing");
    assert_eq!(store.refresh_token(&new.token_hash, new.expires_at).await.unwrap(), None, "expired tokens are absent");
}

async fn exactly_one_of_many_concurrent_rotations_wins(store: Arc<dyn Store>) {
    let old = refresh("fam-2", true);
    store.put_refresh_token(&old).await.unwrap();
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            let hash = old.token_hash;
            tokio::spawn(async move { store.rotate_refresh_token(&hash, &refresh("fam-2", true)).await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for r in racers {
        wins += usize::from(r.await.unwrap() == Rotation::Rotated);
    }
    assert_eq!(wins, 1);
}

async fn a_token_of_a_revoked_family_does_not_rotate(store: Arc<dyn Store>) {
    let old = refresh("fam-5", true);
    store.put_refresh_token(&old).await.unwrap();
    store.revoke_token_family("fam-5", old.family_expires_at).await.unwrap();
    let new = refresh("fam-5", true);
    assert_eq!(store.rotate_refresh_token(&old.token_hash, &new).await.unwrap(), Rotation::AlreadyUsed);
    assert_eq!(store.refresh_token(&new.token_hash, T0).await.unwrap(), None, "nothing stored for a revoked family");
    assert!(store.refresh_token(&old.token_hash, T0).await.unwrap().unwrap().active, "nothing written at all");
}

async fn revoked_families_stay_revoked_until_their_end(store: Arc<dyn Store>) {
    assert!(!store.is_token_family_revoked("fam-3", T0).await.unwrap());
    store.revoke_token_family("fam-3", T0.plus(DAY)).await.unwrap();
    assert!(store.is_token_family_revoked("fam-3", T0).await.unwrap());
    assert!(!store.is_token_family_revoked("fam-3", T0.plus(DAY)).await.unwrap());
    assert!(!store.is_token_family_revoked("fam-4", T0).await.unwrap());
}

/// The DynamoDB table's keys hold no email address, only its hash (`EMAIL#<sha256 hex>`).
#[tokio::test]
#[ignore = "needs a local DynamoDB API: run tests/run.sh"]
async fn dynamodb_keys_hold_no_email_address() {
    let endpoint = std::env::var("AUTHFN_TEST_DYNAMODB_ENDPOINT").expect("AUTHFN_TEST_DYNAMODB_ENDPOINT is unset");
    let table = format!("authfn-test-{}", UserId::generate().unwrap());
    let store = DynamoStore::connect_with(local_aws(), table, Some(endpoint)).await;
    store.create_table_if_missing().await.unwrap();
    let grace = user("grace.hopper@example.com");
    store.create_user(&grace, &session_of(&grace)).await.unwrap();
    let ferdinand = federated_user("ferdinand@example.com");
    let identity = FederatedIdentity { issuer: "https://idp.example".into(), subject: "f".into() };
    store.create_federated_user(&ferdinand, &identity, &session_of(&ferdinand)).await.unwrap();

    let (client, table) = store.raw();
    let items = client.scan().table_name(table).send().await.unwrap().items.unwrap_or_default();
    let keys: Vec<String> = items.iter().filter_map(|i| i.get("pk")?.as_s().ok().cloned()).collect();
    assert!(keys.iter().any(|k| k == &format!("EMAIL#{}", grace.email.hash().to_hex())), "{keys:?}");
    for key in &keys {
        assert!(!key.contains("grace") && !key.contains("ferdinand") && !key.contains('@'), "{key}");
    }
}
