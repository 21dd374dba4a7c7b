//! The DynamoDB store: one table, one item per record.
//!
//! | `pk`                      | attributes                                                  | `ttl`             |
//! |---------------------------|-------------------------------------------------------------|-------------------|
//! | `USER#<user id>`          | `email`, `password_hash` (absent for federated-only users), `created_at`, `email_verified` (absent on users from before it: unproven), `session_epoch`, `totp` and `passkeys` (the factor summary; absent: none), `passkey_entries` (string set of `<factor id> <passkey item pk>`, one per passkey) | none |
//! | `EMAIL#<sha256(normalised email) hex>` | `user_id` (the key holds no address: `Email::hash`) | none |
//! | `SESSION#<token hash hex>`| `session_id`, `user_id`, `user_epoch`, `created_at`, `authenticated_at` (absent: `created_at`), `expires_at`, `idle_expires_at`, `renewed_at`, `device` and `network` (absent on older sessions, or unknown); `gsi1pk` = `USER#<user id>`, `gsi1sk` = its `pk` | `idle_expires_at` |
//! | `COUNTER#<counter key>`   | `count`                                                     | the window's end  |
//! | `IDENTITY#<sha256(issuer, sub) hex>` | `user_id`, `issuer`, `subject`; `gsi1pk` = `USER#<user id>`, `gsi1sk` = its `pk` | none |
//! | `FEDERATION#<attempt key hex>` | `binding_hash`, `provider`, `return_to`, `wants_json` (key: `attempt_key`, of state and binding) | the attempt's end |
//! | `DEVICE#<device code hash hex>` | `user_code_hash`, `client_id`, `scope`, `status`, `user_id`, `user_epoch`, `interval_secs`, `last_polled_at`, `version`, `created_at`, `requested_from` | the code's end |
//! | `USERCODE#<user code hash hex>` | `device_code_hash` (claims the user code while live; the code itself is never stored) | the code's end |
//! | `REFRESH#<token hash hex>`| `family_id`, `user_id`, `client_id`, `scope`, `user_epoch`, `active`, `family_expires_at`; `gsi1pk` = `USER#<user id>`, `gsi1sk` = its family's `FAMILY#<family id>` | the token's end |
//! | `FAMILY#<family id>`      | `revoked`: a revoked refresh-token family                   | the family's end  |
//! | `CHALLENGE#<challenge key>` | `email`, `token_hash`, `code_hash`, `failures`, `action`, `user_id`, `password_hash` (sign-ups only), `created_at` (the key holds no address, only its hash); `gsi1pk` = `USER#<the action's user id>`, `gsi1sk` = its `pk` | the challenge's end |
//! | `CHALLENGETOKEN#<token hash hex>` | `challenge_key`: where the challenge with this link token was put (a later one under that key has another token, so this finds nothing); `gsi1pk` = `USER#<the action's user id>`, `gsi1sk` = its `pk` | the challenge's end |
//! | `TOTPENROL#<user id>`     | `secret` (encrypted): a TOTP enrolment; gsi1 | the enrolment's end |
//! | `TOTP#<user id>`          | `secret` (encrypted), `last_step` (compare-and-set), `created_at`, `last_used_at`; gsi1 | none |
//! | `RECOVERY#<user id>`      | `code_hashes` (string set of hashes; absent when every code is used), `created_at`; gsi1 | none |
//! | `PASSKEY#<sha256(credential id) hex>` | the passkey, and so the credential id's claim: `user_id`, `factor_id`, `credential_id` and `public_key` (binary), `sign_count`, `transports` (list), `be`, `bs`, `name`, `created_at`, `last_used_at`; gsi1 | none |
//! | `PENDING#<token hash hex>` | `user_id`, `user_epoch`, `first_factor`, `failures`, `created_at`; gsi1 | the pending sign-in's end |
//! | `ACTIVITY#<user id>#<time>#<event id>` | one entry of the user's activity: `user_id`, `event_id`, `time`, `json` (what the user sees); `gsi1pk` = `USER#<user id>`, `gsi1sk` = `ACTIVITY#<time>#<event id>` (the time zero-padded to 20 digits, so the key's order is (time, id) order) | the entry's end (90 days) |
//! | `WEBAUTHN#<challenge hash hex>` | `purpose`, `user_id` and `user_epoch` (registration; then gsi1), `pending` (second factor) | the challenge's end |
//!
//! Users, their email claims and their factors never expire, so they carry no `ttl`: DynamoDB only deletes
//! items whose `ttl` is set. Everything else does, so abandoned sessions and counters clean
//! themselves up; as the deletion can lag by days, reads still check expiry themselves.
//!
//! The `gsi1` index (keys only) is each user's partition: `gsi1pk` = `USER#<user id>` on the
//! items that name the user and are not found by key (sessions, identity links, refresh tokens,
//! challenges acting on it and their token items, pending sign-ins, passkey registrations in
//! flight, activity entries; not an approved device authorization, which lapses within minutes), and on its
//! factor items, which a deletion also finds by key (passkeys through `passkey_entries`).
//! "gsi1" in the table above means `gsi1pk` = `USER#<user id>`, `gsi1sk` = its `pk`.
//!
//! Every factor change writes the user's `totp`/`passkeys` (and `passkey_entries`) in the same
//! transaction as the factor's items: confirming TOTP takes the enrolment (conditioned on its
//! secret), sets `totp` only while it is off, and puts the factor and the recovery codes;
//! registering a passkey puts its item only if absent (one claim per credential id) and, with
//! first recovery codes, only while the user has no factor. A recovery code is taken by one
//! `UpdateItem DELETE code_hashes` conditioned on `contains`. Signing out everywhere queries its
//! sessions (`gsi1sk` beginning `SESSION#`), and so does the user's session list (then reads
//! them back with a strongly consistent batch read, and ends one found there, never by its
//! public id alone); the user's activity is a query of `gsi1sk` beginning `ACTIVITY#`, newest
//! first (the sort key is in (time, id) order), whose items a batch read brings; deleting the
//! user queries all of it, activity included. Identity
//! links and refresh tokens written before these entries existed have none, so a deletion does
//! not find them: such refresh tokens lapse by their TTL; such identity links need the entry
//! set once (a one-off scan of `IDENTITY#` items setting `gsi1pk` and `gsi1sk`).
//!
//! Every read is strongly consistent, and every check-then-write is a single conditional
//! write or transaction, which is what gives the atomicity the [`Store`] trait promises.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::AsyncSleep;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use super::*;
use crate::error::context;
use crate::store::usage::UsageMeter;

