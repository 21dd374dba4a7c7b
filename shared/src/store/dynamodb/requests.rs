//! The requests the [`Store`] impl is built from: plain reads and writes, conditional
//! transactions, the index query and batch delete behind "sign out everywhere", and the batch
//! reads and writes behind a user's session list and activity.

use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    DeleteRequest, KeysAndAttributes, Put, PutRequest, TransactWriteItem, WriteRequest,
};

use super::items::*;
use super::*;

/// How a conditional transaction ended.
pub(super) enum Transaction {
    /// Every item was written.
    Written,
    /// Nothing was written: a condition failed.
    Refused(Failed),
}

/// Which items of a refused transaction had a failed condition, by their position in it.
pub(super) struct Failed(Vec<bool>);

impl Failed {
    /// Whether the condition of the item at `index` failed.
    pub(super) fn at(&self, index: usize) -> bool {
        self.0.get(index).copied().unwrap_or(false)
    }
}

/// BatchWriteItem's limit on requests per call.
const BATCH_WRITE_LIMIT: usize = 25;
/// BatchGetItem's limit on keys per call.
const BATCH_GET_LIMIT: usize = 100;
/// Transactions cancelled by a conflicting concurrent transaction are retried: they wrote
/// nothing, and the retry learns whether the other one took the email (or the challenge).
const TRANSACTION_ATTEMPTS: usize = 3;
/// Re-sends of a batch call's unprocessed requests (DynamoDB hands them back when throttled).
const UNPROCESSED_RETRIES: u32 = 3;

