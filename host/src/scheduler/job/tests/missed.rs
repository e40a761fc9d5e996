//! The missed-tick policies (wapr extension).

use super::*;

// ---- Missed ticks ------------------------------------------------------

fn missed_plan(
    policy: MissedTickPolicy,
    schedule: &str,
    ttl: Option<&str>,
    repeats: Option<u32>,
    t0: UnixNanos,
) -> JobPlan {
    let mut job = spec(Some(schedule), None, ttl, repeats);
    job.missed_ticks = policy;
    plan(&job, t0)
}

#[test]
fn fire_once_fires_the_latest_overdue_tick() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let p = missed_plan(MissedTickPolicy::FireOnce, "@every 1m", None, None, t0);
    let now = t0 + 10 * MIN + 30 * S;
    let mut c = Counter::default();
    let next = c.next(&p, now);
    assert_eq!(
        next,
        Next::Fire {
            tick: t0 + 10 * MIN,
            at: t0 + 10 * MIN,
            skipped: 9
        }
    );
    c.skipped(&p, t0 + 10 * MIN, 9);
    // The last skipped tick anchors the schedule; nothing is counted.
    assert_eq!(c.last_trigger, Some(t0 + 9 * MIN));
    assert_eq!(c.count, 0);
    assert_eq!(c.next(&p, now + S), fire(t0 + 10 * MIN));
    c.succeeded(t0 + 10 * MIN);
    assert_eq!(c.count, 1);
    assert_eq!(c.next(&p, now), fire(t0 + 11 * MIN));
    // Only one period late: not missed.
    let c = Counter::default();
    assert_eq!(c.next(&p, t0 + MIN + 59 * S), fire(t0 + MIN));
    // Exactly two ticks due: missed.
    assert_eq!(
        c.next(&p, t0 + 2 * MIN),
        Next::Fire {
            tick: t0 + 2 * MIN,
            at: t0 + 2 * MIN,
            skipped: 1
        }
    );
}

#[test]
fn skip_resumes_at_the_first_tick_after_now() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let p = missed_plan(MissedTickPolicy::Skip, "@every 1m", None, None, t0);
    let now = t0 + 10 * MIN + 30 * S;
    let mut c = Counter::default();
    let want = Next::Fire {
        tick: t0 + 11 * MIN,
        at: t0 + 11 * MIN,
        skipped: 10,
    };
    assert_eq!(c.next(&p, now), want);
    c.skipped(&p, t0 + 11 * MIN, 10);
    // Asked again (before or at the tick): the same tick, nothing more skipped.
    assert_eq!(c.next(&p, now), fire(t0 + 11 * MIN));
    assert_eq!(c.next(&p, t0 + 11 * MIN + 59 * S), fire(t0 + 11 * MIN));
    // Down again past the next tick: skip again from the recorded tick.
    assert_eq!(
        c.next(&p, t0 + 13 * MIN),
        Next::Fire {
            tick: t0 + 14 * MIN,
            at: t0 + 14 * MIN,
            skipped: 3
        }
    );
    // A failed tick is retried, not skipped.
    c.failed(&p, t0 + 11 * MIN);
    assert_eq!(
        c.next(&p, t0 + 60 * MIN),
        Next::Fire {
            tick: t0 + 11 * MIN,
            at: t0 + 11 * MIN + S,
            skipped: 0
        }
    );
}

#[test]
fn catch_up_replays_at_most_max() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let now = t0 + 10 * MIN + 30 * S;
    let p = missed_plan(
        MissedTickPolicy::CatchUp { max: 3 },
        "@every 1m",
        None,
        None,
        t0,
    );
    let mut c = Counter::default();
    assert_eq!(
        c.next(&p, now),
        Next::Fire {
            tick: t0 + 8 * MIN,
            at: t0 + 8 * MIN,
            skipped: 7
        }
    );
    c.skipped(&p, t0 + 8 * MIN, 7);
    let mut fired = vec![];
    for _ in 0..4 {
        let Next::Fire { tick, skipped, .. } = c.next(&p, now) else {
            panic!("fires")
        };
        assert_eq!(skipped, 0);
        fired.push(tick);
        c.succeeded(tick);
    }
    assert_eq!(
        fired,
        vec![t0 + 8 * MIN, t0 + 9 * MIN, t0 + 10 * MIN, t0 + 11 * MIN]
    );
    // Fewer overdue than max: all are replayed, oldest first.
    let p = missed_plan(
        MissedTickPolicy::CatchUp { max: 100 },
        "@every 1m",
        None,
        None,
        t0,
    );
    assert_eq!(Counter::default().next(&p, now), fire(t0 + MIN));
    // max 0 behaves like skip.
    let p = missed_plan(
        MissedTickPolicy::CatchUp { max: 0 },
        "@every 1m",
        None,
        None,
        t0,
    );
    assert_eq!(
        Counter::default().next(&p, now),
        Next::Fire {
            tick: t0 + 11 * MIN,
            at: t0 + 11 * MIN,
            skipped: 10
        }
    );
}

