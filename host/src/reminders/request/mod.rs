//! Dapr's reminder and timer registration bodies, decoded the way daprd
//! decodes them.
//!
//! daprd reads `POST|PUT /v1.0/actors/{type}/{id}/reminders|timers/{name}`
//! bodies with Go's `json.Decoder` into structs with a custom
//! `UnmarshalJSON` (`pkg/actors/api/reminders.go`). This module reproduces
//! what that accepts and rejects, byte for byte where it matters:
//!
//! * Only the first JSON value of the body is read; bytes after the closing
//!   `}` are ignored, as `json.Decoder.Decode` ignores them.
//! * Keys match case-insensitively (exact, else Go's `EqualFold`-style
//!   folding, so `DueTime`, `DUETIME` and even `callbac\u212a` match);
//!   unknown keys are ignored; the last of duplicate keys wins.
//! * `null` leaves a string unchanged; any other wrong JSON type is an error
//!   (also for the keys `Name`, `ActorType`, `ActorID`, which Go decodes and
//!   daprd then overwrites from the URL).
//! * `data` is kept as the exact bytes the client sent (inner whitespace
//!   included); JSON `null` counts as present. Strings may hold invalid UTF-8
//!   and lone surrogates, which Go accepts and turns into U+FFFD.
//! * An empty or non-object body is an error.
//!
//! Deliberate differences from daprd:
//! * `failure_policy` / `failurePolicy` is honoured as the wapr
//!   recommendation in §1.2.3 says (daprd ignores it over HTTP).
//! * `missedTickPolicy` is a wapr extension (daprd ignores the key).
//! * A body nested 128 or more levels deep is refused, as serde_json's
//!   default recursion limit refuses it ([`BodyError::TooDeep`]); Go allows
//!   10000. The scanner is iterative, so depth never threatens the stack.
//!
//! [`compact_json`] reproduces Go's `json.Compact`, which daprd applies when
//! it echoes `data` back to the app.
//!
//! Layout: `json.rs` is the Go-compatible JSON scanner (and `json.Compact`),
//! `policy.rs` the failure and missed-tick policies; this file holds the
//! bodies, their errors and decoders, and re-exports the rest.

mod json;
mod policy;

pub use json::{compact_json, compact_json_html_escaped};
pub use policy::{
    DEFAULT_CATCH_UP_MAX, FailurePolicy, MAX_CATCH_UP, MissedTickPolicy, parse_missed_tick_policy,
};

use json::{Kind, Member, ScanError, Scanner, fold_key, go_unquote, members, quote_char};
use policy::{failure_policy, missed_tick_policy};

/// Deepest nesting a body may have: serde_json's default recursion limit
/// (128) refuses a 128th level, so 127 levels are allowed.
const BODY_MAX_DEPTH: usize = 127;

/// A reminder registration body (dapr-actors-next.md §1.2.1).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReminderBody {
    /// `dueTime`, verbatim (`""` when absent or null).
    pub due_time: String,
    /// `period`, verbatim (`""` when absent or null).
    pub period: String,
    /// `ttl`, verbatim (`""` when absent or null).
    pub ttl: String,
    /// The raw JSON of `data` exactly as given; JSON `null` is `Some(b"null")`.
    pub data: Option<Vec<u8>>,
    /// `overwrite`; `None` (absent or null) means `true`.
    pub overwrite: Option<bool>,
    /// `failure_policy` / `failurePolicy`; `None` means the Scheduler default
    /// ([`FailurePolicy::default`]).
    pub failure_policy: Option<FailurePolicy>,
    /// `missedTickPolicy` (wapr extension); `None` means
    /// [`MissedTickPolicy::default`].
    pub missed_ticks: Option<MissedTickPolicy>,
}

/// A timer registration body (dapr-actors-next.md §1.2.2).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimerBody {
    /// `dueTime`, verbatim (`""` when absent or null).
    pub due_time: String,
    /// `period`, verbatim (`""` when absent or null).
    pub period: String,
    /// `ttl`, verbatim (`""` when absent or null).
    pub ttl: String,
    /// `callback`, verbatim (`""` when absent or null).
    pub callback: String,
    /// The raw JSON of `data` exactly as given; JSON `null` is `Some(b"null")`.
    pub data: Option<Vec<u8>>,
}