impl DynamoStore {
    pub(super) async fn get(&self, pk: String) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        Ok(out.item)
    }

    pub(super) async fn put(&self, item: Item) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable("PutItem", e))?;
        Ok(())
    }

    pub(super) async fn delete(&self, pk: String) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem", e))?;
        Ok(())
    }

    /// Deletes the item and returns what it held: of two concurrent takers only one gets it.
    pub(super) async fn take(&self, pk: String) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem", e))?;
        Ok(out.attributes)
    }

    /// One put of a transaction, made only if `condition` holds.
    pub(super) fn transact_put(
        &self,
        item: Item,
        condition: Option<&str>,
    ) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(Into::into));
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    /// Runs a transaction whose conditions all say "absent": `AlreadyExists` when one failed.
    pub(super) async fn transact_insert(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> StoreResult<Insert> {
        Ok(match self.transact(items).await? {
            Transaction::Written => Insert::Inserted,
            Transaction::Refused(_) => Insert::AlreadyExists,
        })
    }

    /// Runs a conditional transaction: all of it is written, or none of it and the answer says
    /// which items' conditions failed. One cancelled only by a conflicting concurrent
    /// transaction wrote nothing and is retried: the retry learns what the other one did.
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> StoreResult<Transaction> {
        let mut attempts_left = TRANSACTION_ATTEMPTS;
        loop {
            attempts_left -= 1;
            // The SDK gives each call an idempotency token, so its own retry of a transaction
            // that did land (say, after a timeout) succeeds rather than hitting our condition.
            let err = match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await
            {
                Ok(_) => return Ok(Transaction::Written),
                Err(err) => err,
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                err.as_service_error()
            {
                let reasons = cancelled.cancellation_reasons();
                // One reason per item, in order; an item that did not fail has the code "None".
                let failed: Vec<bool> = reasons
                    .iter()
                    .map(|r| r.code() == Some("ConditionalCheckFailed"))
                    .collect();
                if failed.contains(&true) {
                    return Ok(Transaction::Refused(Failed(failed)));
                }
                if reasons
                    .iter()
                    .any(|r| r.code() == Some("TransactionConflict"))
                    && attempts_left > 0
                {
                    continue;
                }
            }
            return Err(unavailable("TransactWriteItems", err));
        }
    }

    /// The primary keys of every session item of the user, from the index. The index is
    /// eventually consistent, so a session created a moment ago may be missing: that is fine
    /// for cleanup, because the epoch bump has already invalidated it.
    pub(super) async fn session_keys_of(&self, user_id: &UserId) -> StoreResult<Vec<String>> {
        // The user's partition holds its identities, refresh tokens and challenges too.
        let entries = self.index_entries_of(user_id, Some(SESSION_PREFIX)).await?;
        Ok(entries.into_iter().map(|(pk, _)| pk).collect())
    }

    /// Every index entry of the user (its `pk` and `gsi1sk`), or only those whose `gsi1sk`
    /// begins with `prefix`. Eventually consistent, like the index.
    pub(super) async fn index_entries_of(
        &self,
        user_id: &UserId,
        prefix: Option<&str>,
    ) -> StoreResult<Vec<(String, String)>> {
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .expression_attribute_names("#gsi1pk", GSI1PK)
                .expression_attribute_values(":user", s(user_key(user_id)))
                .set_exclusive_start_key(start);
            let query = match prefix {
                Some(prefix) => query
                    .key_condition_expression("#gsi1pk = :user AND begins_with(#gsi1sk, :prefix)")
                    .expression_attribute_names("#gsi1sk", GSI1SK)
                    .expression_attribute_values(":prefix", s(prefix)),
                None => query.key_condition_expression("#gsi1pk = :user"),
            };
            let page = query.send().await.map_err(|e| unavailable("Query", e))?;
            for item in page.items() {
                let d = Decoder::new("user index entry", item);
                entries.push((d.string(PK)?, d.string(GSI1SK)?));
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(entries);
            }
        }
    }

    pub(super) async fn delete_all(&self, keys: Vec<String>) -> StoreResult<()> {
        let requests = keys
            .iter()
            .map(|pk| {
                let delete = built(DeleteRequest::builder().key(PK, s(pk)).build())?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.batch_write(requests).await
    }

    /// Writes the items, unconditionally, in as few calls as BatchWriteItem allows.
    pub(super) async fn put_all(&self, items: Vec<Item>) -> StoreResult<()> {
        let requests = items
            .into_iter()
            .map(|item| {
                let put = built(PutRequest::builder().set_item(Some(item)).build())?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.batch_write(requests).await
    }

    async fn batch_write(&self, requests: Vec<WriteRequest>) -> StoreResult<()> {
        for chunk in requests.chunks(BATCH_WRITE_LIMIT) {
            let mut requests = chunk.to_vec();
            let mut retries = 0;
            while !requests.is_empty() {
                if retries > UNPROCESSED_RETRIES {
                    return Err(StoreError::Unavailable(
                        "DynamoDB BatchWriteItem: writes left unprocessed".into(),
                    ));
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
                    .map_err(|e| unavailable("BatchWriteItem", e))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                retries += 1;
            }
        }
        Ok(())
    }

    /// The items with these keys that exist, strongly consistent, in no particular order.
    pub(super) async fn get_all(&self, keys: Vec<String>) -> StoreResult<Vec<Item>> {
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let mut keys: Vec<Item> = chunk
                .iter()
                .map(|pk| HashMap::from([(PK.to_owned(), s(pk))]))
                .collect();
            let mut retries = 0;
            while !keys.is_empty() {
                if retries > UNPROCESSED_RETRIES {
                    return Err(StoreError::Unavailable(
                        "DynamoDB BatchGetItem: reads left unprocessed".into(),
                    ));
                }
                if retries > 0 {
                    self.sleep(Duration::from_millis(50 << retries)).await;
                }
                let request = built(
                    KeysAndAttributes::builder()
                        .set_keys(Some(keys))
                        .consistent_read(true)
                        .build(),
                )?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| unavailable("BatchGetItem", e))?;
                items.extend(
                    out.responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                keys = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                retries += 1;
            }
        }
        Ok(items)
    }
}
