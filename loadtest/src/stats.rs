//! What a run measured: latency histograms, outcomes, errors by kind, the
//! origins requests really went to, and a bounded timeline of the run.
//!
//! The timeline cuts the run into fixed-width buckets by completion time
//! ([`TIMELINE_BUCKET`] wide at first). When a request finishes past
//! [`TIMELINE_MAX_BUCKETS`] buckets, neighbouring buckets are merged in pairs
//! and the width doubles, as often as needed: a run of any length keeps at
//! most [`TIMELINE_MAX_BUCKETS`] buckets, each with a small histogram
//! (2 significant digits, 32-bit counters, ≈ 12 KiB).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::schedule::Timing;

/// Highest latency the histograms hold (longer ones are clamped): 5 min.
const MAX_LATENCY_US: u64 = 300_000_000;

/// Width of a timeline bucket before any coarsening.
pub const TIMELINE_BUCKET: Duration = Duration::from_millis(100);

/// Most buckets the timeline keeps; past that it coarsens (2× wider).
pub const TIMELINE_MAX_BUCKETS: usize = 1200;

/// Significant digits of the timeline buckets' histograms: 1 % precision is
/// plenty for a plot, and keeps a bucket ≈ 12 KiB.
const TIMELINE_SIGFIG: u8 = 2;

/// Distribution points per decade of 1/(1 − p).
const DISTRIBUTION_STEPS_PER_DECADE: u32 = 20;

/// Decades of 1/(1 − p) in a distribution: up to the 99.999th percentile.
const DISTRIBUTION_DECADES: u32 = 5;

/// Quantiles a distribution always holds (when it has enough samples), on
/// top of its log-spaced ones: the 90th, 99th, … are among those already.
const DISTRIBUTION_LANDMARKS: [f64; 3] = [0.50, 0.75, 0.95];

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

/// Latency at one percentile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DistributionPoint {
    /// Percentile, 0 to 99.999.
    pub percentile: f64,
    /// Latency at that percentile, ms.
    pub latency_ms: f64,
}

impl DistributionPoint {
    /// 1 / (1 − p): the x coordinate of the usual HDR percentile plot
    /// (1 at the 0th percentile, 10 at the 90th, 100 at the 99th, …).
    pub fn inverse_tail(&self) -> f64 {
        1.0 / (1.0 - self.percentile / 100.0).max(1e-12)
    }
}

/// Latency at percentiles 0 .. 99.999 of a histogram of microseconds,
/// spaced evenly on a log scale of 1/(1 − p) (plus the 50th, 75th and
/// 95th), ascending. Stops where the samples run out (1/(1 − p) ≤ count), so
/// a small run does not pretend to know its 99.999th percentile; empty for
/// an empty histogram.
pub fn distribution(h: &Histogram<u64>) -> Vec<DistributionPoint> {
    #[allow(clippy::cast_precision_loss)]
    let count = h.len() as f64;
    distribution_quantiles()
        .into_iter()
        .take_while(|&q| 1.0 / (1.0 - q) <= count * (1.0 + 1e-9))
        .map(|quantile| {
            #[allow(clippy::cast_precision_loss)]
            let latency_ms = h.value_at_quantile(quantile) as f64 / 1000.0;
            DistributionPoint {
                percentile: quantile * 100.0,
                latency_ms,
            }
        })
        .collect()
}

/// The quantiles of [`distribution`], ascending.
fn distribution_quantiles() -> Vec<f64> {
    let per_decade = f64::from(DISTRIBUTION_STEPS_PER_DECADE);
    let steps = DISTRIBUTION_STEPS_PER_DECADE * DISTRIBUTION_DECADES;
    let mut quantiles: Vec<f64> = (0..=steps)
        .map(|k| 1.0 - 10f64.powf(-f64::from(k) / per_decade))
        .chain(DISTRIBUTION_LANDMARKS)
        .collect();
    quantiles.sort_by(f64::total_cmp);
    quantiles.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    quantiles
}

