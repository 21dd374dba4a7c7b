//! The DynamoDB store: one table, one item per record.
//!
//! | `pk`                      | attributes                                                  | `ttl`             |
//! |---------------------------|-------------------------------------------------------------|-------------------|
//! | `USER#<user id>`          | `email`, `password_hash` (absent for federated-only users), `created_at`, `session_epoch` | none |
//! | `EMAIL#<sha256(normalised email) hex>` | `user_id` (the key holds no address: `Email::hash`) | none |
//! | `SESSION#<token hash hex>`| `session_id`, `user_id`, `user_epoch`, `created_at`, `expires_at`, `idle_expires_at`, `renewed_at`; `gsi1pk` = `USER#<user id>`, `gsi1sk` = its `pk` | `idle_expires_at` |
//! | `COUNTER#<counter key>`   | `count`                                                     | the window's end  |
//! | `IDENTITY#<sha256(issuer, sub) hex>` | `user_id`, `issuer`, `subject`                   | none              |
//! | `FEDERATION#<attempt key hex>` | `binding_hash`, `provider`, `return_to`, `wants_json` (key: `attempt_key`, of state and binding) | the attempt's end |
//! | `DEVICE#<device code hash hex>` | `user_code_hash`, `client_id`, `scope`, `status`, `user_id`, `user_epoch`, `interval_secs`, `last_polled_at`, `version`, `created_at`, `requested_from` | the code's end |
//! | `USERCODE#<user code hash hex>` | `device_code_hash` (claims the user code while live; the code itself is never stored) | the code's end |
//! | `REFRESH#<token hash hex>`| `family_id`, `user_id`, `client_id`, `scope`, `user_epoch`, `active`, `family_expires_at` | the token's end |
//! | `FAMILY#<family id>`      | `revoked`: a revoked refresh-token family                   | the family's end  |
//!
//! Users and their email claims never expire, so they carry no `ttl`: DynamoDB only deletes
//! items whose `ttl` is set. Everything else does, so abandoned sessions and counters clean
//! themselves up; as the deletion can lag by days, reads still check expiry themselves.
//!
//! The `gsi1` index (keys only) exists for one query: finding a user's sessions when they
//! sign out everywhere.
//!
//! Every read is strongly consistent, and every check-then-write is a single conditional
//! write or transaction, which is what gives the atomicity the [`Store`] trait promises.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::AsyncSleep;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, GlobalSecondaryIndex, IndexStatus,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem, WriteRequest,
};

use super::*;

type Item = HashMap<String, AttributeValue>;

const PK: &str = "pk";
const TTL: &str = "ttl";
const GSI1: &str = "gsi1";
const GSI1PK: &str = "gsi1pk";
const GSI1SK: &str = "gsi1sk";

/// BatchWriteItem's limit on requests per call.
const BATCH_WRITE_LIMIT: usize = 25;
/// How often the increment loop may lose the race to recreate an expired counter. Each loss
/// means another writer just made a live counter, so the next update almost surely lands.
const INCREMENT_ATTEMPTS: usize = 5;
/// Sign-up transactions cancelled by a conflicting concurrent transaction are retried: they
/// wrote nothing, and the retry learns whether the other one took the email.
const TRANSACTION_ATTEMPTS: usize = 3;
/// Re-sends of BatchWriteItem's unprocessed deletes (DynamoDB hands them back when throttled).
const UNPROCESSED_RETRIES: u32 = 3;

/// The SDK's HTTPS client, trusting root certificates compiled into the binary instead of
/// the system's certificate files: reading and parsing those files was most of a function's
/// cold start (bench/cold-start.sh: 3.5x a hello-world Lambda with them, 2.2x with the whole
/// compiled-in Mozilla set, about 1.5x with Amazon's roots alone).
///
/// AWS's own endpoints present certificates from Amazon Trust Services, so for them only its
/// roots are trusted, which also narrows who could mint a certificate we accept. A custom
/// endpoint (a local DynamoDB API, a proxy) gets the whole Mozilla set.
fn https_client(custom_endpoint: bool) -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    use base64::Engine as _;

    let mut roots = TrustStore::empty().with_native_roots(false);
    for der in trusted_roots(custom_endpoint) {
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        roots.add_pem_certificate(format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"));
    }
    let context = TlsContext::builder().with_trust_store(roots).build().expect("the compiled-in roots are valid");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https()
}

