//! Which store the dev server uses: in-memory unless a local DynamoDB is named.

use std::sync::Arc;

use authfn::store::dynamodb::DynamoStore;
use authfn::store::{MemoryStore, Store};

const DEFAULT_TABLE: &str = "authfn";

/// `AUTHFN_DYNAMODB_ENDPOINT` and `AUTHFN_TABLE`, when a DynamoDB is to be used.
pub(crate) struct DynamoTarget {
    pub endpoint: String,
    pub table: String,
}

impl DynamoTarget {
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let endpoint = get("AUTHFN_DYNAMODB_ENDPOINT")?;
        let table = get("AUTHFN_TABLE").unwrap_or_else(|| DEFAULT_TABLE.to_owned());
        Some(DynamoTarget { endpoint, table })
    }

    /// Connects and creates the table if it is missing, so a fresh local DynamoDB just works.
    pub(crate) async fn open(&self) -> Result<DynamoStore, String> {
        let store = DynamoStore::connect(self.table.clone(), Some(self.endpoint.clone())).await;
        store.create_table_if_missing().await.map_err(|e| {
            format!(
                "creating table {:?} at {}: {}",
                self.table,
                self.endpoint,
                authfn::error::chain(&e)
            )
        })?;
        Ok(store)
    }
}

/// The store to serve from, and a line describing it for the start-up banner.
pub(crate) async fn open(
    target: Option<&DynamoTarget>,
) -> Result<(Arc<dyn Store>, String), String> {
    match target {
        Some(t) => {
            let store = t.open().await?;
            Ok((
                Arc::new(store),
                format!("DynamoDB table {:?} at {}", t.table, t.endpoint),
            ))
        }
        None => Ok((
            Arc::new(MemoryStore::new()),
            "in memory (everything is lost on restart; set AUTHFN_DYNAMODB_ENDPOINT to keep it)"
                .into(),
        )),
    }
}
