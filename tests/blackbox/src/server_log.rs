//! What the deployment under test wrote to its log, and what its event bus received: a test
//! reads both, never assumes them.
//!
//! | variable | what | set by |
//! |---|---|---|
//! | `AUTHFN_TEST_SERVER_LOG` | the file the server's output goes to | `tests/support/{dev-server,lambda,workers}.sh` |
//! | `AUTHFN_TEST_EVENT_ARCHIVE` | `<moto>/moto-api/data.json#<archive>`: the EventBridge archive of the Lambda functions' bus | `tests/support/lambda.sh` |
//! | `AUTHFN_TEST_EVENT_QUEUE` | the Worker's Cloudflare Queue, whose test consumer logs each message it receives (`{"log":"event_bus_received"}`) | `tests/support/workers.sh` |
//!
//! Neither bus variable set: the deployment has no bus (the dev server).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// How long [`ServerLog::wait_for`] and [`EventBusReader::wait_for`] wait: the log is written
/// before the answer on every runtime, but wrangler and cargo lambda relay it; a queue
/// consumer runs after the producer's request.
const WAIT: Duration = Duration::from_secs(15);
const POLL_EVERY: Duration = Duration::from_millis(200);

/// The log of the server under test.
#[derive(Debug, Clone)]
pub struct ServerLog {
    path: PathBuf,
}

/// A place in the log: what was written after it is what a test caused.
#[derive(Debug, Clone, Copy)]
pub struct LogMark(u64);

impl ServerLog {
    /// The log the environment names (`AUTHFN_TEST_SERVER_LOG`), panicking with what to set.
    pub fn from_env() -> ServerLog {
        let path = std::env::var("AUTHFN_TEST_SERVER_LOG")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| {
                panic!(
                    "AUTHFN_TEST_SERVER_LOG is unset: the start_* functions of tests/support/ \
                     (dev-server.sh, lambda.sh, workers.sh) export it"
                )
            });
        ServerLog {
            path: PathBuf::from(path),
        }
    }

    /// The end of the log now.
    pub fn mark(&self) -> LogMark {
        LogMark(std::fs::metadata(&self.path).map_or(0, |m| m.len()))
    }

    /// Everything written after `mark`.
    pub fn since(&self, mark: LogMark) -> String {
        let bytes = std::fs::read(&self.path)
            .unwrap_or_else(|e| panic!("reading the server log {}: {e}", self.path.display()));
        let start = usize::try_from(mark.0)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }

    /// Reads the log after `mark` until `found` finds what it looks for in it, waiting up to a
    /// few seconds; panics with the text read when it never does.
    pub async fn wait_for<T>(&self, mark: LogMark, found: impl Fn(&str) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = self.since(mark);
            if let Some(value) = found(&text) {
                return value;
            }
            if tokio::time::Instant::now() >= deadline {
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(40)..].join("\n");
                panic!(
                    "the server log ({}) did not show what the test waited for within {WAIT:?}; its last lines:\n{tail}",
                    self.path.display()
                );
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}

/// The JSON objects among `log`'s lines. A line may carry a runtime's prefix before its JSON
/// (wrangler's, for one Worker of several): it is read from its first `{`.
pub fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|line| {
            let start = line.find('{')?;
            serde_json::from_str::<Value>(line[start..].trim_end())
                .ok()
                .filter(Value::is_object)
        })
        .collect()
}

/// The security events in `log`: its `"log":"security_event"` lines, in order.
pub fn security_events(log: &str) -> Vec<Value> {
    json_lines(log)
        .into_iter()
        .filter(|line| line["log"] == "security_event")
        .collect()
}

/// The event as the bus carries it: the log line without its `log` and `level` marks.
pub fn bus_form(line: &Value) -> Value {
    let mut event = line.clone();
    if let Some(fields) = event.as_object_mut() {
        fields.remove("log");
        fields.remove("level");
    }
    event
}

/// Where the deployment's event bus can be read back.
#[derive(Debug, Clone)]
enum BusSource {
    /// An EventBridge archive in moto: `GET <url>` lists it under `events.Archive`.
    EventBridgeArchive { url: String, archive: String },
    /// A queue whose test consumer logs each message into the server log.
    QueueConsumer { queue: String, log: ServerLog },
}

/// The events the deployment's event bus received.
#[derive(Debug, Clone)]
pub struct EventBusReader {
    http: reqwest::Client,
    source: BusSource,
}

