//! Creating the table, for tests and the local dev server.

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};

use super::*;

impl DynamoStore {
    /// Creates the table with the schema this store expects, unless it exists, and waits until
    /// it is ready. For tests and the local dev server only: production tables are declared
    /// in template.yaml, which must stay in step with this.
    pub async fn create_table_if_missing(&self) -> StoreResult<()> {
        let key = |name: &str, key_type| {
            built(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(key_type)
                    .build(),
            )
        };
        let string_attribute = |name: &str| {
            built(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build(),
            )
        };
        let gsi1 = built(
            GlobalSecondaryIndex::builder()
                .index_name(GSI1)
                .key_schema(key(GSI1PK, KeyType::Hash)?)
                .key_schema(key(GSI1SK, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
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
            if !err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception())
            {
                return Err(unavailable("CreateTable", err));
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
                .map_err(|e| unavailable("DescribeTable", e))?;
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
        Err(StoreError::Unavailable(
            format!("DynamoDB table {} did not become active", self.table).into(),
        ))
    }

    async fn enable_ttl(&self) -> StoreResult<()> {
        let current = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| unavailable("DescribeTimeToLive", e))?;
        let status = current
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            return Ok(());
        }
        let spec = built(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL)
                .build(),
        )?;
        match self
            .client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(spec)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Local servers (moto, dynalite) may not expire items at all; reads check expiry anyway.
            Err(err) if err.code() == Some("UnknownOperationException") => Ok(()),
            Err(err) => Err(unavailable("UpdateTimeToLive", err)),
        }
    }
}
