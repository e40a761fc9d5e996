//! Schedule parsing and cron matching against robfig/kit's vectors.

use super::*;

// ---- Cron parsing and matching ----------------------------------------

#[test]
fn robfig_next_vectors() {
    // robfig/cron v3 spec_test.go TestNext (seconds parser), in UTC.
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "2012-07-09T14:45:00Z",
            "0 0/15 * * * *",
            Some("2012-07-09T15:00:00Z"),
        ),
        (
            "2012-07-09T14:59:00Z",
            "0 0/15 * * * *",
            Some("2012-07-09T15:00:00Z"),
        ),
        (
            "2012-07-09T14:59:59Z",
            "0 0/15 * * * *",
            Some("2012-07-09T15:00:00Z"),
        ),
        (
            "2012-07-09T15:45:00Z",
            "0 20-35/15 * * * *",
            Some("2012-07-09T16:20:00Z"),
        ),
        (
            "2012-07-09T23:46:00Z",
            "0 */15 * * * *",
            Some("2012-07-10T00:00:00Z"),
        ),
        (
            "2012-07-09T23:45:00Z",
            "0 20-35/15 * * * *",
            Some("2012-07-10T00:20:00Z"),
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 * * * *",
            Some("2012-07-10T00:20:15Z"),
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 1/2 * * *",
            Some("2012-07-10T01:20:15Z"),
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 10-12 * * *",
            Some("2012-07-10T10:20:15Z"),
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 1/2 */2 * *",
            Some("2012-07-11T01:20:15Z"),
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 * 9-20 * *",
            Some("2012-07-10T00:20:15Z"),
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 * 9-20 Jul *",
            Some("2012-07-10T00:20:15Z"),
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 9 Apr-Oct ?",
            Some("2012-08-09T00:00:00Z"),
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 */5 Apr,Aug,Oct Mon",
            Some("2012-08-01T00:00:00Z"),
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 */5 Oct Mon",
            Some("2012-10-01T00:00:00Z"),
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 * Feb Mon",
            Some("2013-02-04T00:00:00Z"),
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 * Feb Mon/2",
            Some("2013-02-01T00:00:00Z"),
        ),
        (
            "2012-12-31T23:59:45Z",
            "0 * * * * *",
            Some("2013-01-01T00:00:00Z"),
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 29 Feb ?",
            Some("2016-02-29T00:00:00Z"),
        ),
        ("2012-07-09T23:35:00Z", "0 0 0 30 Feb ?", None),
        ("2012-07-09T23:35:00Z", "0 0 0 31 Apr ?", None),
        // Dapr documentation examples.
        (
            "2024-05-01T10:10:00Z",
            "0 30 * * * *",
            Some("2024-05-01T10:30:00Z"),
        ),
        (
            "2024-05-01T10:30:00Z",
            "0 30 * * * *",
            Some("2024-05-01T11:30:00Z"),
        ),
        (
            "2024-05-01T10:10:02Z",
            "*/5 * * * * *",
            Some("2024-05-01T10:10:05Z"),
        ),
        (
            "2024-05-01T10:10:05Z",
            "*/5 * * * * *",
            Some("2024-05-01T10:10:10Z"),
        ),
        (
            "2024-05-01T10:10:00Z",
            "0 0 0 1 1 *",
            Some("2025-01-01T00:00:00Z"),
        ),
        // 2024-05-03 is a Friday.
        (
            "2024-05-03T12:00:00Z",
            "0 0 12 * * MON-FRI",
            Some("2024-05-06T12:00:00Z"),
        ),
        (
            "2024-05-03T11:59:59.5Z",
            "0 0 12 * * MON-FRI",
            Some("2024-05-03T12:00:00Z"),
        ),
        (
            "2024-05-01T10:10:00Z",
            "@daily",
            Some("2024-05-02T00:00:00Z"),
        ),
        (
            "2024-05-01T10:10:00Z",
            "@midnight",
            Some("2024-05-02T00:00:00Z"),
        ),
        (
            "2024-05-01T10:10:00Z",
            "@hourly",
            Some("2024-05-01T11:00:00Z"),
        ),
        (
            "2024-05-01T10:10:00Z",
            "@weekly",
            Some("2024-05-05T00:00:00Z"),
        ),
        (
            "2024-05-01T00:00:00Z",
            "@monthly",
            Some("2024-06-01T00:00:00Z"),
        ),
        (
            "2024-05-01T00:00:00Z",
            "@yearly",
            Some("2025-01-01T00:00:00Z"),
        ),
        (
            "2024-05-01T00:00:00Z",
            "@annually",
            Some("2025-01-01T00:00:00Z"),
        ),
        // Strictly after, and sub-second instants round up to the next second.
        (
            "2024-05-01T00:00:00Z",
            "* * * * * *",
            Some("2024-05-01T00:00:01Z"),
        ),
        (
            "2024-05-01T00:00:00.000000001Z",
            "* * * * * *",
            Some("2024-05-01T00:00:01Z"),
        ),
        (
            "2024-05-01T00:00:00.999999999Z",
            "* * * * * *",
            Some("2024-05-01T00:00:01Z"),
        ),
        // Before 1970.
        (
            "1969-12-31T23:59:59.5Z",
            "0 0 0 * * *",
            Some("1970-01-01T00:00:00Z"),
        ),
        (
            "1900-02-28T12:00:00Z",
            "0 0 0 29 2 ?",
            Some("1904-02-29T00:00:00Z"),
        ),
    ];
    for &(from, expr, want) in cases {
        let got = sched(expr).next_after(ts(from));
        assert_eq!(
            got.map(format_rfc3339_nano),
            want.map(|w| format_rfc3339_nano(ts(w))),
            "{expr} after {from}"
        );
    }
}

