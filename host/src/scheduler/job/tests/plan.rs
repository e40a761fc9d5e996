//! Validation, time resolution and go-etcd-cron's counter.

use super::*;

// ---- Validation (dapr-scheduler.md §6, §7) ----------------------------

#[test]
fn validation_rules_and_messages() {
    let created = ts("2024-04-24T11:00:00Z");
    let cases: &[(JobSpec, &str)] = &[
        (
            spec(None, None, None, None),
            "job must have either a due time or a schedule",
        ),
        (
            spec(None, None, Some("1h"), Some(0)),
            "job must have either a due time or a schedule",
        ),
        (
            spec(None, Some("1s"), None, Some(2)),
            "job must have a schedule to repeat",
        ),
        (
            spec(None, Some("1s"), Some("1h"), Some(3)),
            "job must have a schedule to repeat",
        ),
        (
            spec(None, Some("1s"), None, Some(0)),
            "defined repeats must be greater than 0",
        ),
        (
            spec(Some("@every 1s"), None, None, Some(0)),
            "defined repeats must be greater than 0",
        ),
        (
            spec(Some("bad"), None, None, Some(0)),
            "defined repeats must be greater than 0",
        ),
        (
            spec(None, Some("1s"), Some("1h"), None),
            "job must have a schedule to have a ttl",
        ),
        (
            spec(Some("* * * * *"), Some("bad"), None, None),
            "expected exactly 6 fields, found 5: [* * * * *]",
        ),
        (spec(Some(""), None, None, None), "empty spec string"),
        (
            spec(Some("@every 1s"), Some("bad"), Some("bad"), None),
            "due time format not recognized",
        ),
        (
            spec(Some("@every 1s"), Some(""), None, None),
            "due time format not recognized",
        ),
        (
            spec(None, Some("R3/PT1S"), None, None),
            "repeats not supported for due time",
        ),
        (
            spec(Some("@every 1s"), Some("1s"), Some("bad"), None),
            "ttl format not recognized",
        ),
        (
            spec(Some("@every 1s"), None, Some(""), None),
            "ttl format not recognized",
        ),
        (
            spec(Some("@every 1s"), None, Some("R2/PT1S"), None),
            "ttl format not recognized",
        ),
        (
            spec(
                Some("@every 1h"),
                Some("2024-04-24T11:42:22Z"),
                Some("2024-04-24T11:42:21Z"),
                None,
            ),
            "ttl must be greater than due time",
        ),
        (
            spec(Some("@every 1h"), Some("10s"), Some("-1s"), None),
            "ttl must be greater than due time",
        ),
    ];
    for (job, want) in cases {
        let err = JobPlan::new(job, created).expect_err(want);
        assert_eq!(
            err.to_string(),
            format!("job failed validation: {want}"),
            "{job:?}"
        );
        assert_eq!(err.reason(), *want);
    }
    // Accepted edge cases.
    for job in [
        spec(None, Some("1s"), None, Some(1)),
        spec(None, Some("2024-04-24T11:42:22Z"), None, None),
        spec(
            Some("@every 1h"),
            Some("2024-04-24T11:42:22Z"),
            Some("2024-04-24T11:42:22Z"),
            None,
        ),
        // Without a due time the ttl is not compared (it may be in the past).
        spec(Some("@every 1h"), None, Some("2000-01-01T00:00:00Z"), None),
        spec(Some("@every 0s"), None, None, Some(5)),
    ] {
        assert!(JobPlan::new(&job, created).is_ok(), "{job:?}");
    }
}

#[test]
fn times_resolve_against_creation() {
    let created = ts("2024-04-24T11:00:00.5Z");
    // due time: RFC 3339, Go duration, ISO-8601, from creation.
    let p = plan(
        &spec(None, Some("2024-04-24T11:42:22Z"), None, None),
        created,
    );
    assert_eq!(p.due_time(), Some(ts("2024-04-24T11:42:22Z")));
    let p = plan(&spec(None, Some("1h30m"), None, None), created);
    assert_eq!(p.due_time(), Some(created + 90 * MIN));
    let p = plan(&spec(None, Some("P1DT2H"), None, None), created);
    assert_eq!(p.due_time(), Some(created + DAY + 120 * MIN));
    // ttl from the due time when set, else from creation.
    let p = plan(
        &spec(Some("@every 1h"), Some("10s"), Some("2h"), Some(100)),
        created,
    );
    assert_eq!(p.expiry(), Some(created + 10 * S + 120 * MIN));
    let p = plan(&spec(Some("@every 1h"), None, Some("2h"), None), created);
    assert_eq!(p.expiry(), Some(created + 120 * MIN));
    let p = plan(
        &spec(Some("@every 1h"), None, Some("2030-01-01T00:00:00Z"), None),
        created,
    );
    assert_eq!(p.expiry(), Some(ts("2030-01-01T00:00:00Z")));
    assert_eq!(p.repeats(), None);
    assert!(!p.is_one_shot());
    assert_eq!(p.created(), created);
    assert_eq!(p.schedule(), Some(&sched("@every 1h")));
    assert_eq!(p.failure_policy(), &FailurePolicy::default());
    assert_eq!(p.missed_ticks(), MissedTickPolicy::FireOnce);
}

