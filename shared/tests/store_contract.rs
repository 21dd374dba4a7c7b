//! The [`Store`] contract (its cases are in `tests/store-contract`, shared with the Worker
//! that runs them against the Cloudflare store inside workerd), run here against the
//! in-memory store and the DynamoDB store.
//!
//! The DynamoDB cases need a local DynamoDB API and are ignored by default; `tests/run.sh`
//! starts one and runs them. Each case makes its own table, so they can run in parallel.

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
use std::sync::Arc;
use std::time::{Duration, Instant};

use authfn::store::dynamodb::DynamoStore;
use authfn::store::{CounterKey, FederatedIdentity, MemoryStore, Store, StoreError};
use authfn::token::UserId;
use authfn_store_contract::cases::{T0, federated_user, session_of, sign_up_challenge, user};
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};

/// Runs every contract case against one backend: `contract! { name = factory ; cases… }`,
/// where `factory()` gives a fresh, empty `Arc<dyn Store>`. Attributes after the factory go
/// on every case. [`authfn_store_contract::for_each_case!`] supplies the cases.
macro_rules! contract {
    ($backend:ident = $factory:path $(, #[$attr:meta])* ; $($case:ident,)*) => {
        mod $backend {
            contract!(@cases $factory, [$(#[$attr])*], $($case,)*);
        }
    };
    // One case at a time: the attributes repeat once per case, which a single nested
    // repetition cannot express.
    (@cases $factory:path, [$($attr:tt)*], $case:ident, $($rest:ident,)*) => {
        // Several worker threads, so the concurrency cases really run in parallel.
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        $($attr)*
        async fn $case() {
            authfn_store_contract::cases::$case($factory().await).await.unwrap();
        }
        contract!(@cases $factory, [$($attr)*], $($rest,)*);
    };
    (@cases $factory:path, [$($attr:tt)*],) => {};
}

authfn_store_contract::for_each_case!(contract! { memory = super::memory_store });
authfn_store_contract::for_each_case!(contract! {
    dynamodb = super::dynamo_store, #[ignore = "needs a local DynamoDB API: run tests/run.sh"]
});

async fn memory_store() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

async fn dynamo_store() -> Arc<dyn Store> {
    let endpoint = std::env::var("AUTHFN_TEST_DYNAMODB_ENDPOINT")
        .expect("AUTHFN_TEST_DYNAMODB_ENDPOINT is unset: run tests/run.sh, or source tests/support/dynamodb-api.sh and run start_dynamodb_api");
    let table = format!("authfn-test-{}", UserId::generate().unwrap());
    let store = DynamoStore::connect_with(local_aws(), table, Some(endpoint)).await;
    store
        .create_table_if_missing()
        .await
        .expect("creating the test table");
    Arc::new(store)
}

/// Fixed region and dummy credentials: a local server checks neither, and with them set the
/// SDK never looks for real ones (which would mean calling the instance metadata service).
fn local_aws() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "authfn-tests",
        ))
}

/// With DynamoDB unreachable, calls fail fast with `Unavailable` (a 503) instead of hanging
/// the function until its own timeout, and the error does not quote the request.
#[tokio::test]
async fn dynamodb_refusing_connections_is_unavailable_quickly() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let store = DynamoStore::connect_with(
        local_aws(),
        "authfn-outage".into(),
        Some(local_url(closed_port)),
    )
    .await;
    let alice = user("outage@example.com");

    let started = Instant::now();
    assert_unavailable(
        "read",
        bounded(store.user_by_email(&alice.email)).await.map(|_| ()),
    );
    assert_unavailable(
        "write",
        bounded(store.create_user(&alice, &session_of(&alice)))
            .await
            .map(|_| ()),
    );
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
    let store =
        DynamoStore::connect_with(local_aws(), "authfn-outage".into(), Some(local_url(port))).await;

    let started = Instant::now();
    let key = CounterKey::rate_limit("sign-in", "192.0.2.1");
    assert_unavailable(
        "write",
        bounded(store.increment(&key, T0, T0)).await.map(|_| ()),
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(8),
        "took {elapsed:?}, past the 5 s operation timeout"
    );
    drop(silent);
}

fn local_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// Fails the test rather than hanging the suite if the store's own timeouts regress.
async fn bounded<T>(call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .expect("the store call hung")
}

fn assert_unavailable(what: &str, result: Result<(), StoreError>) {
    match result {
        Err(e @ StoreError::Unavailable(_)) => {
            // The whole cause chain, as the log line gets it.
            let logged = authfn::error::chain(&e);
            assert!(
                !logged.contains("outage@example.com"),
                "the {what} error quotes the request: {logged}"
            )
        }
        other => panic!("the {what} gave {other:?}, not Unavailable"),
    }
}

