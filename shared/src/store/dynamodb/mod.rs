//! The DynamoDB store: one table, one item per record.
//!
//! | `pk`                      | attributes                                                  | `ttl`             |
//! |---------------------------|-------------------------------------------------------------|-------------------|
//! | `USER#<user id>`          | `email`, `password_hash` (absent for federated-only users), `created_at`, `email_verified` (absent on users from before it: unproven), `session_epoch` | none |
//! | `EMAIL#<sha256(normalised email) hex>` | `user_id` (the key holds no address: `Email::hash`) | none |
//! | `SESSION#<token hash hex>`| `session_id`, `user_id`, `user_epoch`, `created_at`, `expires_at`, `idle_expires_at`, `renewed_at`; `gsi1pk` = `USER#<user id>`, `gsi1sk` = its `pk` | `idle_expires_at` |
//! | `COUNTER#<counter key>`   | `count`                                                     | the window's end  |
//! | `IDENTITY#<sha256(issuer, sub) hex>` | `user_id`, `issuer`, `subject`; `gsi1pk` = `USER#<user id>`, `gsi1sk` = its `pk` | none |
//! | `FEDERATION#<attempt key hex>` | `binding_hash`, `provider`, `return_to`, `wants_json` (key: `attempt_key`, of state and binding) | the attempt's end |
//! | `DEVICE#<device code hash hex>` | `user_code_hash`, `client_id`, `scope`, `status`, `user_id`, `user_epoch`, `interval_secs`, `last_polled_at`, `version`, `created_at`, `requested_from` | the code's end |
//! | `USERCODE#<user code hash hex>` | `device_code_hash` (claims the user code while live; the code itself is never stored) | the code's end |
//! | `REFRESH#<token hash hex>`| `family_id`, `user_id`, `client_id`, `scope`, `user_epoch`, `active`, `family_expires_at`; `gsi1pk` = `USER#<user id>`, `gsi1sk` = its family's `FAMILY#<family id>` | the token's end |
//! | `FAMILY#<family id>`      | `revoked`: a revoked refresh-token family                   | the family's end  |
//! | `CHALLENGE#<challenge key>` | `email`, `token_hash`, `code_hash`, `failures`, `action`, `user_id`, `password_hash` (sign-ups only), `created_at` (the key holds no address, only its hash); `gsi1pk` = `USER#<the action's user id>`, `gsi1sk` = its `pk` | the challenge's end |
//! | `CHALLENGETOKEN#<token hash hex>` | `challenge_key`: where the challenge with this link token was put (a later one under that key has another token, so this finds nothing); `gsi1pk` = `USER#<the action's user id>`, `gsi1sk` = its `pk` | the challenge's end |
//!
//! Users and their email claims never expire, so they carry no `ttl`: DynamoDB only deletes
//! items whose `ttl` is set. Everything else does, so abandoned sessions and counters clean
//! themselves up; as the deletion can lag by days, reads still check expiry themselves.
//!
//! The `gsi1` index (keys only) is each user's partition: `gsi1pk` = `USER#<user id>` on the
//! items that name the user and are not found by key (sessions, identity links, refresh tokens,
//! challenges acting on it and their token items; not an approved device authorization, which
//! lapses within minutes). Signing out everywhere queries its
//! sessions (`gsi1sk` beginning `SESSION#`); deleting the user queries all of it. Identity
//! links and refresh tokens written before these entries existed have none, so a deletion does
//! not find them: such refresh tokens lapse by their TTL; such identity links need the entry
//! set once (a one-off scan of `IDENTITY#` items setting `gsi1pk` and `gsi1sk`).
//!
//! Every read is strongly consistent, and every check-then-write is a single conditional
//! write or transaction, which is what gives the atomicity the [`Store`] trait promises.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::AsyncSleep;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use super::*;
use crate::error::context;

pub(crate) mod connection;
mod items;
mod requests;
mod schema;
mod store;

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
}

impl DynamoStore {
    /// A store over `table` through an SDK client already configured.
    pub fn from_client(client: Client, table: String) -> DynamoStore {
        DynamoStore { client, table }
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
