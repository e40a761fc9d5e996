//! Example actor `device-twin`: the digital twin of an IoT device, with the
//! properties the device reported and the ones an operator desires, and
//! whether the device is online. It publishes an alert when a reported
//! value leaves its desired range.
//!
//! | method      | payload                       | reply                          |
//! |-------------|-------------------------------|--------------------------------|
//! | `report`    | merge-patch of reported       | the twin (as `get`)            |
//! | `telemetry` | a telemetry event's data: `{"deviceId":"d1","temp":21.5,…}` | the twin (as `get`) |
//! | `desire`    | merge-patch of desired        | the twin (as `get`)            |
//! | `get`       | ignored                       | the twin                       |
//! | `delta`     | ignored                       | the delta object               |
//! | `stats`     | ignored                       | `{"telemetryCount":n,"alertCount":n}` |
//! | `configure` | `{"offlineAfter":"5m"}`       | the settings `{"offlineAfter":"5m"}` |
//!
//! The twin is `{"reported":{...},"desired":{...},"delta":{...},"version":n,
//! "status":"unknown"|"online"|"offline","lastReport":"<RFC 3339>"|null}`.
//! A patch must be a JSON object and is applied as a JSON merge-patch
//! (RFC 7396: `null` deletes a key, nested objects merge). `delta` holds the
//! top-level desired keys whose value differs from the reported one, with
//! the desired value (numbers compare by value). `version` counts changes:
//! it increments on every `report`/`desire` that changes a document, and a
//! patch that changes nothing leaves it alone.
//!
//! **Online and offline.** Every `report` (even one that changes nothing: a
//! heartbeat) sets `status` to `online`, records `lastReport` (the host's
//! clock) and (re)registers the one-shot reminder `offline`, due one
//! *offline window* later. If no report comes in time the reminder fires and
//! the twin turns `offline`. The reminder is durable, so this works across
//! deactivation, restarts and failover. Its data is the report it was armed
//! for, so a tick that was already queued when a newer report re-armed the
//! reminder changes nothing.
//!
//! `configure` sets the window (a Go duration between `1s` and `720h`,
//! default `5m`); a payload without `offlineAfter` (`{}`) just reads the
//! settings. A new window re-arms the reminder of an online twin, counted
//! from its last report.
//!
//! **Telemetry.** `telemetry` takes the data of an event of the device's
//! telemetry topic (delivered by a subscription whose actor id is
//! `/deviceId`): a JSON object whose `deviceId`, if present, must be this
//! twin's id (else `bad-request`), and whose other members are applied as a
//! `report`. Each applied event adds one to `telemetryCount` (`stats`).
//!
//! **Desired ranges and alerts.** A desired value that is an object with a
//! numeric `min`, a numeric `max` or both, and nothing else, is a *range*
//! (`{"temp":{"min":18,"max":24}}`, bounds inclusive): the delta lists it
//! unless the reported value is a number inside it. When a `report` or
//! `telemetry` turns a reported value into a number outside its desired
//! range (it was absent, not a number, or inside before), the twin
//! publishes one event to topic `alerts` of pub/sub `pubsub`:
//! `{"deviceId":"d1","property":"temp","value":30.5,"min":18,"max":24,
//! "at":"<RFC 3339>"}` (`min`/`max` `null` when open, `at` the host's clock
//! at the report). Further reports while it stays outside publish nothing;
//! one that brings it back inside re-arms the alert. A `desire` that moves
//! the range publishes nothing. The event is sent when the turn commits; if
//! the host refuses it (the type needs the grant `publish = [{ pubsub =
//! "pubsub", topic = "alerts" }]`), the report fails as a whole (kind
//! `application`, `permission-denied: …`) and changes nothing. Each alert
//! adds one to `alertCount`.
//!
//! State keys: `reported` and `desired` (JSON objects), `version` (integer),
//! `status` (string), `last-report` (integer, nanoseconds since the Unix
//! epoch), `config` (`{"offlineAfter":"5m"}`), `telemetry-count` and
//! `alert-count` (integers). Reminder: `offline`.

