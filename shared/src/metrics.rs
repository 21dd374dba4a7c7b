//! Metrics for CloudWatch, as one embedded-metric-format (EMF) log line per request: CloudWatch
//! Logs turns the line into metric data points, with no API call from the function. The Lambda
//! adapter writes it after the access line; template.yaml's alarms read the metrics.
//!
//! Namespace `authfn`; every metric goes to two dimension sets: (`Service`, `Function`) for one
//! function of one deployment, and (`Service`) alone for the whole deployment, which is what the
//! alarms watch. `Service` is the stack's name (`AUTHFN_METRICS_SERVICE`), so two stacks in one
//! account never share a metric. A counter is written only when it is not zero, and each
//! (metric, dimensions) pair is a billed custom metric: a function that never fails a sign-in
//! never makes a `SignInFailures` metric.
//!
//! The format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::events::{Delivered, EventType};
use crate::response::HttpResponse;

/// The CloudWatch namespace of every authfn metric.
pub const NAMESPACE: &str = "authfn";

/// The setting that names the deployment (the `Service` dimension); `authfn` when unset.
pub const SERVICE_SETTING: &str = "AUTHFN_METRICS_SERVICE";

/// Metric names, as the alarms in template.yaml and the README name them.
pub mod names {
    /// Requests answered (1 per line): the denominator of the 5xx rate.
    pub const REQUESTS: &str = "Requests";
    /// Answers with a 5xx status.
    pub const SERVER_ERRORS: &str = "ServerErrors";
    /// `sign_in.failed` events: wrong passwords and codes, unknown accounts.
    pub const SIGN_IN_FAILURES: &str = "SignInFailures";
    /// `sign_in.locked` events: sign-ins refused by a lockout.
    pub const LOCKOUTS: &str = "Lockouts";
    /// `refresh.reuse_detected` events: a replayed refresh token, its family revoked.
    pub const REFRESH_REUSE: &str = "RefreshReuseDetected";
    /// Time the request spent waiting for the store (milliseconds).
    pub const STORE_LATENCY: &str = "StoreLatency";
}

/// What one request contributes to the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMetrics {
    /// `sign_in.failed` events it recorded.
    pub sign_in_failures: u32,
    /// `sign_in.locked` events it recorded.
    pub lockouts: u32,
    /// `refresh.reuse_detected` events it recorded.
    pub refresh_reuse: u32,
    /// Whether it was answered with a 5xx.
    pub server_error: bool,
    /// Time with at least one store call in flight, if it made any.
    pub store_latency: Option<Duration>,
}

impl RequestMetrics {
    /// The counts of the answer `res`: its status and its delivered events.
    pub fn of(res: &HttpResponse) -> Self {
        let events = res
            .extensions()
            .get::<Delivered>()
            .map(|d| d.events.as_slice())
            .unwrap_or_default();
        let count = |kind: EventType| {
            u32::try_from(events.iter().filter(|e| e.event == kind).count()).unwrap_or(u32::MAX)
        };
        RequestMetrics {
            sign_in_failures: count(EventType::SignInFailed),
            lockouts: count(EventType::SignInLocked),
            refresh_reuse: count(EventType::RefreshReuseDetected),
            server_error: res.status().is_server_error(),
            store_latency: None,
        }
    }

    /// The same, with the time spent on the store.
    pub fn with_store_latency(mut self, latency: Option<Duration>) -> Self {
        self.store_latency = latency;
        self
    }

    /// The EMF log line: `service` and `function` are the dimensions' values, `timestamp_ms`
    /// the time of the data points (milliseconds since the epoch).
    pub fn emf_line(&self, service: &str, function: &str, timestamp_ms: u64) -> String {
        let mut values: Vec<(&str, &str, Value)> = vec![(names::REQUESTS, "Count", json!(1))];
        let mut counter = |name, n: u32| {
            if n > 0 {
                values.push((name, "Count", json!(n)));
            }
        };
        counter(names::SERVER_ERRORS, u32::from(self.server_error));
        counter(names::SIGN_IN_FAILURES, self.sign_in_failures);
        counter(names::LOCKOUTS, self.lockouts);
        counter(names::REFRESH_REUSE, self.refresh_reuse);
        if let Some(latency) = self.store_latency {
            // Whole microseconds as fractional milliseconds: EMF values are numbers.
            let micros = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
            values.push((
                names::STORE_LATENCY,
                "Milliseconds",
                json!(f64::from(micros) / 1000.0),
            ));
        }
        let definitions: Vec<Value> = values
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Service", "Function"], ["Service"]],
                    "Metrics": definitions,
                }],
            }),
        );
        // Not metrics: a log query tells the line from the others by these.
        root.insert("log".into(), json!("metrics"));
        root.insert("level".into(), json!("INFO"));
        root.insert("Service".into(), json!(service));
        root.insert("Function".into(), json!(function));
        for (name, _, value) in values {
            root.insert(name.into(), value);
        }
        Value::Object(root).to_string()
    }
}

