//! What a run measured: latency histograms, outcomes, errors by kind, and
//! the origins requests really went to.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::schedule::Timing;

/// Highest latency the histograms hold (longer ones are clamped): 5 min.
const MAX_LATENCY_US: u64 = 300_000_000;

/// Latency percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

impl Percentiles {
    /// Percentiles of a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        #[allow(clippy::cast_precision_loss)]
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// What one request ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx reply, fully read.
    Ok,
    /// Anything else; the string is its kind (`http 500 ERR_…`, `connect`,
    /// `timeout`, …).
    Error(String),
}

/// A cheap look at the run so far, for the progress line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// Requests finished (ok or not).
    pub completed: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Requests never sent because too many were in flight.
    pub dropped: u64,
    /// p99 latency (corrected) of the requests finished since the last
    /// snapshot, if any.
    pub window_p99: Option<Duration>,
}

/// Everything recorded, at the end of a run.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Requests finished (ok or not).
    pub completed: u64,
    /// 2xx replies.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// Requests not sent because too many were in flight.
    pub dropped: u64,
    /// Failed requests by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Requests sent per origin (`scheme://host:port`), from the URL each
    /// request was sent to.
    pub hits_by_origin: BTreeMap<String, u64>,
    /// Latency from the scheduled time, successful requests.
    pub corrected: Percentiles,
    /// Latency from the actual send, successful requests.
    pub service: Percentiles,
    /// How late requests left (open loop only).
    pub send_lag: Percentiles,
    /// Requests that finished after the ramp (closed loop).
    pub completed_after_ramp: u64,
    /// When the last request finished.
    pub last_done: Option<Instant>,
}

struct Inner {
    corrected: Histogram<u64>,
    service: Histogram<u64>,
    lag: Histogram<u64>,
    window: Histogram<u64>,
    completed: u64,
    ok: u64,
    errors: u64,
    dropped: u64,
    errors_by_kind: BTreeMap<String, u64>,
    hits_by_origin: BTreeMap<String, u64>,
    completed_after_ramp: u64,
    last_done: Option<Instant>,
}

/// Thread-safe collector of request outcomes.
pub struct Recorder {
    inner: Mutex<Inner>,
    ramp_end: Option<Instant>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 5 min at 3 significant digits; these bounds are valid.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).unwrap_or_else(|_| unreachable!())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_LATENCY_US)
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new(None)
    }
}