/// One measurement's latency by percentile, for the distribution plot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyDistribution {
    /// What the latency is measured from: `scheduled send` or `actual send`.
    pub measured_from: String,
    /// Samples.
    pub count: u64,
    /// See [`distribution`].
    pub points: Vec<DistributionPoint>,
}

/// One bucket of the run's timeline: the requests that finished in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineBucket {
    /// Start, seconds since the run started.
    pub start_s: f64,
    /// Width, seconds (the same for every bucket of a run).
    pub width_s: f64,
    /// Requests finished, ok or not.
    pub completed: u64,
    /// 2xx replies.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// Median latency of the successful requests, from the scheduled send
    /// (the actual send in a closed loop), ms; `None` without any.
    pub p50_ms: Option<f64>,
    /// 99th percentile, likewise.
    pub p99_ms: Option<f64>,
    /// Largest, likewise.
    pub max_ms: Option<f64>,
}

impl TimelineBucket {
    /// The middle of the bucket, seconds since the start.
    pub fn mid_s(&self) -> f64 {
        self.start_s + self.width_s / 2.0
    }

    /// Finished requests per second.
    pub fn completed_per_s(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let n = self.completed as f64;
        n / self.width_s.max(1e-6)
    }

    /// Failed requests per second.
    pub fn errors_per_s(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let n = self.errors as f64;
        n / self.width_s.max(1e-6)
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
    /// The run in buckets by completion time, from the start to the last
    /// bucket with a finished request (empty buckets in between included).
    pub timeline: Vec<TimelineBucket>,
    /// [`distribution`] of `corrected`.
    pub corrected_distribution: Vec<DistributionPoint>,
    /// [`distribution`] of `service`.
    pub service_distribution: Vec<DistributionPoint>,
}

impl Summary {
    /// The latency distributions worth plotting: from the scheduled send
    /// (only for an `open_loop` run: in a closed loop it equals the actual
    /// send), then from the actual send; none without successful requests.
    pub fn latency_distributions(&self, open_loop: bool) -> Vec<LatencyDistribution> {
        let corrected = open_loop.then(|| LatencyDistribution {
            measured_from: "scheduled send".into(),
            count: self.corrected.count,
            points: self.corrected_distribution.clone(),
        });
        let service = LatencyDistribution {
            measured_from: "actual send".into(),
            count: self.service.count,
            points: self.service_distribution.clone(),
        };
        corrected
            .into_iter()
            .chain([service])
            .filter(|d| !d.points.is_empty())
            .collect()
    }
}

/// The requests that finished in one time bucket.
#[derive(Default)]
struct Bucket {
    completed: u64,
    ok: u64,
    errors: u64,
    /// Latencies of the successful ones, µs; created with the first.
    latency: Option<Histogram<u32>>,
}

impl Bucket {
    fn merge(&mut self, other: Bucket) {
        self.completed += other.completed;
        self.ok += other.ok;
        self.errors += other.errors;
        match (&mut self.latency, other.latency) {
            // Same bounds and precision: adding cannot fail.
            (Some(mine), Some(theirs)) => {
                let _ = mine.add(&theirs);
            }
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
    }
}

/// Fixed-width buckets from the start of the run, coarsened (merged in
/// pairs, width doubled) whenever a request lands past `max_buckets`.
struct Timeline {
    width_us: u64,
    max_buckets: usize,
    buckets: Vec<Bucket>,
}

impl Timeline {
    fn new(width: Duration, max_buckets: usize) -> Timeline {
        Timeline {
            width_us: micros_unclamped(width).max(1),
            max_buckets: max_buckets.max(1),
            buckets: Vec::new(),
        }
    }

    /// Counts a request that finished `at_us` after the start, successful
    /// with `latency_us` if given.
    fn record(&mut self, at_us: u64, latency_us: Option<u64>) {
        let bucket = self.bucket_at(at_us);
        bucket.completed += 1;
        match latency_us {
            Some(us) => {
                bucket.ok += 1;
                bucket
                    .latency
                    .get_or_insert_with(bucket_histogram)
                    .saturating_record(us);
            }
            None => bucket.errors += 1,
        }
    }

