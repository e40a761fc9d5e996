//! Property tests: cron matching against a brute-force reference, and the
//! missed-tick policies against a tick-by-tick simulation.

use super::*;
use crate::reminders::time::civil_from_days_wide as civil_from_days;
use proptest::prelude::*;

// ---- Properties --------------------------------------------------------

/// Reference cron search: day by day, then the first matching time of
/// day, within robfig's five-year horizon.
fn reference_next(c: &CronSpec, t: UnixNanos) -> Option<UnixNanos> {
    let start = t.div_euclid(S) + 1;
    let first_day = start.div_euclid(SECONDS_PER_DAY);
    let limit = civil_from_days(first_day).0 + 5;
    let mut day = first_day;
    loop {
        let (y, m, d) = civil_from_days(day);
        if y > limit {
            return None;
        }
        if has(c.month, m) && c.day_matches(d, weekday(day)) {
            let lo = if day == first_day {
                start.rem_euclid(SECONDS_PER_DAY)
            } else {
                0
            };
            for h in (0..24u32).filter(|&h| has(c.hour, h)) {
                for mi in (0..60u32).filter(|&mi| has(c.minute, mi)) {
                    for s in (0..60u32).filter(|&s| has(c.second, s)) {
                        let sod = i128::from(h * 3600 + mi * 60 + s);
                        if sod >= lo {
                            return Some((day * SECONDS_PER_DAY + sod) * S);
                        }
                    }
                }
            }
        }
        day += 1;
    }
}

fn field(min: u32, max: u32, names: &'static [&'static str]) -> impl Strategy<Value = String> {
    let value = move || {
        (min..=max).prop_flat_map(move |v| {
            if names.is_empty() {
                Just(v.to_string()).boxed()
            } else {
                prop_oneof![
                    Just(v.to_string()),
                    Just(names[(v - min) as usize].to_owned())
                ]
                .boxed()
            }
        })
    };
    prop_oneof![
        3 => Just("*".to_owned()),
        1 => Just("?".to_owned()),
        2 => (1..=max.max(2)).prop_map(|k| format!("*/{k}")),
        2 => value(),
        2 => (min..=max, min..=max, 1..4u32).prop_map(|(a, b, k)| {
            let (a, b) = (a.min(b), a.max(b));
            if k == 1 { format!("{a}-{b}") } else { format!("{a}-{b}/{k}") }
        }),
        2 => (value(), value()).prop_map(|(a, b)| format!("{a},{b}")),
        1 => (min..=max, 1..10u32).prop_map(|(a, k)| format!("{a}/{k}")),
    ]
}