/// Why a body was refused. `Display` is the text daprd puts after
/// `failed deserializing HTTP body: ` (the caller adds that prefix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Empty or whitespace-only body (Go's decoder says `EOF`).
    #[error("EOF")]
    Empty,
    /// The body ends inside a JSON value.
    #[error("unexpected EOF")]
    Truncated,
    /// Malformed JSON, in Go's words (`invalid character 'x' looking for beginning of value`).
    #[error("{0}")]
    Syntax(String),
    /// Nested deeper than the limit.
    #[error("exceeded max depth")]
    TooDeep,
    /// Valid JSON of the wrong shape, in Go's words
    /// (`json: cannot unmarshal number into Go struct field .dueTime of type string`).
    #[error("{0}")]
    Type(String),
    /// A wapr extension (`failurePolicy` shape, `missedTickPolicy`) is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// A scan error in Go's words.
impl From<ScanError> for BodyError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Eof => BodyError::Truncated,
            ScanError::TooDeep => BodyError::TooDeep,
            ScanError::Syntax(c, context) => {
                BodyError::Syntax(format!("invalid character {} {context}", quote_char(c)))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// Reads the first JSON value of `body` like `json.Decoder.Decode` and
/// requires it to be an object (`go_type` names the target in type errors).
fn top_level_object<'a>(body: &'a [u8], go_type: &str) -> Result<&'a [u8], BodyError> {
    let mut sc = Scanner::new(body);
    sc.skip_ws();
    if sc.at_end() {
        return Err(BodyError::Empty);
    }
    let start = sc.i;
    let kind = sc.value(0, BODY_MAX_DEPTH)?;
    if kind != Kind::Object {
        return Err(BodyError::Type(format!(
            "json: cannot unmarshal {} into Go value of type {go_type}",
            kind.go_name()
        )));
    }
    Ok(&body[start..sc.i])
}

fn type_error(kind: Kind, field: &str, go_type: &str) -> BodyError {
    BodyError::Type(format!(
        "json: cannot unmarshal {} into Go struct field .{field} of type {go_type}",
        kind.go_name()
    ))
}

/// A Go `string` field: a string replaces it, `null` leaves it alone.
fn set_string(target: &mut String, m: &Member<'_>, field: &str) -> Result<(), BodyError> {
    match m.kind {
        Kind::String => {
            *target = go_unquote(&m.value[1..m.value.len() - 1]);
            Ok(())
        }
        Kind::Null => Ok(()),
        kind => Err(type_error(kind, field, "string")),
    }
}

