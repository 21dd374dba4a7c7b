//! Counts the store's DynamoDB calls and the request units each one costs, through an SDK
//! interceptor: every call the client makes is seen, whichever method made it.
//!
//! Units follow DynamoDB's price list for items of the sizes authfn writes (a few hundred
//! bytes, under 1 KB): a strongly consistent read of an item is one read unit, an
//! eventually consistent one half; a write of an item is one write unit, whether or not its
//! condition holds; items in a transaction cost double. A Query (on the eventually
//! consistent index) is charged per 4 KB of the items it returns, at least one such block.

use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemInput, batch_write_item::BatchWriteItemInput,
    delete_item::DeleteItemInput, get_item::GetItemInput, put_item::PutItemInput,
    query::QueryOutput, transact_get_items::TransactGetItemsInput,
    transact_write_items::TransactWriteItemsInput, update_item::UpdateItemInput,
};

use crate::store::usage::UsageMeter;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Items of under 1 KB: how many fit the 4 KB a read unit covers.
const ITEMS_PER_READ_BLOCK: u32 = 4;

/// The interceptor; it counts into the store's meter.
#[derive(Debug, Clone)]
pub(super) struct CountUsage(pub(super) Arc<UsageMeter>);

impl Intercept for CountUsage {
    fn name(&self) -> &'static str {
        "authfn::store::dynamodb::CountUsage"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let halves = |consistent: Option<bool>| if consistent == Some(true) { 2 } else { 1 };
        let (read_halves, write_units) = if let Some(get) = input.downcast_ref::<GetItemInput>() {
            (halves(get.consistent_read), 0)
        } else if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
            let reads = batch
                .request_items
                .iter()
                .flatten()
                .map(|(_, keys)| count(keys.keys.len()) * halves(keys.consistent_read));
            (reads.sum(), 0)
        } else if let Some(t) = input.downcast_ref::<TransactGetItemsInput>() {
            (count(t.transact_items.as_ref().map_or(0, Vec::len)) * 4, 0)
        } else if input.downcast_ref::<PutItemInput>().is_some()
            || input.downcast_ref::<UpdateItemInput>().is_some()
            || input.downcast_ref::<DeleteItemInput>().is_some()
        {
            (0, 1)
        } else if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
            let writes = batch
                .request_items
                .iter()
                .flatten()
                .map(|(_, w)| count(w.len()));
            (0, writes.sum())
        } else if let Some(t) = input.downcast_ref::<TransactWriteItemsInput>() {
            (0, count(t.transact_items.as_ref().map_or(0, Vec::len)) * 2)
        } else {
            // A Query is charged when its answer is seen; table management costs no units.
            (0, 0)
        };
        self.0.dynamodb_call(read_halves, write_units);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let query = context
            .output_or_error()
            .and_then(Result::ok)
            .and_then(|out| out.downcast_ref::<QueryOutput>());
        if let Some(out) = query {
            let items = u32::try_from(out.count).unwrap_or(0);
            let blocks = items.div_ceil(ITEMS_PER_READ_BLOCK).max(1);
            // Index queries are eventually consistent: half a unit per block.
            self.0.dynamodb_reads(blocks);
        }
        Ok(())
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
