//! The event bus: where a deployment's consumers (a SIEM, an alerting rule, a webhook) receive
//! security events. Amazon EventBridge on AWS, a Cloudflare Queue on Workers; none by default
//! (the log lines are always written).

use super::SecurityEvent;

/// The Worker's binding for its Cloudflare Queue (a `[[queues.producers]]` block in
/// wrangler.toml). Without the binding there is no bus.
pub const QUEUE_BINDING: &str = "EVENTS";

/// A failure to hand events to the bus. Logged, never answered: the user's request has
/// already succeeded or failed on its own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EventBusError(pub String);

/// Publishes security events to consumers outside authfn.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait EventBus: Send + Sync {
    /// Hands `events` (one request's, in order) to the bus; `Ok` means it accepted them all.
    async fn publish(&self, events: &[SecurityEvent]) -> Result<(), EventBusError>;
}