pub mod twin;

use std::time::Duration;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wapr_actor::scheduling::{self, Reminder};
use wapr_actor::{Actor, ActorRef, Error, Methods, clock, dapr, state};

/// State key of the reported properties.
const REPORTED: &str = "reported";
/// State key of the desired properties.
const DESIRED: &str = "desired";
/// State key of the change counter.
const VERSION: &str = "version";
/// State key of the online status.
const STATUS: &str = "status";
/// State key of the time of the last report (Unix nanoseconds).
const LAST_REPORT: &str = "last-report";
/// State key of the settings.
const CONFIG: &str = "config";
/// The reminder that marks the twin offline.
const OFFLINE_REMINDER: &str = "offline";
/// The offline window when none is configured.
const DEFAULT_WINDOW: &str = "5m";
/// State key counting applied telemetry events.
const TELEMETRY_COUNT: &str = "telemetry-count";
/// State key counting published alerts.
const ALERT_COUNT: &str = "alert-count";
/// The pub/sub component alerts go to.
pub const ALERTS_PUBSUB: &str = "pubsub";
/// The topic alerts go to.
pub const ALERTS_TOPIC: &str = "alerts";

/// Whether the device is reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    /// Never reported.
    #[default]
    Unknown,
    /// Reported within the offline window.
    Online,
    /// Silent for longer than the offline window.
    Offline,
}

/// The reply of `get`, `report` and `desire`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct View {
    reported: Map<String, Value>,
    desired: Map<String, Value>,
    delta: Map<String, Value>,
    version: u64,
    status: Status,
    last_report: Option<String>,
}

/// The settings (payload and reply of `configure`, state key `config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    offline_after: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            offline_after: DEFAULT_WINDOW.to_owned(),
        }
    }
}

/// Payload of `configure`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Configure {
    #[serde(default)]
    offline_after: Option<String>,
}

/// A document of properties (reported or desired).
type Document = Map<String, Value>;

/// The reply of `stats`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Stats {
    telemetry_count: u64,
    alert_count: u64,
}

/// An alert: a reported value left its desired range.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Alert<'a> {
    device_id: &'a str,
    property: &'a str,
    value: &'a Value,
    min: Option<serde_json::Number>,
    max: Option<serde_json::Number>,
    at: String,
}

/// Data of the `offline` reminder: the report it was armed for.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Armed {
    last_report: u64,
}

/// The device-twin actor; the documents live in state.
#[derive(Debug)]
pub struct DeviceTwin {
    /// The device's id (the actor id).
    id: String,
}

impl DeviceTwin {
    fn report(&mut self, patch: Value) -> Result<View, Error> {
        self.apply_report("report", &patch)?;
        view()
    }

    fn telemetry(&mut self, event: Value) -> Result<View, Error> {
        let Value::Object(mut patch) = event else {
            return Err(Error::bad_request(
                "`telemetry` expects a JSON object (a telemetry event's data)",
            ));
        };
        match patch.remove("deviceId") {
            None => {}
            Some(Value::String(id)) if id == self.id => {}
            Some(other) => {
                return Err(Error::bad_request(format!(
                    "telemetry of device {other} reached the twin of `{}`",
                    self.id
                )));
            }
        }
        self.apply_report("telemetry", &Value::Object(patch))?;
        bump(TELEMETRY_COUNT)?;
        view()
    }