pub(crate) mod connection;
mod factor_items;
mod items;
mod lists;
mod requests;
mod schema;
mod store;
mod usage;

type Item = HashMap<String, AttributeValue>;

const PK: &str = "pk";
const TTL: &str = "ttl";
const GSI1: &str = "gsi1";
const GSI1PK: &str = "gsi1pk";
const GSI1SK: &str = "gsi1sk";

/// A [`Store`] over one DynamoDB table (see the table above).
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Every call the client makes, counted by its interceptor.
    usage: Arc<UsageMeter>,
}

impl DynamoStore {
    /// A store over `table` through an SDK client already configured.
    pub fn from_client(client: Client, table: String) -> DynamoStore {
        let usage = Arc::new(UsageMeter::default());
        let config = client
            .config()
            .to_builder()
            .interceptor(usage::CountUsage(Arc::clone(&usage)))
            .build();
        DynamoStore {
            client: Client::from_conf(config),
            table,
            usage,
        }
    }

    /// The SDK client and table name, for tests that inspect the items themselves.
    pub fn raw(&self) -> (&Client, &str) {
        (&self.client, &self.table)
    }

    async fn sleep(&self, duration: Duration) {
        // The SDK's own timer, so this module works on whichever runtime the SDK was set up with.
        if let Some(sleep) = self.client.config().sleep_impl() {
            sleep.sleep(duration).await;
        }
    }
}

/// Request builders fail only when a required field is unset, which the code above never does;
/// still, a bug there should cost one request, not the process.
fn built<T>(result: Result<T, BuildError>) -> StoreResult<T> {
    result.map_err(|e| StoreError::Unavailable(context("DynamoDB request could not be built", e)))
}

/// Whether a conditional write was refused because its condition did not hold: an expected
/// answer, not a failure.
fn condition_failed<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

/// A failed call as the store reports it: see [`crate::aws_sdk::failure`].
fn unavailable<E>(operation: &'static str, err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    StoreError::Unavailable(crate::aws_sdk::failure(
        &format!("DynamoDB {operation}"),
        err,
    ))
}
