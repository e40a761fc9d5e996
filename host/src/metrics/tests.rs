use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::prometheus_text;

use super::scrape::Sources;
use super::types::{MAX_METHOD_LABELS, OTHER_METHOD};
use super::*;
use crate::actor_key::ActorKey;

fn text(metrics: &Metrics) -> String {
    let registry = metrics.registry("A", Sources::default());
    let mut out = String::new();
    prometheus_text::encode(&mut out, &registry).expect("encodes");
    out
}

fn sample_lines<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .collect()
}

#[test]
fn a_timer_fire_is_daprds_counter_under_daprds_name() {
    // dapr-actors-next.md §6, T20: one successful timer fire.
    let metrics = Metrics::new();
    metrics.timer_fired("T", true);
    let out = text(&metrics);
    assert_eq!(
        sample_lines(&out, "dapr_runtime_actor_timers_fired_total"),
        [r#"dapr_runtime_actor_timers_fired_total{app_id="A",actor_type="T",success="true"} 1"#],
        "{out}"
    );
    assert!(
        out.contains("# TYPE dapr_runtime_actor_timers_fired_total counter"),
        "{out}"
    );
}

#[test]
fn halts_count_deactivations_and_failures_apart() {
    let metrics = Metrics::new();
    let t = metrics.for_type(&Arc::from("counter"));
    t.halted(true);
    t.halted(true);
    t.halted(false);
    let out = text(&metrics);
    let one = |name: &str| sample_lines(&out, name).join("\n");
    assert!(
        one("dapr_runtime_actor_rebalanced_total").ends_with(" 3"),
        "{out}"
    );
    assert!(
        one("dapr_runtime_actor_deactivated_total").ends_with(" 2"),
        "{out}"
    );
    assert!(
        one("dapr_runtime_actor_deactivated_failed_total").ends_with(" 1"),
        "{out}"
    );
}

#[test]
fn pending_calls_go_back_to_zero_when_the_guard_drops() {
    let metrics = Metrics::new();
    let t = metrics.for_type(&Arc::from("counter"));
    let a = t.pending();
    let b = t.pending();
    assert!(
        text(&metrics).contains(
            r#"dapr_runtime_actor_pending_actor_calls{app_id="A",actor_type="counter"} 2"#
        )
    );
    drop((a, b));
    assert!(
        text(&metrics).contains(
            r#"dapr_runtime_actor_pending_actor_calls{app_id="A",actor_type="counter"} 0"#
        )
    );
}

#[test]
fn turns_carry_type_method_and_outcome_and_limits_are_counted() {
    let metrics = Metrics::new();
    let t = metrics.for_type(&Arc::from("testbed"));
    let key = ActorKey::parse("testbed", "x").expect("valid");
    t.turn("echo", &Ok::<(), CallError>(()), Duration::from_micros(30));
    t.turn(
        "spin",
        &Err::<(), _>(CallError::Timeout {
            actor: key.clone(),
            method: "spin".into(),
            limit: Duration::from_secs(1),
        }),
        Duration::from_secs(1),
    );
    let out = text(&metrics);
    assert!(
        out.contains(r#"wapr_actor_turn_duration_seconds_count{app_id="A",actor_type="testbed",method="echo",outcome="ok"} 1"#),
        "{out}"
    );
    assert!(
        out.contains(r#"wapr_actor_turn_duration_seconds_bucket{app_id="A",actor_type="testbed",method="echo",outcome="ok",le="2.5e-05"} 0"#)
            && out.contains(r#"wapr_actor_turn_duration_seconds_bucket{app_id="A",actor_type="testbed",method="echo",outcome="ok",le="5e-05"} 1"#),
        "{out}"
    );
    assert!(
        out.contains(r#"wapr_actor_turn_duration_seconds_count{app_id="A",actor_type="testbed",method="_other",outcome="deadline"} 1"#),
        "{out}"
    );
    assert!(
        out.contains(
            r#"wapr_guest_limit_hits_total{app_id="A",actor_type="testbed",limit="deadline"} 1"#
        ),
        "{out}"
    );
}

#[test]
fn method_labels_are_capped_per_type() {
    let metrics = Metrics::new();
    let t = metrics.for_type(&Arc::from("counter"));
    for i in 0..MAX_METHOD_LABELS + 10 {
        t.turn(&format!("m{i}"), &Ok::<(), CallError>(()), Duration::ZERO);
    }
    t.turn("m0", &Ok::<(), CallError>(()), Duration::ZERO);
    let out = text(&metrics);
    let counts = sample_lines(&out, "wapr_actor_turn_duration_seconds_count");
    assert_eq!(counts.len(), MAX_METHOD_LABELS + 1, "{out}");
    assert!(
        counts
            .iter()
            .any(|l| l.contains(&format!("method=\"{OTHER_METHOD}\"")) && l.ends_with(" 10")),
        "{counts:?}"
    );
    assert!(
        counts
            .iter()
            .any(|l| l.contains("method=\"m0\"") && l.ends_with(" 2")),
        "{counts:?}"
    );
}

#[test]
fn label_values_are_escaped() {
    let metrics = Metrics::new();
    let t = metrics.for_type(&Arc::from("counter"));
    t.turn("a\"b\\c\nd", &Ok::<(), CallError>(()), Duration::ZERO);
    let out = text(&metrics);
    assert!(out.contains(r#"method="a\"b\\c\nd""#), "{out}");
}

#[test]
fn api_latency_is_in_milliseconds() {
    let metrics = Metrics::new();
    metrics.http_request(
        &HttpLabels {
            method: http_method_label(&axum::http::Method::POST),
            status: 200,
        },
        Duration::from_micros(2_500),
    );
    let out = text(&metrics);
    assert!(
        out.contains(r#"dapr_http_server_latency_sum{app_id="A",method="POST",status="200"} 2.5"#),
        "{out}"
    );
}

#[test]
fn failed_calls_to_unseen_methods_take_no_label() {
    let metrics = Metrics::new();
    let t = metrics.for_type(&Arc::from("counter"));
    let key = ActorKey::parse("counter", "x").expect("valid");
    for i in 0..MAX_METHOD_LABELS * 2 {
        let err = CallError::Trap {
            actor: key.clone(),
            method: format!("probe{i}"),
            message: "unreachable".into(),
        };
        t.turn(&format!("probe{i}"), &Err::<(), _>(err), Duration::ZERO);
    }
    t.turn("increment", &Ok::<(), CallError>(()), Duration::ZERO);
    let out = text(&metrics);
    assert!(
        out.contains(r#"wapr_actor_turn_duration_seconds_count{app_id="A",actor_type="counter",method="increment",outcome="ok"} 1"#),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            r#"wapr_actor_turn_duration_seconds_count{{app_id="A",actor_type="counter",method="_other",outcome="trap"}} {}"#,
            MAX_METHOD_LABELS * 2
        )),
        "{out}"
    );
}