const MONTH_NAMES: &[&str] = &[
    "jan", "FEB", "Mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: &[&str] = &["sun", "MON", "Tue", "wed", "thu", "fri", "sat"];

fn cron_expr() -> impl Strategy<Value = String> {
    (
        field(0, 59, &[]),
        field(0, 59, &[]),
        field(0, 23, &[]),
        field(1, 31, &[]),
        field(1, 12, MONTH_NAMES),
        field(0, 6, DAY_NAMES),
    )
        .prop_map(|(s, m, h, dom, mon, dow)| format!("{s} {m} {h} {dom} {mon} {dow}"))
}

fn instant() -> impl Strategy<Value = UnixNanos> {
    // 1900 … 2200, any nanosecond.
    (-2_208_988_800i64..7_258_118_400i64, 0..1_000_000_000i64)
        .prop_map(|(s, ns)| i128::from(s) * S + i128::from(ns))
}

/// Expected policy outcome from an explicit list of chain ticks.
fn expected(
    policy: MissedTickPolicy,
    chain: &[UnixNanos],
    complete: bool,
    now: UnixNanos,
) -> Option<Next> {
    let Some(&first) = chain.first() else {
        return Some(Next::Done);
    };
    let n = chain.iter().take_while(|&&t| t <= now).count();
    if n < 2 {
        return Some(fire(first));
    }
    let at = |i: usize, skipped: usize| -> Option<Next> {
        match chain.get(i) {
            Some(&t) => Some(Next::Fire {
                tick: t,
                at: t,
                skipped: skipped as u64,
            }),
            None if complete => Some(Next::Done),
            None => None,
        }
    };
    match policy {
        MissedTickPolicy::FireOnce => at(n - 1, n - 1),
        MissedTickPolicy::CatchUp { max } if max as usize >= n => Some(fire(first)),
        MissedTickPolicy::CatchUp { max } if max > 0 => at(n - max as usize, n - max as usize),
        _ => at(n, n),
    }
}

fn policy() -> impl Strategy<Value = MissedTickPolicy> {
    prop_oneof![
        Just(MissedTickPolicy::FireOnce),
        Just(MissedTickPolicy::Skip),
        (0..6u32).prop_map(|max| MissedTickPolicy::CatchUp { max }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cron_next_matches_a_brute_force_search(expr in cron_expr(), t in instant()) {
        let Ok(Schedule::Cron(c)) = Schedule::parse(&expr) else {
            return Err(TestCaseError::fail(format!("{expr} should parse")));
        };
        prop_assert_eq!(c.next_after(t), reference_next(&c, t), "{} after {}", expr, format_rfc3339_nano(t));
    }

    #[test]
    fn parsing_never_panics(s in "[-*/?,0-9a-zA-Z@ =_.]{0,30}") {
        let _ = Schedule::parse(&s);
    }

    #[test]
    fn cron_missed_ticks_match_a_walk(
        expr in cron_expr(),
        created in instant(),
        due in proptest::option::of(-100_000i64..100_000),
        ttl in proptest::option::of(0i64..20_000_000),
        pick in any::<u32>(),
        frac in 0i128..1000,
        policy in policy(),
    ) {
        let mut job = spec(
            Some(&expr),
            due.map(|d| format!("{d}s")).as_deref(),
            ttl.map(|t| format!("{t}s")).as_deref(),
            None,
        );
        job.missed_ticks = policy;
        let Ok(plan) = JobPlan::new(&job, created) else {
            // A ttl before the due time.
            return Ok(());
        };
        // Walk the chain explicitly (bounded).
        let mut chain = vec![];
        let mut next = plan.first_tick();
        let mut complete = true;
        while let Some(t) = next {
            chain.push(t);
            if chain.len() >= 3_000 {
                complete = false;
                break;
            }
            next = plan.tick_after(t);
        }
        if chain.is_empty() {
            prop_assert_eq!(Counter::default().next(&plan, created), Next::Done);
            return Ok(());
        }
        // `now` between tick k and tick k + 1.
        let k = pick as usize % chain.len();
        if k + 1 == chain.len() && !complete {
            return Ok(());
        }
        let gap = chain.get(k + 1).map_or(S, |&t| t - chain[k]);
        let now = chain[k] + gap * frac / 1000;
        let want = expected(policy, &chain, complete, now);
        prop_assert_eq!(Some(Counter::default().next(&plan, now)), want, "{}", expr);
    }
}

/// One simulated engine run: outages delay the engine; deliveries succeed
/// or fail by pattern. Returns every delivery (tick, at).
struct Sim {
    deliveries: Vec<(UnixNanos, UnixNanos)>,
    max_count: u32,
}

fn simulate(
    plan: &JobPlan,
    outages: &[(UnixNanos, UnixNanos)],
    outcomes: &[bool],
    horizon: UnixNanos,
    record_skips: bool,
) -> Result<Sim, TestCaseError> {
    let mut counter = Counter::default();
    let mut now = plan.created();
    let mut sim = Sim {
        deliveries: vec![],
        max_count: 0,
    };
    for step in 0..5_000 {
        let Next::Fire { tick, at, skipped } = counter.next(plan, now) else {
            break;
        };
        if skipped > 0 && record_skips {
            counter.skipped(plan, tick, skipped);
        }
        now = now.max(at);
        if now > horizon {
            break;
        }
        if let Some(&(_, end)) = outages.iter().find(|&&(s, e)| s <= now && now < e) {
            now = end;
            continue;
        }
        if record_skips {
            // Asked again when the tick is due: the same tick, nothing more skipped.
            prop_assert_eq!(
                counter.next(plan, now),
                Next::Fire {
                    tick,
                    at,
                    skipped: 0
                }
            );
        }
        sim.deliveries.push((tick, now));
        if outcomes[step % outcomes.len()] {
            counter.succeeded(tick);
        } else {
            counter.failed(plan, tick);
        }
        sim.max_count = sim.max_count.max(counter.count);
    }
    Ok(sim)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn engine_runs_respect_the_policies(
        schedule in prop_oneof![
            (1i64..20_000).prop_map(|ms| format!("@every {ms}ms")),
            prop::sample::select(vec![
                "* * * * * *", "*/5 * * * * *", "0 * * * * *", "*/7 * * * * *",
                "0,30 */2 * * * *", "15 10 * * * *",
            ]).prop_map(str::to_owned),
        ],
        due in proptest::option::of(0i64..30_000),
        ttl in proptest::option::of(1i64..3_000),
        repeats in proptest::option::of(1u32..60),
        policy in policy(),
        failure in prop_oneof![
            Just(FailurePolicy::Drop),
            (0i64..3_000, proptest::option::of(0u32..4)).prop_map(|(ms, max_retries)| {
                FailurePolicy::Constant { interval_nanos: ms * 1_000_000, max_retries }
            }),
        ],
        outages in prop::collection::vec((0i64..3_000, 1i64..600), 0..5),
        outcomes in prop::collection::vec(prop::bool::weighted(0.8), 1..8),
        record_skips in any::<bool>(),
    ) {
        let t0 = ts("2024-01-01T00:00:00Z");
        let mut job = spec(
            Some(&schedule),
            due.map(|ms| format!("{ms}ms")).as_deref(),
            ttl.map(|s| format!("{s}s")).as_deref(),
            repeats,
        );
        job.missed_ticks = policy;
        job.failure_policy = failure;
        let plan = plan(&job, t0);
        // Outages as [start, end) intervals in seconds from t0, merged.
        let mut spans: Vec<(UnixNanos, UnixNanos)> =
            outages.iter().map(|&(s, l)| (t0 + i128::from(s) * S, t0 + i128::from(s + l) * S)).collect();
        spans.sort_unstable();
        let mut merged: Vec<(UnixNanos, UnixNanos)> = vec![];
        for (s, e) in spans {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let sim = simulate(&plan, &merged, &outcomes, t0 + 4_000 * S, record_skips)?;

        // Count never exceeds repeats.
        if let Some(r) = repeats {
            prop_assert!(sim.max_count <= r);
        }
        // Ticks are strictly increasing; retries repeat the same tick.
        let mut ticks: Vec<UnixNanos> = vec![];
        for &(tick, _at) in &sim.deliveries {
            if let Some(&last) = ticks.last() {
                prop_assert!(tick >= last, "tick {} after {}", tick, last);
                if tick == last { continue; }
            }
            if let Some(e) = plan.expiry() {
                prop_assert!(tick <= e);
            }
            ticks.push(tick);
        }
        // Ticks scheduled in an outage that were fired afterwards.
        for &(s, e) in &merged {
            let fired = ticks.iter().filter(|&&t| s <= t && t <= e).count();
            let bound = match policy {
                MissedTickPolicy::FireOnce | MissedTickPolicy::Skip => 1,
                MissedTickPolicy::CatchUp { max } => max.max(1) as usize,
            };
            prop_assert!(fired <= bound, "{} ticks of outage {:?} fired under {:?}", fired, (s, e), policy);
        }
        // Without outages and failures nothing is skipped.
        if merged.is_empty() && outcomes.iter().all(|&ok| ok) {
            let mut chain = vec![];
            let mut next = plan.first_tick();
            while let Some(t) = next {
                if chain.len() == ticks.len() { break; }
                chain.push(t);
                next = plan.tick_after(t);
            }
            prop_assert_eq!(&ticks, &chain);
        }
    }
}