#[test]
fn day_of_month_and_week_interplay() {
    // 2012-07-09 is a Monday.
    let from = ts("2012-07-09T00:00:00Z");
    let next = |expr: &str| sched(expr).next_after(from).map(format_rfc3339_nano);
    // Both restricted: either matches.
    assert_eq!(
        next("0 0 0 1 * MON").as_deref(),
        Some("2012-07-16T00:00:00Z")
    );
    assert_eq!(
        next("0 0 0 10 * MON").as_deref(),
        Some("2012-07-10T00:00:00Z")
    );
    assert_eq!(
        next("0 0 0 1 * 0-6").as_deref(),
        Some("2012-07-10T00:00:00Z")
    );
    // One is * or ?: both must match.
    assert_eq!(next("0 0 0 1 * *").as_deref(), Some("2012-08-01T00:00:00Z"));
    assert_eq!(next("0 0 0 1 * ?").as_deref(), Some("2012-08-01T00:00:00Z"));
    assert_eq!(
        next("0 0 0 * * MON").as_deref(),
        Some("2012-07-16T00:00:00Z")
    );
    assert_eq!(
        next("0 0 0 ? * mon").as_deref(),
        Some("2012-07-16T00:00:00Z")
    );
    // */1 keeps the star; */2 drops it.
    assert_eq!(
        next("0 0 0 1 * */1").as_deref(),
        Some("2012-08-01T00:00:00Z")
    );
    assert_eq!(
        next("0 0 0 1 * */2").as_deref(),
        Some("2012-07-10T00:00:00Z")
    );
    // Day of week is 0-6 with 0 = Sunday; 7 is out of range.
    assert_eq!(next("0 0 0 * * 0").as_deref(), Some("2012-07-15T00:00:00Z"));
    assert_eq!(
        next("0 0 0 * * SUN").as_deref(),
        Some("2012-07-15T00:00:00Z")
    );
    assert_eq!(next("0 0 0 * * 6").as_deref(), Some("2012-07-14T00:00:00Z"));
    assert_eq!(
        Schedule::parse("0 0 0 * * 7").map_err(|e| e.to_string()),
        Err("job failed validation: end of range (7) above maximum (6): 7".into())
    );
}