#[cfg(feature = "dynamodb")]
pub use timer::StoreTimer;

#[cfg(feature = "dynamodb")]
mod timer {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use aws_sdk_dynamodb::config::interceptors::{
        BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
    };
    use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

    type BoxError = Box<dyn std::error::Error + Send + Sync>;

    /// Measures the time a request spends waiting for DynamoDB: an interceptor on the store's
    /// client marks each call's start and end; [`StoreTimer::take`] reads the time with at
    /// least one call in flight since the last take, so calls made together count once. A
    /// Lambda instance serves one request at a time: one timer per instance is one per request.
    #[derive(Debug, Clone, Default)]
    pub struct StoreTimer(Arc<Mutex<State>>);

    #[derive(Debug, Default)]
    struct State {
        in_flight: u32,
        busy_since: Option<Instant>,
        busy: Duration,
        calls: u32,
    }

    impl StoreTimer {
        /// The store time since the last take (`None` if no call was made), and starts over.
        pub fn take(&self) -> Option<Duration> {
            let Ok(mut state) = self.0.lock() else {
                return None;
            };
            let now = Instant::now();
            // A call abandoned mid-flight (its future dropped) never ends: count it until now.
            if let Some(since) = state.busy_since.take() {
                state.busy += now - since;
            }
            let taken = std::mem::take(&mut *state);
            (taken.calls > 0).then_some(taken.busy)
        }

        fn started(&self) {
            if let Ok(mut state) = self.0.lock() {
                if state.in_flight == 0 {
                    state.busy_since = Some(Instant::now());
                }
                state.in_flight += 1;
                state.calls += 1;
            }
        }

        fn ended(&self) {
            if let Ok(mut state) = self.0.lock() {
                state.in_flight = state.in_flight.saturating_sub(1);
                if state.in_flight == 0
                    && let Some(since) = state.busy_since.take()
                {
                    state.busy += since.elapsed();
                }
            }
        }
    }

    impl Intercept for StoreTimer {
        fn name(&self) -> &'static str {
            "authfn::metrics::StoreTimer"
        }

        fn read_before_execution(
            &self,
            _context: &BeforeSerializationInterceptorContextRef<'_>,
            _cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            self.started();
            Ok(())
        }

