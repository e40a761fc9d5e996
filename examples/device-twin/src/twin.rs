//! JSON merge-patch, the desired/reported delta, desired ranges and the
//! offline window's duration format, free of any host calls.

use std::time::Duration;

use serde_json::{Map, Number, Value};

/// The shortest offline window accepted.
pub const MIN_WINDOW: Duration = Duration::from_secs(1);
/// The longest offline window accepted (30 days).
pub const MAX_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

/// Parses an offline window written as a Go duration with the units `h`,
/// `m`, `s` and `ms` (`5m`, `90s`, `1h30m`, `1.5s`), between [`MIN_WINDOW`]
/// and [`MAX_WINDOW`].
///
/// # Errors
/// What is wrong with it, quoting it.
pub fn parse_window(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "`offlineAfter` must be a duration such as \"5m\", \"90s\" or \"1h30m\" (got {text:?})"
        )
    };
    let mut rest = text;
    let mut nanos: u128 = 0;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(invalid)?;
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "h" => 3_600_000_000_000,
            "m" => 60_000_000_000,
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            _ => return Err(invalid()),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() || (number.contains('.') && fraction.is_empty()) {
            return Err(invalid());
        }
        let whole: u128 = whole.parse().map_err(|_| invalid())?;
        let mut part = whole.checked_mul(scale).ok_or_else(invalid)?;
        let mut place = scale;
        for digit in fraction.bytes() {
            if !digit.is_ascii_digit() {
                return Err(invalid());
            }
            place /= 10;
            part += u128::from(digit - b'0') * place;
        }
        nanos = nanos.checked_add(part).ok_or_else(invalid)?;
        rest = next;
    }
    let window = u64::try_from(nanos)
        .map(Duration::from_nanos)
        .unwrap_or(Duration::MAX);
    if window < MIN_WINDOW || window > MAX_WINDOW {
        return Err(format!(
            "`offlineAfter` must be between 1s and 720h (got {text:?})"
        ));
    }
    Ok(window)
}

/// Applies `patch` to `target` as a JSON merge-patch (RFC 7396): objects
/// merge key by key, recursively; a `null` member deletes the key; any other
/// patch value replaces the target.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        merge_object(target, patch);
    }
}

/// [`merge_patch`] for an object target and an object patch.
pub fn merge_object(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The desired properties that the device has not reported yet: every
/// top-level key of `desired` whose value differs from the reported one (or
/// is not reported at all), with its desired value. A desired [`Range`] is
/// met by a reported number inside it.
pub fn delta(desired: &Map<String, Value>, reported: &Map<String, Value>) -> Map<String, Value> {
    desired
        .iter()
        .filter(|(key, want)| !reported.get(*key).is_some_and(|have| meets(have, want)))
        .map(|(key, want)| (key.clone(), want.clone()))
        .collect()
}

/// Whether the reported value `have` meets the desired value `want`: equal
/// (see [`same`]), or a number inside `want` when that is a [`Range`].
pub fn meets(have: &Value, want: &Value) -> bool {
    same(have, want) || Range::of(want).is_some_and(|range| range.contains(have) == Some(true))
}

/// A desired range: a desired value that is an object with a numeric `min`,
/// a numeric `max`, or both, and nothing else (`{"min":18,"max":24}`).
/// Bounds are inclusive; a missing bound is open.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// The lowest value inside, if bounded below.
    pub min: Option<Number>,
    /// The highest value inside, if bounded above.
    pub max: Option<Number>,
}

impl Range {
    /// The range `desired` describes, if it is one.
    pub fn of(desired: &Value) -> Option<Self> {
        let Value::Object(members) = desired else {
            return None;
        };
        let bound = |name: &str| match members.get(name) {
            None => Some(None),
            Some(Value::Number(n)) => Some(Some(n.clone())),
            Some(_) => None,
        };
        let range = Self {
            min: bound("min")?,
            max: bound("max")?,
        };
        let known = members.keys().all(|key| key == "min" || key == "max");
        (known && !members.is_empty()).then_some(range)
    }

    /// Whether `value` is inside; `None` when it is not a number.
    pub fn contains(&self, value: &Value) -> Option<bool> {
        let value = value.as_f64()?;
        let above_min = self
            .min
            .as_ref()
            .and_then(Number::as_f64)
            .is_none_or(|min| value >= min);
        let below_max = self
            .max
            .as_ref()
            .and_then(Number::as_f64)
            .is_none_or(|max| value <= max);
        Some(above_min && below_max)
    }

    /// Whether `value` is a number outside the range.
    pub fn excludes(&self, value: Option<&Value>) -> bool {
        value.and_then(|v| self.contains(v)) == Some(false)
    }
}