/// Handles the keys both bodies share; `Ok(false)` if `folded` is none of them.
fn common_field(
    folded: &str,
    m: &Member<'_>,
    due_time: &mut String,
    period: &mut String,
    ttl: &mut String,
    data: &mut Option<Vec<u8>>,
) -> Result<bool, BodyError> {
    match folded {
        "DUETIME" => set_string(due_time, m, "dueTime")?,
        "PERIOD" => set_string(period, m, "period")?,
        "TTL" => set_string(ttl, m, "ttl")?,
        // json.RawMessage: any value, null included, kept byte for byte.
        "DATA" => *data = Some(m.value.to_vec()),
        // Decoded by Go into the request struct, then overwritten from the URL.
        "NAME" | "ACTORTYPE" | "ACTORID" => {
            let field = match folded {
                "NAME" => "Name",
                "ACTORTYPE" => "ActorType",
                _ => "ActorID",
            };
            set_string(&mut String::new(), m, field)?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Decodes a reminder registration body as daprd does (plus the wapr
/// `failurePolicy` and `missedTickPolicy` handling, see the module docs).
pub fn decode_reminder_body(body: &[u8]) -> Result<ReminderBody, BodyError> {
    let object = top_level_object(body, "api.CreateReminderRequest")?;
    let mut out = ReminderBody::default();
    for m in members(object)? {
        let folded = fold_key(&m.key);
        if common_field(
            &folded,
            &m,
            &mut out.due_time,
            &mut out.period,
            &mut out.ttl,
            &mut out.data,
        )? {
            continue;
        }
        match folded.as_str() {
            "OVERWRITE" => {
                out.overwrite = match m.kind {
                    Kind::Bool => Some(m.value == b"true"),
                    Kind::Null => None,
                    kind => return Err(type_error(kind, "overwrite", "bool")),
                }
            }
            "FAILURE_POLICY" | "FAILUREPOLICY" => out.failure_policy = failure_policy(&m)?,
            "MISSEDTICKPOLICY" => {
                if let Some(policy) = missed_tick_policy(&m)? {
                    out.missed_ticks = Some(policy);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Decodes a timer registration body as daprd does.
pub fn decode_timer_body(body: &[u8]) -> Result<TimerBody, BodyError> {
    let object = top_level_object(body, "api.CreateTimerRequest")?;
    let mut out = TimerBody::default();
    for m in members(object)? {
        let folded = fold_key(&m.key);
        if common_field(
            &folded,
            &m,
            &mut out.due_time,
            &mut out.period,
            &mut out.ttl,
            &mut out.data,
        )? {
            continue;
        }
        if folded == "CALLBACK" {
            set_string(&mut out.callback, &m, "callback")?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECOND: i64 = 1_000_000_000;

    fn reminder(body: &str) -> ReminderBody {
        decode_reminder_body(body.as_bytes()).expect(body)
    }

    fn timer(body: &str) -> TimerBody {
        decode_timer_body(body.as_bytes()).expect(body)
    }

    fn reminder_err(body: &[u8]) -> String {
        decode_reminder_body(body)
            .expect_err("expected an error")
            .to_string()
    }

    // ---- Upstream vectors (§6) and SDK bodies (§1.10) --------------------

    #[test]
    fn spec_reminder_vectors() {
        // T1
        let b = reminder(r#"{"dueTime":"0s","data":"foo"}"#);
        assert_eq!(b.due_time, "0s");
        assert_eq!(b.data.as_deref(), Some(&b"\"foo\""[..]));
        assert_eq!((b.period.as_str(), b.ttl.as_str()), ("", ""));
        // T2
        assert_eq!(reminder(r#"{"period":"1s"}"#).period, "1s");
        // T3: empty object decodes; the Scheduler rejects it later.
        assert_eq!(reminder("{}"), ReminderBody::default());
        // T4
        let b = reminder(r#"{"dueTime":"1s","ttl":"5s"}"#);
        assert_eq!((b.due_time.as_str(), b.ttl.as_str()), ("1s", "5s"));
        // T5
        assert_eq!(reminder(r#"{"period":"P1D"}"#).period, "P1D");
        assert_eq!(reminder(r#"{"period":"R0/PT1S"}"#).period, "R0/PT1S");
        // T6
        let b = reminder(r#"{"dueTime":"1s","period":"R5/PT1S"}"#);
        assert_eq!(b.period, "R5/PT1S");
        // T7
        let b = reminder(
            r#"{"data":"reminderdata","dueTime":"1s","period":"1s","ttl":"2552-01-01T00:00:00Z"}"#,
        );
        assert_eq!(b.data.as_deref(), Some(&b"\"reminderdata\""[..]));
        assert_eq!(b.ttl, "2552-01-01T00:00:00Z");
        // T8
        assert_eq!(reminder(r#"{"overwrite":false}"#).overwrite, Some(false));
        assert_eq!(reminder(r#"{"overwrite":true}"#).overwrite, Some(true));
        assert_eq!(reminder("{}").overwrite, None);
    }

    #[test]
    fn spec_timer_vectors() {
        // T12
        let t = timer(r#"{"dueTime":"0s","period":"R3/PT1S"}"#);
        assert_eq!((t.due_time.as_str(), t.period.as_str()), ("0s", "R3/PT1S"));
        // T13
        let t = timer(r#"{"dueTime":"0s","period":"10s","data":"hello","callback":"mycallback"}"#);
        assert_eq!(
            t,
            TimerBody {
                due_time: "0s".into(),
                period: "10s".into(),
                ttl: String::new(),
                callback: "mycallback".into(),
                data: Some(b"\"hello\"".to_vec()),
            }
        );
        assert_eq!(timer("{}"), TimerBody::default());
    }

    #[test]
    fn python_sdk_bodies() {
        let b = reminder(
            r#"{"reminderName":"r","dueTime":"0h0m5s0ms0\u03bcs","period":"0h0m10s0ms0\u03bcs","data":"aGVsbG8=","failurePolicy":{"constant":{"interval":"0h0m1s0ms0\u03bcs","maxRetries":3}}}"#,
        );
        assert_eq!(b.due_time, "0h0m5s0ms0\u{3bc}s");
        assert_eq!(b.period, "0h0m10s0ms0\u{3bc}s");
        assert_eq!(b.data.as_deref(), Some(&b"\"aGVsbG8=\""[..]));
        assert_eq!(
            b.failure_policy,
            Some(FailurePolicy::Constant {
                interval_nanos: SECOND,
                max_retries: Some(3)
            })
        );
        let b = reminder(
            r#"{"reminderName":"r","dueTime":"0h0m5s0ms0\u03bcs","period":null,"data":"","ttl":"0h1m0s0ms0\u03bcs","failurePolicy":{"drop":{}}}"#,
        );
        assert_eq!(b.period, "");
        assert_eq!(b.ttl, "0h1m0s0ms0\u{3bc}s");
        assert_eq!(b.failure_policy, Some(FailurePolicy::Drop));
        let t = timer(
            r#"{"callback":"timer_callback","data":{"a":1},"dueTime":"0h0m1s0ms0\u03bcs","period":"0h0m2s0ms0\u03bcs"}"#,
        );
        assert_eq!(t.callback, "timer_callback");
        assert_eq!(t.data.as_deref(), Some(&br#"{"a":1}"#[..]));
    }

    #[test]
    fn js_sdk_bodies() {
        let b = reminder(r#"{"period":"1m30s","dueTime":"10s","data":{"x":[1,2]}}"#);
        assert_eq!((b.period.as_str(), b.due_time.as_str()), ("1m30s", "10s"));
        assert_eq!(b.data.as_deref(), Some(&br#"{"x":[1,2]}"#[..]));
        let t = timer(r#"{"period":"p1d","dueTime":"0s","data":"x","callback":"onTick"}"#);
        assert_eq!((t.period.as_str(), t.callback.as_str()), ("p1d", "onTick"));
    }

    #[test]
    fn data_is_kept_byte_for_byte() {
        // Upstream hdata.go: stored as given, compacted on the way out.
        let b = reminder(r#"{"data":{  "foo": [ 12, 4 ] }}"#);
        let raw = b.data.expect("data");
        assert_eq!(raw, br#"{  "foo": [ 12, 4 ] }"#);
        assert_eq!(
            compact_json(&raw).as_deref(),
            Some(&br#"{"foo":[12,4]}"#[..])
        );
        // Surrounding whitespace is not part of the value; number text is kept.
        let b = reminder("{ \"data\" :\n  1.50E+3  , \"x\":1}");
        assert_eq!(b.data.as_deref(), Some(&b"1.50E+3"[..]));
        // null counts as present.
        assert_eq!(
            reminder(r#"{"data":null}"#).data.as_deref(),
            Some(&b"null"[..])
        );
        assert_eq!(reminder("{}").data, None);
        // Escapes and invalid UTF-8 inside data are not touched.
        let body = b"{\"data\":\"\\u00e9\xff\xfe\"}";
        let b = decode_reminder_body(body).expect("Go accepts invalid UTF-8");
        assert_eq!(b.data.as_deref(), Some(&b"\"\\u00e9\xff\xfe\""[..]));
    }

    // ---- Go encoding/json semantics ---------------------------------------

    #[test]
    fn keys_match_case_insensitively() {
        let b = reminder(
            r#"{"DueTime":"1s","PERIOD":"2s","tTl":"3s","Data":1,"OverWrite":true,"FAILUREPOLICY":{"DROP":{}}}"#,
        );
        assert_eq!(
            (b.due_time.as_str(), b.period.as_str(), b.ttl.as_str()),
            ("1s", "2s", "3s")
        );
        assert_eq!(b.data.as_deref(), Some(&b"1"[..]));
        assert_eq!(b.overwrite, Some(true));
        assert_eq!(b.failure_policy, Some(FailurePolicy::Drop));
        // Go's folding maps KELVIN SIGN to K and LONG S to S.
        assert_eq!(timer(r#"{"callbac\u212a":"x"}"#).callback, "x");
        assert_eq!(timer("{\"CALLBAC\u{212a}\":\"y\"}").callback, "y");
        assert_eq!(
            reminder(r#"{"mi\u017f\u017fedTickPolicy":"skip"}"#).missed_ticks,
            Some(MissedTickPolicy::Skip)
        );
        // Near misses are unknown keys.
        let b = reminder(r#"{"due_time":"1s","dueTime ":"2s","dueTimes":"3s","ttI":"4s"}"#);
        assert_eq!(b, ReminderBody::default());
        assert_eq!(
            reminder(r#"{"d\u0075eTime":"5s"}"#).due_time,
            "5s",
            "escaped keys are decoded first"
        );
    }

    #[test]
    fn null_leaves_strings_alone_and_last_key_wins() {
        assert_eq!(
            reminder(r#"{"dueTime":"1s","dueTime":null}"#).due_time,
            "1s"
        );
        assert_eq!(reminder(r#"{"dueTime":null}"#).due_time, "");
        assert_eq!(reminder(r#"{"period":"1s","period":"2s"}"#).period, "2s");
        assert_eq!(reminder(r#"{"period":"1s","PERIOD":"3s"}"#).period, "3s");
        assert_eq!(
            reminder(r#"{"data":1,"data":[2]}"#).data.as_deref(),
            Some(&b"[2]"[..])
        );
        assert_eq!(
            reminder(r#"{"overwrite":false,"overwrite":null}"#).overwrite,
            None
        );
        assert_eq!(
            reminder(r#"{"failure_policy":{"drop":{}},"failurePolicy":null}"#).failure_policy,
            None
        );
        assert_eq!(
            reminder(r#"{"missedTickPolicy":"skip","missedTickPolicy":null}"#).missed_ticks,
            Some(MissedTickPolicy::Skip)
        );
        assert_eq!(timer(r#"{"callback":"a","callback":null}"#).callback, "a");
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let b = reminder(
            r#"{"reminderName":"r","x":{"deep":[1,{"y":null}]},"name":"ignored","actorType":"T","ActorID":"1","dueTime":"1s"}"#,
        );
        assert_eq!(b.due_time, "1s");
        // Reminder-only keys mean nothing to a timer body, whatever their type.
        let t =
            timer(r#"{"overwrite":"x","failure_policy":5,"missedTickPolicy":1,"callback":"c"}"#);
        assert_eq!(t.callback, "c");
    }

    #[test]
    fn wrong_types_are_gos_type_errors() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"dueTime":5}"#,
                "json: cannot unmarshal number into Go struct field .dueTime of type string",
            ),
            (
                r#"{"period":true}"#,
                "json: cannot unmarshal bool into Go struct field .period of type string",
            ),
            (
                r#"{"TTL":{}}"#,
                "json: cannot unmarshal object into Go struct field .ttl of type string",
            ),
            (
                r#"{"overwrite":"true"}"#,
                "json: cannot unmarshal string into Go struct field .overwrite of type bool",
            ),
            (
                r#"{"overwrite":1}"#,
                "json: cannot unmarshal number into Go struct field .overwrite of type bool",
            ),
            (
                r#"{"name":5}"#,
                "json: cannot unmarshal number into Go struct field .Name of type string",
            ),
            (
                r#"{"actortype":[]}"#,
                "json: cannot unmarshal array into Go struct field .ActorType of type string",
            ),
            (
                r#"{"ActorId":false}"#,
                "json: cannot unmarshal bool into Go struct field .ActorID of type string",
            ),
            // Go keeps the first type error even if a later key would be fine.
            (
                r#"{"dueTime":5,"dueTime":"1s"}"#,
                "json: cannot unmarshal number into Go struct field .dueTime of type string",
            ),
        ];
        for &(body, want) in cases {
            assert_eq!(reminder_err(body.as_bytes()), want, "{body}");
            assert!(matches!(
                decode_reminder_body(body.as_bytes()),
                Err(BodyError::Type(_))
            ));
        }
        assert_eq!(
            decode_timer_body(br#"{"callback":[]}"#)
                .expect_err("array")
                .to_string(),
            "json: cannot unmarshal array into Go struct field .callback of type string"
        );
    }

    #[test]
    fn bodies_that_are_not_objects() {
        assert_eq!(decode_reminder_body(b""), Err(BodyError::Empty));
        assert_eq!(decode_timer_body(b" \r\n\t"), Err(BodyError::Empty));
        assert_eq!(reminder_err(b""), "EOF");
        for body in [
            &b"{"[..],
            b"{\"a\":",
            b"{\"a\":1",
            b"{\"a\"",
            b"[",
            b"\"abc",
            b"{\"a\":tr",
            b"-",
        ] {
            assert_eq!(
                decode_reminder_body(body),
                Err(BodyError::Truncated),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(reminder_err(b"{"), "unexpected EOF");
        assert_eq!(
            reminder_err(b"[]"),
            "json: cannot unmarshal array into Go value of type api.CreateReminderRequest"
        );
        assert_eq!(
            decode_timer_body(b"\"x\"").expect_err("string").to_string(),
            "json: cannot unmarshal string into Go value of type api.CreateTimerRequest"
        );
        for body in [&b"1"[..], b"true", b"null", b"5x"] {
            assert!(matches!(
                decode_reminder_body(body),
                Err(BodyError::Type(_))
            ));
        }
    }

    #[test]
    fn only_the_first_value_is_read() {
        // json.Decoder.Decode stops at the closing brace.
        assert_eq!(reminder("{}x").due_time, "");
        assert_eq!(
            reminder(r#" {"dueTime":"1s"} {"dueTime":"2s"}"#).due_time,
            "1s"
        );
        assert!(decode_reminder_body(b"{\"period\":\"1s\"}\xff\x00").is_ok());
    }

    #[test]
    fn nesting_is_limited_like_serde_json() {
        let nested = |levels: usize| {
            let inner = levels - 1; // the body object is the first level
            format!(r#"{{"data":{}{}}}"#, "[".repeat(inner), "]".repeat(inner))
        };
        assert!(decode_reminder_body(nested(127).as_bytes()).is_ok());
        assert_eq!(
            decode_reminder_body(nested(128).as_bytes()),
            Err(BodyError::TooDeep)
        );
        assert_eq!(reminder_err(nested(128).as_bytes()), "exceeded max depth");
        // Very deep input is refused without recursion (no stack overflow).
        let deep = format!(r#"{{"x":{}"#, "[{\"a\":".repeat(200_000));
        assert_eq!(
            decode_reminder_body(deep.as_bytes()),
            Err(BodyError::TooDeep)
        );
        assert!(compact_json(deep.as_bytes()).is_none());
        // Unknown keys count too.
        let wide = format!(
            r#"{{"other":{}{}}}"#,
            "{\"a\":".repeat(127),
            "}".repeat(127)
        );
        assert_eq!(decode_timer_body(wide.as_bytes()), Err(BodyError::TooDeep));
    }

    // ---- Properties -------------------------------------------------------

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::String),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("\\PC{0,8}", inner, 0..8)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn decoders_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_reminder_body(&body);
            let _ = decode_timer_body(&body);
            let _ = compact_json(&body);
            let _ = compact_json_html_escaped(&body);
        }

        #[test]
        fn decoders_never_panic_on_json_like_input(
            body in r#"[{}\[\]":,\\ a-zA-Z0-9.+\-eu\u{3bc}\u{212a}]{0,96}"#
        ) {
            let _ = decode_reminder_body(body.as_bytes());
            let _ = decode_timer_body(body.as_bytes());
            let _ = compact_json(body.as_bytes());
        }

        #[test]
        fn decoders_never_panic_on_shaped_bodies(
            key in prop::sample::select(vec![
                "dueTime", "period", "ttl", "data", "overwrite", "failure_policy",
                "failurePolicy", "missedTickPolicy", "callback", "name", "x",
            ]),
            value in json_value(),
        ) {
            let body = serde_json::json!({ key: value }).to_string();
            let _ = decode_reminder_body(body.as_bytes());
            let _ = decode_timer_body(body.as_bytes());
        }

        #[test]
        fn strings_round_trip_through_the_decoder(
            due in any::<String>(), period in "\\PC{0,20}", callback in any::<String>(),
        ) {
            let body = serde_json::json!({"dueTime": due, "period": period, "callback": callback});
            let t = decode_timer_body(body.to_string().as_bytes()).expect("valid");
            prop_assert_eq!(&t.due_time, &due);
            prop_assert_eq!(&t.period, &period);
            prop_assert_eq!(&t.callback, &callback);
            let pretty = serde_json::to_string_pretty(&body).expect("serialises");
            let t = decode_timer_body(pretty.as_bytes()).expect("valid");
            prop_assert_eq!(t.due_time, due);
        }

        #[test]
        fn data_is_preserved_and_compacts_like_serde(value in json_value()) {
            let pretty = serde_json::to_vec_pretty(&value).expect("serialises");
            let mut body = b"{ \"data\" : ".to_vec();
            body.extend_from_slice(&pretty);
            body.extend_from_slice(b" , \"period\": \"1s\" }");
            let b = decode_reminder_body(&body).expect("valid");
            prop_assert_eq!(b.data.as_deref(), Some(&pretty[..]));
            let compact = serde_json::to_vec(&value).expect("serialises");
            prop_assert_eq!(compact_json(&pretty), Some(compact.clone()));
            prop_assert_eq!(compact_json(&compact), Some(compact));
        }
    }
}
