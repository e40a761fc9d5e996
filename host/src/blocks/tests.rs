//! The building-block client against the stand-in sidecar on 127.0.0.1:
//! what goes over the wire, field by field; grants; the API token;
//! deadlines; an unreachable sidecar.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use wapr_proto::dapr::proto::common::v1::http_extension::Verb;

use super::sidecar::SidecarBlocks;
use super::standin::{Recorded, StandIn};
use super::*;
use crate::config::{DaprGrants, TopicGrant};

const T: Duration = Duration::from_secs(5);

/// Serves `standin` on a fresh loopback port until the test ends.
async fn serve(standin: StandIn) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(standin.into_service())
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    format!("http://{address}")
}

fn publish(topic: &str) -> Publish {
    Publish {
        pubsub: "pubsub".into(),
        topic: topic.into(),
        data: Bytes::from_static(br#"{"temp":91}"#),
        content_type: "application/json".into(),
        metadata: [("cloudevent.id".to_string(), "turn-7.0".to_string())].into(),
    }
}

#[tokio::test]
async fn each_call_reaches_the_sidecar_field_by_field() {
    let standin = StandIn::new().with_api_token("s3cr3t").with_secret(
        "vault",
        "db",
        [("db".to_string(), "pw".to_string())].into(),
    );
    let endpoint = serve(standin.clone()).await;
    let blocks = SidecarBlocks::connect_lazy(&endpoint, Some("s3cr3t")).expect("client");
    let token = Some("s3cr3t".to_string());

    blocks.publish(publish("alerts"), T).await.expect("publish");
    let reply = blocks
        .invoke(
            Invoke {
                app_id: "billing".into(),
                method: "charge".into(),
                verb: Verb::Post,
                data: Bytes::from_static(b"{}"),
                content_type: "application/json".into(),
            },
            T,
        )
        .await
        .expect("invoke");
    assert_eq!(
        reply,
        InvokeReply {
            data: Bytes::from_static(b"{}"),
            content_type: "application/json".into()
        }
    );
    let sent = blocks
        .binding(
            BindingCall {
                name: "sms".into(),
                operation: "create".into(),
                data: Bytes::from_static(b"hello"),
                metadata: [("toNumber".to_string(), "+100".to_string())].into(),
            },
            T,
        )
        .await
        .expect("binding");
    assert_eq!(sent.data, Bytes::from_static(b"hello"));
    assert_eq!(sent.metadata["operation"], "create");
    let secret = blocks
        .secret("vault".into(), "db".into(), T)
        .await
        .expect("secret");
    assert_eq!(
        secret,
        HashMap::from([("db".to_string(), "pw".to_string())])
    );

    assert_eq!(
        standin.records(),
        [
            Recorded::PublishEvent {
                pubsub_name: "pubsub".into(),
                topic: "alerts".into(),
                data: br#"{"temp":91}"#.to_vec(),
                data_content_type: "application/json".into(),
                metadata: [("cloudevent.id".to_string(), "turn-7.0".to_string())].into(),
                api_token: token.clone(),
            },
            Recorded::InvokeService {
                id: "billing".into(),
                method: "charge".into(),
                data_type_url: String::new(),
                data: b"{}".to_vec(),
                content_type: "application/json".into(),
                verb: Some("POST".into()),
                api_token: token.clone(),
            },
            Recorded::InvokeBinding {
                name: "sms".into(),
                data: b"hello".to_vec(),
                metadata: [("toNumber".to_string(), "+100".to_string())].into(),
                operation: "create".into(),
                api_token: token.clone(),
            },
            Recorded::GetSecret {
                store_name: "vault".into(),
                key: "db".into(),
                metadata: HashMap::new(),
                api_token: token,
            },
        ]
    );

    let missing = blocks
        .secret("vault".into(), "nope".into(), T)
        .await
        .expect_err("unknown key");
    assert!(
        matches!(
            &missing,
            BlockError::Failed {
                code: tonic::Code::NotFound,
                ..
            }
        ),
        "{missing}"
    );
}

#[tokio::test]
async fn an_ungranted_call_is_refused_and_never_sent() {
    let standin = StandIn::new();
    let endpoint = serve(standin.clone()).await;
    let sidecar = Arc::new(SidecarBlocks::connect_lazy(&endpoint, None).expect("client"));
    let grants = DaprGrants {
        publish: vec![TopicGrant {
            pubsub: "pubsub".into(),
            topic: "alerts".into(),
        }],
        ..DaprGrants::default()
    };
    let twin = Granted::new(sidecar, "device-twin", grants);

    twin.publish(publish("alerts"), T).await.expect("granted");
    let err = twin
        .publish(publish("billing"), T)
        .await
        .expect_err("other topic");
    assert!(matches!(err, BlockError::Denied(_)), "{err}");
    assert!(
        err.to_string().contains("publish to pubsub/billing"),
        "{err}"
    );
    let err = twin
        .secret("vault".into(), "db".into(), T)
        .await
        .expect_err("no secrets granted");
    assert!(matches!(err, BlockError::Denied(_)), "{err}");
    let err = twin
        .invoke(
            Invoke {
                app_id: "billing".into(),
                method: "charge".into(),
                verb: Verb::Post,
                data: Bytes::new(),
                content_type: String::new(),
            },
            T,
        )
        .await
        .expect_err("no invoke granted");
    assert!(matches!(err, BlockError::Denied(_)), "{err}");
    assert_eq!(
        standin.records().len(),
        1,
        "only the granted publish was sent"
    );
}

#[tokio::test]
async fn a_wrong_api_token_is_unauthenticated() {
    let endpoint = serve(StandIn::new().with_api_token("right")).await;
    for token in [None, Some("wrong")] {
        let blocks = SidecarBlocks::connect_lazy(&endpoint, token).expect("client");
        let err = blocks
            .publish(publish("alerts"), T)
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, BlockError::Failed { code: tonic::Code::Unauthenticated, message, .. } if message == "Unauthorized"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_call_ends_at_its_timeout() {
    let standin = StandIn::new().with_delay(Duration::from_secs(5));
    let endpoint = serve(standin).await;
    let blocks = SidecarBlocks::connect_lazy(&endpoint, None).expect("client");
    let started = Instant::now();
    let err = blocks
        .publish(publish("alerts"), Duration::from_millis(200))
        .await
        .expect_err("too slow");
    assert!(matches!(err, BlockError::Timeout { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "ended at the timeout, not the sidecar's delay: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_sidecar_is_unavailable() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let blocks = SidecarBlocks::connect_lazy(&format!("{address}"), None).expect("client");
    let err = blocks
        .publish(publish("alerts"), T)
        .await
        .expect_err("nothing there");
    assert!(matches!(err, BlockError::Unavailable { .. }), "{err}");
}
