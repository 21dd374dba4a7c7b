//! Time as the handlers see it. Tests swap in a [`ManualClock`] to walk sessions past their
//! idle and absolute deadlines without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Seconds since the Unix epoch. Second resolution is all expiry needs, and it is the unit of
/// DynamoDB's TTL attribute and KV's expiration.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The moment `d` after `self` (a deadline), saturating rather than overflowing.
    pub fn plus(self, d: Duration) -> UnixTime {
        UnixTime(
            self.0
                .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }

    /// The time from `self` until `later`, zero if `later` is not in the future.
    pub fn until(self, later: UnixTime) -> Duration {
        Duration::from_secs(u64::try_from(later.0.saturating_sub(self.0)).unwrap_or(0))
    }
}

/// Where handlers and stores read the current time, so tests can control it.
pub trait Clock: Send + Sync {
    /// The current time, to the second.
    fn now(&self) -> UnixTime;
}

/// The real clock: the host's system time, or JavaScript's on Workers.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// wasm32-unknown-unknown has no system clock (`SystemTime::now` panics there); Workers
    /// give JavaScript's `Date.now()`, milliseconds since the epoch.
    #[cfg(target_arch = "wasm32")]
    #[allow(
        clippy::cast_possible_truncation,
        reason = "f64 has no TryFrom; `as` keeps the whole seconds and saturates, and Date.now() is far inside i64"
    )]
    fn now(&self) -> UnixTime {
        UnixTime((js_sys::Date::now() / 1000.0) as i64)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn now(&self) -> UnixTime {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UnixTime(i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX))
    }
}

/// A clock that moves only when told to. Clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn at(start: UnixTime) -> Self {
        ManualClock(Arc::new(AtomicI64::new(start.0)))
    }

    /// Moves this clock, and every clone of it, `d` forward.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Ordering::SeqCst,
        );
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}
