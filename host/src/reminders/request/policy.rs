//! The policies a reminder body may carry: the Scheduler's failure policy
//! (`failure_policy` / `failurePolicy`, [`FailurePolicy`]) and wapr's
//! `missedTickPolicy` ([`MissedTickPolicy`]), as types and as parsed from
//! their JSON members.

use super::json::{Kind, Member, fold_key, go_unquote, members};
use super::{BodyError, type_error};
use crate::reminders::time::parse_go_duration;

/// Default `max` of [`MissedTickPolicy::CatchUp`] when `catch-up` has no `:N`.
pub const DEFAULT_CATCH_UP_MAX: u32 = 100;

/// Largest `N` accepted in `catch-up:N`.
pub const MAX_CATCH_UP: u32 = 100_000;

/// What the Scheduler does when a reminder tick fails (`common.v1.JobFailurePolicy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Drop the failed tick; the schedule continues.
    Drop,
    /// Retry the tick every `interval_nanos` after its scheduled time.
    Constant {
        /// Time between attempts, in nanoseconds (`0` when not given).
        interval_nanos: i64,
        /// Retries after the first attempt; `None` retries forever.
        max_retries: Option<u32>,
    },
}

impl Default for FailurePolicy {
    /// go-etcd-cron's default: constant, 1 s, 3 retries (4 deliveries).
    fn default() -> Self {
        FailurePolicy::Constant {
            interval_nanos: 1_000_000_000,
            max_retries: Some(3),
        }
    }
}

/// What to do with reminder ticks missed while nothing could fire them (wapr
/// extension, key `missedTickPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickPolicy {
    /// `"fire-once"`: fire one tick for everything missed, then resume the schedule.
    #[default]
    FireOnce,
    /// `"skip"`: drop missed ticks and resume at the next future tick.
    Skip,
    /// `"catch-up"` / `"catch-up:N"`: replay up to `max` missed ticks back to
    /// back (Dapr's behaviour, bounded).
    CatchUp {
        /// Most ticks replayed (1–100000; 100 when not given).
        max: u32,
    },
}

/// An invalid failure policy, with what is wrong.
fn invalid_policy(detail: impl std::fmt::Display) -> BodyError {
    BodyError::Invalid(format!("invalid failure policy: {detail}"))
}

/// `failure_policy` / `failurePolicy` (dapr-actors-next.md §1.2.3, wapr recommendation): `null`
/// or `{}` → default; `{"drop":{}}`; `{"constant":{"interval","maxRetries"}}`.
pub(super) fn failure_policy(m: &Member<'_>) -> Result<Option<FailurePolicy>, BodyError> {
    match m.kind {
        Kind::Null => return Ok(None),
        Kind::Object => {}
        kind => return Err(type_error(kind, "failure_policy", "v1.JobFailurePolicy")),
    }
    let mut drop = false;
    let mut constant = None;
    for inner in members(m.value)? {
        match (fold_key(&inner.key).as_str(), inner.kind) {
            // Go sets a pointer to nil for null: the last value wins.
            ("DROP", Kind::Null) => drop = false,
            ("CONSTANT", Kind::Null) => constant = None,
            (_, Kind::Null) => {}
            ("DROP", Kind::Object) => drop = true,
            ("CONSTANT", Kind::Object) => constant = Some(constant_policy(inner.value)?),
            ("DROP" | "CONSTANT", kind) => {
                return Err(invalid_policy(format_args!(
                    "{} must be an object, not {}",
                    inner.key.to_ascii_lowercase(),
                    kind.go_name()
                )));
            }
            // What daprd itself answers (a protobuf oneof cannot take JSON).
            ("POLICY", kind) => {
                return Err(BodyError::Type(format!(
                    "json: cannot unmarshal {} into Go struct field JobFailurePolicy.failure_policy.Policy of type v1.isJobFailurePolicy_Policy",
                    kind.go_name()
                )));
            }
            _ => {}
        }
    }
    match (drop, constant) {
        (true, Some(_)) => Err(invalid_policy("only one of drop and constant may be set")),
        (true, None) => Ok(Some(FailurePolicy::Drop)),
        (false, constant) => Ok(constant),
    }
}