#[test]
fn missed_ticks_respect_ttl_and_repeats() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let now = t0 + 10 * MIN + 30 * S;
    // ttl 5m: the latest overdue tick is the one at the expiry.
    let p = missed_plan(
        MissedTickPolicy::FireOnce,
        "@every 1m",
        Some("5m"),
        None,
        t0,
    );
    let mut c = Counter::default();
    assert_eq!(
        c.next(&p, now),
        Next::Fire {
            tick: t0 + 5 * MIN,
            at: t0 + 5 * MIN,
            skipped: 4
        }
    );
    c.succeeded(t0 + 5 * MIN);
    assert_eq!(c.next(&p, now), Next::Done);
    let p = missed_plan(MissedTickPolicy::Skip, "@every 1m", Some("5m"), None, t0);
    assert_eq!(Counter::default().next(&p, now), Next::Done);
    let p = missed_plan(
        MissedTickPolicy::CatchUp { max: 2 },
        "@every 1m",
        Some("5m"),
        None,
        t0,
    );
    assert_eq!(
        Counter::default().next(&p, now),
        Next::Fire {
            tick: t0 + 4 * MIN,
            at: t0 + 4 * MIN,
            skipped: 3
        }
    );
    // ttl 90s: the tick after the first is past the expiry, so nothing is missed.
    let p = missed_plan(MissedTickPolicy::Skip, "@every 1m", Some("90s"), None, t0);
    assert_eq!(Counter::default().next(&p, now), fire(t0 + MIN));
    // Skipped ticks do not count toward repeats.
    let p = missed_plan(MissedTickPolicy::FireOnce, "@every 1m", None, Some(2), t0);
    let mut c = Counter::default();
    assert_eq!(
        c.next(&p, now),
        Next::Fire {
            tick: t0 + 10 * MIN,
            at: t0 + 10 * MIN,
            skipped: 9
        }
    );
    c.succeeded(t0 + 10 * MIN);
    assert_eq!(c.next(&p, now), fire(t0 + 11 * MIN));
    c.succeeded(t0 + 11 * MIN);
    assert_eq!(c.next(&p, now), Next::Done);
}

#[test]
fn a_failed_tick_chosen_by_the_policy_is_retried_even_without_skipped() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let now = t0 + 10 * MIN + 30 * S;
    let p = missed_plan(MissedTickPolicy::FireOnce, "@every 1m", None, None, t0);
    let mut c = Counter::default();
    let Next::Fire { tick, skipped, .. } = c.next(&p, now) else {
        panic!("fires")
    };
    assert_eq!((tick, skipped), (t0 + 10 * MIN, 9));
    c.failed(&p, tick);
    assert_eq!(c.last_trigger, Some(t0 + 9 * MIN));
    assert_eq!(
        c.next(&p, now + DAY),
        Next::Fire {
            tick,
            at: tick + S,
            skipped: 0
        }
    );
    // Cron, with the due time as the tick before the chosen one.
    let mut job = spec(
        Some("0 * * * * *"),
        Some("2024-01-01T10:00:07Z"),
        None,
        None,
    );
    job.missed_ticks = MissedTickPolicy::CatchUp { max: 5 };
    let p = plan(&job, t0);
    let mut c = Counter::default();
    let now = ts("2024-01-01T10:05:30Z");
    let Next::Fire { tick, skipped, .. } = c.next(&p, now) else {
        panic!("fires")
    };
    assert_eq!((tick, skipped), (ts("2024-01-01T10:01:00Z"), 1));
    c.skipped(&p, tick, skipped);
    assert_eq!(c.last_trigger, Some(ts("2024-01-01T10:00:07Z")));
    c.failed(&p, tick);
    assert_eq!(
        c.next(&p, now + DAY),
        Next::Fire {
            tick,
            at: tick + S,
            skipped: 0
        }
    );
    job.missed_ticks = MissedTickPolicy::FireOnce;
    let p = plan(&job, t0);
    let mut c = Counter::default();
    c.failed(&p, ts("2024-01-01T10:05:00Z"));
    assert_eq!(c.last_trigger, Some(ts("2024-01-01T10:04:00Z")));
    assert_eq!(
        c.next(&p, now),
        Next::Fire {
            tick: ts("2024-01-01T10:05:00Z"),
            at: ts("2024-01-01T10:05:01Z"),
            skipped: 0
        }
    );
}

