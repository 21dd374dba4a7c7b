//! A test-only Worker: runs the store contract (`tests/store-contract`) against the
//! Cloudflare store inside workerd, over Miniflare's KV and D1 (`wrangler dev --local`).
//! `tests/support/store-contract-worker.sh` builds it, starts it and reads the verdicts.
//!
//! - `GET /cases`: the case names, as JSON (also the readiness check).
//! - `GET /run` (optionally `?case=NAME`): runs every case in turn, each on an emptied KV
//!   namespace and D1 database, and answers `{"cases": [{"name", "passed", "failure"}]}`.
//!
//! Besides the shared cases it runs a few only this store has: rows written by hand that
//! must read as corrupt, rows as older migrations left them, the cron purge, a revocation
//! that must outlive a session written back after it, and a scan of every table after an
//! account is deleted.
#![cfg(target_arch = "wasm32")]

use std::sync::Arc;
use std::time::Duration;

use authfn::store::cloudflare::{CloudflareStore, purge_expired};
use authfn::store::{
    Counter, CounterKey, DeviceAuthorization, DeviceStatus, EmailChallenge, EmailChange,
    RefreshTokenRecord, SignUpOutcome, Store, StoreError, UserRecord,
};
use authfn_store_contract::cases::{
    DAY, T0, activity_entry, device, email_change_challenge, identity, refresh, reset_challenge,
    session_of, sign_in_code_challenge, sign_up_challenge, user, verified_user,
};
use authfn_store_contract::{CaseFuture, Failure, Found, Outcome, check, check_eq};
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::kv::KvStore;
use worker::{Context, D1Database, Env, Request, Response, event};

/// The absolute session lifetime the store is configured with (authfn's default).
const MAX_SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let url = req.url()?;
    let cases = all_cases();
    match url.path() {
        "/cases" => Response::from_json(&cases.iter().map(|(name, _)| *name).collect::<Vec<_>>()),
        "/run" => {
            let only = url
                .query_pairs()
                .find(|(k, _)| k == "case")
                .map(|(_, v)| v.into_owned());
            let mut verdicts = Vec::new();
            for (name, run) in cases
                .into_iter()
                .filter(|(name, _)| only.as_deref().is_none_or(|o| o == *name))
            {
                empty(&env).await?;
                let outcome = match run {
                    Run::Shared(run) => run(Arc::new(store(&env)?)).await,
                    Run::Own(run) => {
                        run(Raw {
                            store: store(&env)?,
                            db: env.d1("DB")?,
                            sessions: env.kv("SESSIONS")?,
                        })
                        .await
                    }
                };
                verdicts.push(json!({
                    "name": name,
                    "passed": outcome.is_ok(),
                    "failure": outcome.err().map(|f| f.message().to_owned()),
                }));
            }
            Response::from_json(&json!({ "cases": verdicts }))
        }
        _ => Response::error("not found", 404),
    }
}

fn store(env: &Env) -> worker::Result<CloudflareStore> {
    Ok(CloudflareStore::new(
        env.kv("SESSIONS")?,
        env.d1("DB")?,
        MAX_SESSION_LIFETIME,
    ))
}

/// How a case runs: the shared ones get the store, this store's own get its bindings too.
enum Run {
    Shared(fn(Arc<dyn Store>) -> CaseFuture),
    Own(fn(Raw) -> CaseFuture),
}

/// The bindings under the store, for writing what the store never would.
struct Raw {
    store: CloudflareStore,
    db: D1Database,
    sessions: KvStore,
}

