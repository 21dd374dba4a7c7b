//! [`QueueBus`]: security events to a Cloudflare Queue, for the Worker. Each event is one
//! message, its body the [`SecurityEvent`] JSON (content type `json`: a consumer Worker gets
//! it as an object). The Worker has the bus when wrangler.toml binds a producer as
//! [`QUEUE_BINDING`](super::QUEUE_BINDING).

use worker::{Queue, QueueContentType, RawMessageBuilder, SendMessage};

use super::SecurityEvent;
use super::bus::{EventBus, EventBusError};

/// `sendBatch` takes at most this many messages.
const MAX_BATCH: usize = 100;

/// Sends each request's events to one queue, in one batch.
pub struct QueueBus(Queue);

impl QueueBus {
    /// A bus over the queue bound to the Worker.
    pub fn new(queue: Queue) -> Self {
        QueueBus(queue)
    }
}

#[async_trait::async_trait(?Send)]
impl EventBus for QueueBus {
    async fn publish(&self, events: &[SecurityEvent]) -> Result<(), EventBusError> {
        for batch in events.chunks(MAX_BATCH) {
            // serde_json's text parsed by JavaScript, not serde_wasm_bindgen over the event
            // type: the Worker already carries both, so this adds almost no code.
            let messages =
                batch
                    .iter()
                    .map(|event| {
                        let json = serde_json::to_string(event).unwrap_or_default();
                        let body = js_sys::JSON::parse(&json)
                            .map_err(|_| EventBusError("Queue send: event is not JSON".into()))?;
                        Ok(RawMessageBuilder::new(body)
                            .build_with_content_type(QueueContentType::Json))
                    })
                    .collect::<Result<Vec<SendMessage<_>>, EventBusError>>()?;
            // worker's error can hold a JsValue: its text is the cause.
            self.0
                .send_raw_batch(messages)
                .await
                .map_err(|e| EventBusError(format!("Queue sendBatch: {e}")))?;
        }
        Ok(())
    }
}
