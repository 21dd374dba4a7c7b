//! [`EventBridgeBus`]: security events to an Amazon EventBridge bus with `PutEvents`, for the
//! Lambda functions. Each event is one entry: source `authfn`, detail-type the event's name
//! (`refresh.reuse_detected`), detail the [`SecurityEvent`] JSON, time the event's. A rule on
//! the bus matches on those (template.yaml has a sample).
//!
//! Settings: `AUTHFN_EVENT_BUS` (the bus's name or ARN; unset, there is no bus) and, for tests
//! against a local EventBridge API, `AUTHFN_EVENTBRIDGE_ENDPOINT`.

use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::SecurityEvent;
use super::bus::{EventBus, EventBusError};
use crate::settings::{ConfigError, Settings};

/// The `source` of every entry authfn puts: what a rule's pattern matches first.
pub const SOURCE: &str = "authfn";

/// `PutEvents` takes at most this many entries per call.
const MAX_ENTRIES: usize = 10;

/// The bus a deployment's events go to: a name, or an ARN (another account's bus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBusName(String);

impl EventBusName {
    /// The setting that holds it.
    pub const SETTING: &'static str = "AUTHFN_EVENT_BUS";

    /// `AUTHFN_EVENT_BUS`, if set: a name (letters, digits, `.`, `-`, `_`, `/`) or an
    /// EventBridge bus ARN.
    pub fn from_settings(settings: &Settings<'_>) -> Result<Option<EventBusName>, ConfigError> {
        let Some(value) = settings.get(Self::SETTING) else {
            return Ok(None);
        };
        let is_arn = value.starts_with("arn:") && value.contains(":event-bus/");
        let is_name = value.len() <= 256
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "./-_".contains(c));
        if !(is_arn || is_name) {
            return Err(ConfigError::new(format!(
                "{}: {value:?} is neither an event bus name nor an event bus ARN",
                Self::SETTING
            )));
        }
        Ok(Some(EventBusName(value)))
    }

    /// The value as `PutEvents` takes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `AUTHFN_EVENTBRIDGE_ENDPOINT`: another EventBridge API than AWS's (a local one, for tests).
pub fn endpoint_from_settings(settings: &Settings<'_>) -> Result<Option<url::Url>, ConfigError> {
    settings.url("AUTHFN_EVENTBRIDGE_ENDPOINT")
}

/// Publishes each request's events to one EventBridge bus.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: Client,
    bus: EventBusName,
}

impl EventBridgeBus {
    /// Connects inside a Lambda function, with the role's credentials and region from the
    /// environment as the DynamoDB store does, optionally to another EventBridge API.
    pub async fn connect_in_lambda(bus: EventBusName, endpoint_url: Option<String>) -> Self {
        Self::connect_with(crate::aws_sdk::lambda_config_loader(), bus, endpoint_url).await
    }

    /// Connects from a loader the caller has started to configure (credentials, region).
    pub async fn connect_with(
        loader: impl crate::aws_sdk::LoadConfig,
        bus: EventBusName,
        endpoint_url: Option<String>,
    ) -> Self {
        // The answer waits for the bus: an unreachable one may cost a request about two
        // seconds, never more, and is then logged. One retry, for a dropped connection.
        let loader = crate::aws_sdk::with_budget(
            loader,
            Duration::from_millis(500),
            Duration::from_secs(1),
            Duration::from_secs(2),
            endpoint_url,
        );
        EventBridgeBus::from_client(Client::new(&loader.load().await), bus)
    }

    /// A bus over a client the caller built.
    pub fn from_client(client: Client, bus: EventBusName) -> Self {
        EventBridgeBus { client, bus }
    }

    fn entry(&self, event: &SecurityEvent) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(event.event.name())
            // Strings, integers and enums only: serialisation cannot fail.
            .detail(serde_json::to_string(event).unwrap_or_default())
            .time(DateTime::from_secs(event.time.0))
            .event_bus_name(self.bus.as_str())
            .build()
    }
}

#[async_trait::async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: &[SecurityEvent]) -> Result<(), EventBusError> {
        for batch in events.chunks(MAX_ENTRIES) {
            let answer = self
                .client
                .put_events()
                .set_entries(Some(batch.iter().map(|e| self.entry(e)).collect()))
                .send()
                .await
                .map_err(|e| {
                    EventBusError(crate::error::chain(&*crate::aws_sdk::failure(
                        "EventBridge PutEvents",
                        e,
                    )))
                })?;
            // The call succeeds even when the bus refused some entries: that is a failure too.
            if answer.failed_entry_count() > 0 {
                let code = answer
                    .entries()
                    .iter()
                    .find_map(|entry| entry.error_code())
                    .unwrap_or("without a code");
                return Err(EventBusError(format!(
                    "EventBridge PutEvents: {} of {} entries refused, error {code}",
                    answer.failed_entry_count(),
                    batch.len()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bus_is_a_name_or_an_arn() {
        let read = |value: &str| {
            let value = value.to_owned();
            let lookup = move |name: &str| (name == EventBusName::SETTING).then(|| value.clone());
            EventBusName::from_settings(&Settings::new(&lookup))
        };
        assert_eq!(read("").unwrap(), None, "unset: no bus");
        assert_eq!(
            read(" authfn-security ").unwrap().unwrap().as_str(),
            "authfn-security"
        );
        let arn = "arn:aws:events:eu-west-1:123456789012:event-bus/central";
        assert_eq!(read(arn).unwrap().unwrap().as_str(), arn);
        assert!(read("two words").is_err());
        assert!(read(&"b".repeat(257)).is_err());
    }
}