#[test]
fn first_tick_and_tick_after() {
    let t0 = ts("2024-01-01T00:00:00Z");
    // Schedule without due time: nothing fires at creation.
    let p = plan(&spec(Some("@every 1s"), None, None, None), t0);
    assert_eq!(p.first_tick(), Some(t0 + S));
    assert_eq!(p.tick_after(t0 + S), Some(t0 + 2 * S));
    let p = plan(&spec(Some("@every 1h30m"), None, None, None), t0);
    assert_eq!(p.first_tick(), Some(t0 + 90 * MIN));
    let p = plan(&spec(Some("0 0 0 * * *"), None, None, None), t0);
    assert_eq!(p.first_tick(), Some(t0 + DAY));
    // With a due time, the due time is the first tick.
    let p = plan(&spec(Some("0 0 0 * * *"), Some("10s"), None, None), t0);
    assert_eq!(p.first_tick(), Some(t0 + 10 * S));
    assert_eq!(p.tick_after(t0 + 10 * S), Some(t0 + DAY));
    // One-shot.
    let p = plan(&spec(None, Some("10s"), None, None), t0);
    assert_eq!(p.first_tick(), Some(t0 + 10 * S));
    assert_eq!(p.tick_after(t0 + 10 * S), None);
    assert!(p.is_one_shot());
    // Expiry: a tick at the expiry fires, one after it does not.
    let p = plan(&spec(Some("@every 1s"), None, Some("3s"), None), t0);
    assert_eq!(p.tick_after(t0 + 2 * S), Some(t0 + 3 * S));
    assert_eq!(p.tick_after(t0 + 3 * S), None);
    let p = plan(&spec(Some("@every 1s"), None, Some("0s"), None), t0);
    assert_eq!(p.first_tick(), None);
    // No next cron time.
    let p = plan(&spec(Some("0 0 0 30 2 *"), None, None, None), t0);
    assert_eq!(p.first_tick(), None);
    assert_eq!(Counter::default().next(&p, t0), Next::Done);
}

// ---- Counter (go-etcd-cron counter.go) --------------------------------

#[test]
fn default_policy_delivers_an_always_failing_tick_four_times() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let p = plan(&spec(None, Some("10s"), None, None), t0);
    let due = t0 + 10 * S;
    let got = run(&p, &[false], 100);
    assert_eq!(
        got,
        vec![
            (due, due),
            (due, due + S),
            (due, due + 2 * S),
            (due, due + 3 * S)
        ]
    );
}

#[test]
fn max_retries_four_delivers_five_times_and_none_forever() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let mut job = spec(None, Some("10s"), None, None);
    job.failure_policy = FailurePolicy::Constant {
        interval_nanos: 5 * S as i64,
        max_retries: Some(4),
    };
    let p = plan(&job, t0);
    let due = t0 + 10 * S;
    let got = run(&p, &[false], 100);
    assert_eq!(got.len(), 5);
    assert_eq!(got[4], (due, due + 20 * S));
    job.failure_policy = FailurePolicy::Constant {
        interval_nanos: S as i64,
        max_retries: Some(0),
    };
    assert_eq!(run(&plan(&job, t0), &[false], 100), vec![(due, due)]);
    job.failure_policy = FailurePolicy::Constant {
        interval_nanos: S as i64,
        max_retries: None,
    };
    let got = run(&plan(&job, t0), &[false], 1000);
    assert_eq!(got.len(), 1000);
    assert_eq!(got[999], (due, due + 999 * S));
    // A success after failures ends a one-shot job.
    assert_eq!(run(&plan(&job, t0), &[false, false, true], 100).len(), 3);
}

#[test]
fn drop_policy_moves_on_and_dropped_ticks_count_toward_repeats() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let mut job = spec(Some("@every 1s"), None, None, Some(3));
    job.failure_policy = FailurePolicy::Drop;
    let got = run(&plan(&job, t0), &[false], 100);
    assert_eq!(
        got,
        vec![
            (t0 + S, t0 + S),
            (t0 + 2 * S, t0 + 2 * S),
            (t0 + 3 * S, t0 + 3 * S)
        ]
    );
    // With the default policy, each dropped tick (4 deliveries) counts
    // once. Retries make later ticks overdue: replay them all, as Dapr does.
    job.failure_policy = FailurePolicy::default();
    job.missed_ticks = MissedTickPolicy::CatchUp { max: 100_000 };
    let got = run(&plan(&job, t0), &[false], 100);
    assert_eq!(got.len(), 12);
    let ticks: Vec<_> = got.iter().map(|&(tick, _)| tick).collect();
    assert_eq!(ticks[0..4], [t0 + S; 4]);
    assert_eq!(ticks[8..12], [t0 + 3 * S; 4]);
}

