//! What a request asked of the store, in the units each platform bills: the figures behind
//! the README's round-trip table and cost table, and a field of every access line.
//!
//! A store counts into its [`UsageMeter`]; [`App::serve`](crate::App) brackets each request
//! with [`UsageMeter::begin`] and [`MeteredRequest::end`]. The meter belongs to the store, not the
//! request, so a count is only known to be one request's when no other request counted into
//! the meter meanwhile: always on Lambda (one request per instance at a time), not always in
//! a busy Worker isolate or the dev server, whose overlapping requests report no count rather
//! than each other's (the soak test's dev server once logged 82 round trips for a sign-up).

use std::sync::atomic::{AtomicU32, Ordering};

use serde::Serialize;

/// One request's use of the store. Units are those of the platform's price list:
/// DynamoDB's read and write request units (an item under 4 KB read strongly consistently
/// is one read unit, an item under 1 KB written is one write unit, transactions cost
/// double), Workers KV's reads and writes, D1's statements and the rows they write.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct StoreUsage {
    /// Calls made over the network, each one a wait (a D1 batch or a DynamoDB batch or
    /// transaction is one).
    pub round_trips: u32,
    /// DynamoDB read request units.
    #[serde(skip_serializing_if = "is_zero")]
    pub read_units: f64,
    /// DynamoDB write request units.
    #[serde(skip_serializing_if = "is_zero")]
    pub write_units: f64,
    /// Workers KV reads.
    #[serde(skip_serializing_if = "is_zero_count")]
    pub kv_reads: u32,
    /// Workers KV writes and deletes (billed alike).
    #[serde(skip_serializing_if = "is_zero_count")]
    pub kv_writes: u32,
    /// D1 statements run, alone or in a batch.
    #[serde(skip_serializing_if = "is_zero_count")]
    pub d1_queries: u32,
    /// D1 statements that write (INSERT, UPDATE, DELETE): a floor under the rows D1 bills as
    /// written, which also counts index rows and every row a statement touches.
    #[serde(skip_serializing_if = "is_zero_count")]
    pub d1_writes: u32,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn is_zero_count(v: &u32) -> bool {
    *v == 0
}

impl StoreUsage {
    /// Whether the request made no store call at all.
    pub fn is_empty(&self) -> bool {
        self.round_trips == 0
    }
}

/// Counters a store adds to as it calls out. Atomics, so a store shared between threads
/// (the dev server) can count without a lock; half units are kept as whole halves.
#[derive(Debug, Default)]
pub struct UsageMeter {
    round_trips: AtomicU32,
    read_half_units: AtomicU32,
    write_units: AtomicU32,
    kv_reads: AtomicU32,
    kv_writes: AtomicU32,
    d1_queries: AtomicU32,
    d1_writes: AtomicU32,
    /// The requests between `begin` and `end` (the low bits), and [`OVERLAPPED`]: whether two
    /// of them have been at once since the meter was last idle. One atomic, so that a `begin`
    /// cannot slip between another's reading of the count and its setting of the flag.
    requests: AtomicU32,
}

/// The flag bit of `UsageMeter::requests`.
const OVERLAPPED: u32 = 1 << 31;

