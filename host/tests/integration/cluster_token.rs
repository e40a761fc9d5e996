//! The cluster token (issue 13, part 4): with `WAPR_CLUSTER_TOKEN` set on
//! every member, calls forwarded between nodes carry it and work; a
//! request to a member's internal port without it, or with a wrong one, is
//! refused on every route family (gRPC `CallActor`, `CallActorReminder`,
//! the internal HTTP routes, `/wapr/v1/node`).

use std::time::Duration;

use serde_json::Value;
use tonic::Code;
use wapr_proto::dapr::proto::internals::v1::service_invocation_client::ServiceInvocationClient;
use wapr_proto::dapr::proto::internals::v1::{InternalInvokeRequest, Reminder};

use crate::cluster::start_dev_env;
use crate::support::get_json;

const TOKEN: &str = "cluster-secret-0123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_forward_with_the_cluster_token_and_refuse_requests_without_it() {
    let dev = start_dev_env(2, &[], &[("WAPR_CLUSTER_TOKEN", TOKEN)]);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let node0 = &dev.endpoints[0];
    // Every call through node 0: about half are owned by node 1 and
    // forwarded with the token.
    for i in 0..40 {
        let url = format!("{node0}/v1.0/actors/counter/tok-{i}/method/increment");
        let response = client.put(&url).send().await.expect("call");
        assert_eq!(response.status().as_u16(), 200, "{url}");
    }
    let cluster = get_json(&client, format!("{node0}/wapr/v1/cluster")).await;
    let members: Vec<String> = cluster["cluster"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(members.len(), 2);
    let mut forwarded_to_peer = false;
    for member in &members {
        // HTTP on the internal port: /wapr/v1/node and the internal routes.
        for (method, path) in [
            (reqwest::Method::GET, "/wapr/v1/node".to_string()),
            (
                reqwest::Method::DELETE,
                "/wapr/v1/internal/actors/counter/tok-0".to_string(),
            ),
            (
                reqwest::Method::DELETE,
                "/wapr/v1/internal/actors/testbed/t/timers/x".to_string(),
            ),
        ] {
            let url = format!("http://{member}{path}");
            for token in [None, Some("wrong"), Some("")] {
                let mut request = client.request(method.clone(), &url);
                if let Some(token) = token {
                    request = request.header("wapr-cluster-token", token);
                }
                let response = request.send().await.expect("send");
                assert_eq!(response.status().as_u16(), 401, "{method} {url} {token:?}");
            }
            let response = client
                .request(method.clone(), &url)
                .header("wapr-cluster-token", TOKEN)
                .send()
                .await
                .expect("send");
            assert_ne!(
                response.status().as_u16(),
                401,
                "{method} {url} with the token"
            );
        }
        // gRPC on the internal port.
        let mut grpc = ServiceInvocationClient::connect(format!("http://{member}"))
            .await
            .expect("connect");
        for token in [None, Some("wrong")] {
            let mut request = tonic::Request::new(InternalInvokeRequest::default());
            if let Some(token) = token {
                request
                    .metadata_mut()
                    .insert("wapr-cluster-token", token.parse().expect("ascii"));
            }
            let err = grpc.call_actor(request).await.expect_err("no token");
            assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
            let mut request = tonic::Request::new(Reminder::default());
            if let Some(token) = token {
                request
                    .metadata_mut()
                    .insert("wapr-cluster-token", token.parse().expect("ascii"));
            }
            let err = grpc
                .call_actor_reminder(request)
                .await
                .expect_err("no token");
            assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
        }
        // With the token the request gets past the check (and is judged
        // on its content: an empty request is not a call).
        let mut request = tonic::Request::new(InternalInvokeRequest::default());
        request
            .metadata_mut()
            .insert("wapr-cluster-token", TOKEN.parse().expect("ascii"));
        let outcome = grpc.call_actor(request).await;
        assert!(
            outcome
                .as_ref()
                .err()
                .is_none_or(|e| e.code() != Code::Unauthenticated),
            "{outcome:?}"
        );
        let node: Value = client
            .get(format!("http://{member}/wapr/v1/node"))
            .header("wapr-cluster-token", TOKEN)
            .send()
            .await
            .expect("node")
            .json()
            .await
            .expect("json");
        let http = format!("http://{}", node["http_addr"].as_str().expect("http_addr"));
        if http.trim_end_matches('/') != node0.trim_end_matches('/') {
            // The other node ran calls that reached node 0: forwarded with the token.
            assert!(
                node["live_actors"].as_u64().unwrap_or(0) > 0,
                "nothing was forwarded to {member}: {node}"
            );
            forwarded_to_peer = true;
        }
    }
    assert!(forwarded_to_peer, "no member other than node 0");
}