impl Recorder {
    /// A recorder; requests finished after `ramp_end` are also counted as
    /// steady-state.
    pub fn new(ramp_end: Option<Instant>) -> Recorder {
        Recorder {
            inner: Mutex::new(Inner {
                corrected: histogram(),
                service: histogram(),
                lag: histogram(),
                window: histogram(),
                completed: 0,
                ok: 0,
                errors: 0,
                dropped: 0,
                errors_by_kind: BTreeMap::new(),
                hits_by_origin: BTreeMap::new(),
                completed_after_ramp: 0,
                last_done: None,
            }),
            ramp_end,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent counters.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one finished request sent to `origin`.
    pub fn record(&self, origin: &str, timing: Timing, outcome: Outcome) {
        let mut inner = self.lock();
        inner.completed += 1;
        if let Some(n) = inner.hits_by_origin.get_mut(origin) {
            *n += 1;
        } else {
            inner.hits_by_origin.insert(origin.to_string(), 1);
        }
        if self.ramp_end.is_some_and(|end| timing.done >= end) {
            inner.completed_after_ramp += 1;
        }
        inner.last_done = Some(inner.last_done.map_or(timing.done, |d| d.max(timing.done)));
        inner.lag.saturating_record(micros(timing.send_lag()));
        match outcome {
            Outcome::Ok => {
                inner.ok += 1;
                let corrected = micros(timing.corrected());
                inner.corrected.saturating_record(corrected);
                inner.window.saturating_record(corrected);
                inner.service.saturating_record(micros(timing.service()));
            }
            Outcome::Error(kind) => {
                inner.errors += 1;
                *inner.errors_by_kind.entry(kind).or_insert(0) += 1;
            }
        }
    }

    /// Counts a request that was not sent because of the in-flight cap.
    pub fn dropped(&self) {
        self.lock().dropped += 1;
    }

    /// Counters so far, and the p99 of the requests finished since the last
    /// snapshot (which resets that window).
    pub fn snapshot(&self) -> Snapshot {
        let mut inner = self.lock();
        let window_p99 = (!inner.window.is_empty())
            .then(|| Duration::from_micros(inner.window.value_at_quantile(0.99)));
        inner.window.reset();
        Snapshot {
            completed: inner.completed,
            errors: inner.errors,
            dropped: inner.dropped,
            window_p99,
        }
    }

    /// Everything recorded.
    pub fn summary(&self) -> Summary {
        let inner = self.lock();
        Summary {
            completed: inner.completed,
            ok: inner.ok,
            errors: inner.errors,
            dropped: inner.dropped,
            errors_by_kind: inner.errors_by_kind.clone(),
            hits_by_origin: inner.hits_by_origin.clone(),
            corrected: Percentiles::of(&inner.corrected),
            service: Percentiles::of(&inner.service),
            send_lag: Percentiles::of(&inner.lag),
            completed_after_ramp: inner.completed_after_ramp,
            last_done: inner.last_done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(t0: Instant, lag_ms: u64, service_ms: u64) -> Timing {
        let sent = t0 + Duration::from_millis(lag_ms);
        Timing {
            scheduled: t0,
            sent,
            done: sent + Duration::from_millis(service_ms),
        }
    }

    #[test]
    fn records_latencies_errors_and_origins() {
        let rec = Recorder::default();
        let t0 = Instant::now();
        for i in 0..100 {
            rec.record("http://127.0.0.1:1", timing(t0, 10, 1 + i % 2), Outcome::Ok);
        }
        rec.record(
            "http://127.0.0.1:2",
            timing(t0, 0, 1),
            Outcome::Error("http 500 ERR_ACTOR_INVOKE_METHOD".into()),
        );
        rec.record(
            "http://127.0.0.1:2",
            timing(t0, 0, 1),
            Outcome::Error("connect".into()),
        );
        rec.dropped();
        let s = rec.summary();
        assert_eq!((s.completed, s.ok, s.errors, s.dropped), (102, 100, 2, 1));
        assert_eq!(s.hits_by_origin["http://127.0.0.1:1"], 100);
        assert_eq!(s.hits_by_origin["http://127.0.0.1:2"], 2);
        assert_eq!(s.errors_by_kind["connect"], 1);
        // Latency counts successes only; corrected includes the 10 ms lag.
        assert_eq!(s.service.count, 100);
        assert!((s.service.p50_ms - 1.0).abs() < 0.01, "{:?}", s.service);
        assert!((s.service.max_ms - 2.0).abs() < 0.01);
        assert!(
            (s.corrected.p50_ms - 11.0).abs() < 0.02,
            "{:?}",
            s.corrected
        );
        assert!((s.corrected.max_ms - 12.0).abs() < 0.02);
        assert!(s.corrected.p50_ms <= s.corrected.p90_ms);
        assert!(s.corrected.p99_ms <= s.corrected.p999_ms);
        assert!(s.corrected.p999_ms <= s.corrected.max_ms);
    }

    #[test]
    fn snapshot_window_resets() {
        let rec = Recorder::default();
        let t0 = Instant::now();
        assert_eq!(rec.snapshot().window_p99, None);
        rec.record("o", timing(t0, 0, 7), Outcome::Ok);
        let snap = rec.snapshot();
        assert_eq!(snap.completed, 1);
        let p99 = snap.window_p99.unwrap();
        assert!(p99 >= Duration::from_millis(7) && p99 < Duration::from_micros(7100));
        assert_eq!(rec.snapshot().window_p99, None);
    }

    #[test]
    fn counts_requests_after_the_ramp() {
        let t0 = Instant::now();
        let rec = Recorder::new(Some(t0 + Duration::from_millis(5)));
        rec.record("o", timing(t0, 0, 1), Outcome::Ok);
        rec.record("o", timing(t0, 0, 9), Outcome::Ok);
        assert_eq!(rec.summary().completed_after_ramp, 1);
    }
}