impl UsageMeter {
    /// A DynamoDB call that read `half_units` halves of a read unit (an eventually consistent
    /// read is half of a strongly consistent one) and wrote `write_units` write units.
    pub fn dynamodb_call(&self, half_units: u32, write_units: u32) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.read_half_units
            .fetch_add(half_units, Ordering::Relaxed);
        self.write_units.fetch_add(write_units, Ordering::Relaxed);
    }

    /// Half units read by a DynamoDB call already counted, learnt from its answer (a Query).
    pub fn dynamodb_reads(&self, half_units: u32) {
        self.read_half_units
            .fetch_add(half_units, Ordering::Relaxed);
    }

    /// One KV read (a round trip of its own).
    pub fn kv_read(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.kv_reads.fetch_add(1, Ordering::Relaxed);
    }

    /// One KV write or delete (a round trip of its own).
    pub fn kv_write(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.kv_writes.fetch_add(1, Ordering::Relaxed);
    }

    /// One D1 call running `statements`, of which `writes` write.
    pub fn d1_call(&self, statements: u32, writes: u32) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.d1_queries.fetch_add(statements, Ordering::Relaxed);
        self.d1_writes.fetch_add(writes, Ordering::Relaxed);
    }

    /// `statements`, each already counted as a call of its own, were run as one batch.
    pub fn batched(&self, statements: u32) {
        let fewer = statements.saturating_sub(1);
        // Never below zero, even should a take have come between.
        let _ = self
            .round_trips
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(fewer))
            });
    }

    /// A request starts: what earlier requests left uncounted is dropped, unless another
    /// request is under way (then both are overlapped, and neither gets a count).
    pub fn begin(&self) -> MeteredRequest<'_> {
        let before = self.update_requests(|count, flag| {
            if count == 0 {
                1
            } else {
                (count + 1) | OVERLAPPED | flag
            }
        });
        if before & !OVERLAPPED == 0 {
            self.take();
        }
        MeteredRequest {
            meter: self,
            ended: false,
        }
    }

    /// A request ends: its count, or `None` when another request counted into this meter
    /// meanwhile and no one can tell whose calls were whose.
    fn end(&self) -> Option<StoreUsage> {
        let usage = self.take();
        let before = self.update_requests(|count, flag| match count {
            0 | 1 => 0,
            _ => (count - 1) | flag,
        });
        (before & OVERLAPPED == 0).then_some(usage)
    }

    /// Applies `next(count, flag)` to `requests` atomically; returns the value before.
    fn update_requests(&self, next: impl Fn(u32, u32) -> u32) -> u32 {
        let step = |state: u32| Some(next(state & !OVERLAPPED, state & OVERLAPPED));
        match self
            .requests
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, step)
        {
            Ok(before) | Err(before) => before,
        }
    }

    /// The count since the last take, and starts over.
    pub fn take(&self) -> StoreUsage {
        let take = |c: &AtomicU32| c.swap(0, Ordering::Relaxed);
        StoreUsage {
            round_trips: take(&self.round_trips),
            read_units: f64::from(take(&self.read_half_units)) / 2.0,
            write_units: f64::from(take(&self.write_units)),
            kv_reads: take(&self.kv_reads),
            kv_writes: take(&self.kv_writes),
            d1_queries: take(&self.d1_queries),
            d1_writes: take(&self.d1_writes),
        }
    }
}

/// One request's part in a meter, from [`UsageMeter::begin`] to [`MeteredRequest::end`]. A
/// request whose future is dropped before it ends (a client that went away) still ends here,
/// or the meter would take every later request for an overlapping one.
#[derive(Debug)]
pub struct MeteredRequest<'a> {
    meter: &'a UsageMeter,
    ended: bool,
}

impl MeteredRequest<'_> {
    /// The request's count, or `None` when another request counted into the meter meanwhile.
    pub fn end(mut self) -> Option<StoreUsage> {
        self.ended = true;
        self.meter.end()
    }
}

impl Drop for MeteredRequest<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.meter.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_take_reports_what_was_counted_and_starts_over() {
        let meter = UsageMeter::default();
        meter.dynamodb_call(2, 0);
        meter.dynamodb_call(1, 2);
        let usage = meter.take();
        assert_eq!(usage.round_trips, 2);
        assert_eq!(usage.read_units, 1.5);
        assert_eq!(usage.write_units, 2.0);
        assert!(meter.take().is_empty());
    }

    #[test]
    fn a_request_alone_gets_its_own_count_and_not_what_came_before() {
        let meter = UsageMeter::default();
        meter.kv_read(); // left by an earlier request that never ended
        let request = meter.begin();
        meter.d1_call(1, 1);
        let usage = request.end().expect("alone: counted");
        assert_eq!(
            (usage.round_trips, usage.kv_reads, usage.d1_queries),
            (1, 0, 1)
        );
    }

    #[test]
    fn overlapping_requests_get_no_count_and_the_next_one_alone_does() {
        let meter = UsageMeter::default();
        let first = meter.begin();
        meter.kv_read();
        let second = meter.begin();
        meter.kv_read();
        assert_eq!(first.end(), None, "the first ended while the second ran");
        meter.kv_write();
        assert_eq!(second.end(), None, "the second began while the first ran");
        let third = meter.begin();
        meter.kv_write();
        assert_eq!(third.end().map(|u| u.kv_writes), Some(1));
    }

    #[test]
    fn a_request_dropped_before_its_end_does_not_overlap_the_next() {
        let meter = UsageMeter::default();
        drop(meter.begin()); // its future was dropped: a client went away
        let next = meter.begin();
        meter.kv_read();
        assert_eq!(next.end().map(|u| u.kv_reads), Some(1));
    }

    #[test]
    fn only_what_was_used_is_serialised() {
        let meter = UsageMeter::default();
        meter.kv_read();
        meter.d1_call(3, 2);
        let json = serde_json::to_string(&meter.take()).unwrap();
        assert_eq!(
            json,
            r#"{"round_trips":2,"kv_reads":1,"d1_queries":3,"d1_writes":2}"#
        );
    }
}