#[test]
fn missed_ticks_with_a_due_time_and_cron() {
    let t0 = ts("2024-01-01T00:00:00Z");
    // Due time 10:00:07 (not a cron tick), then every minute at :00.
    let mut job = spec(
        Some("0 * * * * *"),
        Some("2024-01-01T10:00:07Z"),
        None,
        None,
    );
    job.missed_ticks = MissedTickPolicy::FireOnce;
    let p = plan(&job, t0);
    let now = ts("2024-01-01T10:05:30Z");
    assert_eq!(
        Counter::default().next(&p, now),
        Next::Fire {
            tick: ts("2024-01-01T10:05:00Z"),
            at: ts("2024-01-01T10:05:00Z"),
            skipped: 5
        }
    );
    job.missed_ticks = MissedTickPolicy::CatchUp { max: 6 };
    assert_eq!(
        Counter::default().next(&plan(&job, t0), now),
        fire(ts("2024-01-01T10:00:07Z"))
    );
    job.missed_ticks = MissedTickPolicy::CatchUp { max: 2 };
    assert_eq!(
        Counter::default().next(&plan(&job, t0), now),
        Next::Fire {
            tick: ts("2024-01-01T10:04:00Z"),
            at: ts("2024-01-01T10:04:00Z"),
            skipped: 4
        }
    );
    job.missed_ticks = MissedTickPolicy::Skip;
    assert_eq!(
        Counter::default().next(&plan(&job, t0), now),
        Next::Fire {
            tick: ts("2024-01-01T10:06:00Z"),
            at: ts("2024-01-01T10:06:00Z"),
            skipped: 6
        }
    );
}