fn trusted_roots(custom_endpoint: bool) -> impl Iterator<Item = &'static [u8]> {
    // Subject names as they appear, unparsed, in the DER of Amazon Trust Services' roots
    // (https://www.amazontrust.com/repository/): matching bytes avoids parsing every cert.
    // memchr's searcher, because a naive byte-window scan of ~150 certificates was 60% of a
    // function's start-up instructions (callgrind).
    const AMAZON_ROOTS: [&[u8]; 2] = [b"Amazon Root CA", b"Starfield Services Root Certificate Authority"];
    let finders = AMAZON_ROOTS.map(memchr::memmem::Finder::new);
    let is_amazon = move |der: &[u8]| finders.iter().any(|f| f.find(der).is_some());
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| der.as_ref())
        .filter(move |der| custom_endpoint || is_amazon(der))
}

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// Connects with the default AWS configuration (environment, profile or the Lambda role),
    /// optionally to another endpoint such as a local DynamoDB API.
    pub async fn connect(table: String, endpoint_url: Option<String>) -> DynamoStore {
        Self::connect_with(aws_config::defaults(BehaviorVersion::latest()), table, endpoint_url).await
    }

    /// [`DynamoStore::connect`] inside a Lambda function, which is handed its role's
    /// credentials and its region in environment variables. Reading just those skips building
    /// the default chains' profile, web-identity (an STS client) and instance-metadata
    /// providers, about an eighth of a function's start-up instructions (callgrind).
    pub async fn connect_in_lambda(table: String, endpoint_url: Option<String>) -> DynamoStore {
        use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
            loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
        }
        if std::env::var_os("AWS_REGION").is_some() {
            loader = loader.region(EnvironmentVariableRegionProvider::new());
        }
        Self::connect_with(loader, table, endpoint_url).await
    }

    /// As [`DynamoStore::connect`], from a loader the caller has started to configure, e.g.
    /// with fixed credentials and region so that nothing consults the instance metadata service.
    pub async fn connect_with(
        loader: aws_config::ConfigLoader,
        table: String,
        endpoint_url: Option<String>,
    ) -> DynamoStore {
        // During an outage a Lambda should answer 503 within seconds rather than hang until
        // its own timeout: a connection is refused or made within 1 s, an attempt gets 2 s,
        // and the whole call, retries included, 5 s.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(1))
            .operation_attempt_timeout(Duration::from_secs(2))
            .operation_timeout(Duration::from_secs(5))
            .build();
        let mut loader = loader
            .http_client(https_client(endpoint_url.is_some()))
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(3));
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        DynamoStore::from_client(Client::new(&loader.load().await), table)
    }

    pub fn from_client(client: Client, table: String) -> DynamoStore {
        DynamoStore { client, table }
    }

    /// The SDK client and table name, for tests that inspect the items themselves.
    pub fn raw(&self) -> (&Client, &str) {
        (&self.client, &self.table)
    }

    /// Creates the table with the schema this store expects, unless it exists, and waits until
    /// it is ready. For tests and the local dev server only: production tables are declared
    /// in template.yaml, which must stay in step with this.
    pub async fn create_table_if_missing(&self) -> StoreResult<()> {
        let key =
            |name: &str, key_type| built(KeySchemaElement::builder().attribute_name(name).key_type(key_type).build());
        let string_attribute = |name: &str| {
            built(AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build())
        };
        let gsi1 = built(
            GlobalSecondaryIndex::builder()
                .index_name(GSI1)
                .key_schema(key(GSI1PK, KeyType::Hash)?)
                .key_schema(key(GSI1SK, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                .build(),
        )?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attribute(PK)?)
            .attribute_definitions(string_attribute(GSI1PK)?)
            .attribute_definitions(string_attribute(GSI1SK)?)
            .key_schema(key(PK, KeyType::Hash)?)
            .global_secondary_indexes(gsi1)
            .send()
            .await;
        if let Err(err) = created {
            // ResourceInUse: the table exists already, or is being created by someone else.
            if !err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) {
                return Err(unavailable("CreateTable", &err));
            }
        }
        self.wait_until_active().await?;
        self.enable_ttl().await
    }

    /// Polls the table until it and its index are ACTIVE. The SDK's own waiter first re-polls
    /// after 20 s, far longer than a local server takes.
    async fn wait_until_active(&self) -> StoreResult<()> {
        let mut delay = Duration::from_millis(50);
        for _ in 0..40 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| unavailable("DescribeTable", &e))?;
            let table = described.table();
            let table_active = table.and_then(|t| t.table_status()) == Some(&TableStatus::Active);
            let indexes_active = table
                .map(|t| t.global_secondary_indexes())
                .unwrap_or_default()
                .iter()
                .all(|i| i.index_status().is_none_or(|s| *s == IndexStatus::Active));
            if table_active && indexes_active {
                return Ok(());
            }
            self.sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
        Err(StoreError::Unavailable(format!("DynamoDB table {} did not become active", self.table)))
    }

    async fn enable_ttl(&self) -> StoreResult<()> {
        let current = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| unavailable("DescribeTimeToLive", &e))?;
        let status = current.time_to_live_description().and_then(|d| d.time_to_live_status());
        if matches!(status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)) {
            return Ok(());
        }
        let spec = built(TimeToLiveSpecification::builder().enabled(true).attribute_name(TTL).build())?;
        match self.client.update_time_to_live().table_name(&self.table).time_to_live_specification(spec).send().await {
            Ok(_) => Ok(()),
            // Local servers (moto, dynalite) may not expire items at all; reads check expiry anyway.
            Err(err) if err.code() == Some("UnknownOperationException") => Ok(()),
            Err(err) => Err(unavailable("UpdateTimeToLive", &err)),
        }
    }

    async fn sleep(&self, duration: Duration) {
        // The SDK's own timer, so this module works on whichever runtime the SDK was set up with.
        if let Some(sleep) = self.client.config().sleep_impl() {
            sleep.sleep(duration).await;
        }
    }

    async fn get(&self, pk: String) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", &e))?;
        Ok(out.item)
    }

    async fn put(&self, item: Item) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable("PutItem", &e))?;
        Ok(())
    }

    async fn delete(&self, pk: String) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem", &e))?;
        Ok(())
    }

    /// One put of a transaction, made only if `condition` holds.
    fn transact_put(&self, item: Item, condition: Option<&str>) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(Into::into));
        Ok(TransactWriteItem::builder().put(built(put.build())?).build())
    }

    /// Runs a transaction whose conditions all say "absent": `AlreadyExists` when one failed.
    async fn transact_insert(&self, items: Vec<TransactWriteItem>) -> StoreResult<Insert> {
        let mut attempts_left = TRANSACTION_ATTEMPTS;
        loop {
            attempts_left -= 1;
            // The SDK gives each call an idempotency token, so its own retry of a transaction
            // that did land (say, after a timeout) succeeds rather than hitting our condition.
            let err = match self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await {
                Ok(_) => return Ok(Insert::Inserted),
                Err(err) => err,
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
                let reasons = cancelled.cancellation_reasons();
                let has = |code: &str| reasons.iter().any(|r| r.code() == Some(code));
                if has("ConditionalCheckFailed") {
                    return Ok(Insert::AlreadyExists);
                }
                if has("TransactionConflict") && attempts_left > 0 {
                    continue;
                }
            }
            return Err(unavailable("TransactWriteItems", &err));
        }
    }

    /// The primary keys of every session item of the user, from the index. The index is
    /// eventually consistent, so a session created a moment ago may be missing: that is fine
    /// for cleanup, because the epoch bump has already invalidated it.
    async fn session_keys_of(&self, user_id: &UserId) -> StoreResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("#gsi1pk = :user")
                .expression_attribute_names("#gsi1pk", GSI1PK)
                .expression_attribute_values(":user", s(user_key(user_id)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable("Query", &e))?;
            for item in page.items() {
                keys.push(Decoder::new("session index entry", item).string(PK)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(keys);
            }
        }
    }

    async fn delete_all(&self, keys: Vec<String>) -> StoreResult<()> {
        for chunk in keys.chunks(BATCH_WRITE_LIMIT) {
            let mut requests = chunk
                .iter()
                .map(|pk| {
                    let delete = built(DeleteRequest::builder().key(PK, s(pk)).build())?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<StoreResult<Vec<_>>>()?;
            let mut retries = 0;
            while !requests.is_empty() {
                if retries > UNPROCESSED_RETRIES {
                    return Err(StoreError::Unavailable("DynamoDB BatchWriteItem: deletes left unprocessed".into()));
                }
                if retries > 0 {
                    self.sleep(Duration::from_millis(50 << retries)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| unavailable("BatchWriteItem", &e))?;
                requests = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                retries += 1;
            }
        }
        Ok(())
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Store for DynamoStore {
    async fn create_user(&self, user: &UserRecord, first_session: &SessionRecord) -> StoreResult<Insert> {
        // The email claim is what makes sign-up unique: two transactions putting the same
        // EMAIL# item cannot both find it absent. All three items are written or none is.
        let absent = Some("attribute_not_exists(pk)");
        self.transact_insert(vec![
            self.transact_put(email_item(user), absent)?,
            self.transact_put(user_item(user), absent)?,
            // A token hash is 256 random bits: it needs no uniqueness check.
            self.transact_put(session_item(first_session), None)?,
        ])
        .await
    }

    async fn create_federated_user(
        &self,
        user: &UserRecord,
        identity: &FederatedIdentity,
        first_session: &SessionRecord,
    ) -> StoreResult<Insert> {
        let absent = Some("attribute_not_exists(pk)");
        self.transact_insert(vec![
            self.transact_put(email_item(user), absent)?,
            self.transact_put(identity_item(identity, &user.id), absent)?,
            self.transact_put(user_item(user), absent)?,
            self.transact_put(session_item(first_session), None)?,
        ])
        .await
    }

    async fn user_by_identity(&self, identity: &FederatedIdentity) -> StoreResult<Option<UserRecord>> {
        let Some(link) = self.get(identity_key(identity)).await? else {
            return Ok(None);
        };
        let user_id = UserId::from_stored(Decoder::new("identity", &link).string("user_id")?);
        match self.user_by_id(&user_id).await? {
            Some(user) => Ok(Some(user)),
            None => Err(StoreError::Corrupt("identity points to no user".into())),
        }
    }

    async fn link_identity(&self, identity: &FederatedIdentity, user_id: &UserId) -> StoreResult<Insert> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(identity_item(identity, user_id)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(Insert::Inserted),
            Err(err) if condition_failed(&err) => Ok(Insert::AlreadyExists),
            Err(err) => Err(unavailable("PutItem", &err)),
        }
    }

    async fn put_federation_attempt(&self, attempt: &FederationAttempt) -> StoreResult<()> {
        self.put(attempt_item(attempt)).await
    }

    async fn take_federation_attempt(&self, key: &TokenHash, now: UnixTime) -> StoreResult<Option<FederationAttempt>> {
        // DeleteItem returning the old item is atomic: of two concurrent callbacks with one
        // state, only one gets the item back.
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(attempt_key(key)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem", &e))?;
        let Some(item) = out.attributes else { return Ok(None) };
        let attempt = decode_attempt(key, &item)?;
        Ok(is_live(attempt.expires_at, now).then_some(attempt))
    }

    async fn create_device_authorization(&self, auth: &DeviceAuthorization, now: UnixTime) -> StoreResult<Insert> {
        // The user code is claimed by its own item, which an expired claim does not block
        // (DynamoDB may not have deleted it yet).
        let claim = Put::builder()
            .table_name(&self.table)
            .set_item(Some(HashMap::from([
                (PK.into(), s(user_code_key(&auth.user_code_hash))),
                ("device_code_hash".into(), s(auth.device_code_hash.to_hex())),
                (TTL.into(), time(auth.expires_at)),
            ])))
            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":now", time(now));
        self.transact_insert(vec![
            TransactWriteItem::builder().put(built(claim.build())?).build(),
            self.transact_put(device_item(auth), Some("attribute_not_exists(pk)"))?,
        ])
        .await
    }

    async fn device_authorization(&self, device_code_hash: &TokenHash, now: UnixTime) -> StoreResult<Option<DeviceAuthorization>> {
        let Some(item) = self.get(device_key(device_code_hash)).await? else { return Ok(None) };
        if !item.contains_key("user_code_hash") {
            // Written before user codes were hashed (it lives minutes): no one can find it by
            // its code any more, so it reads as gone rather than as a broken record.
            return Ok(None);
        }
        let auth = decode_device(device_code_hash, &item)?;
        Ok(is_live(auth.expires_at, now).then_some(auth))
    }

    async fn device_authorization_by_user_code(&self, user_code_hash: &TokenHash, now: UnixTime) -> StoreResult<Option<DeviceAuthorization>> {
        let Some(claim) = self.get(user_code_key(user_code_hash)).await? else { return Ok(None) };
        let d = Decoder::new("user code", &claim);
        if !is_live(d.time(TTL)?, now) {
            return Ok(None);
        }
        let hash = TokenHash::from_hex(&d.string("device_code_hash")?)
            .ok_or_else(|| d.corrupt("device_code_hash", "is not a hash"))?;
        self.device_authorization(&hash, now).await
    }

    async fn update_device_authorization(&self, auth: &DeviceAuthorization) -> StoreResult<bool> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(device_item(auth)))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", n(auth.version - 1))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(unavailable("PutItem", &err)),
        }
    }

    async fn decide_device_authorization(&self, device_code_hash: &TokenHash, decision: &DeviceStatus, now: UnixTime) -> StoreResult<bool> {
        // Conditioned on the status, not the version: polls bump the version but never the
        // status, so they cannot make the user's answer fail.
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(device_key(device_code_hash)))
            .condition_expression("#status = :pending AND #ttl > :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", time(now))
            .expression_attribute_values(":one", n(1));
        update = match decision {
            DeviceStatus::Approved { user_id, user_epoch } => update
                .update_expression("SET #status = :status, user_id = :user, user_epoch = :epoch ADD #version :one")
                .expression_attribute_values(":status", s("approved"))
                .expression_attribute_values(":user", s(user_id.as_str()))
                .expression_attribute_values(":epoch", n(user_epoch)),
            DeviceStatus::Denied => {
                update.update_expression("SET #status = :status ADD #version :one").expression_attribute_values(":status", s("denied"))
            }
            DeviceStatus::Pending | DeviceStatus::Consumed => {
                return Err(StoreError::Corrupt("a device answer must be approved or denied".into()));
            }
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(unavailable("UpdateItem", &err)),
        }
    }

    async fn put_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()> {
        self.put(refresh_item(token)).await
    }

    async fn refresh_token(&self, token_hash: &TokenHash, now: UnixTime) -> StoreResult<Option<RefreshTokenRecord>> {
        let Some(item) = self.get(refresh_key(token_hash)).await? else { return Ok(None) };
        let token = decode_refresh(token_hash, &item)?;
        Ok(is_live(token.expires_at, now).then_some(token))
    }

    async fn rotate_refresh_token(&self, old: &TokenHash, new: &RefreshTokenRecord) -> StoreResult<Rotation> {
        let retire = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(PK, s(refresh_key(old)))
            .update_expression("SET active = :false")
            .condition_expression("active = :true")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":true", AttributeValue::Bool(true));
        // A revoked family has a `FAMILY#` item until its end: checked in the same
        // transaction, so a revocation cannot slip between a check and the rotation.
        let not_revoked = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(&self.table)
            .key(PK, s(family_key(&new.family_id)))
            .condition_expression("attribute_not_exists(pk)");
        let items = vec![
            TransactWriteItem::builder().update(built(retire.build())?).build(),
            self.transact_put(refresh_item(new), Some("attribute_not_exists(pk)"))?,
            TransactWriteItem::builder().condition_check(built(not_revoked.build())?).build(),
        ];
        Ok(match self.transact_insert(items).await? {
            Insert::Inserted => Rotation::Rotated,
            Insert::AlreadyExists => Rotation::AlreadyUsed,
        })
    }

    async fn revoke_token_family(&self, family_id: &str, until: UnixTime) -> StoreResult<()> {
        self.put(HashMap::from([
            (PK.into(), s(family_key(family_id))),
            ("revoked".into(), AttributeValue::Bool(true)),
            (TTL.into(), time(until)),
        ]))
        .await
    }

    async fn is_token_family_revoked(&self, family_id: &str, now: UnixTime) -> StoreResult<bool> {
        let Some(item) = self.get(family_key(family_id)).await? else { return Ok(false) };
        Ok(is_live(Decoder::new("token family", &item).time(TTL)?, now))
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>> {
        let Some(claim) = self.get(email_key(email)).await? else {
            return Ok(None);
        };
        let user_id = UserId::from_stored(Decoder::new("email claim", &claim).string("user_id")?);
        match self.user_by_id(&user_id).await? {
            Some(user) => Ok(Some(user)),
            // The two are only ever written together, in one transaction.
            None => Err(StoreError::Corrupt("email claim points to no user".into())),
        }
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        self.get(user_key(id)).await?.map(|item| decode_user(id, &item)).transpose()
    }

    async fn put_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.put(session_item(session)).await
    }

    async fn session(&self, token_hash: &TokenHash, now: UnixTime) -> StoreResult<Option<SessionRecord>> {
        let Some(item) = self.get(session_key(token_hash)).await? else {
            return Ok(None);
        };
        let session = decode_session(token_hash, &item)?;
        let live = is_live(session.idle_expires_at, now) && is_live(session.expires_at, now);
        Ok(live.then_some(session))
    }

    async fn renew_session(
        &self,
        token_hash: &TokenHash,
        renewed_at: UnixTime,
        idle_expires_at: UnixTime,
    ) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(session_key(token_hash)))
            .update_expression("SET renewed_at = :renewed, idle_expires_at = :idle, #ttl = :idle")
            // Without the condition an update creates the item: a renewal racing a sign-out
            // would bring back a half-empty session.
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":renewed", time(renewed_at))
            .expression_attribute_values(":idle", time(idle_expires_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The session is gone: there is nothing to renew.
            Err(err) if condition_failed(&err) => Ok(()),
            Err(err) => Err(unavailable("UpdateItem", &err)),
        }
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<()> {
        self.delete(session_key(token_hash)).await
    }

    async fn revoke_all_sessions(&self, user_id: &UserId) -> StoreResult<()> {
        // The epoch bump is the revocation: from this write on, every existing session of the
        // user carries a stale epoch. Deleting the records afterwards is only tidying up.
        let bumped = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(user_key(user_id)))
            .update_expression("ADD session_epoch :one")
            // Without the condition ADD would create a user item with only an epoch.
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        match bumped {
            // No such user: there is no epoch to bump, but stray sessions may still be tidied.
            Err(err) if condition_failed(&err) => {}
            Err(err) => return Err(unavailable("UpdateItem", &err)),
            Ok(_) => {}
        }
        let keys = self.session_keys_of(user_id).await?;
        self.delete_all(keys).await
    }

    async fn increment(&self, key: &CounterKey, expires_at: UnixTime, now: UnixTime) -> StoreResult<Counter> {
        let pk = counter_key(key);
        for _ in 0..INCREMENT_ATTEMPTS {
            // The common case: the counter is live, and ADD increments it atomically.
            let updated = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(&pk))
                .update_expression("ADD #count :one")
                .condition_expression("attribute_exists(pk) AND #ttl > :now")
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", time(now))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match updated {
                Ok(out) => return decode_counter(&out.attributes.unwrap_or_default()),
                Err(err) if condition_failed(&err) => {}
                Err(err) => return Err(unavailable("UpdateItem", &err)),
            }
            // Absent or expired: start a new window, unless another writer just did so.
            let fresh = Counter { count: 1, expires_at };
            let created = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(counter_item(key, fresh)))
                .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":now", time(now))
                .send()
                .await;
            match created {
                Ok(_) => return Ok(fresh),
                // Lost the race to a writer that made a live counter: add to theirs.
                Err(err) if condition_failed(&err) => {}
                Err(err) => return Err(unavailable("PutItem", &err)),
            }
        }
        Err(StoreError::Unavailable("DynamoDB counter too contended to increment".into()))
    }

    async fn counter(&self, key: &CounterKey, now: UnixTime) -> StoreResult<Option<Counter>> {
        let Some(item) = self.get(counter_key(key)).await? else {
            return Ok(None);
        };
        let counter = decode_counter(&item)?;
        Ok(is_live(counter.expires_at, now).then_some(counter))
    }

    async fn put_counter(&self, key: &CounterKey, counter: Counter) -> StoreResult<()> {
        self.put(counter_item(key, counter)).await
    }

    async fn delete_counter(&self, key: &CounterKey) -> StoreResult<()> {
        self.delete(counter_key(key)).await
    }
}