/// The shared cases, then this store's own.
fn all_cases() -> Vec<(&'static str, Run)> {
    let mut cases: Vec<_> = authfn_store_contract::cases()
        .into_iter()
        .map(|c| (c.name, Run::Shared(c.run)))
        .collect();
    macro_rules! own {
        ($($case:ident),* $(,)?) => {
            $(cases.push((stringify!($case), Run::Own(|raw| Box::pin($case(raw)))));)*
        };
    }
    own!(
        a_negative_counter_row_reads_as_corrupt,
        a_refresh_token_flag_other_than_0_or_1_reads_as_corrupt,
        an_unparsable_kv_session_reads_as_corrupt,
        a_signed_out_session_written_back_stays_signed_out,
        an_account_made_before_migration_0007_reads_as_unverified,
        a_challenge_row_with_an_unknown_action_reads_as_corrupt,
        the_purge_removes_expired_challenges_and_keeps_live_ones,
        the_purge_removes_lapsed_factor_records_and_keeps_live_ones,
        a_sign_up_onto_an_address_held_by_a_row_without_a_hash_is_email_taken_and_writes_nothing,
        a_deleted_user_leaves_no_row_naming_it_in_any_table,
        a_delete_with_a_record_read_before_an_email_change_deletes_the_account_under_its_new_address,
        the_purge_removes_lapsed_session_index_rows_and_activity_and_keeps_live_ones,
        a_session_from_before_the_session_index_is_listed_from_its_next_renewal,
    );
    cases
}

/// Empties every table the migrations made (newest first, so a table is emptied before the
/// one its foreign key names) and every KV key.
async fn empty(env: &Env) -> worker::Result<()> {
    let db = env.d1("DB")?;
    let deletes = tables(&db)
        .await?
        .iter()
        .map(|t| db.prepare(format!("DELETE FROM \"{t}\"")))
        .collect();
    db.batch(deletes).await?;
    let kv = env.kv("SESSIONS")?;
    loop {
        let page = kv
            .list()
            .execute()
            .await
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        for key in &page.keys {
            kv.delete(&key.name)
                .await
                .map_err(|e| worker::Error::RustError(e.to_string()))?;
        }
        if page.list_complete || page.keys.is_empty() {
            return Ok(());
        }
    }
}

/// Every table the migrations made, newest first: read from `sqlite_master`, so a table a
/// later migration adds is included without naming it here.
async fn tables(db: &D1Database) -> worker::Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Table {
        name: String,
    }
    let tables: Vec<Table> = db
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' \
             AND name NOT LIKE '!_cf!_%' ESCAPE '!' AND name != 'd1_migrations' ORDER BY rowid DESC",
        )
        .all()
        .await?
        .results()?;
    Ok(tables.into_iter().map(|t| t.name).collect())
}

fn is_corrupt<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Outcome {
    match result {
        Err(StoreError::Corrupt(_)) => Ok(()),
        other => Err(Failure::new(format!(
            "expected a Corrupt error, got {other:?}"
        ))),
    }
}

fn d1(e: worker::Error) -> Failure {
    Failure::new(format!("D1: {e}"))
}

#[expect(
    clippy::cast_precision_loss,
    reason = "a Unix time in 2023 is exact as a double"
)]
async fn a_negative_counter_row_reads_as_corrupt(raw: Raw) -> Outcome {
    let key = CounterKey::rate_limit("sign-in", "192.0.2.1");
    raw.db
        .prepare("INSERT INTO counters (key, count, expires_at) VALUES (?1, -1, ?2)")
        .bind(&[
            JsValue::from_str(key.as_str()),
            JsValue::from_f64(T0.plus(DAY).0 as f64),
        ])
        .map_err(d1)?
        .run()
        .await
        .map_err(d1)?;
    is_corrupt(raw.store.counter(&key, T0).await)
}

async fn a_refresh_token_flag_other_than_0_or_1_reads_as_corrupt(raw: Raw) -> Outcome {
    let token = refresh("fam-corrupt", true);
    raw.store.put_refresh_token(&token).await?;
    check!(
        raw.store
            .refresh_token(&token.token_hash, T0)
            .await?
            .is_some(),
        "written as the store writes it, it reads"
    );
    raw.db
        .prepare("UPDATE refresh_tokens SET active = 2 WHERE token_hash = ?1")
        .bind(&[JsValue::from_str(&token.token_hash.to_hex())])
        .map_err(d1)?
        .run()
        .await
        .map_err(d1)?;
    is_corrupt(raw.store.refresh_token(&token.token_hash, T0).await)
}