#[test]
fn repeats_every_second_like_r5_pt1s() {
    let t0 = ts("2024-01-01T00:00:00.25Z");
    // Without due time: t0+1s … t0+5s.
    let p = plan(&spec(Some("@every 1s"), None, None, Some(5)), t0);
    let got: Vec<_> = run(&p, &[true], 100).into_iter().map(|(t, _)| t).collect();
    assert_eq!(got, (1..=5).map(|i| t0 + i * S).collect::<Vec<_>>());
    // With due time: the due time first.
    let p = plan(&spec(Some("@every 1s"), Some("3s"), None, Some(5)), t0);
    let got: Vec<_> = run(&p, &[true], 100).into_iter().map(|(t, _)| t).collect();
    assert_eq!(got, (3..=7).map(|i| t0 + i * S).collect::<Vec<_>>());
    // `R5/` alone becomes `@every 0s` with 5 repeats: five ticks at once.
    let p = plan(&spec(Some("@every 0s"), Some("3s"), None, Some(5)), t0);
    let got: Vec<_> = run(&p, &[true], 100).into_iter().map(|(t, _)| t).collect();
    assert_eq!(got, vec![t0 + 3 * S; 5]);
}

#[test]
fn ttl_ends_the_job() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let p = plan(&spec(Some("@every 1s"), None, Some("3s"), None), t0);
    let got: Vec<_> = run(&p, &[true], 100).into_iter().map(|(t, _)| t).collect();
    assert_eq!(got, vec![t0 + S, t0 + 2 * S, t0 + 3 * S]);
    let p = plan(&spec(Some("@every 1s"), Some("2s"), Some("3s"), None), t0);
    let got: Vec<_> = run(&p, &[true], 100).into_iter().map(|(t, _)| t).collect();
    assert_eq!(got, vec![t0 + 2 * S, t0 + 3 * S, t0 + 4 * S, t0 + 5 * S]);
    // Retries of the last tick go on past the expiry, as in go-etcd-cron.
    let got = run(&p, &[true, true, true, false, false, false, false], 100);
    assert_eq!(got.len(), 7);
    assert_eq!(got[6], (t0 + 5 * S, t0 + 8 * S));
    // A ttl equal to the due time allows exactly the due-time tick.
    let p = plan(&spec(Some("@every 1s"), Some("2s"), Some("0s"), None), t0);
    assert_eq!(run(&p, &[true], 100), vec![(t0 + 2 * S, t0 + 2 * S)]);
}

#[test]
fn retry_time_is_measured_from_the_tick_and_the_schedule_does_not_drift() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let mut job = spec(Some("@every 10s"), None, None, None);
    job.failure_policy = FailurePolicy::Constant {
        interval_nanos: 3 * S as i64,
        max_retries: Some(2),
    };
    let p = plan(&job, t0);
    let tick = t0 + 10 * S;
    let mut c = Counter::default();
    assert_eq!(c.next(&p, t0), fire(tick));
    // Delivered late; the failure is reported at tick + 7.5 s.
    c.failed(&p, tick);
    assert_eq!(
        c.next(&p, tick + 7_500 * MS),
        Next::Fire {
            tick,
            at: tick + 3 * S,
            skipped: 0
        }
    );
    c.failed(&p, tick);
    // Even far later, the retry is anchored to the tick and never skipped.
    assert_eq!(
        c.next(&p, tick + DAY),
        Next::Fire {
            tick,
            at: tick + 6 * S,
            skipped: 0
        }
    );
    assert_eq!(c.attempts, 2);
    c.failed(&p, tick);
    assert_eq!(
        c,
        Counter {
            count: 1,
            attempts: 0,
            last_trigger: Some(tick)
        }
    );
    // The next tick is tick + period, not the drop time + period.
    assert_eq!(c.next(&p, tick + 6 * S), fire(tick + 10 * S));
    c.succeeded(tick + 10 * S);
    assert_eq!(c.count, 2);
    assert_eq!(c.last_trigger, Some(tick + 10 * S));
    // An overwrite restarts from the default counter and the new creation time.
    let p2 = plan(&job, t0 + 15 * S);
    assert_eq!(Counter::default().next(&p2, t0 + 15 * S), fire(t0 + 25 * S));
}

#[test]
fn one_shot_jobs_end_after_one_tick_and_always_fire() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let p = plan(&spec(None, Some("10s"), None, None), t0);
    let mut c = Counter::default();
    // Long overdue: still fires, once.
    assert_eq!(c.next(&p, t0 + 365 * DAY), fire(t0 + 10 * S));
    c.succeeded(t0 + 10 * S);
    assert_eq!(c.next(&p, t0 + 365 * DAY), Next::Done);
    // A count of 1 alone ends it too (go-etcd-cron's oneshot.Next).
    let c = Counter {
        count: 1,
        ..Counter::default()
    };
    assert_eq!(c.next(&p, t0), Next::Done);
}