fn user_key(id: &UserId) -> String {
    format!("USER#{id}")
}

fn email_key(email: &Email) -> String {
    format!("EMAIL#{}", email.hash().to_hex())
}

fn session_key(token_hash: &TokenHash) -> String {
    format!("SESSION#{}", token_hash.to_hex())
}

fn identity_key(identity: &FederatedIdentity) -> String {
    format!("IDENTITY#{}", identity.key().to_hex())
}

fn attempt_key(key: &TokenHash) -> String {
    format!("FEDERATION#{}", key.to_hex())
}

fn device_key(hash: &TokenHash) -> String {
    format!("DEVICE#{}", hash.to_hex())
}

fn user_code_key(hash: &TokenHash) -> String {
    format!("USERCODE#{}", hash.to_hex())
}

fn refresh_key(hash: &TokenHash) -> String {
    format!("REFRESH#{}", hash.to_hex())
}

fn family_key(family_id: &str) -> String {
    format!("FAMILY#{family_id}")
}

fn counter_key(key: &CounterKey) -> String {
    format!("COUNTER#{}", key.as_str())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn time(t: UnixTime) -> AttributeValue {
    n(t.0)
}

fn user_item(user: &UserRecord) -> Item {
    let mut item = HashMap::from([
        (PK.into(), s(user_key(&user.id))),
        ("email".into(), s(user.email.as_str())),
        ("created_at".into(), time(user.created_at)),
        ("session_epoch".into(), n(user.session_epoch)),
    ]);
    if let Some(hash) = &user.password_hash {
        item.insert("password_hash".into(), s(hash.as_str()));
    }
    item
}

fn identity_item(identity: &FederatedIdentity, user_id: &UserId) -> Item {
    HashMap::from([
        (PK.into(), s(identity_key(identity))),
        ("user_id".into(), s(user_id.as_str())),
        ("issuer".into(), s(&identity.issuer)),
        ("subject".into(), s(&identity.subject)),
    ])
}

fn attempt_item(attempt: &FederationAttempt) -> Item {
    HashMap::from([
        (PK.into(), s(attempt_key(&attempt.key))),
        ("binding_hash".into(), s(attempt.binding_hash.to_hex())),
        ("provider".into(), s(&attempt.provider)),
        ("return_to".into(), s(&attempt.return_to)),
        ("wants_json".into(), AttributeValue::Bool(attempt.wants_json)),
        (TTL.into(), time(attempt.expires_at)),
    ])
}

fn device_item(auth: &DeviceAuthorization) -> Item {
    let (status, approval) = match &auth.status {
        DeviceStatus::Pending => ("pending", None),
        DeviceStatus::Approved { user_id, user_epoch } => ("approved", Some((user_id, user_epoch))),
        DeviceStatus::Denied => ("denied", None),
        DeviceStatus::Consumed => ("consumed", None),
    };
    let mut item = HashMap::from([
        (PK.into(), s(device_key(&auth.device_code_hash))),
        ("user_code_hash".into(), s(auth.user_code_hash.to_hex())),
        ("created_at".into(), time(auth.created_at)),
        ("requested_from".into(), s(&auth.requested_from)),
        ("client_id".into(), s(auth.client_id.as_str())),
        ("scope".into(), s(auth.scope.as_str())),
        ("status".into(), s(status)),
        ("interval_secs".into(), n(auth.interval.as_secs())),
        ("version".into(), n(auth.version)),
        (TTL.into(), time(auth.expires_at)),
    ]);
    if let Some((user_id, user_epoch)) = approval {
        item.insert("user_id".into(), s(user_id.as_str()));
        item.insert("user_epoch".into(), n(user_epoch));
    }
    if let Some(at) = auth.last_polled_at {
        item.insert("last_polled_at".into(), time(at));
    }
    item
}

fn decode_device(hash: &TokenHash, item: &Item) -> StoreResult<DeviceAuthorization> {
    let d = Decoder::new("device authorization", item);
    let status = match d.string("status")?.as_str() {
        "pending" => DeviceStatus::Pending,
        "approved" => DeviceStatus::Approved {
            user_id: UserId::from_stored(d.string("user_id")?),
            user_epoch: d.number("user_epoch")?,
        },
        "denied" => DeviceStatus::Denied,
        "consumed" => DeviceStatus::Consumed,
        _ => return Err(d.corrupt("status", "is unknown")),
    };
    Ok(DeviceAuthorization {
        device_code_hash: *hash,
        user_code_hash: TokenHash::from_hex(&d.string("user_code_hash")?)
            .ok_or_else(|| d.corrupt("user_code_hash", "is not a hash"))?,
        client_id: d.string("client_id")?.into(),
        scope: d.string("scope")?.into(),
        status,
        interval: std::time::Duration::from_secs(d.number("interval_secs")?),
        last_polled_at: item.get("last_polled_at").map(|_| d.time("last_polled_at")).transpose()?,
        expires_at: d.time(TTL)?,
        version: d.number("version")?,
        created_at: d.time("created_at")?,
        requested_from: d.string("requested_from")?,
    })
}

fn refresh_item(token: &RefreshTokenRecord) -> Item {
    HashMap::from([
        (PK.into(), s(refresh_key(&token.token_hash))),
        ("family_id".into(), s(&token.family_id)),
        ("user_id".into(), s(token.user_id.as_str())),
        ("client_id".into(), s(token.client_id.as_str())),
        ("scope".into(), s(token.scope.as_str())),
        ("user_epoch".into(), n(token.user_epoch)),
        ("active".into(), AttributeValue::Bool(token.active)),
        ("family_expires_at".into(), time(token.family_expires_at)),
        (TTL.into(), time(token.expires_at)),
    ])
}

fn decode_refresh(hash: &TokenHash, item: &Item) -> StoreResult<RefreshTokenRecord> {
    let d = Decoder::new("refresh token", item);
    Ok(RefreshTokenRecord {
        token_hash: *hash,
        family_id: d.string("family_id")?,
        user_id: UserId::from_stored(d.string("user_id")?),
        client_id: d.string("client_id")?.into(),
        scope: d.string("scope")?.into(),
        // Absent on tokens issued before the field existed: epoch 0, as every user began.
        user_epoch: item.get("user_epoch").map(|_| d.number("user_epoch")).transpose()?.unwrap_or(0),
        active: matches!(item.get("active"), Some(AttributeValue::Bool(true))),
        expires_at: d.time(TTL)?,
        family_expires_at: d.time("family_expires_at")?,
    })
}

fn decode_attempt(key: &TokenHash, item: &Item) -> StoreResult<FederationAttempt> {
    let d = Decoder::new("federation attempt", item);
    Ok(FederationAttempt {
        key: *key,
        binding_hash: TokenHash::from_hex(&d.string("binding_hash")?)
            .ok_or_else(|| d.corrupt("binding_hash", "is not a hash"))?,
        provider: d.string("provider")?,
        return_to: d.string("return_to")?,
        wants_json: matches!(item.get("wants_json"), Some(AttributeValue::Bool(true))),
        expires_at: d.time(TTL)?,
    })
}

fn email_item(user: &UserRecord) -> Item {
    HashMap::from([(PK.into(), s(email_key(&user.email))), ("user_id".into(), s(user.id.as_str()))])
}

fn session_item(session: &SessionRecord) -> Item {
    let pk = session_key(&session.token_hash);
    HashMap::from([
        (GSI1PK.into(), s(user_key(&session.user_id))),
        (GSI1SK.into(), s(&pk)),
        (PK.into(), s(pk)),
        ("session_id".into(), s(session.id.as_str())),
        ("user_id".into(), s(session.user_id.as_str())),
        ("user_epoch".into(), n(session.user_epoch)),
        ("created_at".into(), time(session.created_at)),
        ("expires_at".into(), time(session.expires_at)),
        ("idle_expires_at".into(), time(session.idle_expires_at)),
        ("renewed_at".into(), time(session.renewed_at)),
        (TTL.into(), time(session.idle_expires_at)),
    ])
}

fn counter_item(key: &CounterKey, counter: Counter) -> Item {
    HashMap::from([
        (PK.into(), s(counter_key(key))),
        ("count".into(), n(counter.count)),
        (TTL.into(), time(counter.expires_at)),
    ])
}

fn decode_user(id: &UserId, item: &Item) -> StoreResult<UserRecord> {
    let d = Decoder::new("user", item);
    Ok(UserRecord {
        id: id.clone(),
        email: Email::from_stored(d.string("email")?),
        password_hash: d.optional_string("password_hash")?.map(PasswordHashString::from_stored),
        created_at: d.time("created_at")?,
        session_epoch: d.number("session_epoch")?,
    })
}

fn decode_session(token_hash: &TokenHash, item: &Item) -> StoreResult<SessionRecord> {
    let d = Decoder::new("session", item);
    Ok(SessionRecord {
        id: SessionId::from_stored(d.string("session_id")?),
        token_hash: *token_hash,
        user_id: UserId::from_stored(d.string("user_id")?),
        user_epoch: d.number("user_epoch")?,
        created_at: d.time("created_at")?,
        expires_at: d.time("expires_at")?,
        idle_expires_at: d.time("idle_expires_at")?,
        renewed_at: d.time("renewed_at")?,
    })
}

fn decode_counter(item: &Item) -> StoreResult<Counter> {
    let d = Decoder::new("counter", item);
    Ok(Counter { count: d.number("count")?, expires_at: d.time(TTL)? })
}

/// Reads typed attributes out of an item. Its errors name the record kind and attribute,
/// never a value: items hold emails and password hashes.
struct Decoder<'a> {
    kind: &'static str,
    item: &'a Item,
}