async fn an_unparsable_kv_session_reads_as_corrupt(raw: Raw) -> Outcome {
    let session = session_of(&user("kv@example.com"));
    raw.sessions
        .put(
            &format!("session:{}", session.token_hash.to_hex()),
            "{not json",
        )
        .map_err(|e| Failure::new(format!("KV: {e}")))?
        .execute()
        .await
        .map_err(|e| Failure::new(format!("KV: {e}")))?;
    is_corrupt(raw.store.session(&session.token_hash, T0).await)
}

/// KV has no compare-and-set: a renewal racing a sign-out can write the session back after
/// the delete. The revocation row, kept from the caller's `now` until the session's end,
/// still refuses it.
async fn a_signed_out_session_written_back_stays_signed_out(raw: Raw) -> Outcome {
    let session = session_of(&user("race@example.com"));
    raw.store.put_session(&session).await?;
    raw.store.delete_session(&session.token_hash, T0).await?;
    raw.store.put_session(&session).await?;
    check_eq!(raw.store.session(&session.token_hash, T0).await?, None);
    Ok(())
}

#[expect(
    clippy::cast_precision_loss,
    reason = "Unix times and counts in these cases are exact as doubles"
)]
fn number(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// A `users` row as migrations 0001–0006 left it: no `email_verified` written (and, for an
/// account older than 0006, no `email_hash`).
async fn insert_old_user(raw: &Raw, user: &UserRecord, with_hash: bool) -> Outcome {
    let hash = if with_hash {
        JsValue::from_str(&user.email.hash().to_hex())
    } else {
        JsValue::NULL
    };
    raw.db
        .prepare("INSERT INTO users (id, email, email_hash, password_hash, created_at, session_epoch) VALUES (?1, ?2, ?3, 'x', ?4, 0)")
        .bind(&[JsValue::from_str(user.id.as_str()), JsValue::from_str(user.email.as_str()), hash, number(user.created_at.0)])
        .map_err(d1)?
        .run()
        .await
        .map_err(d1)?;
    Ok(())
}

/// Nobody proved the address of an account made before email verification existed: it must
/// not count as proven (LINK_BY_EMAIL would link a provider's account to a squatter's).
async fn an_account_made_before_migration_0007_reads_as_unverified(raw: Raw) -> Outcome {
    let old = user("old@example.com");
    insert_old_user(&raw, &old, true).await?;
    check_eq!(
        raw.store.user_by_id(&old.id).await?.found()?.email_verified,
        false
    );
    check_eq!(
        raw.store
            .user_by_email(&old.email)
            .await?
            .found()?
            .email_verified,
        false
    );
    Ok(())
}

async fn a_challenge_row_with_an_unknown_action_reads_as_corrupt(raw: Raw) -> Outcome {
    let challenge = sign_up_challenge(&user("corrupt@example.com"));
    raw.store.put_challenge(&challenge).await?;
    check_eq!(
        raw.store.challenge(&challenge.key, T0).await?,
        Some(challenge.clone()),
        "written as the store writes it, it reads"
    );
    raw.db
        .prepare("UPDATE challenges SET action = 'sign-me-up' WHERE key = ?1")
        .bind(&[JsValue::from_str(challenge.key.as_str())])
        .map_err(d1)?
        .run()
        .await
        .map_err(d1)?;
    is_corrupt(raw.store.challenge(&challenge.key, T0).await)?;
    is_corrupt(
        raw.store
            .challenge_by_token(&challenge.token_hash, T0)
            .await,
    )
}

/// D1 has no TTL: the hourly cron purge is what removes lapsed challenges (and their hashes).
async fn the_purge_removes_expired_challenges_and_keeps_live_ones(raw: Raw) -> Outcome {
    #[derive(serde::Deserialize)]
    struct Row {
        key: String,
    }
    let lapsed = EmailChallenge {
        expires_at: T0.plus(DAY),
        ..sign_up_challenge(&user("lapsed@example.com"))
    };
    let live = EmailChallenge {
        expires_at: T0.plus(2 * DAY),
        ..sign_up_challenge(&user("live@example.com"))
    };
    raw.store.put_challenge(&lapsed).await?;
    raw.store.put_challenge(&live).await?;
    purge_expired(&raw.db, T0.plus(DAY)).await?;
    let left: Vec<Row> = raw
        .db
        .prepare("SELECT key FROM challenges")
        .all()
        .await
        .map_err(d1)?
        .results()
        .map_err(d1)?;
    check_eq!(
        left.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        vec![live.key.as_str()]
    );
    check_eq!(raw.store.challenge(&live.key, T0).await?, Some(live));
    Ok(())
}

/// The purge removes lapsed TOTP enrolments, pending sign-ins and WebAuthn challenges (which
/// hold user ids and hashes) and keeps live ones.
async fn the_purge_removes_lapsed_factor_records_and_keeps_live_ones(raw: Raw) -> Outcome {
    use authfn::store::{CeremonyPurpose, PendingSignIn, TotpEnrolment, WebAuthnChallenge};
    use authfn_store_contract::cases::{
        ENROLMENT, pending_sign_in, totp_enrolment, webauthn_challenge,
    };
    #[derive(serde::Deserialize)]
    struct Count {
        n: i64,
    }
    let (alice, bob) = (user("alice@example.com"), user("bob@example.com"));
    let now = T0.plus(ENROLMENT);
    let later = now.plus(ENROLMENT);
    let live_enrolment = TotpEnrolment {
        expires_at: later,
        ..totp_enrolment(&bob)
    };
    let live_pending = PendingSignIn {
        expires_at: later,
        ..pending_sign_in(&bob)
    };
    let live_challenge = WebAuthnChallenge {
        expires_at: later,
        ..webauthn_challenge(CeremonyPurpose::SignIn)
    };
    raw.store
        .put_totp_enrolment(&totp_enrolment(&alice))
        .await?;
    raw.store.put_totp_enrolment(&live_enrolment).await?;
    raw.store
        .put_pending_sign_in(&pending_sign_in(&alice))
        .await?;
    raw.store.put_pending_sign_in(&live_pending).await?;
    raw.store
        .put_webauthn_challenge(&webauthn_challenge(CeremonyPurpose::Register {
            user_id: alice.id.clone(),
            user_epoch: 0,
        }))
        .await?;
    raw.store.put_webauthn_challenge(&live_challenge).await?;

    purge_expired(&raw.db, now).await?;

    for table in ["totp_enrolments", "pending_sign_ins", "webauthn_challenges"] {
        let count: Option<Count> = raw
            .db
            .prepare(format!("SELECT COUNT(*) AS n FROM {table}"))
            .first(None)
            .await
            .map_err(d1)?;
        check_eq!(count.found()?.n, 1, "{table}");
    }
    check_eq!(
        rows_naming(&raw.db, &[alice.id.as_str()]).await?,
        Vec::<String>::new()
    );
    check_eq!(
        raw.store.totp_enrolment(&bob.id, now).await?,
        Some(live_enrolment)
    );
    check_eq!(
        raw.store
            .pending_sign_in(&live_pending.token_hash, now)
            .await?,
        Some(live_pending)
    );
    check_eq!(
        raw.store
            .take_webauthn_challenge(&live_challenge.challenge_hash, now)
            .await?,
        Some(live_challenge)
    );
    Ok(())
}

/// An account from before migration 0006 has no `email_hash`; its address is still taken
/// (the `email` column's own UNIQUE decides), and the refused sign-up leaves nothing behind.
async fn a_sign_up_onto_an_address_held_by_a_row_without_a_hash_is_email_taken_and_writes_nothing(
    raw: Raw,
) -> Outcome {
    let old = user("held@example.com");
    insert_old_user(&raw, &old, false).await?;
    let newcomer = verified_user("held@example.com");
    let challenge = sign_up_challenge(&newcomer);
    let session = session_of(&newcomer);
    raw.store.put_challenge(&challenge).await?;
    check_eq!(
        raw.store
            .complete_sign_up(&challenge.proof(), &newcomer, &session, T0)
            .await?,
        SignUpOutcome::EmailTaken
    );
    check_eq!(
        raw.store.challenge(&challenge.key, T0).await?,
        Some(challenge),
        "the challenge is left for the caller"
    );
    check_eq!(raw.store.user_by_id(&newcomer.id).await?, None);
    check_eq!(raw.store.session(&session.token_hash, T0).await?, None);
    check_eq!(
        raw.store.user_by_email(&old.email).await?.found()?.id,
        old.id
    );
    Ok(())
}

/// Where any of `needles` appears in D1: `table.column` for every value (of any table, any
/// column) that contains one.
async fn rows_naming(db: &D1Database, needles: &[&str]) -> Result<Vec<String>, Failure> {
    let mut found = Vec::new();
    for table in tables(db).await.map_err(d1)? {
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = db
            .prepare(format!("SELECT * FROM \"{table}\""))
            .all()
            .await
            .map_err(d1)?
            .results()
            .map_err(d1)?;
        for row in rows {
            for (column, value) in row {
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                if needles.iter().any(|needle| value.contains(needle)) {
                    found.push(format!("{table}.{column}"));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// Writes every kind of row that can name `who`: a signed-out session, an activity entry, a
/// federated identity,
/// a refresh token whose family is revoked, a device authorization it approved, a challenge of
/// each kind under its address or id, both counters keyed by its address, and one of every
/// factor record (TOTP, its enrolment, recovery codes, a passkey, a pending sign-in, a passkey
/// registration in flight).
async fn everything_of(store: &CloudflareStore, who: &UserRecord, name: &str) -> Outcome {
    let signed_out = session_of(who);
    store.put_session(&signed_out).await?;
    store.delete_session(&signed_out.token_hash, T0).await?;
    store
        .link_identity(&identity(&format!("{name}-sub")), &who.id)
        .await?;
    let family = format!("family-of-{name}");
    store
        .put_refresh_token(&RefreshTokenRecord {
            user_id: who.id.clone(),
            ..refresh(&family, true)
        })
        .await?;
    store
        .revoke_token_family(&family, T0.plus(30 * DAY))
        .await?;
    let approved = DeviceAuthorization {
        status: DeviceStatus::Approved {
            user_id: who.id.clone(),
            user_epoch: 0,
        },
        ..device(&format!("code-of-{name}"), T0.plus(DAY))
    };
    store.create_device_authorization(&approved, T0).await?;
    let email = &who.email;
    let challenges = [
        // Someone else's pending sign-up for the address: it is under the address's hash.
        sign_up_challenge(&user(email.as_str())),
        reset_challenge(who),
        sign_in_code_challenge(who),
        email_change_challenge(who, &format!("{name}.new@example.com")),
    ];
    for c in &challenges {
        store.put_challenge(c).await?;
    }
    for key in [
        CounterKey::sign_in_attempts(email),
        CounterKey::mail_to(email),
    ] {
        store
            .put_counter(
                &key,
                Counter {
                    count: 2,
                    expires_at: T0.plus(DAY),
                },
            )
            .await?;
    }
    authfn_store_contract::cases::every_factor_record_of(store, who, name.as_bytes()).await?;
    store
        .add_activity(&[activity_entry(who, T0, &format!("{name}-event"))])
        .await?;
    Ok(())
}

/// Deleting an account leaves no D1 row holding its id, its address or the address's hash, in
/// any column of any table; the KV session it cannot list is refused. Another account's rows,
/// written alike, are all still there (so the scan does find what it looks for).
async fn a_deleted_user_leaves_no_row_naming_it_in_any_table(raw: Raw) -> Outcome {
    let alice = verified_user("alice@example.com");
    let bob = verified_user("bob@example.com");
    let (alice_session, bob_session) = (session_of(&alice), session_of(&bob));
    raw.store.create_user(&alice, &alice_session).await?;
    raw.store.create_user(&bob, &bob_session).await?;
    everything_of(&raw.store, &alice, "alice").await?;
    everything_of(&raw.store, &bob, "bob").await?;
    let alice_hash = alice.email.hash().to_hex();
    let bob_hash = bob.email.hash().to_hex();
    let alice_needles = [alice.id.as_str(), alice.email.as_str(), alice_hash.as_str()];
    let bob_needles = [bob.id.as_str(), bob.email.as_str(), bob_hash.as_str()];
    let everywhere = [
        "activity.user_id",
        "challenges.email",
        "challenges.key",
        "challenges.user_id",
        "counters.key",
        "device_authorizations.user_id",
        "identities.user_id",
        "passkeys.user_id",
        "pending_sign_ins.user_id",
        "recovery_code_sets.user_id",
        "recovery_codes.user_id",
        "refresh_tokens.user_id",
        "totp_enrolments.user_id",
        "totp_factors.user_id",
        "user_sessions.user_id",
        "users.email",
        "users.email_hash",
        "users.id",
        "webauthn_challenges.user_id",
    ];
    check_eq!(
        rows_naming(&raw.db, &alice_needles).await?,
        everywhere,
        "before the delete"
    );

    check_eq!(raw.store.delete_user(&alice).await?, true);

    check_eq!(
        rows_naming(&raw.db, &alice_needles).await?,
        Vec::<String>::new(),
        "after the delete"
    );
    check_eq!(
        rows_naming(&raw.db, &bob_needles).await?,
        everywhere,
        "the other account keeps every row"
    );
    check!(
        !raw.store
            .is_token_family_revoked("family-of-alice", T0)
            .await?,
        "the family's revocation went with it"
    );
    check!(
        raw.store
            .is_token_family_revoked("family-of-bob", T0)
            .await?
    );
    // Its KV record, found through the session index, went after it.
    check_eq!(
        raw.sessions
            .get(&format!("session:{}", alice_session.token_hash.to_hex()))
            .text()
            .await
            .map_err(|e| Failure::new(format!("KV: {e}")))?,
        None
    );
    check_eq!(
        raw.store.session(&alice_session.token_hash, T0).await?,
        None
    );
    check_eq!(
        raw.store.session(&bob_session.token_hash, T0).await?,
        Some(bob_session)
    );
    check_eq!(
        raw.store.delete_user(&alice).await?,
        false,
        "a second delete finds nothing"
    );
    Ok(())
}

/// The caller reads the user, checks its password, then deletes: an email change in between
/// moves the rows keyed by the address. The delete still removes the account, and what is
/// under the address it has now.
async fn a_delete_with_a_record_read_before_an_email_change_deletes_the_account_under_its_new_address(
    raw: Raw,
) -> Outcome {
    let read = user("before@example.com");
    raw.store.create_user(&read, &session_of(&read)).await?;
    let change = email_change_challenge(&read, "after@example.com");
    raw.store.put_challenge(&change).await?;
    check_eq!(
        raw.store
            .change_email(&change.proof(), &read.id, &change.email, T0)
            .await?,
        EmailChange::Changed
    );
    let moved = UserRecord {
        email: change.email.clone(),
        email_verified: true,
        ..read.clone()
    };
    raw.store.put_challenge(&reset_challenge(&moved)).await?;
    raw.store
        .put_counter(
            &CounterKey::mail_to(&moved.email),
            Counter {
                count: 1,
                expires_at: T0.plus(DAY),
            },
        )
        .await?;

    check!(
        raw.store.delete_user(&read).await?,
        "the account is deleted as it is now"
    );
    check_eq!(raw.store.user_by_id(&read.id).await?, None);
    check_eq!(raw.store.user_by_email(&moved.email).await?, None);
    let hash = moved.email.hash().to_hex();
    check_eq!(
        rows_naming(&raw.db, &[read.id.as_str(), moved.email.as_str(), &hash]).await?,
        Vec::<String>::new()
    );
    Ok(())
}

/// D1 has no TTL: the purge removes session index rows past either deadline, and activity past
/// its retention, and keeps the rest.
async fn the_purge_removes_lapsed_session_index_rows_and_activity_and_keeps_live_ones(
    raw: Raw,
) -> Outcome {
    use authfn::store::SessionRecord;
    #[derive(serde::Deserialize)]
    struct Count {
        n: i64,
    }
    let alice = user("alice@example.com");
    let live = session_of(&alice);
    raw.store.create_user(&alice, &live).await?;
    let now = T0.plus(DAY);
    let idle = SessionRecord {
        idle_expires_at: now,
        ..session_of(&alice)
    };
    let over = SessionRecord {
        expires_at: now,
        idle_expires_at: T0.plus(2 * DAY),
        ..session_of(&alice)
    };
    let live = SessionRecord {
        idle_expires_at: T0.plus(2 * DAY),
        ..live
    };
    raw.store.put_session(&idle).await?;
    raw.store.put_session(&over).await?;
    raw.store
        .renew_session(&live.token_hash, live.renewed_at, live.idle_expires_at)
        .await?;
    let lapsed = authfn::events::ActivityEntry {
        expires_at: now,
        ..activity_entry(&alice, T0, "lapsed")
    };
    let kept = activity_entry(&alice, T0, "kept");
    raw.store.add_activity(&[lapsed, kept.clone()]).await?;

    purge_expired(&raw.db, now).await?;

    for (table, left) in [("user_sessions", 1), ("activity", 1)] {
        let count: Option<Count> = raw
            .db
            .prepare(format!("SELECT COUNT(*) AS n FROM {table}"))
            .first(None)
            .await
            .map_err(d1)?;
        check_eq!(count.found()?.n, left, "{table}");
    }
    check_eq!(raw.store.sessions_of(&alice, T0).await?, vec![live]);
    check_eq!(
        raw.store.activity_of(&alice.id, None, 10, T0).await?,
        vec![kept]
    );
    Ok(())
}

/// A session stored before migration 0009 has a KV record and no index row: it is not listed
/// (nothing can find it) until its next renewal writes its row.
async fn a_session_from_before_the_session_index_is_listed_from_its_next_renewal(
    raw: Raw,
) -> Outcome {
    use authfn::store::SessionRecord;
    let alice = user("alice@example.com");
    let first = session_of(&alice);
    raw.store.create_user(&alice, &first).await?;
    let old = session_of(&alice);
    raw.sessions
        .put(
            &format!("session:{}", old.token_hash.to_hex()),
            serde_json::json!({
                "id": old.id.as_str(),
                "user_id": alice.id.as_str(),
                "user_epoch": 0,
                "created_at": old.created_at.0,
                "expires_at": old.expires_at.0,
                "idle_expires_at": old.idle_expires_at.0,
                "renewed_at": old.renewed_at.0,
            })
            .to_string(),
        )
        .map_err(|e| Failure::new(format!("KV: {e}")))?
        .execute()
        .await
        .map_err(|e| Failure::new(format!("KV: {e}")))?;
    let as_read = SessionRecord {
        device: None,
        network: None,
        ..old
    };
    check_eq!(
        raw.store.session(&as_read.token_hash, T0).await?,
        Some(as_read.clone())
    );
    check_eq!(
        raw.store.sessions_of(&alice, T0).await?,
        vec![first.clone()]
    );

    let renewed_at = T0.plus(DAY / 2);
    raw.store
        .renew_session(&as_read.token_hash, renewed_at, renewed_at.plus(DAY))
        .await?;
    let renewed = SessionRecord {
        renewed_at,
        idle_expires_at: renewed_at.plus(DAY),
        ..as_read
    };
    let mut expected = vec![first, renewed];
    expected.sort_by(|a, b| b.id.as_str().cmp(a.id.as_str()));
    check_eq!(raw.store.sessions_of(&alice, renewed_at).await?, expected);
    Ok(())
}