/// A DynamoDB test store on a fresh table.
async fn fresh_dynamo_store() -> DynamoStore {
    let endpoint = std::env::var("AUTHFN_TEST_DYNAMODB_ENDPOINT")
        .expect("AUTHFN_TEST_DYNAMODB_ENDPOINT is unset");
    let table = format!("authfn-test-{}", UserId::generate().unwrap());
    let store = DynamoStore::connect_with(local_aws(), table, Some(endpoint)).await;
    store.create_table_if_missing().await.unwrap();
    store
}

/// A user item written before addresses were proven has no `email_verified`: it reads as
/// unproven (so LINK_BY_EMAIL does not link to it), and a reset with a mailed proof proves it.
#[tokio::test]
#[ignore = "needs a local DynamoDB API: run tests/run.sh"]
async fn dynamodb_users_from_before_email_verification_read_as_unproven() {
    let store = fresh_dynamo_store().await;
    let old = user("old-timer@example.com");
    store.create_user(&old, &session_of(&old)).await.unwrap();
    let (client, table) = store.raw();
    let key = aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{}", old.id.as_str()));
    // As the store wrote users before the attribute existed.
    client
        .update_item()
        .table_name(table)
        .key("pk", key.clone())
        .update_expression("REMOVE email_verified")
        .send()
        .await
        .unwrap();
    let item = client
        .get_item()
        .table_name(table)
        .key("pk", key)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(!item.contains_key("email_verified"), "{:?}", item.keys());

    assert_eq!(store.user_by_id(&old.id).await.unwrap(), Some(old.clone()));
    assert!(
        !store
            .user_by_email(&old.email)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );

    let reset = authfn_store_contract::cases::reset_challenge(&old);
    store.put_challenge(&reset).await.unwrap();
    let new_password = authfn_store_contract::cases::new_password();
    assert_eq!(
        store
            .set_password(&old.id, &new_password, Some(&reset.proof()), T0)
            .await
            .unwrap(),
        Some(1)
    );
    assert!(
        store
            .user_by_id(&old.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
}

/// The DynamoDB table's keys hold no email address, only its hash (`EMAIL#<sha256 hex>`).
#[tokio::test]
#[ignore = "needs a local DynamoDB API: run tests/run.sh"]
async fn dynamodb_keys_hold_no_email_address() {
    let store = fresh_dynamo_store().await;
    let grace = user("grace.hopper@example.com");
    store
        .create_user(&grace, &session_of(&grace))
        .await
        .unwrap();
    let ada = user("ada.lovelace@example.com");
    store.put_challenge(&sign_up_challenge(&ada)).await.unwrap();
    let ferdinand = federated_user("ferdinand@example.com");
    let identity = FederatedIdentity {
        issuer: "https://idp.example".into(),
        subject: "f".into(),
    };
    store
        .create_federated_user(&ferdinand, &identity, &session_of(&ferdinand))
        .await
        .unwrap();

    let (client, table) = store.raw();
    let items = client
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let keys: Vec<String> = items
        .iter()
        .filter_map(|i| i.get("pk")?.as_s().ok().cloned())
        .collect();
    assert!(
        keys.iter()
            .any(|k| k == &format!("EMAIL#{}", grace.email.hash().to_hex())),
        "{keys:?}"
    );
    for key in &keys {
        assert!(
            !key.contains("grace")
                && !key.contains("ada")
                && !key.contains("ferdinand")
                && !key.contains('@'),
            "{key}"
        );
    }
}

/// After a deletion no item anywhere in the table holds the user's id, its address or its
/// address's hash, in any attribute: not its sessions, refresh tokens, identity links,
/// counters, challenges (replaced and taken ones' token items included), factors, passkeys
/// and their credential id claims, recovery codes, pending sign-ins, passkey registrations in
/// flight, activity, nor its email claim.
/// Its former address (before an email change) is gone too. Another user's items stay.
#[tokio::test]
#[ignore = "needs a local DynamoDB API: run tests/run.sh"]
async fn dynamodb_a_deleted_user_leaves_nothing_that_names_it() {
    use authfn::email::Email;
    use authfn::store::{EmailChange, RefreshTokenRecord, Rotation, SignUpOutcome};
    use authfn_store_contract::cases::{
        DAY, email_change_challenge, identity, refresh, reset_challenge, sign_in_code_challenge,
        verified_user,
    };

    let store = Arc::new(fresh_dynamo_store().await);
    let as_store: Arc<dyn Store> = store.clone();
    // Signed up through a mailed link (whose token item outlives the taken challenge).
    let ada = verified_user("ada.before@example.com");
    let sign_up = sign_up_challenge(&ada);
    store.put_challenge(&sign_up).await.unwrap();
    assert_eq!(
        store
            .complete_sign_up(&sign_up.proof(), &ada, &session_of(&ada), T0)
            .await
            .unwrap(),
        SignUpOutcome::Created
    );
    // A reset asked for at the old address, then the address changed.
    store.put_challenge(&reset_challenge(&ada)).await.unwrap();
    let change = email_change_challenge(&ada, "ada@example.com");
    store.put_challenge(&change).await.unwrap();
    assert_eq!(
        store
            .change_email(&change.proof(), &ada.id, &change.email, T0)
            .await
            .unwrap(),
        EmailChange::Changed
    );
    let ada = store.user_by_id(&ada.id).await.unwrap().unwrap();
    let old_address = Email::parse("ada.before@example.com").unwrap();

    store.put_session(&session_of(&ada)).await.unwrap();
    store
        .link_identity(&identity("ada-sub"), &ada.id)
        .await
        .unwrap();
    let first = RefreshTokenRecord {
        user_id: ada.id.clone(),
        ..refresh("ada-family", true)
    };
    store.put_refresh_token(&first).await.unwrap();
    let second = RefreshTokenRecord {
        user_id: ada.id.clone(),
        ..refresh("ada-family", true)
    };
    assert_eq!(
        store
            .rotate_refresh_token(&first.token_hash, &second)
            .await
            .unwrap(),
        Rotation::Rotated
    );
    store
        .revoke_token_family("ada-family", second.family_expires_at)
        .await
        .unwrap();
    // Replaced challenges (a resent mail) leave token items behind.
    for _ in 0..2 {
        store.put_challenge(&reset_challenge(&ada)).await.unwrap();
        store
            .put_challenge(&sign_in_code_challenge(&ada))
            .await
            .unwrap();
    }
    store
        .put_challenge(&email_change_challenge(&ada, "ada.next@example.com"))
        .await
        .unwrap();
    for key in [
        CounterKey::sign_in_attempts(&ada.email),
        CounterKey::mail_to(&ada.email),
    ] {
        store.increment(&key, T0.plus(DAY), T0).await.unwrap();
    }
    let grace = verified_user("grace@example.com");
    store
        .create_user(&grace, &session_of(&grace))
        .await
        .unwrap();
    store.put_challenge(&reset_challenge(&grace)).await.unwrap();
    // Second factors, passkeys, a pending sign-in and a passkey registration in flight; and
    // activity, more than one batch write of it.
    for (who, credential) in [(&ada, b"ada-key"), (&grace, b"grace-k")] {
        authfn_store_contract::cases::every_factor_record_of(&*as_store, who, credential)
            .await
            .unwrap();
        let activity: Vec<_> = (0..30)
            .map(|i| authfn_store_contract::cases::activity_entry(who, T0, &format!("e{i}")))
            .collect();
        store.add_activity(&activity).await.unwrap();
    }

    let needles = [
        ada.id.as_str().to_owned(),
        ada.email.as_str().to_owned(),
        ada.email.hash().to_hex(),
        old_address.as_str().to_owned(),
    ];
    let before = scan_all(&store).await;
    for needle in &needles {
        assert!(
            before.iter().any(|item| item.contains(needle.as_str())),
            "the setup wrote nothing with {needle}"
        );
    }

    assert!(store.delete_user(&ada).await.unwrap());

    let after = scan_all(&store).await;
    for needle in &needles {
        let left: Vec<&String> = after
            .iter()
            .filter(|item| item.contains(needle.as_str()))
            .collect();
        assert!(left.is_empty(), "items still hold {needle}: {left:#?}");
    }
    let grace_items = |items: &[String]| {
        items
            .iter()
            .filter(|i| i.contains(grace.id.as_str()))
            .count()
    };
    assert_eq!(
        grace_items(&after),
        grace_items(&before),
        "the other user's items are untouched"
    );
    assert_eq!(
        store.user_by_email(&grace.email).await.unwrap().unwrap().id,
        grace.id
    );
}

/// Every item in the table, each as its debug text (every attribute's name and value).
async fn scan_all(store: &DynamoStore) -> Vec<String> {
    let (client, table) = store.raw();
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(page.items().iter().map(|item| format!("{item:?}")));
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}