impl<'a> Decoder<'a> {
    fn new(kind: &'static str, item: &'a Item) -> Self {
        Decoder { kind, item }
    }

    fn corrupt(&self, name: &str, problem: &str) -> StoreError {
        StoreError::Corrupt(format!("{} item: attribute {name} {problem}", self.kind))
    }

    fn string(&self, name: &str) -> StoreResult<String> {
        match self.item.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            Some(_) => Err(self.corrupt(name, "is not a string")),
            None => Err(self.corrupt(name, "is missing")),
        }
    }

    fn optional_string(&self, name: &str) -> StoreResult<Option<String>> {
        match self.item.get(name) {
            None => Ok(None),
            Some(_) => self.string(name).map(Some),
        }
    }

    fn number<T: FromStr>(&self, name: &str) -> StoreResult<T> {
        match self.item.get(name) {
            Some(AttributeValue::N(v)) => v.parse().map_err(|_| self.corrupt(name, "is out of range")),
            Some(_) => Err(self.corrupt(name, "is not a number")),
            None => Err(self.corrupt(name, "is missing")),
        }
    }

    fn time(&self, name: &str) -> StoreResult<UnixTime> {
        self.number(name).map(UnixTime)
    }
}

/// Request builders fail only when a required field is unset, which the code above never does;
/// still, a bug there should cost one request, not the process.
fn built<T>(result: Result<T, BuildError>) -> StoreResult<T> {
    result.map_err(|e| StoreError::Unavailable(format!("DynamoDB request could not be built: {e}")))
}

