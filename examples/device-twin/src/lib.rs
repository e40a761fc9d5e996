//! Example actor `device-twin`: the digital twin of an IoT device, with the
//! properties the device reported and the ones an operator desires.
//!
//! | method   | payload                      | reply                  |
//! |----------|------------------------------|------------------------|
//! | `report` | merge-patch of reported      | the twin (as `get`)    |
//! | `desire` | merge-patch of desired       | the twin (as `get`)    |
//! | `get`    | ignored                      | the twin               |
//! | `delta`  | ignored                      | the delta object       |
//!
//! The twin is `{"reported":{...},"desired":{...},"delta":{...},"version":n}`.
//! A patch must be a JSON object and is applied as a JSON merge-patch
//! (RFC 7396: `null` deletes a key, nested objects merge). `delta` holds the
//! top-level desired keys whose value differs from the reported one, with
//! the desired value (numbers compare by value). `version` counts changes:
//! it increments on every `report`/`desire` that changes a document, and a
//! patch that changes nothing leaves it alone.
//!
//! State keys: `reported` and `desired` (JSON objects), `version` (integer).

pub mod twin;

use serde::Serialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};
use wapr_actor::{Actor, ActorRef, Error, Methods, state};

/// State key of the reported properties.
const REPORTED: &str = "reported";
/// State key of the desired properties.
const DESIRED: &str = "desired";
/// State key of the change counter.
const VERSION: &str = "version";

/// The reply of `get`, `report` and `desire`.
#[derive(Debug, Serialize)]
struct View {
    reported: Map<String, Value>,
    desired: Map<String, Value>,
    delta: Map<String, Value>,
    version: u64,
}

/// The device-twin actor; the documents live in state.
#[derive(Debug)]
pub struct DeviceTwin;

impl DeviceTwin {
    fn report(&mut self, patch: Value) -> Result<View, Error> {
        apply(REPORTED, "report", &patch)?;
        view()
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
}

/// Merges `patch` into the document under `key`; bumps the version if the
/// document changed.
fn apply(key: &str, method: &str, patch: &Value) -> Result<(), Error> {
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
        let version = state::get_or_default::<u64>(VERSION)?.saturating_add(1);
        state::set(VERSION, &version)?;
    }
    Ok(())
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
    })
}

impl Actor for DeviceTwin {
    fn activate(_self_ref: ActorRef) -> Result<Self, Error> {
        Ok(DeviceTwin)
    }

    fn methods() -> Methods<Self> {
        Methods::new()
            .method("report", Self::report)
            .method("desire", Self::desire)
            .method("get", Self::get)
            .method("delta", Self::delta)
    }
}

wapr_actor::export_actor!(DeviceTwin);

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wapr_actor::ErrorKind;
    use wapr_actor::testing::{self, TestActor};

    use super::*;

    fn device() -> TestActor<DeviceTwin> {
        TestActor::activate("device-twin", "dev-1").unwrap()
    }

    #[test]
    fn report_desire_and_delta() {
        let mut d = device();
        let empty: Value = d.invoke_json("get", &()).unwrap();
        assert_eq!(
            empty,
            json!({"reported": {}, "desired": {}, "delta": {}, "version": 0})
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
    }
}