impl EventBusReader {
    /// The bus the environment names, or `None` when the deployment under test has none.
    pub fn from_env() -> Option<EventBusReader> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let source = if let Some(archive) = var("AUTHFN_TEST_EVENT_ARCHIVE") {
            let (url, name) = archive.split_once('#').unwrap_or_else(|| {
                panic!("AUTHFN_TEST_EVENT_ARCHIVE must be <url>#<archive name>, got {archive}")
            });
            BusSource::EventBridgeArchive {
                url: url.to_owned(),
                archive: name.to_owned(),
            }
        } else if let Some(queue) = var("AUTHFN_TEST_EVENT_QUEUE") {
            BusSource::QueueConsumer {
                queue,
                log: ServerLog::from_env(),
            }
        } else {
            return None;
        };
        Some(EventBusReader::reading(source))
    }

    /// The archive `archive` of the EventBridge API (moto's) at `server`, whatever the
    /// environment says: for tests that put events themselves.
    pub fn eventbridge_archive(server: &str, archive: &str) -> EventBusReader {
        EventBusReader::reading(BusSource::EventBridgeArchive {
            url: format!("{}/moto-api/data.json", server.trim_end_matches('/')),
            archive: archive.to_owned(),
        })
    }

    fn reading(source: BusSource) -> EventBusReader {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .build()
            .expect("HTTP client");
        EventBusReader { http, source }
    }

    /// What the bus is, for a failure message.
    pub fn describe(&self) -> String {
        match &self.source {
            BusSource::EventBridgeArchive { archive, .. } => {
                format!("the EventBridge bus (archive {archive})")
            }
            BusSource::QueueConsumer { queue, .. } => format!("the queue {queue}"),
        }
    }

    /// Every event the bus received so far, oldest first, as [`bus_form`] has them, each
    /// checked to be carried as authfn sends it (EventBridge: source `authfn`, detail-type
    /// the event's name).
    pub async fn received(&self) -> Vec<Value> {
        match &self.source {
            BusSource::EventBridgeArchive { url, archive } => {
                let models = self.get_json(url).await;
                let archived = models["events"]["Archive"]
                    .as_array()
                    .and_then(|all| all.iter().find(|a| a["name"] == archive.as_str()))
                    .map(|a| a["events"].as_array().cloned().unwrap_or_default())
                    .unwrap_or_default();
                archived
                    .into_iter()
                    .map(|entry| {
                        assert_eq!(entry["source"], "authfn", "{entry}");
                        assert_eq!(entry["detail-type"], entry["detail"]["event"], "{entry}");
                        entry["detail"].clone()
                    })
                    .collect()
            }
            BusSource::QueueConsumer { queue, log } => json_lines(&log.since(LogMark(0)))
                .into_iter()
                .filter(|line| {
                    line["log"] == "event_bus_received" && line["queue"] == queue.as_str()
                })
                .map(|line| line["event"].clone())
                .collect(),
        }
    }

    /// Reads the bus until every id in `ids` has arrived, waiting up to a few seconds, and
    /// returns those events in the order received; panics with what arrived when some never do.
    pub async fn wait_for(&self, ids: &[String]) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let mine: Vec<Value> = self
                .received()
                .await
                .into_iter()
                .filter(|e| {
                    e["id"]
                        .as_str()
                        .is_some_and(|id| ids.iter().any(|i| i == id))
                })
                .collect();
            if ids
                .iter()
                .all(|id| mine.iter().any(|e| e["id"] == id.as_str()))
            {
                return mine;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "{} did not receive events {ids:?} within {WAIT:?}; of them it has: {mine:#?}",
                    self.describe()
                );
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    async fn get_json(&self, url: &str) -> Value {
        let reply = self
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = reply.status();
        let body = reply
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: reading the body: {e}"));
        assert!(status.is_success(), "GET {url} answered {status}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url} is not JSON ({e})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_read_past_a_prefix_and_other_lines_skipped() {
        let log = "POST /auth/sign-in 401 invalid_credentials 3ms\n\
                   {\"log\":\"security_event\",\"level\":\"WARN\",\"event\":\"sign_in.failed\",\"id\":\"a\"}\n\
                   [authfn-event-sink] {\"log\":\"event_bus_received\",\"queue\":\"q\",\"event\":{\"id\":\"a\"}}\n\
                   {\"endpoint\":\"sign-in\",\"status\":401}\n\
                   {not json\n";
        let lines = json_lines(log);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1]["event"]["id"], "a");
        let events = security_events(log);
        assert_eq!(events.len(), 1);
        assert_eq!(
            bus_form(&events[0]),
            serde_json::json!({"event": "sign_in.failed", "id": "a"})
        );
    }
}