/// The desired ranges that a change of the reported properties from
/// `before` to `after` left: each range property whose reported value is a
/// number outside its range now and was not before (absent, not a number,
/// or inside), in key order, with the range.
pub fn crossings(
    desired: &Map<String, Value>,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Vec<(String, Range)> {
    desired
        .iter()
        .filter_map(|(key, want)| Range::of(want).map(|range| (key, range)))
        .filter(|(key, range)| range.excludes(after.get(*key)) && !range.excludes(before.get(*key)))
        .map(|(key, range)| (key.clone(), range))
        .collect()
}

/// JSON equality where numbers compare by value, so a reported `21` matches a
/// desired `21.0`.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                x.as_f64() == y.as_f64()
            } else {
                x == y
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, x)| y.get(key).is_some_and(|y| same(x, y)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn patched(target: Value, patch: Value) -> Value {
        let mut target = target;
        merge_patch(&mut target, &patch);
        target
    }

    #[test]
    fn rfc7396_examples() {
        // The test cases of RFC 7396, appendix A.
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, want) in cases {
            let got = patched(target.clone(), patch.clone());
            assert_eq!(got, want, "merge_patch({target}, {patch})");
        }
    }

    #[test]
    fn delta_lists_only_unmet_desired_keys() {
        let desired = object(json!({"temp": 20, "mode": "eco", "fan": {"speed": 2}, "led": true}));
        let reported =
            object(json!({"temp": 21.5, "mode": "eco", "fan": {"speed": 2}, "extra": 1}));
        assert_eq!(
            Value::Object(delta(&desired, &reported)),
            json!({"temp": 20, "led": true})
        );
        assert!(delta(&Map::new(), &reported).is_empty());
        assert_eq!(delta(&desired, &Map::new()), desired);
    }

    #[test]
    fn ranges_are_objects_of_numeric_bounds_only() {
        let range = |v: Value| Range::of(&v);
        assert_eq!(
            range(json!({"min": 18, "max": 24.5})),
            Some(Range {
                min: Some(18.into()),
                max: Number::from_f64(24.5)
            })
        );
        assert_eq!(
            range(json!({"max": 0})),
            Some(Range {
                min: None,
                max: Some(0.into())
            })
        );
        for not_a_range in [
            json!({}),
            json!({"min": "18"}),
            json!({"min": 1, "unit": "C"}),
            json!({"min": null}),
            json!(18),
            json!([18, 24]),
        ] {
            assert_eq!(range(not_a_range.clone()), None, "{not_a_range}");
        }
        let r = range(json!({"min": 18, "max": 24})).unwrap();
        assert_eq!(r.contains(&json!(18)), Some(true), "inclusive");
        assert_eq!(r.contains(&json!(24.0)), Some(true));
        assert_eq!(r.contains(&json!(24.01)), Some(false));
        assert_eq!(r.contains(&json!(-3)), Some(false));
        assert_eq!(r.contains(&json!("20")), None);
        assert!(r.excludes(Some(&json!(30))));
        assert!(!r.excludes(None) && !r.excludes(Some(&json!("hot"))));
        let open = range(json!({"min": 0})).unwrap();
        assert_eq!(open.contains(&json!(1e300)), Some(true));
    }

    #[test]
    fn a_range_is_met_by_a_number_inside_it() {
        let desired = object(json!({"temp": {"min": 18, "max": 24}, "mode": "eco"}));
        let inside = object(json!({"temp": 21, "mode": "eco"}));
        assert!(delta(&desired, &inside).is_empty());
        let outside = object(json!({"temp": 25, "mode": "eco"}));
        assert_eq!(
            Value::Object(delta(&desired, &outside)),
            json!({"temp": {"min": 18, "max": 24}})
        );
    }

    #[test]
    fn crossings_are_entries_into_the_outside() {
        let desired =
            object(json!({"temp": {"min": 18, "max": 24}, "hum": {"max": 60}, "fw": "1"}));
        let cross = |before: Value, after: Value| -> Vec<String> {
            crossings(&desired, &object(before), &object(after))
                .into_iter()
                .map(|(key, _)| key)
                .collect()
        };
        assert_eq!(
            cross(json!({}), json!({"temp": 30, "hum": 61})),
            ["hum", "temp"]
        );
        assert_eq!(cross(json!({"temp": 20}), json!({"temp": 17.5})), ["temp"]);
        assert_eq!(cross(json!({"temp": "n/a"}), json!({"temp": 30})), ["temp"]);
        assert!(
            cross(json!({"temp": 30}), json!({"temp": 31})).is_empty(),
            "still out"
        );
        assert!(
            cross(json!({"temp": 30}), json!({"temp": 20})).is_empty(),
            "back in"
        );
        assert!(
            cross(json!({"temp": 20}), json!({"temp": "hot"})).is_empty(),
            "not a number"
        );
        assert!(
            cross(json!({"fw": "0"}), json!({"fw": "2"})).is_empty(),
            "not a range"
        );
        assert!(cross(json!({"temp": 30}), json!({})).is_empty(), "removed");
    }

    #[test]
    fn offline_windows() {
        for (text, secs) in [
            ("5m", 300.0),
            ("90s", 90.0),
            ("1h30m", 5400.0),
            ("1.5s", 1.5),
            ("1500ms", 1.5),
            ("720h", 2_592_000.0),
        ] {
            assert_eq!(
                parse_window(text),
                Ok(Duration::from_secs_f64(secs)),
                "{text}"
            );
        }
        for text in ["", "5", "5d", "m", "1.s", ".5s", "-5m", "5 m", "PT5M"] {
            let err = parse_window(text).unwrap_err();
            assert!(
                err.starts_with("`offlineAfter` must be a duration"),
                "{text}: {err}"
            );
        }
        for text in ["999ms", "721h", "99999999999999999999999h"] {
            assert!(parse_window(text).is_err(), "{text}");
        }
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(same(&json!(21), &json!(21.0)));
        assert!(same(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert!(!same(&json!(21), &json!(21.5)));
        assert!(!same(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!same(&json!("1"), &json!(1)));
    }
}