    /// Applies a report: merges `patch` into the reported document, marks
    /// the twin online, re-arms `offline` and publishes an alert for every
    /// value that left its desired range.
    fn apply_report(&self, method: &str, patch: &Value) -> Result<(), Error> {
        let (before, after) = apply(REPORTED, method, patch)?;
        let now = clock::now_unix_nanos();
        let desired = load(DESIRED)?;
        for (property, range) in twin::crossings(&desired, &before, &after) {
            let value = &after[&property];
            let alert = Alert {
                device_id: &self.id,
                property: &property,
                value,
                min: range.min,
                max: range.max,
                at: clock::format_rfc3339(now),
            };
            dapr::publish_json(ALERTS_PUBSUB, ALERTS_TOPIC, &alert)?;
            bump(ALERT_COUNT)?;
        }
        state::set(LAST_REPORT, &now)?;
        state::set(STATUS, &Status::Online)?;
        arm(now, now, window()?)
    }

    fn stats(&mut self, _: IgnoredAny) -> Result<Stats, Error> {
        Ok(Stats {
            telemetry_count: state::get_or_default(TELEMETRY_COUNT)?,
            alert_count: state::get_or_default(ALERT_COUNT)?,
        })
    }

    fn desire(&mut self, patch: Value) -> Result<View, Error> {
        apply(DESIRED, "desire", &patch)?;
        view()
    }

    fn get(&mut self, _: IgnoredAny) -> Result<View, Error> {
        view()
    }

    fn delta(&mut self, _: IgnoredAny) -> Result<Map<String, Value>, Error> {
        Ok(twin::delta(&load(DESIRED)?, &load(REPORTED)?))
    }

    fn configure(&mut self, req: Configure) -> Result<Config, Error> {
        let Some(offline_after) = req.offline_after else {
            return config();
        };
        let window = twin::parse_window(&offline_after).map_err(Error::bad_request)?;
        let config = Config { offline_after };
        state::set(CONFIG, &config)?;
        let last_report = state::get::<u64>(LAST_REPORT)?;
        if let Some(last_report) = last_report
            && state::get_or_default::<Status>(STATUS)? == Status::Online
        {
            arm(last_report, clock::now_unix_nanos(), window)?;
        }
        Ok(config)
    }
}

/// Registers `offline` to fire `window` after `last_report`, counted from
/// `now` and rounded up to the millisecond (at once if that is past).
fn arm(last_report: u64, now: u64, window: Duration) -> Result<(), Error> {
    let since = Duration::from_nanos(now.saturating_sub(last_report));
    let left = window.saturating_sub(since);
    let due = Duration::from_millis(
        u64::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX),
    );
    scheduling::set_reminder(
        OFFLINE_REMINDER,
        &Reminder::after(due).data(&Armed { last_report }),
    )
}

/// The settings, or the defaults.
fn config() -> Result<Config, Error> {
    state::get_or_default(CONFIG)
}

/// The configured offline window.
fn window() -> Result<Duration, Error> {
    twin::parse_window(&config()?.offline_after)
        .map_err(|e| Error::internal(format!("stored settings are invalid: {e}")))
}

/// Merges `patch` into the document under `key`; bumps the version if the
/// document changed. The document before and after.
fn apply(key: &str, method: &str, patch: &Value) -> Result<(Document, Document), Error> {
    let Value::Object(patch) = patch else {
        return Err(Error::bad_request(format!(
            "`{method}` expects a JSON object of properties"
        )));
    };
    let before = load(key)?;
    let mut after = before.clone();
    twin::merge_object(&mut after, patch);
    if after != before {
        state::set(key, &after)?;
        bump(VERSION)?;
    }
    Ok((before, after))
}

/// Adds one to the counter under `key`.
fn bump(key: &str) -> Result<(), Error> {
    let n = state::get_or_default::<u64>(key)?.saturating_add(1);
    state::set(key, &n)
}

fn load(key: &str) -> Result<Map<String, Value>, Error> {
    state::get_or_default(key)
}

fn view() -> Result<View, Error> {
    let reported = load(REPORTED)?;
    let desired = load(DESIRED)?;
    Ok(View {
        delta: twin::delta(&desired, &reported),
        reported,
        desired,
        version: state::get_or_default(VERSION)?,
        status: state::get_or_default(STATUS)?,
        last_report: state::get::<u64>(LAST_REPORT)?.map(clock::format_rfc3339),
    })
}