    fn bucket_at(&mut self, at_us: u64) -> &mut Bucket {
        let mut index = self.index_of(at_us);
        while index >= self.max_buckets {
            self.coarsen();
            index = self.index_of(at_us);
        }
        if index >= self.buckets.len() {
            self.buckets.resize_with(index + 1, Bucket::default);
        }
        &mut self.buckets[index]
    }

    fn index_of(&self, at_us: u64) -> usize {
        usize::try_from(at_us / self.width_us).unwrap_or(usize::MAX)
    }

    /// Merges buckets in pairs and doubles the width.
    fn coarsen(&mut self) {
        let old = std::mem::take(&mut self.buckets);
        let mut merged = Vec::with_capacity(old.len().div_ceil(2));
        let mut old = old.into_iter();
        while let Some(mut first) = old.next() {
            if let Some(second) = old.next() {
                first.merge(second);
            }
            merged.push(first);
        }
        self.buckets = merged;
        self.width_us = self.width_us.saturating_mul(2);
    }

    fn buckets(&self) -> Vec<TimelineBucket> {
        #[allow(clippy::cast_precision_loss)]
        let width_s = self.width_us as f64 / 1e6;
        #[allow(clippy::cast_precision_loss)]
        let ms = |us: u64| us as f64 / 1000.0;
        self.buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let latency = b.latency.as_ref().filter(|h| !h.is_empty());
                #[allow(clippy::cast_precision_loss)]
                let start_s = i as f64 * width_s;
                TimelineBucket {
                    start_s,
                    width_s,
                    completed: b.completed,
                    ok: b.ok,
                    errors: b.errors,
                    p50_ms: latency.map(|h| ms(h.value_at_quantile(0.50))),
                    p99_ms: latency.map(|h| ms(h.value_at_quantile(0.99))),
                    max_ms: latency.map(|h| ms(h.max())),
                }
            })
            .collect()
    }
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
    timeline: Timeline,
}

/// Thread-safe collector of request outcomes.
pub struct Recorder {
    inner: Mutex<Inner>,
    start: Instant,
    ramp_end: Option<Instant>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 5 min at 3 significant digits; these bounds are valid.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).unwrap_or_else(|_| unreachable!())
}

/// A histogram of a timeline bucket: coarser and with smaller counters
/// than the run's (see [`TIMELINE_SIGFIG`]).
fn bucket_histogram() -> Histogram<u32> {
    // 1 µs .. 5 min at 2 significant digits; these bounds are valid.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, TIMELINE_SIGFIG)
        .unwrap_or_else(|_| unreachable!())
}

fn micros_unclamped(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn micros(d: Duration) -> u64 {
    micros_unclamped(d).clamp(1, MAX_LATENCY_US)
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new(None)
    }
}

impl Recorder {
    /// A recorder whose timeline starts now; requests finished after
    /// `ramp_end` are also counted as steady-state.
    pub fn new(ramp_end: Option<Instant>) -> Recorder {
        Recorder::with_start(Instant::now(), ramp_end)
    }

    /// A recorder whose timeline starts at `start`.
    pub fn with_start(start: Instant, ramp_end: Option<Instant>) -> Recorder {
        Recorder::with_timeline(start, ramp_end, TIMELINE_BUCKET, TIMELINE_MAX_BUCKETS)
    }