#[test]
fn names_and_leap_years() {
    let from = ts("2023-03-01T00:00:00Z");
    let next = |expr: &str| sched(expr).next_after(from).map(format_rfc3339_nano);
    assert_eq!(
        next("0 0 0 29 FEB ?").as_deref(),
        Some("2024-02-29T00:00:00Z")
    );
    assert_eq!(
        next("0 0 0 29 feb ?").as_deref(),
        Some("2024-02-29T00:00:00Z")
    );
    assert_eq!(
        next("0 0 0 1 Dec *").as_deref(),
        Some("2023-12-01T00:00:00Z")
    );
    assert_eq!(
        next("0 0 0 1 nov-DEC *").as_deref(),
        Some("2023-11-01T00:00:00Z")
    );
    assert_eq!(
        next("0 0 0 * JAN FRI").as_deref(),
        Some("2024-01-05T00:00:00Z")
    );
    assert_eq!(
        next("0 0 0 * 1 tue-Thu").as_deref(),
        Some("2024-01-02T00:00:00Z")
    );
    // Go's ToLower maps U+0130 to 'i'.
    assert_eq!(
        next("0 0 0 * 1 FR\u{130}").as_deref(),
        Some("2024-01-05T00:00:00Z")
    );
    // Feb 29 leap-year chain: 2096 → (2100 is not leap) 2104 is beyond
    // robfig's five-year search from 2096.
    let feb29 = sched("0 0 0 29 2 *");
    assert_eq!(
        feb29
            .next_after(ts("2092-03-01T00:00:00Z"))
            .map(format_rfc3339_nano)
            .as_deref(),
        Some("2096-02-29T00:00:00Z")
    );
    assert_eq!(feb29.next_after(ts("2096-02-29T00:00:00Z")), None);
    assert_eq!(
        feb29
            .next_after(ts("2099-01-01T00:00:00Z"))
            .map(format_rfc3339_nano)
            .as_deref(),
        Some("2104-02-29T00:00:00Z")
    );
    assert_eq!(
        feb29.next_after(ts("2000-02-29T00:00:00Z")),
        Some(ts("2004-02-29T00:00:00Z"))
    );
}

#[test]
fn every_adds_exactly() {
    let t = ts("2024-05-01T00:00:00.123456789Z");
    assert_eq!(sched("@every 1s").next_after(t), Some(t + S));
    assert_eq!(sched("@every 1h30m").next_after(t), Some(t + 90 * MIN));
    assert_eq!(sched("@every 1.5s").next_after(t), Some(t + 1500 * MS));
    assert_eq!(sched("@every 5ns").next_after(t), Some(t + 5));
    assert_eq!(sched("@every 1ms").next_after(t), Some(t + MS));
    assert_eq!(sched("@every 0s"), Schedule::Every { nanos: 0 });
    assert_eq!(sched("@every 0s").next_after(t), Some(t));
    assert_eq!(sched("@every -1s").next_after(t), Some(t));
    assert!(!sched("@every 0s").advances());
    assert!(sched("@every 1ns").advances());
    assert!(sched("@daily").advances());
}

#[test]
fn descriptors_match_kit() {
    let all = |b: &Bounds| get_bits(b.min, b.max, 1) | STAR_BIT;
    let Schedule::Cron(weekly) = sched("@weekly") else {
        panic!("cron")
    };
    assert_eq!(
        weekly,
        CronSpec {
            second: 1,
            minute: 1,
            hour: 1,
            dom: all(&DOM),
            month: all(&MONTHS),
            dow: 1
        }
    );
    assert_eq!(sched("@daily"), sched("0 0 0 * * *"));
    assert_eq!(sched("@midnight"), sched("0 0 0 * * *"));
    assert_eq!(sched("@hourly"), sched("0 0 * * * *"));
    assert_eq!(sched("@monthly"), sched("0 0 0 1 * *"));
    assert_eq!(sched("@yearly"), sched("0 0 0 1 1 *"));
    assert_eq!(sched("@annually"), sched("0 0 0 1 1 *"));
    assert_eq!(sched("@weekly"), sched("0 0 0 * * 0"));
    // Bits as kit computes them.
    let Schedule::Cron(c) = sched("*/15 5-7 1/6 ? JAN,mar */2") else {
        panic!("cron")
    };
    assert_eq!(c.second, 1 | 1 << 15 | 1 << 30 | 1 << 45);
    assert_eq!(c.minute, 1 << 5 | 1 << 6 | 1 << 7);
    assert_eq!(c.hour, 1 << 1 | 1 << 7 | 1 << 13 | 1 << 19);
    assert_eq!(c.dom, all(&DOM));
    assert_eq!(c.month, 1 << 1 | 1 << 3);
    assert_eq!(c.dow, 1 | 1 << 2 | 1 << 4 | 1 << 6);
    // Odd but accepted by kit: "*-5" is "*", empty list items are ignored.
    assert_eq!(sched("*-5 * * * * *"), sched("* * * * * *"));
    assert_eq!(sched("1,,2 * * * * *"), sched("1,2 * * * * *"));
    assert_eq!(sched("5/1 * * * * *"), sched("5-59 * * * * *"));
    assert_eq!(sched("+5 * * * * *"), sched("5 * * * * *"));
    // Whitespace of any kind separates fields.
    assert_eq!(sched(" 0\t0 0\n* *\u{a0}* "), sched("0 0 0 * * *"));
    // A field with no values parses but never matches.
    assert_eq!(sched(", * * * * *").next_after(0), None);
}