impl Actor for DeviceTwin {
    fn activate(self_ref: ActorRef) -> Result<Self, Error> {
        Ok(DeviceTwin {
            id: self_ref.actor_id,
        })
    }

    fn methods() -> Methods<Self> {
        Methods::new()
            .method("report", Self::report)
            .method("telemetry", Self::telemetry)
            .method("desire", Self::desire)
            .method("get", Self::get)
            .method("delta", Self::delta)
            .method("stats", Self::stats)
            .method("configure", Self::configure)
    }

    fn on_reminder(&mut self, name: &str, data: &[u8]) -> Result<(), Error> {
        if name != OFFLINE_REMINDER {
            wapr_actor::warn!("ignoring unknown reminder `{name}`");
            return Ok(());
        }
        let armed: Armed = wapr_actor::from_json(data)?;
        if state::get::<u64>(LAST_REPORT)? == Some(armed.last_report) {
            state::set(STATUS, &Status::Offline)?;
        }
        Ok(())
    }
}

wapr_actor::export_actor!(DeviceTwin);

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wapr_actor::ErrorKind;
    use wapr_actor::testing::{self, TestActor};

    use super::*;

    /// 2024-05-01T00:00:00Z.
    const T0: u64 = 1_714_521_600_000_000_000;
    const SECOND: u64 = 1_000_000_000;

    fn device() -> TestActor<DeviceTwin> {
        TestActor::activate("device-twin", "dev-1").unwrap()
    }

    fn offline_reminder() -> Option<(String, Value)> {
        testing::reminders()
            .get(OFFLINE_REMINDER)
            .map(|r| (r.due_time.clone(), r.data_json().unwrap()))
    }

    #[test]
    fn report_desire_and_delta() {
        let mut d = device();
        let empty: Value = d.invoke_json("get", &()).unwrap();
        assert_eq!(
            empty,
            json!({"reported": {}, "desired": {}, "delta": {}, "version": 0,
                   "status": "unknown", "lastReport": null})
        );

        d.invoke_json::<_, Value>("report", &json!({"temp": 21.5, "fw": "1.0"}))
            .unwrap();
        let v: Value = d
            .invoke_json("desire", &json!({"temp": 20, "fw": "1.0"}))
            .unwrap();
        assert_eq!(v["delta"], json!({"temp": 20}));
        assert_eq!(v["version"], json!(2));

        let v: Value = d
            .invoke_json("report", &json!({"temp": 20.0, "fw": null}))
            .unwrap();
        assert_eq!(v["reported"], json!({"temp": 20.0}));
        assert_eq!(v["delta"], json!({"fw": "1.0"}));
        assert_eq!(v["version"], json!(3));
        assert_eq!(
            d.invoke_json::<_, Value>("delta", &()).unwrap(),
            json!({"fw": "1.0"})
        );

        assert_eq!(testing::state_json(REPORTED), Some(json!({"temp": 20.0})));
        assert_eq!(
            testing::state_json(DESIRED),
            Some(json!({"temp": 20, "fw": "1.0"}))
        );
        assert_eq!(testing::state_json(VERSION), Some(json!(3)));
    }

    #[test]
    fn a_patch_that_changes_nothing_keeps_the_version() {
        let mut d = device();
        d.invoke_json::<_, Value>("report", &json!({"temp": 1}))
            .unwrap();
        let v: Value = d
            .invoke_json("report", &json!({"temp": 1, "gone": null}))
            .unwrap();
        assert_eq!(v["version"], json!(1));
    }

    #[test]
    fn non_object_patches_are_bad_requests() {
        let mut d = device();
        for payload in [&b"[1]"[..], b"3", b"", b"null", b"{"] {
            let err = d.invoke("report", payload).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{payload:?}: {err}");
        }
        assert!(testing::state_keys().is_empty());
        assert!(
            testing::reminders().is_empty(),
            "a failed report arms nothing"
        );
    }

    #[test]
    fn a_silent_device_goes_offline() {
        let mut d = device();
        testing::set_unix_nanos(T0);
        let v: Value = d.invoke_json("report", &json!({"temp": 1})).unwrap();
        assert_eq!(v["status"], json!("online"));
        assert_eq!(v["lastReport"], json!("2024-05-01T00:00:00Z"));
        assert_eq!(
            offline_reminder(),
            Some(("300s".into(), json!({"lastReport": T0})))
        );

        // A heartbeat re-arms the reminder from the new report.
        testing::set_unix_nanos(T0 + 60 * SECOND);
        let v: Value = d.invoke_json("report", &json!({})).unwrap();
        assert_eq!(v["version"], json!(1), "a heartbeat changes no document");
        assert_eq!(v["lastReport"], json!("2024-05-01T00:01:00Z"));
        assert_eq!(
            offline_reminder(),
            Some(("300s".into(), json!({"lastReport": T0 + 60 * SECOND})))
        );

        testing::set_unix_nanos(T0 + 360 * SECOND);
        d.fire_reminder(OFFLINE_REMINDER).unwrap();
        let v: Value = d.invoke_json("get", &()).unwrap();
        assert_eq!(v["status"], json!("offline"));
        assert_eq!(v["lastReport"], json!("2024-05-01T00:01:00Z"));
        assert!(offline_reminder().is_none(), "the one-shot is gone");

        // The next report brings it back.
        let v: Value = d.invoke_json("report", &json!({})).unwrap();
        assert_eq!(v["status"], json!("online"));
    }

    #[test]
    fn a_stale_tick_changes_nothing() {
        let mut d = device();
        testing::set_unix_nanos(T0);
        d.invoke_json::<_, Value>("report", &json!({})).unwrap();
        testing::set_unix_nanos(T0 + SECOND);
        d.invoke_json::<_, Value>("report", &json!({})).unwrap();
        // A tick armed for the first report, delivered after the second.
        let stale = serde_json::to_vec(&json!({"lastReport": T0})).unwrap();
        d.fire_reminder_with(OFFLINE_REMINDER, &stale).unwrap();
        assert_eq!(testing::state_json(STATUS), Some(json!("online")));
        // Unknown reminders are ignored.
        d.fire_reminder_with("other", b"").unwrap();
    }

    #[test]
    fn configure_sets_the_window_and_rearms_an_online_twin() {
        let mut d = device();
        let c: Value = d.invoke_json("configure", &json!({})).unwrap();
        assert_eq!(c, json!({"offlineAfter": "5m"}), "the default");
        let c: Value = d
            .invoke_json("configure", &json!({"offlineAfter": "90s"}))
            .unwrap();
        assert_eq!(c, json!({"offlineAfter": "90s"}));
        assert!(
            testing::reminders().is_empty(),
            "nothing to arm before a report"
        );

        testing::set_unix_nanos(T0);
        d.invoke_json::<_, Value>("report", &json!({})).unwrap();
        assert_eq!(offline_reminder().unwrap().0, "90s");

        // Ten seconds later the window grows to 1h: due 1h after the report.
        testing::set_unix_nanos(T0 + 10 * SECOND);
        d.invoke_json::<_, Value>("configure", &json!({"offlineAfter": "1h"}))
            .unwrap();
        assert_eq!(
            offline_reminder(),
            Some(("3590s".into(), json!({"lastReport": T0})))
        );
        // Rounded up to the millisecond.
        testing::set_unix_nanos(T0 + 10 * SECOND + 1);
        d.invoke_json::<_, Value>("configure", &json!({"offlineAfter": "1h"}))
            .unwrap();
        assert_eq!(offline_reminder().unwrap().0, "3590s");
        testing::set_unix_nanos(T0 + 10 * SECOND + 1_000_001);
        d.invoke_json::<_, Value>("configure", &json!({"offlineAfter": "1h"}))
            .unwrap();
        assert_eq!(offline_reminder().unwrap().0, "3589999ms");
        // Shrunk below the time already passed: due at once.
        d.invoke_json::<_, Value>("configure", &json!({"offlineAfter": "5s"}))
            .unwrap();
        assert_eq!(offline_reminder().unwrap().0, "0s");
        assert_eq!(
            testing::state_json(CONFIG),
            Some(json!({"offlineAfter": "5s"}))
        );

        // An offline twin is not re-armed.
        d.fire_reminder(OFFLINE_REMINDER).unwrap();
        d.invoke_json::<_, Value>("configure", &json!({"offlineAfter": "2m"}))
            .unwrap();
        assert!(offline_reminder().is_none());
    }

    #[test]
    fn invalid_windows_are_bad_requests() {
        let mut d = device();
        for payload in [
            json!({"offlineAfter": "5 minutes"}),
            json!({"offlineAfter": "0s"}),
            json!({"offlineAfter": 300}),
            json!({"offline": "5m"}),
        ] {
            let err = d
                .invoke_json::<_, Value>("configure", &payload)
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{payload}: {err}");
        }
        assert!(testing::state_keys().is_empty());
    }

    fn alerts() -> Vec<Value> {
        testing::published()
            .iter()
            .map(|event| {
                assert_eq!(
                    (event.pubsub.as_str(), event.topic.as_str()),
                    (ALERTS_PUBSUB, ALERTS_TOPIC)
                );
                assert_eq!(event.content_type, "application/json");
                event.data_json().unwrap()
            })
            .collect()
    }

    fn stats(d: &mut TestActor<DeviceTwin>) -> Value {
        d.invoke_json("stats", &()).unwrap()
    }

    #[test]
    fn an_alert_is_published_when_a_value_leaves_its_range() {
        let mut d = device();
        testing::set_unix_nanos(T0);
        d.invoke_json::<_, Value>("desire", &json!({"temp": {"min": 18, "max": 24}}))
            .unwrap();
        let v: Value = d.invoke_json("report", &json!({"temp": 21})).unwrap();
        assert_eq!(v["delta"], json!({}), "a number inside meets the range");
        assert!(alerts().is_empty());

        let v: Value = d.invoke_json("report", &json!({"temp": 30.5})).unwrap();
        assert_eq!(v["delta"], json!({"temp": {"min": 18, "max": 24}}));
        assert_eq!(
            alerts(),
            [
                json!({"deviceId": "dev-1", "property": "temp", "value": 30.5,
                    "min": 18, "max": 24, "at": "2024-05-01T00:00:00Z"})
            ]
        );
        // Still outside, or outside on the other side: no new alert.
        d.invoke_json::<_, Value>("report", &json!({"temp": 31}))
            .unwrap();
        d.invoke_json::<_, Value>("report", &json!({})).unwrap();
        d.invoke_json::<_, Value>("report", &json!({"temp": 10}))
            .unwrap();
        assert_eq!(alerts().len(), 1);
        // Back inside, then out again: a second alert.
        d.invoke_json::<_, Value>("report", &json!({"temp": 20}))
            .unwrap();
        testing::set_unix_nanos(T0 + SECOND);
        d.invoke_json::<_, Value>("report", &json!({"temp": 17}))
            .unwrap();
        let all = alerts();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1]["value"], json!(17));
        assert_eq!(all[1]["at"], json!("2024-05-01T00:00:01Z"));
        assert_eq!(stats(&mut d), json!({"telemetryCount": 0, "alertCount": 2}));

        // A desire that moves the range publishes nothing; open bounds are null.
        d.invoke_json::<_, Value>("desire", &json!({"temp": {"max": 15}, "hum": {"max": 60}}))
            .unwrap();
        assert_eq!(alerts().len(), 2);
        d.invoke_json::<_, Value>("report", &json!({"hum": 75, "temp": null}))
            .unwrap();
        let all = alerts();
        assert_eq!(all.len(), 3);
        assert_eq!(
            (&all[2]["property"], &all[2]["min"], &all[2]["max"]),
            (&json!("hum"), &Value::Null, &json!(60))
        );
    }

    #[test]
    fn a_failed_report_publishes_nothing() {
        let mut d = device();
        d.invoke_json::<_, Value>("desire", &json!({"a": {"max": 1}, "b": {"max": 1}}))
            .unwrap();
        // Two alerts in one turn; the second is refused, so the turn fails
        // and the first is dropped with it.
        testing::deny_publish(ALERTS_PUBSUB, ALERTS_TOPIC);
        let err = d
            .invoke_json::<_, Value>("report", &json!({"a": 5, "b": 5}))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Application);
        assert!(
            err.message().starts_with(
                "permission-denied: actor type device-twin may not publish to pubsub/alerts"
            ),
            "{err}"
        );
        assert!(testing::published().is_empty());
        assert_eq!(
            testing::state_json(REPORTED),
            None,
            "the report changed nothing"
        );
        assert_eq!(stats(&mut d)["alertCount"], json!(0));
    }

    #[test]
    fn a_turn_that_fails_after_publishing_sends_nothing() {
        let mut d = device();
        d.invoke_json::<_, Value>("desire", &json!({"temp": {"max": 1}}))
            .unwrap();
        // Settings that no longer parse make the report fail after its
        // alert was published (when it re-arms `offline`).
        testing::set_state_json(CONFIG, &json!({"offlineAfter": "soon"}));
        let err = d
            .invoke_json::<_, Value>("report", &json!({"temp": 5}))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
        assert!(
            testing::published().is_empty(),
            "the failed turn's alert is dropped"
        );
        assert_eq!(stats(&mut d)["alertCount"], json!(0));
        assert_eq!(testing::state_json(REPORTED), None);

        testing::set_state_json(CONFIG, &json!({"offlineAfter": "5m"}));
        d.invoke_json::<_, Value>("report", &json!({"temp": 5}))
            .unwrap();
        assert_eq!(alerts().len(), 1);
    }

    #[test]
    fn telemetry_is_applied_as_a_report_and_counted() {
        let mut d = device();
        testing::set_unix_nanos(T0);
        d.invoke_json::<_, Value>("desire", &json!({"temperature": {"min": 0, "max": 40}}))
            .unwrap();
        let v: Value = d
            .invoke_json(
                "telemetry",
                &json!({"deviceId": "dev-1", "temperature": 21.5, "battery": 0.9}),
            )
            .unwrap();
        assert_eq!(v["reported"], json!({"temperature": 21.5, "battery": 0.9}));
        assert_eq!(v["status"], json!("online"));
        assert_eq!(v["lastReport"], json!("2024-05-01T00:00:00Z"));
        assert!(offline_reminder().is_some(), "telemetry re-arms `offline`");
        d.invoke_json::<_, Value>("telemetry", &json!({"temperature": 45}))
            .unwrap();
        assert_eq!(alerts().len(), 1, "telemetry crossing the range alerts");
        assert_eq!(stats(&mut d), json!({"telemetryCount": 2, "alertCount": 1}));

        // Telemetry of another device, or not an object: refused, not counted.
        for payload in [
            json!({"deviceId": "dev-2", "temperature": 1}),
            json!({"deviceId": 7}),
            json!([1]),
        ] {
            let err = d
                .invoke_json::<_, Value>("telemetry", &payload)
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{payload}: {err}");
        }
        let v: Value = d.invoke_json("get", &()).unwrap();
        assert_eq!(v["reported"]["temperature"], json!(45));
        assert_eq!(stats(&mut d)["telemetryCount"], json!(2));
        assert_eq!(testing::state_json(TELEMETRY_COUNT), Some(json!(2)));
    }
}