    /// A recorder with a timeline of `max_buckets` buckets `bucket` wide at
    /// first.
    fn with_timeline(
        start: Instant,
        ramp_end: Option<Instant>,
        bucket: Duration,
        max_buckets: usize,
    ) -> Recorder {
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
                timeline: Timeline::new(bucket, max_buckets),
            }),
            start,
            ramp_end,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent counters.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one finished request sent to `origin`.
    pub fn record(&self, origin: &str, timing: Timing, outcome: Outcome) {
        let at_us = micros_unclamped(timing.done.saturating_duration_since(self.start));
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
                inner.timeline.record(at_us, Some(corrected));
            }
            Outcome::Error(kind) => {
                inner.errors += 1;
                inner.timeline.record(at_us, None);
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
            timeline: inner.timeline.buckets(),
            corrected_distribution: distribution(&inner.corrected),
            service_distribution: distribution(&inner.service),
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

    /// A request that finished `done_ms` after `t0` and took `latency_ms`.
    fn finished_at(t0: Instant, done_ms: u64, latency_ms: u64) -> Timing {
        let done = t0 + Duration::from_millis(done_ms);
        let scheduled = done - Duration::from_millis(latency_ms);
        Timing {
            scheduled,
            sent: scheduled,
            done,
        }
    }

    fn error() -> Outcome {
        Outcome::Error("timeout".into())
    }

    fn near(actual: Option<f64>, expected: f64) -> bool {
        actual.is_some_and(|a| (a - expected).abs() <= expected * 0.011)
    }

    #[test]
    fn timeline_buckets_by_completion_time() {
        let t0 = Instant::now();
        let rec = Recorder::with_start(t0, None);
        rec.record("o", finished_at(t0, 50, 10), Outcome::Ok);
        rec.record("o", finished_at(t0, 150, 5), error());
        rec.record("o", finished_at(t0, 160, 20), Outcome::Ok);
        rec.record("o", finished_at(t0, 199, 40), Outcome::Ok);
        rec.record("o", finished_at(t0, 450, 1), Outcome::Ok);
        let timeline = rec.summary().timeline;
        assert_eq!(timeline.len(), 5, "{timeline:#?}");
        let counts: Vec<_> = timeline
            .iter()
            .map(|b| (b.completed, b.ok, b.errors))
            .collect();
        assert_eq!(
            counts,
            [(1, 1, 0), (3, 2, 1), (0, 0, 0), (0, 0, 0), (1, 1, 0)]
        );
        for (i, b) in timeline.iter().enumerate() {
            assert!((b.width_s - 0.1).abs() < 1e-9);
            assert!((b.start_s - 0.1 * f64::from(u8::try_from(i).unwrap())).abs() < 1e-9);
        }
        assert!(near(timeline[0].p50_ms, 10.0), "{:?}", timeline[0]);
        assert!(near(timeline[1].p50_ms, 20.0), "{:?}", timeline[1]);
        assert!(near(timeline[1].max_ms, 40.0), "{:?}", timeline[1]);
        assert_eq!(timeline[2].p50_ms, None);
        assert!((timeline[1].completed_per_s() - 30.0).abs() < 1e-9);
        assert!((timeline[1].errors_per_s() - 10.0).abs() < 1e-9);
        assert!(near(timeline[4].p99_ms, 1.0), "{:?}", timeline[4]);
    }

    #[test]
    fn timeline_coarsens_by_merging_pairs() {
        let t0 = Instant::now();
        let rec = Recorder::with_timeline(t0, None, Duration::from_millis(100), 10);
        rec.record("o", finished_at(t0, 50, 1), Outcome::Ok);
        rec.record("o", finished_at(t0, 950, 3), Outcome::Ok);
        assert_eq!(rec.summary().timeline.len(), 10);
        // 1.05 s is bucket 10 of 100 ms: one too many, so 200 ms buckets.
        rec.record("o", finished_at(t0, 1050, 2), error());
        let timeline = rec.summary().timeline;
        assert_eq!(timeline.len(), 6, "{timeline:#?}");
        assert!((timeline[0].width_s - 0.2).abs() < 1e-9);
        assert_eq!((timeline[0].ok, timeline[4].ok), (1, 1));
        assert_eq!(timeline[5].errors, 1);
        assert!(near(timeline[4].max_ms, 3.0), "{:?}", timeline[4]);
        // 10 s needs 1.6 s buckets to stay within 10.
        rec.record("o", finished_at(t0, 10_000, 7), Outcome::Ok);
        let timeline = rec.summary().timeline;
        assert_eq!(timeline.len(), 7, "{timeline:#?}");
        assert!((timeline[0].width_s - 1.6).abs() < 1e-9);
        let first = &timeline[0];
        assert_eq!((first.completed, first.ok, first.errors), (3, 2, 1));
        assert!(near(first.p50_ms, 1.0), "{first:?}");
        assert!(near(first.max_ms, 3.0), "{first:?}");
        assert!(near(timeline[6].p50_ms, 7.0), "{:?}", timeline[6]);
        let total: u64 = timeline.iter().map(|b| b.completed).sum();
        assert_eq!(total, 4);
    }

    #[test]
    fn timeline_of_a_long_run_stays_bounded() {
        let t0 = Instant::now();
        let rec = Recorder::with_start(t0, None);
        // A 10-minute run: 100 ms buckets would be 6000; 800 ms ones fit.
        for s in 0..600 {
            rec.record("o", finished_at(t0, s * 1000 + 500, 2), Outcome::Ok);
        }
        let timeline = rec.summary().timeline;
        assert!(timeline.len() <= TIMELINE_MAX_BUCKETS);
        assert!(
            (timeline[0].width_s - 0.8).abs() < 1e-9,
            "{:?}",
            timeline[0]
        );
        assert_eq!(timeline.iter().map(|b| b.ok).sum::<u64>(), 600);
        // A day still fits, in wider buckets.
        rec.record("o", finished_at(t0, 86_400_000, 2), Outcome::Ok);
        assert!(rec.summary().timeline.len() <= TIMELINE_MAX_BUCKETS);
        // Whatever the run's rate, the buckets' histograms stay small.
        let bucket_bytes = bucket_histogram().distinct_values() * std::mem::size_of::<u32>();
        assert!(
            bucket_bytes * TIMELINE_MAX_BUCKETS <= 16 << 20,
            "{bucket_bytes} bytes per bucket"
        );
    }

    #[test]
    fn distribution_is_monotonic_and_stops_where_samples_do() {
        let mut h = histogram();
        for us in 1..=100_000 {
            h.record(us).unwrap();
        }
        let points = distribution(&h);
        assert_eq!(points.len(), 104);
        assert_eq!(points[0].percentile, 0.0);
        let last = points[103];
        assert!((last.percentile - 99.999).abs() < 1e-9, "{last:?}");
        assert!((last.inverse_tail() - 1e5).abs() < 1e-3);
        for pair in points.windows(2) {
            assert!(pair[0].percentile < pair[1].percentile, "{pair:?}");
            assert!(pair[0].latency_ms <= pair[1].latency_ms, "{pair:?}");
        }
        let at = |percentile: f64| {
            points
                .iter()
                .find(|p| (p.percentile - percentile).abs() < 1e-6)
                .map(|p| p.latency_ms)
        };
        assert!(at(50.0).is_some_and(|ms| (ms - 50.0).abs() < 0.1));
        assert!(at(99.0).is_some_and(|ms| (ms - 99.0).abs() < 0.1));

        let mut small = histogram();
        for us in 1..=100 {
            small.record(us * 1000).unwrap();
        }
        let points = distribution(&small);
        let last = points.last().unwrap();
        assert!((last.percentile - 99.0).abs() < 1e-9, "{last:?}");
        assert!(distribution(&histogram()).is_empty());
    }

    #[test]
    fn latency_distributions_follow_the_loop() {
        let t0 = Instant::now();
        let rec = Recorder::with_start(t0, None);
        rec.record("o", error_free(t0), Outcome::Ok);
        let s = rec.summary();
        let open: Vec<_> = s
            .latency_distributions(true)
            .into_iter()
            .map(|d| (d.measured_from, d.count))
            .collect();
        assert_eq!(
            open,
            [
                ("scheduled send".to_string(), 1),
                ("actual send".to_string(), 1)
            ]
        );
        assert_eq!(s.latency_distributions(false).len(), 1);
        let none = Recorder::with_start(t0, None);
        none.record("o", error_free(t0), error());
        assert!(none.summary().latency_distributions(true).is_empty());
    }

    fn error_free(t0: Instant) -> Timing {
        timing(t0, 1, 2)
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
