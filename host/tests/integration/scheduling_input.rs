//! Bad input on Dapr's reminder and timer routes (dapr-actors-next.md §1.1
//! to §1.3): malformed times, negative periods, names and ids Dapr refuses,
//! bodies that are not Dapr's JSON, a mebibyte of data, thousands of
//! reminders on one type. Each gets Dapr's status and error code, leaves
//! nothing registered, and the node goes on serving.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{TestNode, assert_dapr_error};

/// `{method} {base}{path}` with a raw body: status and JSON reply (`Null`
/// when empty, a string when not JSON).
async fn send(
    node: &TestNode,
    method: reqwest::Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> (u16, Value) {
    let mut request = node.client.request(method, format!("{}{path}", node.base));
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, value)
}

async fn post_raw(node: &TestNode, path: &str, body: &str) -> (u16, Value) {
    send(
        node,
        reqwest::Method::POST,
        path,
        Some(body.as_bytes().to_vec()),
    )
    .await
}

/// The reminders and timers of `testbed/{id}` this node knows.
async fn registered(node: &TestNode, id: &str) -> (Vec<Value>, Vec<Value>) {
    let (status, body) = node
        .get(&format!("/wapr/v1/reminders?type=testbed&id={id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let list = |key: &str| body[key].as_array().cloned().unwrap_or_default();
    (list("reminders"), list("timers"))
}

/// The node still registers, reads back and deletes a reminder, and runs a
/// call.
async fn still_serves(node: &TestNode) {
    let path = "/v1.0/actors/testbed/healthy/reminders/check";
    let (status, body) = post_raw(node, path, r#"{"dueTime":"1h","data":"ok"}"#).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = send(node, reqwest::Method::GET, path, None).await;
    assert_eq!((status, &body["data"]), (200, &json!("ok")), "{body}");
    let (status, body) = send(node, reqwest::Method::DELETE, path, None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        node.ok("testbed", "healthy", "echo", json!("alive")).await,
        json!("alive")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_reminder_times_get_daprs_error_and_leave_nothing() {
    let node = TestNode::start().await;
    let path = "/v1.0/actors/testbed/times/reminders/r";
    let create = |fragment: &str| format!("error creating actor reminder: {fragment}");
    for (body, fragment) in [
        // Go durations with a bad unit; garbage ISO-8601; repetitions where
        // none may be; an impossible date.
        (
            r#"{"dueTime":"1x"}"#,
            create("job failed validation: due time format not recognized"),
        ),
        (
            r#"{"dueTime":"P"}"#,
            create("job failed validation: due time format not recognized"),
        ),
        (
            r#"{"dueTime":"2020-13-45T00:00:00Z"}"#,
            create("job failed validation: due time format not recognized"),
        ),
        (
            r#"{"dueTime":"R2/PT1S"}"#,
            create("job failed validation: repeats not supported for due time"),
        ),
        (
            r#"{"period":"1x"}"#,
            create("unsupported period format: 1x"),
        ),
        (r#"{"period":"P"}"#, create("unsupported period format: P")),
        (
            r#"{"period":"PTxS"}"#,
            create("unsupported period format: PTxS"),
        ),
        (
            r#"{"period":"P1D"}"#,
            create("unsupported period format: P1D"),
        ),
        // Negative periods and repetitions; periods that never end.
        (
            r#"{"dueTime":"1s","period":"-1s"}"#,
            create("invalid period: -1s is negative"),
        ),
        (
            r#"{"dueTime":"1s","period":"-1h30m"}"#,
            create("invalid period: -1h30m is negative"),
        ),
        (
            r#"{"dueTime":"1s","period":"R-1/PT1S"}"#,
            create("unsupported period format: R-1/PT1S"),
        ),
        (
            r#"{"dueTime":"1s","period":"R5000000000/PT1S"}"#,
            create("unsupported period format: R5000000000/PT1S"),
        ),
        (
            r#"{"dueTime":"1s","period":"PT9999999999999H"}"#,
            create("unsupported period format: PT9999999999999H"),
        ),
        (
            r#"{"dueTime":"1s","period":"0s"}"#,
            create("invalid period: 0s is zero and repeats without end (give R<n>/ repetitions)"),
        ),
        (
            r#"{"period":"PT"}"#,
            create("invalid period: PT is zero and repeats without end (give R<n>/ repetitions)"),
        ),
        // TTLs.
        (
            r#"{"dueTime":"1s","period":"1s","ttl":"garbage"}"#,
            create("job failed validation: ttl format not recognized"),
        ),
        (
            r#"{"dueTime":"1s","period":"1s","ttl":"-1s"}"#,
            create("job failed validation: ttl must be greater than due time"),
        ),
        (
            r#"{"dueTime":"1s","ttl":"5s"}"#,
            create("job failed validation: job must have a schedule to have a ttl"),
        ),
        // No schedule at all (T3).
        (
            r#"{}"#,
            create("job failed validation: job must have either a due time or a schedule"),
        ),
    ] {
        let (status, reply) = post_raw(&node, path, body).await;
        assert_dapr_error(status, &reply, 500, "ERR_ACTOR_REMINDER_CREATE", &fragment);
        assert_eq!(reply["message"], json!(fragment), "{body}");
    }
    let (status, reply) = send(&node, reqwest::Method::GET, path, None).await;
    assert_dapr_error(
        status,
        &reply,
        404,
        "ERR_ACTOR_REMINDER_NOT_FOUND",
        "actor reminder not found: r",
    );
    assert_eq!(registered(&node, "times").await, (vec![], vec![]));

    // A failed overwrite leaves the reminder that was there.
    let (status, _) = post_raw(&node, path, r#"{"dueTime":"1h","data":"kept"}"#).await;
    assert_eq!(status, 204);
    let (status, reply) = post_raw(
        &node,
        path,
        r#"{"dueTime":"1h","period":"-1s","data":"lost"}"#,
    )
    .await;
    assert_eq!(status, 500, "{reply}");
    let (status, reply) = send(&node, reqwest::Method::GET, path, None).await;
    assert_eq!((status, &reply["data"]), (200, &json!("kept")), "{reply}");
    still_serves(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_timer_times_get_daprs_error_and_leave_nothing() {
    let node = TestNode::start_in_memory().await;
    let path = "/v1.0/actors/testbed/times/timers/t";
    let create = |fragment: &str| format!("error creating actor timer: {fragment}");
    for (body, fragment) in [
        (
            r#"{"dueTime":"1x"}"#,
            create("error parsing timer due time: unsupported time/duration format: 1x"),
        ),
        (
            r#"{"dueTime":"P"}"#,
            create("error parsing timer due time: unsupported time/duration format: P"),
        ),
        (
            r#"{"dueTime":"R2/PT1S"}"#,
            create("error parsing timer due time: repetitions are not allowed"),
        ),
        (
            r#"{"period":"1x"}"#,
            create("invalid timer period: parse error: unsupported duration format: 1x"),
        ),
        (
            r#"{"period":"PTxS"}"#,
            create("invalid timer period: parse error: unsupported duration format: PTxS"),
        ),
        (
            r#"{"period":"R-1/PT1S"}"#,
            create("invalid timer period: parse error: unsupported duration format: R-1/PT1S"),
        ),
        (
            r#"{"period":"R0/PT1S"}"#,
            create("invalid timer period: has zero repetitions"),
        ),
        // daprd would fire these back to back without end.
        (
            r#"{"dueTime":"0s","period":"-1s"}"#,
            create("invalid timer period: -1s is negative"),
        ),
        (
            r#"{"dueTime":"0s","period":"-1h30m"}"#,
            create("invalid timer period: -1h30m is negative"),
        ),
        (
            r#"{"dueTime":"0s","period":"1s","ttl":"garbage"}"#,
            create("error parsing timer TTL: unsupported time/duration format: garbage"),
        ),
        (
            r#"{"dueTime":"0s","period":"1s","ttl":"2000-01-01T00:00:00Z"}"#,
            create("timer has already expired"),
        ),
    ] {
        let (status, reply) = post_raw(&node, path, body).await;
        assert_dapr_error(status, &reply, 500, "ERR_ACTOR_TIMER_CREATE", &fragment);
    }
    assert_eq!(registered(&node, "times").await, (vec![], vec![]));

    // A zero period is a one-shot (as in daprd): it fires once and ends.
    let (status, reply) = post_raw(&node, path, r#"{"dueTime":"0s","period":"0s"}"#).await;
    assert_eq!(status, 204, "{reply}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let fires = node.ok("testbed", "times", "fires", Value::Null).await;
        let timers = registered(&node, "times").await.1;
        if fires.as_array().map(Vec::len) == Some(1) && timers.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "{fires} {timers:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fires = node.ok("testbed", "times", "fires", Value::Null).await;
    assert_eq!(fires.as_array().map(Vec::len), Some(1), "{fires}");
    still_serves(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_ids_and_types_dapr_refuses() {
    let node = TestNode::start().await;
    let good = br#"{"dueTime":"1h"}"#.to_vec();
    let reminder_methods = [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::GET,
        reqwest::Method::DELETE,
    ];
    // Names with `/` (T14), `\`, `#`, `?`, a NUL, or too long: 400
    // ERR_BAD_REQUEST for every verb.
    let long = "n".repeat(300);
    for (name, shown) in [
        ("a%2Fb", r#""a/b""#),
        ("a%5Cb", r#""a\\b""#),
        ("a%23b", r#""a#b""#),
        ("a%3Fb", r#""a?b""#),
        ("a%00b", r#""a\0b""#),
        (long.as_str(), "is too long"),
    ] {
        for method in &reminder_methods {
            let body = matches!(*method, reqwest::Method::POST | reqwest::Method::PUT)
                .then(|| good.clone());
            let (status, reply) = send(
                &node,
                method.clone(),
                &format!("/v1.0/actors/testbed/names/reminders/{name}"),
                body,
            )
            .await;
            assert_dapr_error(
                status,
                &reply,
                400,
                "ERR_BAD_REQUEST",
                "invalid request: invalid reminder name",
            );
            assert!(
                reply["message"].as_str().is_some_and(|m| m.contains(shown)),
                "{reply}"
            );
        }
        for (method, body) in [
            (reqwest::Method::POST, Some(good.clone())),
            (reqwest::Method::PUT, Some(good.clone())),
            (reqwest::Method::DELETE, None),
        ] {
            let (status, reply) = send(
                &node,
                method,
                &format!("/v1.0/actors/testbed/names/timers/{name}"),
                body,
            )
            .await;
            assert_dapr_error(
                status,
                &reply,
                400,
                "ERR_BAD_REQUEST",
                "invalid request: invalid timer name",
            );
        }
    }
    // Names daprd lets through but the Scheduler's job names refuse (a
    // DNS-1123 subdomain once `_ : -` and spaces are gone): 500, as daprd
    // answers them. Timers have no such check.
    for name in ["a%25b", "%C3%A9t%C3%A9", "a%40b"] {
        let (status, reply) = post_raw(
            &node,
            &format!("/v1.0/actors/testbed/names/reminders/{name}"),
            r#"{"dueTime":"1h"}"#,
        )
        .await;
        assert_dapr_error(
            status,
            &reply,
            500,
            "ERR_ACTOR_REMINDER_CREATE",
            "error creating actor reminder: job name is invalid",
        );
    }
    // Names that are fine: upper case, spaces, `:`, `_`, `-`.
    for name in ["MyReminder", "a%20b", "a:b_c-d"] {
        let path = format!("/v1.0/actors/testbed/names/reminders/{name}");
        let (status, reply) = post_raw(&node, &path, r#"{"dueTime":"1h"}"#).await;
        assert_eq!(status, 204, "{name}: {reply}");
        let (status, reply) = send(&node, reqwest::Method::DELETE, &path, None).await;
        assert_eq!(status, 204, "{name}: {reply}");
    }

    // Invalid actor ids and types: 400 ERR_MALFORMED_REQUEST, naming them.
    for (path, fragment) in [
        (
            "/v1.0/actors/testbed/a%2Fb/reminders/r",
            r#"invalid actor id "a/b""#,
        ),
        (
            "/v1.0/actors/testbed/a%00b/reminders/r",
            r#"invalid actor id "a\0b""#,
        ),
        (
            "/v1.0/actors/testbed/a%2Fb/timers/t",
            r#"invalid actor id "a/b""#,
        ),
        (
            "/v1.0/actors/tes%2Ftbed/x/reminders/r",
            r#"invalid actor type "tes/tbed""#,
        ),
        (
            "/v1.0/actors/tes%2Ftbed/x/timers/t",
            r#"invalid actor type "tes/tbed""#,
        ),
    ] {
        let (status, reply) = post_raw(&node, path, r#"{"dueTime":"1h"}"#).await;
        assert_dapr_error(status, &reply, 400, "ERR_MALFORMED_REQUEST", fragment);
    }
    let (status, reply) = node.get("/wapr/v1/reminders?type=testbed&id=a%2Fb").await;
    assert_dapr_error(
        status,
        &reply,
        400,
        "ERR_MALFORMED_REQUEST",
        r#"invalid actor id "a/b""#,
    );

    // A type this node does not host (T9), and a reserved one.
    let (status, reply) = post_raw(
        &node,
        "/v1.0/actors/nosuch/x/reminders/r",
        r#"{"dueTime":"1h"}"#,
    )
    .await;
    assert_dapr_error(
        status,
        &reply,
        403,
        "ERR_ACTOR_REMINDER_NON_HOSTED",
        "operations on actor reminders are only possible on hosted actor types",
    );
    let (status, reply) = post_raw(
        &node,
        "/v1.0/actors/nosuch/x/timers/t",
        r#"{"dueTime":"1h"}"#,
    )
    .await;
    assert_dapr_error(
        status,
        &reply,
        500,
        "ERR_ACTOR_TIMER_CREATE",
        "error creating actor timer: can't create timer for actor nosuch||x: actor type not registered",
    );
    for kind in ["reminders/r", "timers/t"] {
        let (status, reply) = post_raw(
            &node,
            &format!("/v1.0/actors/dapr.internal.wf/x/{kind}"),
            r#"{"dueTime":"1h"}"#,
        )
        .await;
        assert_dapr_error(status, &reply, 403, "ERR_ACTOR_TYPE_RESERVED", "reserved");
    }
    assert_eq!(registered(&node, "names").await, (vec![], vec![]));
    still_serves(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_daprs_json_get_err_malformed_request() {
    let node = TestNode::start().await;
    let failed = |detail: &str| format!("failed deserializing HTTP body: {detail}");
    let reminder = "/v1.0/actors/testbed/bodies/reminders/r";
    let timer = "/v1.0/actors/testbed/bodies/timers/t";
    for (path, body, message) in [
        (
            reminder,
            "{not json",
            failed("invalid character 'n' looking for beginning of object key string"),
        ),
        (reminder, "", failed("EOF")),
        (
            reminder,
            "[]",
            failed("json: cannot unmarshal array into Go value of type api.CreateReminderRequest"),
        ),
        (
            reminder,
            "null",
            failed("json: cannot unmarshal null into Go value of type api.CreateReminderRequest"),
        ),
        (
            reminder,
            r#""1s""#,
            failed("json: cannot unmarshal string into Go value of type api.CreateReminderRequest"),
        ),
        (
            reminder,
            r#"{"dueTime":5}"#,
            failed("json: cannot unmarshal number into Go struct field .dueTime of type string"),
        ),
        (
            reminder,
            r#"{"period":true}"#,
            failed("json: cannot unmarshal bool into Go struct field .period of type string"),
        ),
        (
            reminder,
            r#"{"dueTime":"1s","ttl":[]}"#,
            failed("json: cannot unmarshal array into Go struct field .ttl of type string"),
        ),
        (
            reminder,
            r#"{"dueTime":"1s","overwrite":"yes"}"#,
            failed("json: cannot unmarshal string into Go struct field .overwrite of type bool"),
        ),
        (
            reminder,
            r#"{"dueTime":"1s","failure_policy":"drop"}"#,
            failed(
                "json: cannot unmarshal string into Go struct field .failure_policy of type v1.JobFailurePolicy",
            ),
        ),
        (
            timer,
            "{not json",
            failed("invalid character 'n' looking for beginning of object key string"),
        ),
        (
            timer,
            r#"{"dueTime":"1s","callback":5}"#,
            failed("json: cannot unmarshal number into Go struct field .callback of type string"),
        ),
        (
            timer,
            r#"{"dueTime":{}}"#,
            failed("json: cannot unmarshal object into Go struct field .dueTime of type string"),
        ),
    ] {
        let (status, reply) = post_raw(&node, path, body).await;
        assert_dapr_error(status, &reply, 400, "ERR_MALFORMED_REQUEST", &message);
        assert_eq!(reply["message"], json!(message), "{body}");
    }
    assert_eq!(registered(&node, "bodies").await, (vec![], vec![]));
    // As Go's decoder, daprd reads the first JSON value and ignores the rest.
    let (status, reply) = post_raw(&node, reminder, r#"{"dueTime":"1h"} trailing"#).await;
    assert_eq!(status, 204, "{reply}");
    still_serves(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mebibyte_of_data_is_kept_and_delivered_and_past_the_body_limit_is_413() {
    let node = TestNode::start().await;
    // 1 MiB of data is within the node's 4 MiB body limit (Dapr's default
    // `--max-body-size`), and within what Dapr's Scheduler keeps.
    let data = "d".repeat(1 << 20);
    let body = serde_json::to_vec(&json!({"dueTime": "1h", "data": data})).expect("json");
    let path = "/v1.0/actors/testbed/big/reminders/r";
    let (status, reply) = send(&node, reqwest::Method::POST, path, Some(body)).await;
    assert_eq!(status, 204, "{reply}");
    let (status, reply) = send(&node, reqwest::Method::GET, path, None).await;
    assert_eq!(status, 200);
    assert_eq!(reply["data"].as_str().map(str::len), Some(1 << 20));
    assert!(reply["data"] == json!(data), "the data came back whole");

    // A timer with 1 MiB of data delivers it whole.
    let body = serde_json::to_vec(&json!({"dueTime": "0s", "data": data})).expect("json");
    let (status, reply) = send(
        &node,
        reqwest::Method::POST,
        "/v1.0/actors/testbed/big/timers/t",
        Some(body),
    )
    .await;
    assert_eq!(status, 204, "{reply}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let fires = loop {
        let fires = node.ok("testbed", "big", "fires", Value::Null).await;
        if fires.as_array().is_some_and(|f| !f.is_empty()) {
            break fires;
        }
        assert!(Instant::now() < deadline, "the timer never fired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        fires[0]["data"] == json!(data),
        "the fire carried the data whole"
    );

    // Past the body limit: 413, nothing registered.
    let data = "d".repeat(4 << 20);
    let body = serde_json::to_vec(&json!({"dueTime": "1h", "data": data})).expect("json");
    for path in [
        "/v1.0/actors/testbed/big/reminders/huge",
        "/v1.0/actors/testbed/big/timers/huge",
    ] {
        let (status, reply) = send(&node, reqwest::Method::POST, path, Some(body.clone())).await;
        assert_dapr_error(
            status,
            &reply,
            413,
            "ERR_MALFORMED_REQUEST",
            "length limit exceeded",
        );
    }
    let (reminders, timers) = registered(&node, "big").await;
    assert_eq!(reminders.len(), 1);
    assert!(timers.is_empty(), "the one-shot timer ended: {timers:?}");
    let (status, _) = send(&node, reqwest::Method::DELETE, path, None).await;
    assert_eq!(status, 204);
    still_serves(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_reminders_on_one_type_register_list_and_delete() {
    const IDS: usize = 2_000;
    const PER_ID: usize = 10;
    let node = TestNode::start().await;
    let started = Instant::now();
    // Register 20 000 reminders, due in an hour, 32 requests at a time.
    let paths: Vec<String> = (0..IDS)
        .flat_map(|i| {
            (0..PER_ID).map(move |j| format!("/v1.0/actors/testbed/many-{i}/reminders/r{j}"))
        })
        .collect();
    let run = |method: reqwest::Method, want: u16| {
        let paths = paths.clone();
        let client = node.client.clone();
        let base = node.base.clone();
        async move {
            let mut tasks = tokio::task::JoinSet::new();
            for chunk in paths.chunks(paths.len().div_ceil(32)) {
                let chunk = chunk.to_vec();
                let client = client.clone();
                let base = base.clone();
                let method = method.clone();
                tasks.spawn(async move {
                    for path in chunk {
                        let mut request = client.request(method.clone(), format!("{base}{path}"));
                        if method == reqwest::Method::POST {
                            request =
                                request.body(r#"{"dueTime":"1h","period":"24h","data":{"n":1}}"#);
                        }
                        let response = request.send().await.expect("request");
                        let status = response.status().as_u16();
                        let text = response.text().await.unwrap_or_default();
                        assert_eq!(status, want, "{method} {path}: {text}");
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("task");
            }
        }
    };
    run(reqwest::Method::POST, 204).await;
    let registered_in = started.elapsed();

    // The type's listing has all of them; a sample of actors, theirs.
    let (status, listing) = node.get("/wapr/v1/reminders?type=testbed").await;
    assert_eq!(status, 200);
    let all = listing["reminders"].as_array().expect("reminders");
    assert_eq!(all.len(), IDS * PER_ID);
    for i in [0, 1, 999, IDS - 1] {
        let (reminders, _) = registered(&node, &format!("many-{i}")).await;
        let names: Vec<&str> = reminders
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        let want: Vec<String> = (0..PER_ID).map(|j| format!("r{j}")).collect();
        assert_eq!(names, want, "many-{i}");
        assert_eq!(reminders[0]["reminder"]["period"], "@every 24h0m0s");
        assert_eq!(reminders[0]["reminder"]["data"], json!({"n": 1}));
    }
    let (status, reply) = send(
        &node,
        reqwest::Method::GET,
        "/v1.0/actors/testbed/many-7/reminders/r3",
        None,
    )
    .await;
    assert_eq!((status, &reply["dueTime"]), (200, &json!("1h")), "{reply}");
    // Registering them activated no actor.
    assert_eq!(node.active_count("testbed").await, 0);

    run(reqwest::Method::DELETE, 204).await;
    let (_, listing) = node.get("/wapr/v1/reminders?type=testbed").await;
    assert_eq!(listing["reminders"], json!([]));
    eprintln!(
        "scheduling_input: {} reminders registered in {registered_in:?}, listed and deleted in {:?} in all",
        IDS * PER_ID,
        started.elapsed()
    );
    still_serves(&node).await;
    node.stop().await;
}