#[test]
fn missed_ticks_are_counted_without_walking_them() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let year = 365 * DAY;
    let now = t0 + year + 500 * MS + 1;
    let started = std::time::Instant::now();
    // @every 1ms down for a year: 3·10¹⁰ ticks, counted arithmetically.
    let p = missed_plan(MissedTickPolicy::FireOnce, "@every 1ms", None, None, t0);
    let latest = t0 + year + 500 * MS;
    let n = (year + 500 * MS) / MS;
    assert_eq!(
        Counter::default().next(&p, now),
        Next::Fire {
            tick: latest,
            at: latest,
            skipped: u64::try_from(n - 1).expect("fits")
        }
    );
    let p = missed_plan(MissedTickPolicy::Skip, "@every 1ms", None, None, t0);
    assert_eq!(
        Counter::default().next(&p, now),
        Next::Fire {
            tick: latest + MS,
            at: latest + MS,
            skipped: u64::try_from(n).expect("fits")
        }
    );
    let p = missed_plan(
        MissedTickPolicy::CatchUp { max: 100_000 },
        "@every 1ms",
        None,
        None,
        t0,
    );
    let Next::Fire { tick, skipped, .. } = Counter::default().next(&p, now) else {
        panic!("fires")
    };
    assert_eq!(tick, latest - 99_999 * MS);
    assert_eq!(
        u128::from(skipped),
        u128::try_from(n - 100_000).expect("fits")
    );
    // @every 1ns down for 1000 years: the count saturates.
    let p = missed_plan(MissedTickPolicy::FireOnce, "@every 1ns", None, None, t0);
    let Next::Fire { tick, skipped, .. } = Counter::default().next(&p, t0 + 1000 * year) else {
        panic!("fires")
    };
    assert_eq!((tick, skipped), (t0 + 1000 * year, u64::MAX));
    // A per-second cron down for a year: counted day by day.
    let p = missed_plan(MissedTickPolicy::FireOnce, "* * * * * *", None, None, t0);
    assert_eq!(
        Counter::default().next(&p, now),
        Next::Fire {
            tick: t0 + year,
            at: t0 + year,
            skipped: 365 * 86_400 - 1
        }
    );
    let p = missed_plan(
        MissedTickPolicy::CatchUp { max: 100_000 },
        "* * * * * *",
        None,
        None,
        t0,
    );
    assert_eq!(
        Counter::default().next(&p, now),
        Next::Fire {
            tick: t0 + year - 99_999 * S,
            at: t0 + year - 99_999 * S,
            skipped: 365 * 86_400 - 100_000
        }
    );
    let p = missed_plan(
        MissedTickPolicy::Skip,
        "*/10 * 9-17 * * MON-FRI",
        None,
        None,
        t0,
    );
    let Next::Fire { tick, skipped, .. } =
        Counter::default().next(&p, ts("2025-01-01T00:00:00.5Z"))
    else {
        panic!("fires")
    };
    // 2025-01-01 is a Wednesday.
    assert_eq!(tick, ts("2025-01-01T09:00:00Z"));
    // 262 weekdays in 2024, 9 hours × 360 ticks each.
    assert_eq!(skipped, 262 * 9 * 360);
    // A cron job whose due time is two thousand years back.
    let mut job = spec(
        Some("0 0 * * * *"),
        Some("0001-01-01T00:00:00Z"),
        None,
        None,
    );
    job.missed_ticks = MissedTickPolicy::CatchUp { max: 5 };
    let p = plan(&job, t0);
    assert_eq!(
        Counter::default().next(&p, t0 + 30 * MIN),
        Next::Fire {
            tick: t0 - 4 * 3600 * S,
            at: t0 - 4 * 3600 * S,
            skipped: u64::try_from((t0 - ts("0001-01-01T00:00:00Z")) / (3600 * S) - 4)
                .expect("fits")
        }
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn long_outages_use_the_400_year_cycle() {
    let created = ts("4999-06-01T00:00:00Z");
    let job = |schedule: &str, policy| {
        let mut job = spec(Some(schedule), Some("0001-01-01T00:00:00Z"), None, None);
        job.missed_ticks = policy;
        plan(&job, created)
    };
    let started = std::time::Instant::now();
    // Yearly since year 1: 4999 ticks (the due time, then Jan 1 of 2…4999).
    let p = job("@yearly", MissedTickPolicy::FireOnce);
    assert_eq!(
        Counter::default().next(&p, created),
        Next::Fire {
            tick: ts("4999-01-01T00:00:00Z"),
            at: ts("4999-01-01T00:00:00Z"),
            skipped: 4998
        }
    );
    let p = job("@yearly", MissedTickPolicy::CatchUp { max: 3000 });
    assert_eq!(
        Counter::default().next(&p, created),
        Next::Fire {
            tick: ts("2000-01-01T00:00:00Z"),
            at: ts("2000-01-01T00:00:00Z"),
            skipped: 1999
        }
    );
    let p = job("@yearly", MissedTickPolicy::CatchUp { max: 4999 });
    assert_eq!(
        Counter::default().next(&p, created),
        fire(ts("0001-01-01T00:00:00Z"))
    );
    // Hourly since year 1.
    let hours = (created - ts("0001-01-01T01:00:00Z")) / (3600 * S) + 1;
    let p = job("0 0 * * * *", MissedTickPolicy::CatchUp { max: 5 });
    assert_eq!(
        Counter::default().next(&p, created + S),
        Next::Fire {
            tick: created - 4 * 3600 * S,
            at: created - 4 * 3600 * S,
            skipped: u64::try_from(hours - 4).expect("fits")
        }
    );
    let p = job("0 0 * * * *", MissedTickPolicy::Skip);
    assert_eq!(
        Counter::default().next(&p, created + S),
        Next::Fire {
            tick: created + 3600 * S,
            at: created + 3600 * S,
            skipped: u64::try_from(hours + 1).expect("fits")
        }
    );
    // Feb 29 only: robfig's five-year search ends the chain at 0096-02-29
    // (0100 is not a leap year).
    let p = job("0 0 0 29 2 *", MissedTickPolicy::FireOnce);
    assert_eq!(p.tick_after(ts("0096-02-29T00:00:00Z")), None);
    let mut c = Counter::default();
    assert_eq!(
        c.next(&p, created),
        Next::Fire {
            tick: ts("0096-02-29T00:00:00Z"),
            at: ts("0096-02-29T00:00:00Z"),
            skipped: 24
        }
    );
    c.succeeded(ts("0096-02-29T00:00:00Z"));
    assert_eq!(c.next(&p, created), Next::Done);
    let p = job("0 0 0 29 2 *", MissedTickPolicy::Skip);
    assert_eq!(Counter::default().next(&p, created), Next::Done);
    let p = job("0 0 0 29 2 *", MissedTickPolicy::CatchUp { max: 2 });
    assert_eq!(
        Counter::default().next(&p, created),
        Next::Fire {
            tick: ts("0092-02-29T00:00:00Z"),
            at: ts("0092-02-29T00:00:00Z"),
            skipped: 23
        }
    );
    // Feb 29 or any Monday in February never breaks.
    let p = job("0 0 0 29 2 MON", MissedTickPolicy::FireOnce);
    assert!(
        matches!(Counter::default().next(&p, created), Next::Fire { tick, .. } if tick == ts("4999-02-25T00:00:00Z"))
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn degenerate_every_fires_back_to_back() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let p = missed_plan(MissedTickPolicy::FireOnce, "@every 0s", None, Some(3), t0);
    let mut c = Counter::default();
    for _ in 0..3 {
        assert_eq!(c.next(&p, t0 + DAY), fire(t0));
        c.succeeded(t0);
    }
    assert_eq!(c.next(&p, t0 + DAY), Next::Done);
}
