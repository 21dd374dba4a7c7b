//! A test-only Worker: runs the store contract (`tests/store-contract`) against the
//! Cloudflare store inside workerd, over Miniflare's KV and D1 (`wrangler dev --local`).
//! `tests/support/store-contract-worker.sh` builds it, starts it and reads the verdicts.
//!
//! - `GET /cases`: the case names, as JSON (also the readiness check).
//! - `GET /run` (optionally `?case=NAME`): runs every case in turn, each on an emptied KV
//!   namespace and D1 database, and answers `{"cases": [{"name", "passed", "failure"}]}`.
//!
//! Besides the shared cases it runs a few only this store has: rows written by hand that
//! must read as corrupt, and a revocation that must outlive a session written back after it.
#![cfg(target_arch = "wasm32")]

use std::sync::Arc;
use std::time::Duration;

use authfn::store::cloudflare::CloudflareStore;
use authfn::store::{CounterKey, Store, StoreError};
use authfn_store_contract::cases::{DAY, T0, refresh, session_of, user};
use authfn_store_contract::{CaseFuture, Failure, Outcome, check, check_eq};
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
            let only = url.query_pairs().find(|(k, _)| k == "case").map(|(_, v)| v.into_owned());
            let mut verdicts = Vec::new();
            for (name, run) in cases.into_iter().filter(|(name, _)| only.as_deref().is_none_or(|o| o == *name)) {
                empty(&env).await?;
                let outcome = match run {
                    Run::Shared(run) => run(Arc::new(store(&env)?)).await,
                    Run::Own(run) => run(Raw { store: store(&env)?, db: env.d1("DB")?, sessions: env.kv("SESSIONS")? }).await,
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
    Ok(CloudflareStore::new(env.kv("SESSIONS")?, env.d1("DB")?, MAX_SESSION_LIFETIME))
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
    let mut cases: Vec<_> = authfn_store_contract::cases().into_iter().map(|c| (c.name, Run::Shared(c.run))).collect();
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
    );
    cases
}

/// Empties every table the migrations made (newest first, so a table is emptied before the
/// one its foreign key names) and every KV key.
async fn empty(env: &Env) -> worker::Result<()> {
    #[derive(serde::Deserialize)]
    struct Table {
        name: String,
    }
    let db = env.d1("DB")?;
    let tables: Vec<Table> = db
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' \
             AND name NOT LIKE '!_cf!_%' ESCAPE '!' AND name != 'd1_migrations' ORDER BY rowid DESC",
        )
        .all()
        .await?
        .results()?;
    let deletes = tables.iter().map(|t| db.prepare(format!("DELETE FROM \"{}\"", t.name))).collect();
    db.batch(deletes).await?;
    let kv = env.kv("SESSIONS")?;
    loop {
        let page = kv.list().execute().await.map_err(|e| worker::Error::RustError(e.to_string()))?;
        for key in &page.keys {
            kv.delete(&key.name).await.map_err(|e| worker::Error::RustError(e.to_string()))?;
        }
        if page.list_complete || page.keys.is_empty() {
            return Ok(());
        }
    }
}

fn is_corrupt<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Outcome {
    match result {
        Err(StoreError::Corrupt(_)) => Ok(()),
        other => Err(Failure::new(format!("expected a Corrupt error, got {other:?}"))),
    }
}

fn d1(e: worker::Error) -> Failure {
    Failure::new(format!("D1: {e}"))
}

#[expect(clippy::cast_precision_loss, reason = "a Unix time in 2023 is exact as a double")]
async fn a_negative_counter_row_reads_as_corrupt(raw: Raw) -> Outcome {
    let key = CounterKey::rate_limit("sign-in", "192.0.2.1");
    raw.db
        .prepare("INSERT INTO counters (key, count, expires_at) VALUES (?1, -1, ?2)")
        .bind(&[JsValue::from_str(key.as_str()), JsValue::from_f64(T0.plus(DAY).0 as f64)])
        .map_err(d1)?
        .run()
        .await
        .map_err(d1)?;
    is_corrupt(raw.store.counter(&key, T0).await)
}

async fn a_refresh_token_flag_other_than_0_or_1_reads_as_corrupt(raw: Raw) -> Outcome {
    let token = refresh("fam-corrupt", true);
    raw.store.put_refresh_token(&token).await?;
    check!(raw.store.refresh_token(&token.token_hash, T0).await?.is_some(), "written as the store writes it, it reads");
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
        .put(&format!("session:{}", session.token_hash.to_hex()), "{not json")
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
