//! Dapr's API token on a node's faces (dapr-actors-next.md §4.3): with a
//! token set, every HTTP route family and every gRPC call needs it
//! (health exempt); the sidecar-facing routes take the app token.

use serde_json::json;
use tonic::Code;
use wapr_host::config::{ApiTokens, Token};
use wapr_proto::dapr::proto::runtime::v1::InvokeActorRequest;
use wapr_proto::dapr::proto::runtime::v1::dapr_client::DaprClient;

use crate::support::{TestNode, config};

const TOKEN: &str = "the-api-token";
const APP_TOKEN: &str = "the-app-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_needs_the_token_and_health_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    config.tokens = ApiTokens {
        api: Token::parse(TOKEN).expect("valid"),
        app: Token::parse(APP_TOKEN).expect("valid"),
        cluster: None,
    };
    let node = TestNode::with_config(config, Some(dir)).await;
    let client = reqwest::Client::new();
    let base = &node.base;
    // One route of each family, as (method, path, body).
    let routes: Vec<(reqwest::Method, String, &str)> = vec![
        (
            reqwest::Method::PUT,
            format!("{base}/v1.0/actors/counter/t1/method/increment"),
            "",
        ),
        (
            reqwest::Method::GET,
            format!("{base}/v1.0/actors/counter/t1/state/count"),
            "",
        ),
        (
            reqwest::Method::POST,
            format!("{base}/v1.0/actors/counter/t1/state"),
            "[]",
        ),
        (
            reqwest::Method::PUT,
            format!("{base}/v1.0/actors/testbed/t1/reminders/r"),
            r#"{"dueTime":"1h"}"#,
        ),
        (
            reqwest::Method::PUT,
            format!("{base}/v1.0/actors/testbed/t1/timers/t"),
            r#"{"dueTime":"1h"}"#,
        ),
        (
            reqwest::Method::DELETE,
            format!("{base}/v1.0/actors/counter/t1"),
            "",
        ),
        (
            reqwest::Method::POST,
            format!("{base}/v1.0/publish/pubsub/topic"),
            "{}",
        ),
        (reqwest::Method::GET, format!("{base}/v1.0/metadata"), ""),
        (
            reqwest::Method::GET,
            format!("{base}/wapr/v1/actors?type=counter"),
            "",
        ),
        (reqwest::Method::GET, format!("{base}/wapr/v1/cluster"), ""),
        (
            reqwest::Method::GET,
            format!("{base}/wapr/v1/reminders?type=testbed"),
            "",
        ),
        (reqwest::Method::GET, format!("{base}/no/such/route"), ""),
    ];
    let overlong = "x".repeat(8 * 1024);
    for (method, url, body) in &routes {
        for token in [
            None,
            Some("wrong"),
            Some(""),
            Some(overlong.as_str()),
            Some(APP_TOKEN),
        ] {
            let mut request = client.request(method.clone(), url).body(*body);
            if let Some(token) = token {
                request = request.header("dapr-api-token", token);
            }
            let response = request.send().await.expect("send");
            let status = response.status().as_u16();
            let text = response.text().await.expect("body");
            assert_eq!(
                status,
                401,
                "{method} {url} with {:?}",
                token.map(|t| &t[..t.len().min(8)])
            );
            assert_eq!(text, "invalid api token\n");
        }
        let response = client
            .request(method.clone(), url)
            .header("dapr-api-token", TOKEN)
            .body(*body)
            .send()
            .await
            .expect("send");
        assert_ne!(
            response.status().as_u16(),
            401,
            "{method} {url} with the token"
        );
    }
    // The call with the token really ran.
    let response = client
        .put(format!("{base}/v1.0/actors/counter/t2/method/increment"))
        .header("Dapr-Api-Token", TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.expect("body"), "1");
    // Health is exempt.
    for path in ["/v1.0/healthz", "/v1.0/healthz/outbound"] {
        let response = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), 204, "{path}");
    }
    // The sidecar's calls to its app carry the app token, not the API token.
    for (token, want) in [(None, 401), (Some(TOKEN), 401), (Some(APP_TOKEN), 200)] {
        let mut request = client.get(format!("{base}/dapr/subscribe"));
        if let Some(token) = token {
            request = request.header("dapr-api-token", token);
        }
        assert_eq!(
            request.send().await.expect("send").status().as_u16(),
            want,
            "{token:?}"
        );
    }

    // gRPC: every call, Unauthenticated without the token.
    let addr = node.node.grpc_addr().expect("gRPC");
    let mut grpc = DaprClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let invoke = || InvokeActorRequest {
        actor_type: "counter".into(),
        actor_id: "t3".into(),
        method: "increment".into(),
        ..Default::default()
    };
    for token in [None, Some("wrong"), Some(overlong.as_str())] {
        let mut request = tonic::Request::new(invoke());
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("dapr-api-token", token.parse().expect("ascii"));
        }
        let err = grpc.invoke_actor(request).await.expect_err("no token");
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
        assert_eq!(err.message(), "Unauthorized");
    }
    let mut request = tonic::Request::new(invoke());
    request
        .metadata_mut()
        .insert("dapr-api-token", TOKEN.parse().expect("ascii"));
    let reply = grpc.invoke_actor(request).await.expect("with the token");
    assert_eq!(reply.into_inner().data, b"1");
    let response = client
        .post(node.method_url("counter", "t3", "get"))
        .header("dapr-api-token", TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(
        response.json::<serde_json::Value>().await.expect("json"),
        json!(1)
    );
    node.stop().await;
}