/// `{"interval": "<Go or protojson duration>", "maxRetries"|"max_retries": n}`.
fn constant_policy(object: &[u8]) -> Result<FailurePolicy, BodyError> {
    let mut interval_nanos = 0;
    let mut max_retries = None;
    for m in members(object)? {
        match fold_key(&m.key).as_str() {
            "INTERVAL" => match m.kind {
                Kind::Null => interval_nanos = 0,
                Kind::String => {
                    let text = go_unquote(&m.value[1..m.value.len() - 1]);
                    // protojson's "1.5s" form is a Go duration too.
                    interval_nanos = parse_go_duration(&text)
                        .map_err(|e| invalid_policy(format_args!("constant.interval: {e}")))?;
                }
                kind => {
                    return Err(invalid_policy(format_args!(
                        "constant.interval must be a duration string, not {}",
                        kind.go_name()
                    )));
                }
            },
            "MAXRETRIES" | "MAX_RETRIES" => {
                max_retries = match m.kind {
                    Kind::Null => None,
                    Kind::Number => Some(retries(m.value)?),
                    Kind::String => Some(retries(&m.value[1..m.value.len() - 1])?),
                    kind => {
                        return Err(invalid_policy(format_args!(
                            "constant.maxRetries must be a number, not {}",
                            kind.go_name()
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(FailurePolicy::Constant {
        interval_nanos,
        max_retries,
    })
}

/// A `uint32` written as plain decimal digits.
fn retries(text: &[u8]) -> Result<u32, BodyError> {
    let err = || {
        invalid_policy(format_args!(
            "constant.maxRetries must be an integer from 0 to 4294967295, not {}",
            String::from_utf8_lossy(text)
        ))
    };
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return Err(err());
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(err)
}

/// `missedTickPolicy` (wapr extension): `null` leaves it unset.
pub(super) fn missed_tick_policy(m: &Member<'_>) -> Result<Option<MissedTickPolicy>, BodyError> {
    let text = match m.kind {
        Kind::Null => return Ok(None),
        Kind::String => go_unquote(&m.value[1..m.value.len() - 1]),
        kind => {
            return Err(BodyError::Invalid(format!(
                "invalid missedTickPolicy: expected a string, not {}",
                kind.go_name()
            )));
        }
    };
    parse_missed_tick_policy(&text).map(Some)
}

/// Parses a `missedTickPolicy` value: `fire-once`, `skip`, `catch-up` (max
/// 100) or `catch-up:N` with 1 ≤ N ≤ 100000.
pub fn parse_missed_tick_policy(text: &str) -> Result<MissedTickPolicy, BodyError> {
    let policy = match text {
        "fire-once" => Some(MissedTickPolicy::FireOnce),
        "skip" => Some(MissedTickPolicy::Skip),
        "catch-up" => Some(MissedTickPolicy::CatchUp {
            max: DEFAULT_CATCH_UP_MAX,
        }),
        _ => text
            .strip_prefix("catch-up:")
            .filter(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=MAX_CATCH_UP).contains(n))
            .map(|max| MissedTickPolicy::CatchUp { max }),
    };
    policy.ok_or_else(|| {
        BodyError::Invalid(format!(
            "invalid missedTickPolicy {text:?}: expected \"fire-once\", \"skip\", \"catch-up\" or \"catch-up:N\" with 1 <= N <= {MAX_CATCH_UP}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reminders::request::decode_reminder_body;

    const SECOND: i64 = 1_000_000_000;

    fn policy(inner: &str) -> Result<Option<FailurePolicy>, BodyError> {
        decode_reminder_body(format!(r#"{{"failure_policy":{inner}}}"#).as_bytes())
            .map(|b| b.failure_policy)
    }

    #[test]
    fn failure_policy_shapes() {
        let constant = |interval_nanos, max_retries| {
            Ok(Some(FailurePolicy::Constant {
                interval_nanos,
                max_retries,
            }))
        };
        assert_eq!(policy(r#"{"drop":{}}"#), Ok(Some(FailurePolicy::Drop)));
        assert_eq!(policy(r#"{"drop":{"x":1}}"#), Ok(Some(FailurePolicy::Drop)));
        assert_eq!(
            policy(r#"{"constant":{"interval":"1.5s","max_retries":4}}"#),
            constant(SECOND + SECOND / 2, Some(4))
        );
        assert_eq!(
            policy(r#"{"Constant":{"Interval":"0s","MaxRetries":0}}"#),
            constant(0, Some(0))
        );
        assert_eq!(policy(r#"{"constant":{}}"#), constant(0, None));
        assert_eq!(
            policy(r#"{"constant":{"interval":null,"maxRetries":null}}"#),
            constant(0, None)
        );
        assert_eq!(
            policy(r#"{"constant":{"maxRetries":"7"}}"#),
            constant(0, Some(7))
        );
        assert_eq!(
            policy(r#"{"constant":{"maxRetries":4294967295}}"#),
            constant(0, Some(u32::MAX))
        );
        assert_eq!(
            policy(r#"{"constant":{"interval":"-1s"}}"#),
            constant(-SECOND, None)
        );
        assert_eq!(policy("{}"), Ok(None));
        assert_eq!(policy("null"), Ok(None));
        assert_eq!(policy(r#"{"policy":null}"#), Ok(None));
        assert_eq!(policy(r#"{"foo":1}"#), Ok(None));
        assert_eq!(policy(r#"{"constant":{},"constant":null}"#), Ok(None));
        assert_eq!(policy(r#"{"drop":{},"drop":null}"#), Ok(None));
        assert_eq!(
            FailurePolicy::default(),
            FailurePolicy::Constant {
                interval_nanos: SECOND,
                max_retries: Some(3)
            }
        );
    }

    #[test]
    fn failure_policy_errors() {
        assert_eq!(
            policy(r#"{"policy":{"constant":{}}}"#)
                .expect_err("daprd answers 400")
                .to_string(),
            "json: cannot unmarshal object into Go struct field JobFailurePolicy.failure_policy.Policy of type v1.isJobFailurePolicy_Policy"
        );
        assert_eq!(
            policy(r#""drop""#).expect_err("string").to_string(),
            "json: cannot unmarshal string into Go struct field .failure_policy of type v1.JobFailurePolicy"
        );
        for inner in [
            r#"{"policy":"drop"}"#,
            r#"{"drop":{},"constant":{}}"#,
            r#"{"drop":true}"#,
            r#"{"constant":[]}"#,
            r#"{"constant":{"interval":5}}"#,
            r#"{"constant":{"interval":"5"}}"#,
            r#"{"constant":{"interval":"1d"}}"#,
            r#"{"constant":{"maxRetries":-1}}"#,
            r#"{"constant":{"maxRetries":1.5}}"#,
            r#"{"constant":{"maxRetries":1e2}}"#,
            r#"{"constant":{"maxRetries":4294967296}}"#,
            r#"{"constant":{"maxRetries":"x"}}"#,
            r#"{"constant":{"maxRetries":true}}"#,
            "[]",
            "1",
        ] {
            assert!(policy(inner).is_err(), "{inner}");
        }
        assert_eq!(
            policy(r#"{"constant":{"interval":"5"}}"#)
                .expect_err("no unit")
                .to_string(),
            r#"invalid failure policy: constant.interval: time: missing unit in duration "5""#
        );
    }

    // ---- missed-tick policy -----------------------------------------------

    #[test]
    fn missed_tick_policies() {
        let parse = |v: &str| {
            decode_reminder_body(format!(r#"{{"missedTickPolicy":{v}}}"#).as_bytes())
                .map(|b| b.missed_ticks)
        };
        assert_eq!(
            parse(r#""fire-once""#),
            Ok(Some(MissedTickPolicy::FireOnce))
        );
        assert_eq!(parse(r#""skip""#), Ok(Some(MissedTickPolicy::Skip)));
        assert_eq!(
            parse(r#""catch-up""#),
            Ok(Some(MissedTickPolicy::CatchUp { max: 100 }))
        );
        assert_eq!(
            parse(r#""catch-up:1""#),
            Ok(Some(MissedTickPolicy::CatchUp { max: 1 }))
        );
        assert_eq!(
            parse(r#""catch-up:100000""#),
            Ok(Some(MissedTickPolicy::CatchUp { max: 100_000 }))
        );
        assert_eq!(parse("null"), Ok(None));
        assert_eq!(MissedTickPolicy::default(), MissedTickPolicy::FireOnce);
        for bad in [
            r#""catch-up:0""#,
            r#""catch-up:100001""#,
            r#""catch-up:""#,
            r#""catch-up:x""#,
            r#""catch-up:+5""#,
            r#""catch-up:99999999999""#,
            r#""Skip""#,
            r#""catchup""#,
            r#""""#,
            "5",
            "{}",
        ] {
            assert!(matches!(parse(bad), Err(BodyError::Invalid(_))), "{bad}");
        }
        let message = parse(r#""sometimes""#).expect_err("bad").to_string();
        assert_eq!(
            message,
            r#"invalid missedTickPolicy "sometimes": expected "fire-once", "skip", "catch-up" or "catch-up:N" with 1 <= N <= 100000"#
        );
    }
}
