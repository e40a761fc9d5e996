//! The generated clients and servers use exactly Dapr's gRPC paths.
//!
//! Each generated client is wired straight into the matching generated server
//! (no network) through a recorder that keeps the request path, so a call only
//! succeeds if client and server agree on the path, and the recorder shows
//! what that path is.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tonic::codegen::http;
use tonic::codegen::tokio_stream::{self, Stream, StreamExt};
use tonic::server::NamedService;
use tonic::{Request, Response, Status, Streaming};
use wapr_proto::dapr::proto::internals::v1::{
    Actor, InternalInvokeRequest, InternalInvokeResponse, Reminder,
    service_invocation_client::ServiceInvocationClient,
    service_invocation_server::{self, ServiceInvocation, ServiceInvocationServer},
};
use wapr_proto::dapr::proto::placement::v1::{
    Host, HostOperation, PlacementOrder,
    placement_client::PlacementClient,
    placement_server::{self, Placement, PlacementServer},
};

/// Tower service that records each request path, then forwards it.
#[derive(Clone)]
struct Recorder<S> {
    inner: S,
    paths: Arc<Mutex<Vec<String>>>,
}

impl<S> Recorder<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            paths: Arc::default(),
        }
    }

    fn paths(&self) -> Vec<String> {
        self.paths.lock().expect("lock").clone()
    }
}

impl<S, B> tonic::codegen::Service<http::Request<B>> for Recorder<S>
where
    S: tonic::codegen::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        self.paths
            .lock()
            .expect("lock")
            .push(req.uri().path().to_owned());
        self.inner.call(req)
    }
}

/// Placement stub: acks each host report with an order echoing its version.
struct StubPlacement;

#[tonic::async_trait]
impl Placement for StubPlacement {
    type ReportDaprStatusStream =
        Pin<Box<dyn Stream<Item = Result<PlacementOrder, Status>> + Send + 'static>>;

    async fn report_dapr_status(
        &self,
        request: Request<Streaming<Host>>,
    ) -> Result<Response<Self::ReportDaprStatusStream>, Status> {
        let orders = request.into_inner().map(|host| {
            let host = host?;
            Ok(PlacementOrder {
                tables: None,
                operation: format!("ack:{}", host.id),
                version: host.version.unwrap_or_default(),
            })
        });
        Ok(Response::new(Box::pin(orders)))
    }
}

/// ServiceInvocation stub: answers with the called actor and method.
struct StubInvocation;

#[tonic::async_trait]
impl ServiceInvocation for StubInvocation {
    async fn call_actor(
        &self,
        request: Request<InternalInvokeRequest>,
    ) -> Result<Response<InternalInvokeResponse>, Status> {
        let req = request.into_inner();
        let actor = req.actor.unwrap_or_default();
        let method = req.message.unwrap_or_default().method;
        Ok(Response::new(InternalInvokeResponse {
            status: Some(wapr_proto::dapr::proto::internals::v1::Status {
                code: 200,
                message: format!("{}/{}/{method}", actor.actor_type, actor.actor_id),
                details: vec![],
            }),
            ..Default::default()
        }))
    }

    async fn call_actor_reminder(
        &self,
        request: Request<Reminder>,
    ) -> Result<Response<()>, Status> {
        if request.get_ref().name == "r1" {
            Ok(Response::new(()))
        } else {
            Err(Status::not_found("reminder"))
        }
    }
}

#[test]
fn service_names() {
    assert_eq!(
        placement_server::SERVICE_NAME,
        "dapr.proto.placement.v1.Placement"
    );
    assert_eq!(
        <PlacementServer<StubPlacement> as NamedService>::NAME,
        "dapr.proto.placement.v1.Placement"
    );
    assert_eq!(
        service_invocation_server::SERVICE_NAME,
        "dapr.proto.internals.v1.ServiceInvocation"
    );
    assert_eq!(
        <ServiceInvocationServer<StubInvocation> as NamedService>::NAME,
        "dapr.proto.internals.v1.ServiceInvocation"
    );
}

#[tokio::test]
async fn placement_report_dapr_status_path() {
    let transport = Recorder::new(PlacementServer::new(StubPlacement));
    let mut client = PlacementClient::new(transport.clone());

    let reports = tokio_stream::iter([Host {
        id: "app".into(),
        operation: HostOperation::Lock as i32,
        version: Some(9),
        ..Host::default()
    }]);
    let mut orders = client
        .report_dapr_status(reports)
        .await
        .expect("stream opened")
        .into_inner();
    let order = orders.message().await.expect("order").expect("one order");
    assert_eq!(order.operation, "ack:app");
    assert_eq!(order.version, 9);
    assert!(orders.message().await.expect("clean end").is_none());

    assert_eq!(
        transport.paths(),
        ["/dapr.proto.placement.v1.Placement/ReportDaprStatus"]
    );
}

#[tokio::test]
async fn service_invocation_paths() {
    let transport = Recorder::new(ServiceInvocationServer::new(StubInvocation));
    let mut client = ServiceInvocationClient::new(transport.clone());

    let resp = client
        .call_actor(InternalInvokeRequest {
            actor: Some(Actor {
                actor_type: "Counter".into(),
                actor_id: "c1".into(),
            }),
            message: Some(wapr_proto::dapr::proto::common::v1::InvokeRequest {
                method: "incr".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("call_actor")
        .into_inner();
    let status = resp.status.expect("status");
    assert_eq!(
        (status.code, status.message.as_str()),
        (200, "Counter/c1/incr")
    );

    client
        .call_actor_reminder(Reminder {
            name: "r1".into(),
            ..Default::default()
        })
        .await
        .expect("call_actor_reminder");
    let err = client
        .call_actor_reminder(Reminder::default())
        .await
        .expect_err("stub rejects unnamed reminders");
    assert_eq!(err.code(), tonic::Code::NotFound);

    assert_eq!(
        transport.paths(),
        [
            "/dapr.proto.internals.v1.ServiceInvocation/CallActor",
            "/dapr.proto.internals.v1.ServiceInvocation/CallActorReminder",
            "/dapr.proto.internals.v1.ServiceInvocation/CallActorReminder",
        ]
    );
}

#[tokio::test]
async fn unknown_path_is_unimplemented() {
    // Sanity check that the loopback really routes on the path: a client for
    // one service talking to the other service's server gets Unimplemented.
    let mut client = PlacementClient::new(ServiceInvocationServer::new(StubInvocation));
    let err = client
        .report_dapr_status(tokio_stream::iter([Host::default()]))
        .await
        .expect_err("wrong service");
    assert_eq!(err.code(), tonic::Code::Unimplemented);
}