#[test]
fn timezone_prefixes() {
    assert_eq!(sched("TZ=UTC 0 0 0 * * *"), sched("0 0 0 * * *"));
    assert_eq!(sched("CRON_TZ=Etc/UTC  @daily"), sched("@daily"));
    assert_eq!(sched("TZ=UTC\t@every 1s"), sched("@every 1s"));
    let err = |s: &str| Schedule::parse(s).expect_err(s).reason();
    assert_eq!(
        err("TZ=UTC"),
        "timezone prefix TZ=UTC is not followed by a schedule"
    );
    assert_eq!(
        err("CRON_TZ=Asia/Tokyo 0 0 0 * * *"),
        "provided bad location Asia/Tokyo: unknown time zone Asia/Tokyo"
    );
    assert_eq!(
        err("TZ=../x 0 0 0 * * *"),
        "provided bad location ../x: time: invalid location name"
    );
    assert_eq!(err("TZ=UTC "), "expected exactly 6 fields, found 0: []");
}

#[test]
fn invalid_schedules_give_kits_messages() {
    let cases: &[(&str, &str)] = &[
        ("", "empty spec string"),
        (
            "* * * * *",
            "expected exactly 6 fields, found 5: [* * * * *]",
        ),
        (
            "* * * * * * *",
            "expected exactly 6 fields, found 7: [* * * * * * *]",
        ),
        (" @daily", "expected exactly 6 fields, found 1: [@daily]"),
        ("@every", "unrecognized descriptor: @every"),
        ("@DAILY", "unrecognized descriptor: @DAILY"),
        ("@daily ", "unrecognized descriptor: @daily "),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        (
            "@every Xm",
            "failed to parse duration @every Xm: time: invalid duration \"Xm\"",
        ),
        (
            "@every 5",
            "failed to parse duration @every 5: time: missing unit in duration \"5\"",
        ),
        (
            "@every 1d",
            "failed to parse duration @every 1d: time: unknown unit \"d\" in duration \"1d\"",
        ),
        (
            "* 5 j * * *",
            "failed to parse int from j: strconv.Atoi: parsing \"j\": invalid syntax",
        ),
        (
            "* * * * jan-x *",
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            "sunday * * * * *",
            "failed to parse int from sunday: strconv.Atoi: parsing \"sunday\": invalid syntax",
        ),
        (
            "-5 * * * * *",
            "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax",
        ),
        (
            "99999999999999999999 * * * * *",
            "failed to parse int from 99999999999999999999: strconv.Atoi: parsing \"99999999999999999999\": value out of range",
        ),
        ("5--5 * * * * *", "too many hyphens: 5--5"),
        ("*//2 * * * * *", "too many slashes: *//2"),
        ("*/-12 * * * * *", "negative number (-12) not allowed: -12"),
        ("60 * * * * *", "end of range (60) above maximum (59): 60"),
        ("* * 24 * * *", "end of range (24) above maximum (23): 24"),
        ("* * * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("* * * 32 * *", "end of range (32) above maximum (31): 32"),
        ("* * * * 13 *", "end of range (13) above maximum (12): 13"),
        ("* * * * 0 *", "beginning of range (0) below minimum (1): 0"),
        (
            "5-3 * * * * *",
            "beginning of range (5) beyond end of range (3): 5-3",
        ),
        (
            "* * * * * FRI-MON",
            "beginning of range (5) beyond end of range (1): FRI-MON",
        ),
        (
            "*/0 * * * * *",
            "step of range should be a positive number: */0",
        ),
        // The first failing field wins; fields are checked in order.
        (
            "x y * * * *",
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        // Names only where kit has them.
        (
            "* * * * * jan",
            "failed to parse int from jan: strconv.Atoi: parsing \"jan\": invalid syntax",
        ),
        (
            "mon * * * * *",
            "failed to parse int from mon: strconv.Atoi: parsing \"mon\": invalid syntax",
        ),
        (
            "\u{e9}\"x * * * * *",
            "failed to parse int from \u{e9}\"x: strconv.Atoi: parsing \"\u{e9}\\\"x\": invalid syntax",
        ),
    ];
    for &(expr, want) in cases {
        let err = Schedule::parse(expr).expect_err(expr);
        assert_eq!(err, JobError::Schedule(want.to_owned()), "{expr:?}");
        assert_eq!(err.to_string(), format!("job failed validation: {want}"));
        assert_eq!(err.reason(), want);
    }
}