/// Whether a conditional write was refused because its condition did not hold: an expected
/// answer, not a failure.
fn condition_failed<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

/// Describes a failed call for logs and the 503: which operation, and the kind of failure or
/// the service's error code. Never the service's message, which can quote the request.
fn unavailable<E>(operation: &str, err: &SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let what = match err {
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(f) if f.is_timeout() => "timed out connecting".to_owned(),
        SdkError::DispatchFailure(f) if f.is_io() => "could not connect".to_owned(),
        SdkError::DispatchFailure(_) => "request not sent".to_owned(),
        SdkError::ResponseError(_) => "unreadable response".to_owned(),
        SdkError::ServiceError(_) => format!("error {}", err.code().unwrap_or("without a code")),
        // Missing region or credentials: configuration, which the operator needs to see.
        SdkError::ConstructionFailure(_) => format!("request not built: {}", DisplayErrorContext(err)),
        _ => "failed".to_owned(),
    };
    StoreError::Unavailable(format!("DynamoDB {operation}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::trusted_roots;

    #[test]
    fn aws_endpoints_trust_amazon_roots_only() {
        // Amazon Root CA 1-4 and the Starfield Services root that cross-signs them.
        assert_eq!(trusted_roots(false).count(), 5);
        assert!(trusted_roots(true).count() > 100, "a custom endpoint gets the whole Mozilla set");
    }
}