        fn read_after_execution(
            &self,
            _context: &FinalizerInterceptorContextRef<'_>,
            _runtime_components: &RuntimeComponents,
            _cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            self.ended();
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn overlapping_calls_count_once_and_take_starts_over() {
            let timer = StoreTimer::default();
            assert_eq!(timer.take(), None, "no call, no latency");
            timer.started();
            timer.started();
            std::thread::sleep(Duration::from_millis(20));
            timer.ended();
            timer.ended();
            let busy = timer.take().unwrap();
            assert!(busy >= Duration::from_millis(20), "{busy:?}");
            assert!(busy < Duration::from_millis(40), "counted once: {busy:?}");
            assert_eq!(timer.take(), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::UnixTime;
    use crate::events::SecurityEvent;

    fn event(kind: EventType) -> SecurityEvent {
        SecurityEvent {
            id: "e".into(),
            time: UnixTime(1_700_000_000),
            event: kind,
            outcome: kind.outcome(),
            user_id: None,
            session_id: None,
            method: None,
            reason: None,
            provider: None,
            client_id: None,
            client_ip: None,
            user_agent: None,
            endpoint: None,
            request_id: "r".into(),
        }
    }

    fn answer(status: u16, events: Vec<SecurityEvent>) -> HttpResponse {
        let mut res = http::Response::builder()
            .status(status)
            .body(String::new())
            .unwrap();
        res.extensions_mut().insert(Delivered {
            events,
            failures: Vec::new(),
        });
        res
    }

    /// Checks `line` against the EMF specification's rules: the root has `_aws` with a
    /// numeric `Timestamp` and `CloudWatchMetrics` directives; each directive has a
    /// `Namespace` (1-255 characters), `Dimensions` (an array of dimension sets, each of at
    /// most 30 string keys that are root members with string values) and `Metrics` (at most
    /// 100 definitions with a `Name` that is a root member with a numeric value, and a
    /// standard `Unit`).
    fn assert_valid_emf(line: &str) -> Value {
        let root: Value = serde_json::from_str(line).expect("one JSON object");
        let aws = &root["_aws"];
        assert!(aws["Timestamp"].is_u64(), "Timestamp: {line}");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert!(!directives.is_empty());
        for directive in directives {
            let namespace = directive["Namespace"].as_str().expect("Namespace");
            assert!((1..=255).contains(&namespace.len()));
            for set in directive["Dimensions"].as_array().expect("Dimensions") {
                let keys = set.as_array().expect("a dimension set");
                assert!(keys.len() <= 30);
                for key in keys {
                    let key = key.as_str().expect("a dimension key");
                    assert!(root[key].is_string(), "dimension {key} is a root string");
                }
            }
            let metrics = directive["Metrics"].as_array().expect("Metrics");
            assert!((1..=100).contains(&metrics.len()));
            for metric in metrics {
                let name = metric["Name"].as_str().expect("Name");
                assert!((1..=1024).contains(&name.len()));
                assert!(root[name].is_number(), "metric {name} is a root number");
                let unit = metric["Unit"].as_str().expect("Unit");
                assert!(["Count", "Milliseconds"].contains(&unit), "{unit}");
            }
        }
        root
    }

    #[test]
    fn a_quiet_request_counts_only_itself() {
        let metrics = RequestMetrics::of(&answer(200, Vec::new()));
        assert_eq!(metrics, RequestMetrics::default());
        let root = assert_valid_emf(&metrics.emf_line("prod", "session", 1_700_000_000_123));
        assert_eq!(root["_aws"]["Timestamp"], 1_700_000_000_123u64);
        assert_eq!(root["_aws"]["CloudWatchMetrics"][0]["Namespace"], "authfn");
        assert_eq!(
            root["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Service", "Function"], ["Service"]])
        );
        assert_eq!(
            root["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "Requests", "Unit": "Count"}])
        );
        assert_eq!(
            (root["Service"].as_str(), root["Function"].as_str()),
            (Some("prod"), Some("session"))
        );
        assert_eq!(root["Requests"], 1);
        assert!(root.get("ServerErrors").is_none(), "no zero counters");
    }

    #[test]
    fn security_events_and_5xx_are_counted() {
        let res = answer(
            503,
            vec![
                event(EventType::SignInFailed),
                event(EventType::SignInLocked),
                event(EventType::RefreshReuseDetected),
                event(EventType::SignInFailed),
                event(EventType::SignInSucceeded),
            ],
        );
        let metrics =
            RequestMetrics::of(&res).with_store_latency(Some(Duration::from_micros(12_345)));
        assert_eq!(
            metrics,
            RequestMetrics {
                sign_in_failures: 2,
                lockouts: 1,
                refresh_reuse: 1,
                server_error: true,
                store_latency: Some(Duration::from_micros(12_345)),
            }
        );
        let root = assert_valid_emf(&metrics.emf_line("prod", "sign-in", 1));
        let names: Vec<&str> = root["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Requests",
                "ServerErrors",
                "SignInFailures",
                "Lockouts",
                "RefreshReuseDetected",
                "StoreLatency"
            ]
        );
        assert_eq!(root["SignInFailures"], 2);
        assert_eq!(root["StoreLatency"], 12.345);
        assert_eq!(
            root["_aws"]["CloudWatchMetrics"][0]["Metrics"][5]["Unit"],
            "Milliseconds"
        );
        // The line is a log line like the others, marked so a query can skip it.
        assert_eq!(
            (root["log"].as_str(), root["level"].as_str()),
            (Some("metrics"), Some("INFO"))
        );
    }
}
