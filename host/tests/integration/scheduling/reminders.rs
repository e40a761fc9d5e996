//! Durable reminders through the embedded Scheduler (dapr-actors-next.md
//! §1.1–1.7, §1.5.2): daprd's bodies, errors and schedule, the failure
//! policy, the listing, and registrations made inside a turn.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{
    counts, delete, fires, fires_until, gaps, get, listing, named, poll, post, put, unix_nanos,
};
use crate::support::{TestNode, assert_dapr_error};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_reminder_fires_once_with_its_data() {
    // T1.
    let node = TestNode::start().await;
    let (status, body) = post(
        &node,
        "testbed/r1/reminders/once",
        json!({"dueTime":"0s","data":"foo"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(body, Value::Null, "204 has an empty body");
    fires_until(&node, "r1", Duration::from_secs(10), |f| {
        !named(f, "once").is_empty()
    })
    .await;
    // Done after its one tick: unlisted, and GET finds nothing.
    poll(Duration::from_secs(5), "the reminder to end", || async {
        let listed = listing(&node, "r1").await;
        if listed["reminders"] == json!([]) {
            Ok(())
        } else {
            Err(listed.to_string())
        }
    })
    .await;
    let (status, body) = get(&node, "testbed/r1/reminders/once").await;
    assert_dapr_error(
        status,
        &body,
        404,
        "ERR_ACTOR_REMINDER_NOT_FOUND",
        "actor reminder not found: once",
    );
    let seen = fires(&node, "r1").await;
    assert_eq!(
        seen,
        vec![json!({"kind":"reminder","name":"once","data":"foo","n":1})]
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_with_only_a_period_first_fires_one_period_later() {
    // T2: with the Scheduler the first tick is now + period, not now.
    let node = TestNode::start().await;
    let before = unix_nanos();
    let (status, _) = put(
        &node,
        "testbed/r2/reminders/bench-period",
        json!({"period":"1s"}),
    )
    .await;
    assert_eq!(status, 204);
    let first = poll(Duration::from_secs(10), "the first tick", || async {
        let times = node
            .ok("testbed", "r2", "fire-times", json!(["bench-period"]))
            .await;
        times[0].as_u64().ok_or_else(|| times.to_string())
    })
    .await;
    // Polled every 50 ms, so this is the first tick. 50 ms of slack for
    // timer granularity; an immediate fire would be ~1 s early.
    assert!(
        first >= before + 950_000_000,
        "the first tick came {} ms after registration",
        (first - before) / 1_000_000
    );
    let (status, _) = delete(&node, "testbed/r2/reminders/bench-period").await;
    assert_eq!(status, 204);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_with_five_repetitions_fires_exactly_five_times() {
    // T6.
    let node = TestNode::start().await;
    let (status, _) = post(
        &node,
        "testbed/r5/reminders/five",
        json!({"dueTime":"1s","period":"R5/PT1S"}),
    )
    .await;
    assert_eq!(status, 204);
    // Repetitions are not shown by GET (daprd shows the schedule only).
    let (status, body) = get(&node, "testbed/r5/reminders/five").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"actorID":"r5","actorType":"testbed","dueTime":"1s","period":"@every 1s"})
    );
    fires_until(&node, "r5", Duration::from_secs(20), |f| {
        named(f, "five").len() >= 5
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let seen = fires(&node, "r5").await;
    assert_eq!(counts(&seen, "five"), vec![1, 2, 3, 4, 5], "{seen:?}");
    assert_eq!(listing(&node, "r5").await["reminders"], json!([]));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_reads_back_as_daprd_shows_it_and_deletes() {
    let node = TestNode::start().await;
    // T7.
    let (status, _) = post(
        &node,
        "testbed/1234/reminders/r",
        json!({"data":"reminderdata","dueTime":"1s","period":"1s","ttl":"2552-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(status, 204);
    let response = node
        .client
        .get(format!(
            "{}/v1.0/actors/testbed/1234/reminders/r",
            node.base
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_TYPE],
        "application/json"
    );
    let text = response.text().await.expect("body");
    assert_eq!(
        text,
        r#"{"actorID":"1234","actorType":"testbed","data":"reminderdata","dueTime":"1s","period":"@every 1s","ttl":"2552-01-01T00:00:00Z"}"#
    );
    // Data is kept as raw JSON and shown compacted.
    let response = node
        .client
        .post(format!(
            "{}/v1.0/actors/testbed/1234/reminders/d",
            node.base
        ))
        .body(r#"{"dueTime":"1h","data":{  "foo": [ 12, 4 ] }}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 204);
    let (_, body) = get(&node, "testbed/1234/reminders/d").await;
    assert_eq!(body["data"], json!({"foo":[12,4]}), "{body}");

    // DELETE, then GET: 404; a second DELETE is still 204.
    let (status, _) = delete(&node, "testbed/1234/reminders/r").await;
    assert_eq!(status, 204);
    let (status, body) = get(&node, "testbed/1234/reminders/r").await;
    assert_dapr_error(
        status,
        &body,
        404,
        "ERR_ACTOR_REMINDER_NOT_FOUND",
        "actor reminder not found: r",
    );
    let (status, _) = delete(&node, "testbed/1234/reminders/r").await;
    assert_eq!(status, 204);
    let (status, _) = delete(&node, "testbed/1234/reminders/never-was").await;
    assert_eq!(status, 204);
    // The other one is untouched.
    let (status, _) = get(&node, "testbed/1234/reminders/d").await;
    assert_eq!(status, 200);
    node.stop().await;
}

/// Watches the only reminder of `testbed/{id}` until it is gone; returns
/// each distinct `nextFire` the listing showed (one per delivery attempt:
/// a failed delivery moves it to the retry time).
async fn next_fires_until_gone(node: &TestNode, id: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let listed = listing(node, id).await;
        let Some(reminder) = listed["reminders"].as_array().and_then(|r| r.first()) else {
            return seen;
        };
        if let Some(next) = reminder["nextFire"].as_str()
            && seen.last().map(String::as_str) != Some(next)
        {
            seen.push(next.to_string());
        }
        assert!(
            Instant::now() < deadline,
            "still listed after {within:?}: {listed}; next fires seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_reminder_is_delivered_four_times_per_tick() {
    // T10: the callback fails every time (its record is discarded). The
    // default policy (constant, 1 s, 3 retries) delivers each tick 4 times,
    // 1 s apart, then drops the tick; the schedule stays anchored to the
    // tick, so the next one comes a period after the first delivery.
    let node = TestNode::start().await;
    let (status, _) = post(
        &node,
        "testbed/rf/reminders/bad",
        json!({"dueTime":"1s","period":"R2/PT5S","data":{"fail":true}}),
    )
    .await;
    assert_eq!(status, 204);
    let seen = next_fires_until_gone(&node, "rf", Duration::from_secs(30)).await;
    let gaps = gaps(&seen);
    let expected = [1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0];
    assert!(
        gaps.len() == expected.len()
            && gaps.iter().zip(expected).all(|(g, e)| (g - e).abs() < 1e-6),
        "deliveries at {seen:?}: gaps {gaps:?}, want {expected:?}"
    );
    assert!(named(&fires(&node, "rf").await, "bad").is_empty());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drop_failure_policy_gives_a_failed_tick_up_at_once() {
    // HTTP `failure_policy` is honoured (daprd ignores it: §1.2.3).
    let node = TestNode::start().await;
    let (status, _) = post(
        &node,
        "testbed/rd/reminders/bad",
        json!({"dueTime":"1s","period":"R2/PT2S","data":{"fail":true},
               "failure_policy":{"drop":{}}}),
    )
    .await;
    assert_eq!(status, 204);
    let seen = next_fires_until_gone(&node, "rd", Duration::from_secs(15)).await;
    let gaps = gaps(&seen);
    assert!(
        gaps.len() == 1 && (gaps[0] - 2.0).abs() < 1e-6,
        "one delivery per tick, two ticks: {seen:?}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminder_errors_follow_dapr() {
    let node = TestNode::start().await;
    // T3, T4, T5.
    for (body, fragment) in [
        (json!({}), "job must have either a due time or a schedule"),
        (
            json!({"dueTime":"1s","ttl":"5s"}),
            "job must have a schedule to have a ttl",
        ),
        (json!({"period":"P1D"}), "unsupported period format: P1D"),
    ] {
        let (status, reply) = post(&node, "testbed/e/reminders/bad", body.clone()).await;
        assert_dapr_error(status, &reply, 500, "ERR_ACTOR_REMINDER_CREATE", fragment);
    }
    let (status, body) = get(&node, "testbed/e/reminders/bad").await;
    assert_eq!(status, 404, "nothing was kept: {body}");
    let (status, _) = post(
        &node,
        "testbed/e/reminders/inf",
        json!({"period":"R0/PT1S","dueTime":"1h"}),
    )
    .await;
    assert_eq!(status, 204, "R0 is accepted as infinite");

    // T8: `overwrite:false` on an existing reminder; the default overwrites.
    let (status, _) = post(
        &node,
        "testbed/e/reminders/r",
        json!({"dueTime":"1h","data":"first","overwrite":false}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, reply) = post(
        &node,
        "testbed/e/reminders/r",
        json!({"dueTime":"1h","data":"second","overwrite":false}),
    )
    .await;
    assert_dapr_error(
        status,
        &reply,
        409,
        "ERR_ACTOR_REMINDER_ALREADY_EXISTS",
        "actor reminder already exists: r",
    );
    let (_, body) = get(&node, "testbed/e/reminders/r").await;
    assert_eq!(body["data"], "first");
    let (status, _) = put(
        &node,
        "testbed/e/reminders/r",
        json!({"dueTime":"1h","data":"third"}),
    )
    .await;
    assert_eq!(status, 204);
    let (_, body) = get(&node, "testbed/e/reminders/r").await;
    assert_eq!(body["data"], "third");

    // T9: a type this node does not host, for every verb.
    for (method, body) in [
        (reqwest::Method::POST, Some(json!({"dueTime":"1s"}))),
        (reqwest::Method::GET, None),
        (reqwest::Method::DELETE, None),
    ] {
        let (status, reply) =
            super::send(&node, method.clone(), "nosuch/1/reminders/r", body).await;
        assert_dapr_error(
            status,
            &reply,
            403,
            "ERR_ACTOR_REMINDER_NON_HOSTED",
            "operations on actor reminders are only possible on hosted actor types",
        );
    }

    // A slash in the name; invalid JSON.
    let (status, reply) = post(&node, "testbed/e/reminders/a%2Fb", json!({"dueTime":"1s"})).await;
    assert_dapr_error(status, &reply, 400, "ERR_BAD_REQUEST", "invalid request");
    let response = node
        .client
        .post(format!("{}/v1.0/actors/testbed/e/reminders/j", node.base))
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 400);
    let reply: Value = response.json().await.expect("json error");
    assert_eq!(reply["errorCode"], "ERR_MALFORMED_REQUEST", "{reply}");

    // Other malformed input: a clear error each, and nothing kept.
    for body in [
        json!({"dueTime":"1x"}),
        json!({"dueTime":"1s","period":"-1s"}),
        json!({"dueTime":"1s","period":"R-1/PT1S"}),
        json!({"dueTime":"P"}),
        json!({"dueTime":5}),
    ] {
        let (status, reply) = post(&node, "testbed/e/reminders/m", body.clone()).await;
        assert!(
            status == 400 || status == 500,
            "{body} gave {status} {reply}"
        );
        assert!(reply["errorCode"].is_string(), "{body} gave {reply}");
    }
    let names: Vec<Value> = listing(&node, "e").await["reminders"]
        .as_array()
        .expect("reminders")
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("inf"), json!("r")]);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_shows_an_actors_reminders_and_timers() {
    let node = TestNode::start().await;
    for (path, body) in [
        (
            "testbed/lx/reminders/b",
            json!({"dueTime":"1h","data":{"v":1}}),
        ),
        (
            "testbed/lx/reminders/a",
            json!({"dueTime":"1h","period":"1m"}),
        ),
        ("testbed/ly/reminders/c", json!({"dueTime":"1h"})),
        (
            "testbed/lx/timers/t",
            json!({"dueTime":"1h","callback":"put","data":[1]}),
        ),
    ] {
        let (status, reply) = post(&node, path, body).await;
        assert_eq!(status, 204, "{path}: {reply}");
    }
    let listed = listing(&node, "lx").await;
    let reminders = listed["reminders"].as_array().expect("reminders");
    assert_eq!(reminders.len(), 2, "{listed}");
    assert_eq!(reminders[0]["name"], "a");
    assert_eq!(
        reminders[0]["reminder"],
        json!({"actorID":"lx","actorType":"testbed","dueTime":"1h","period":"@every 1m0s"})
    );
    assert_eq!(reminders[0]["fired"], 0, "{listed}");
    assert!(reminders[0]["nextFire"].is_string(), "{listed}");
    assert_eq!(reminders[1]["name"], "b");
    assert_eq!(reminders[1]["reminder"]["data"], json!({"v":1}));
    let timers = listed["timers"].as_array().expect("timers");
    assert_eq!(timers.len(), 1, "{listed}");
    assert_eq!(timers[0]["name"], "t");
    assert_eq!(timers[0]["actorID"], "lx");
    assert_eq!(timers[0]["callback"], "put");
    assert_eq!(timers[0]["data"], json!([1]));
    assert_eq!(timers[0]["fired"], 0);

    // The whole type.
    let (status, listed) = node.get("/wapr/v1/reminders?type=testbed").await;
    assert_eq!(status, 200);
    let names: Vec<(Value, Value)> = listed["reminders"]
        .as_array()
        .expect("reminders")
        .iter()
        .map(|r| (r["reminder"]["actorID"].clone(), r["name"].clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            (json!("lx"), json!("a")),
            (json!("lx"), json!("b")),
            (json!("ly"), json!("c"))
        ]
    );
    // No type: refused.
    let (status, _) = node.get("/wapr/v1/reminders").await;
    assert_eq!(status, 400);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_set_in_a_turn_exists_only_if_the_turn_commits() {
    let node = TestNode::start().await;
    // Registered, then the turn fails: nothing is left.
    let (status, body) = node
        .call(
            "testbed",
            "tx",
            "set-reminder",
            json!({"name":"doomed","dueTime":"0s","fail":true}),
        )
        .await;
    assert_eq!(status, 500, "{body}");
    // Committed: it fires into `on_reminder`.
    node.ok(
        "testbed",
        "tx",
        "set-reminder",
        json!({"name":"kept","dueTime":"0s","data":{"k":1}}),
    )
    .await;
    let seen = fires_until(&node, "tx", Duration::from_secs(10), |f| {
        !named(f, "kept").is_empty()
    })
    .await;
    assert_eq!(
        named(&seen, "kept"),
        vec![&json!({"kind":"reminder","name":"kept","data":{"k":1},"n":1})]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(named(&fires(&node, "tx").await, "doomed").is_empty());
    let (status, body) = get(&node, "testbed/tx/reminders/doomed").await;
    assert_dapr_error(status, &body, 404, "ERR_ACTOR_REMINDER_NOT_FOUND", "doomed");

    // One set in a turn is seen over HTTP, and one set over HTTP is seen
    // from inside; a cancellation in a failing turn is undone.
    node.ok(
        "testbed",
        "tx",
        "set-reminder",
        json!({"name":"later","dueTime":"1h","data":"x"}),
    )
    .await;
    let (status, body) = get(&node, "testbed/tx/reminders/later").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], "x");
    let (status, _) = post(
        &node,
        "testbed/tx/reminders/outside",
        json!({"dueTime":"1h","period":"R3/PT1M"}),
    )
    .await;
    assert_eq!(status, 204);
    let inside = node
        .ok("testbed", "tx", "get-reminder", json!({"name":"outside"}))
        .await;
    assert_eq!(inside["period"], "@every 1m0s", "{inside}");
    assert_eq!(inside["repetitions"], 3, "{inside}");
    let (status, _) = node
        .call(
            "testbed",
            "tx",
            "delete-reminder",
            json!({"name":"later","fail":true}),
        )
        .await;
    assert_eq!(status, 500);
    let (status, _) = get(&node, "testbed/tx/reminders/later").await;
    assert_eq!(status, 200, "the failed turn's cancellation was undone");
    node.ok("testbed", "tx", "delete-reminder", json!({"name":"later"}))
        .await;
    let (status, _) = get(&node, "testbed/tx/reminders/later").await;
    assert_eq!(status, 404);
    node.stop().await;
}
