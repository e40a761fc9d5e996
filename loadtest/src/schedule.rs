//! Open-loop request schedule and the latency arithmetic of one request.
//!
//! Request `i` of a run at `rate` per second is *due* at
//! `start + i / rate`, computed from the start each time (no accumulated
//! drift). A pacer thread sleeps until each due time and then hands the
//! request to the async runtime, whatever is still in flight: the load does
//! not slow down when the server does (open loop). Latency is measured both
//! from the due time (corrected for coordinated omission: a request that
//! could not leave on time is charged for its wait) and from the actual send.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::LoadError;

/// How long before a due time the pacer stops sleeping and spins.
const SPIN_BEFORE_DUE: Duration = Duration::from_micros(200);

/// A fixed-rate schedule of `count` requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    rate: f64,
    count: u64,
}

impl Schedule {
    /// `rate` requests per second for `duration`, at most `max_requests`.
    pub fn new(
        rate: f64,
        duration: Duration,
        max_requests: Option<u64>,
    ) -> Result<Schedule, LoadError> {
        if !rate.is_finite() || rate <= 0.0 || rate > 1_000_000.0 {
            return Err(LoadError::InvalidOption(format!(
                "--rate must be in (0, 1000000], not {rate}"
            )));
        }
        // Requests whose due time falls inside [0, duration).
        let by_time = (duration.as_secs_f64() * rate).ceil();
        // Saturating float-to-int conversion is intended here.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let by_time = by_time as u64;
        let count = max_requests.map_or(by_time, |m| m.min(by_time));
        if count == 0 {
            return Err(LoadError::InvalidOption(
                "the run would send no request (check --duration, --rate and --requests)".into(),
            ));
        }
        Ok(Schedule { rate, count })
    }

    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// How many requests the schedule holds.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The nominal interval between two requests.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.rate)
    }

    /// When request `i` is due, as an offset from the start (computed from
    /// the start, so rounding never accumulates).
    pub fn due(&self, i: u64) -> Duration {
        #[allow(clippy::cast_precision_loss)]
        let secs = i as f64 / self.rate;
        Duration::from_secs_f64(secs)
    }

    /// Runs the schedule on the calling thread: sleeps until each request is
    /// due and calls `fire(i, due_instant)`, until done or `stop` is set.
    /// Returns how many requests were fired.
    pub fn pace(
        &self,
        start: Instant,
        stop: &AtomicBool,
        mut fire: impl FnMut(u64, Instant),
    ) -> u64 {
        for i in 0..self.count {
            let due = start + self.due(i);
            loop {
                if stop.load(Ordering::Relaxed) {
                    return i;
                }
                let now = Instant::now();
                if now >= due {
                    break;
                }
                let left = due - now;
                if left <= SPIN_BEFORE_DUE {
                    // The OS oversleeps by tens of µs: spin the last stretch
                    // so a request leaves on time (costs ≤ 10 % of a core
                    // at 500/s).
                    std::hint::spin_loop();
                    continue;
                }
                // Short sleeps so a stop request is seen within 50 ms.
                std::thread::sleep((left - SPIN_BEFORE_DUE).min(Duration::from_millis(50)));
            }
            fire(i, due);
        }
        self.count
    }
}

/// The three instants of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// When the schedule wanted the request sent (equal to `sent` in a
    /// closed loop).
    pub scheduled: Instant,
    /// When the request actually started.
    pub sent: Instant,
    /// When the whole response had been read (or the request failed).
    pub done: Instant,
}

impl Timing {
    /// Latency corrected for coordinated omission: from the scheduled time.
    pub fn corrected(&self) -> Duration {
        self.done.saturating_duration_since(self.scheduled)
    }

    /// Service time: from the actual send.
    pub fn service(&self) -> Duration {
        self.done.saturating_duration_since(self.sent)
    }

    /// How late the request left.
    pub fn send_lag(&self) -> Duration {
        self.sent.saturating_duration_since(self.scheduled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_is_rate_times_duration_capped_by_requests() {
        let s = Schedule::new(500.0, Duration::from_secs(10), None).unwrap();
        assert_eq!(s.count(), 5000);
        assert_eq!(s.interval(), Duration::from_millis(2));
        let s = Schedule::new(500.0, Duration::from_secs(10), Some(123)).unwrap();
        assert_eq!(s.count(), 123);
        let s = Schedule::new(3.0, Duration::from_millis(500), None).unwrap();
        assert_eq!(s.count(), 2); // due at 0 and 333 ms
        assert!(Schedule::new(0.0, Duration::from_secs(1), None).is_err());
        assert!(Schedule::new(f64::NAN, Duration::from_secs(1), None).is_err());
        assert!(Schedule::new(10.0, Duration::ZERO, None).is_err());
        assert!(Schedule::new(10.0, Duration::from_secs(1), Some(0)).is_err());
    }

    #[test]
    fn due_times_are_exact_from_the_start() {
        let s = Schedule::new(3.0, Duration::from_secs(100), None).unwrap();
        assert_eq!(s.due(0), Duration::ZERO);
        // 1/3 s steps do not drift: request 300 is due at exactly 100 s.
        let d = s.due(299).as_secs_f64();
        assert!((d - 99.666_666_666).abs() < 1e-6, "{d}");
        let s = Schedule::new(500.0, Duration::from_secs(10), None).unwrap();
        for i in [1, 7, 4999] {
            assert_eq!(s.due(i), Duration::from_millis(2 * i));
        }
    }

    #[test]
    fn pacing_fires_every_request_on_or_after_its_due_time() {
        let s = Schedule::new(1000.0, Duration::from_millis(40), None).unwrap();
        let start = Instant::now();
        let stop = AtomicBool::new(false);
        let mut fired = Vec::new();
        let n = s.pace(start, &stop, |i, due| fired.push((i, due, Instant::now())));
        assert_eq!(n, 40);
        assert_eq!(fired.len(), 40);
        for (k, (i, due, at)) in fired.iter().enumerate() {
            assert_eq!(*i, k as u64);
            assert_eq!(*due, start + Duration::from_millis(k as u64));
            assert!(at >= due);
        }
        // The whole run takes about its nominal length, not more.
        assert!(start.elapsed() >= Duration::from_millis(39));
    }

    #[test]
    fn pacing_stops_when_asked() {
        let s = Schedule::new(10.0, Duration::from_secs(100), None).unwrap();
        let stop = AtomicBool::new(false);
        let start = Instant::now();
        let n = s.pace(start, &stop, |i, _| {
            if i == 2 {
                stop.store(true, Ordering::Relaxed);
            }
        });
        assert_eq!(n, 3);
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn corrected_latency_charges_the_wait_before_sending() {
        let t0 = Instant::now();
        let timing = Timing {
            scheduled: t0,
            sent: t0 + Duration::from_millis(30),
            done: t0 + Duration::from_millis(32),
        };
        assert_eq!(timing.service(), Duration::from_millis(2));
        assert_eq!(timing.corrected(), Duration::from_millis(32));
        assert_eq!(timing.send_lag(), Duration::from_millis(30));
        // Closed loop: scheduled == sent, both latencies agree.
        let closed = Timing {
            scheduled: t0,
            sent: t0,
            done: t0 + Duration::from_millis(5),
        };
        assert_eq!(closed.corrected(), closed.service());
        assert_eq!(closed.send_lag(), Duration::ZERO);
    }
}
