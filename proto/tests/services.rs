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
use wapr_proto::dapr::proto::common::v1::{InvokeRequest, InvokeResponse};
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
use wapr_proto::dapr::proto::runtime::v1::{
    BulkStateItem, DeleteStateRequest, ExecuteStateTransactionRequest, GetBulkStateRequest,
    GetBulkStateResponse, GetSecretRequest, GetSecretResponse, GetStateRequest, GetStateResponse,
    InvokeBindingRequest, InvokeBindingResponse, InvokeServiceRequest, PublishEventRequest,
    SaveStateRequest,
    dapr_client::DaprClient,
    dapr_server::{self, Dapr, DaprServer},
};
use wapr_proto::dapr::proto::scheduler::v1::{
    DeleteByMetadataRequest, DeleteByMetadataResponse, DeleteByNamePrefixRequest,
    DeleteByNamePrefixResponse, DeleteJobRequest, DeleteJobResponse, GetJobRequest, GetJobResponse,
    Host as SchedulerHost, Job, ListJobsRequest, ListJobsResponse, NamedJob, ScheduleJobRequest,
    ScheduleJobResponse, WatchHostsRequest, WatchHostsResponse, WatchJobsRequest,
    WatchJobsRequestInitial, WatchJobsRequestResult, WatchJobsResponse,
    scheduler_client::SchedulerClient,
    scheduler_server::{self, Scheduler, SchedulerServer},
    watch_jobs_request::WatchJobRequestType,
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
    async fn report_dapr_status(
        &self,
        request: Request<Streaming<Host>>,
    ) -> Result<Response<BoxStream<PlacementOrder>>, Status> {
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

/// Dapr state stub: echoes keys back, refuses an empty store name.
struct StubState;

fn check_store(name: &str) -> Result<(), Status> {
    if name.is_empty() {
        Err(Status::invalid_argument("no store"))
    } else {
        Ok(())
    }
}

#[tonic::async_trait]
impl Dapr for StubState {
    async fn get_state(
        &self,
        request: Request<GetStateRequest>,
    ) -> Result<Response<GetStateResponse>, Status> {
        let req = request.into_inner();
        check_store(&req.store_name)?;
        Ok(Response::new(GetStateResponse {
            data: req.key.into_bytes(),
            etag: "1".into(),
            metadata: req.metadata,
        }))
    }

    async fn get_bulk_state(
        &self,
        request: Request<GetBulkStateRequest>,
    ) -> Result<Response<GetBulkStateResponse>, Status> {
        let req = request.into_inner();
        check_store(&req.store_name)?;
        let items = req
            .keys
            .into_iter()
            .map(|key| BulkStateItem {
                key,
                ..BulkStateItem::default()
            })
            .collect();
        Ok(Response::new(GetBulkStateResponse { items }))
    }

    async fn save_state(&self, request: Request<SaveStateRequest>) -> Result<Response<()>, Status> {
        check_store(&request.get_ref().store_name)?;
        Ok(Response::new(()))
    }

    async fn delete_state(
        &self,
        request: Request<DeleteStateRequest>,
    ) -> Result<Response<()>, Status> {
        check_store(&request.get_ref().store_name)?;
        Ok(Response::new(()))
    }

    async fn execute_state_transaction(
        &self,
        request: Request<ExecuteStateTransactionRequest>,
    ) -> Result<Response<()>, Status> {
        check_store(&request.get_ref().store_name)?;
        if request.get_ref().operations.is_empty() {
            return Err(Status::aborted("empty"));
        }
        Ok(Response::new(()))
    }

    async fn invoke_service(
        &self,
        request: Request<InvokeServiceRequest>,
    ) -> Result<Response<InvokeResponse>, Status> {
        let req = request.into_inner();
        let method = req.message.map(|m| m.method).unwrap_or_default();
        Ok(Response::new(InvokeResponse {
            data: Some(prost_types::Any {
                type_url: String::new(),
                value: format!("{}/{method}", req.id).into_bytes(),
            }),
            content_type: "text/plain".into(),
        }))
    }

    async fn publish_event(
        &self,
        request: Request<PublishEventRequest>,
    ) -> Result<Response<()>, Status> {
        if request.get_ref().topic.is_empty() {
            return Err(Status::invalid_argument("no topic"));
        }
        Ok(Response::new(()))
    }

    async fn invoke_binding(
        &self,
        request: Request<InvokeBindingRequest>,
    ) -> Result<Response<InvokeBindingResponse>, Status> {
        let req = request.into_inner();
        Ok(Response::new(InvokeBindingResponse {
            data: req.operation.into_bytes(),
            metadata: req.metadata,
        }))
    }

    async fn get_secret(
        &self,
        request: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        let req = request.into_inner();
        check_store(&req.store_name)?;
        Ok(Response::new(GetSecretResponse {
            data: [(req.key, "s3cret".to_string())].into(),
        }))
    }
}

/// Scheduler stub: echoes names back; WatchJobs answers the initial message
/// with one fire and each result with a fire named after the acked id.
struct StubScheduler;

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Scheduler for StubScheduler {
    async fn schedule_job(
        &self,
        request: Request<ScheduleJobRequest>,
    ) -> Result<Response<ScheduleJobResponse>, Status> {
        if request.get_ref().job.is_none() {
            return Err(Status::invalid_argument("no job"));
        }
        Ok(Response::new(ScheduleJobResponse {}))
    }

    async fn get_job(
        &self,
        request: Request<GetJobRequest>,
    ) -> Result<Response<GetJobResponse>, Status> {
        Ok(Response::new(GetJobResponse {
            job: Some(Job {
                schedule: Some(request.into_inner().name),
                ..Job::default()
            }),
            wapr_status: None,
        }))
    }

    async fn delete_job(
        &self,
        _request: Request<DeleteJobRequest>,
    ) -> Result<Response<DeleteJobResponse>, Status> {
        Ok(Response::new(DeleteJobResponse {}))
    }

    async fn watch_jobs(
        &self,
        request: Request<Streaming<WatchJobsRequest>>,
    ) -> Result<Response<BoxStream<WatchJobsResponse>>, Status> {
        let fires = request.into_inner().map(|req| {
            let name = match req?.watch_job_request_type {
                Some(WatchJobRequestType::Initial(initial)) => initial.app_id,
                Some(WatchJobRequestType::Result(result)) => format!("ack:{}", result.id),
                None => return Err(Status::invalid_argument("empty")),
            };
            Ok(WatchJobsResponse {
                name,
                id: 1,
                wapr_tick_id: "tick".into(),
                ..WatchJobsResponse::default()
            })
        });
        Ok(Response::new(Box::pin(fires)))
    }

    async fn list_jobs(
        &self,
        _request: Request<ListJobsRequest>,
    ) -> Result<Response<ListJobsResponse>, Status> {
        Ok(Response::new(ListJobsResponse {
            jobs: vec![NamedJob {
                name: "r1".into(),
                ..NamedJob::default()
            }],
        }))
    }

    async fn watch_hosts(
        &self,
        _request: Request<WatchHostsRequest>,
    ) -> Result<Response<BoxStream<WatchHostsResponse>>, Status> {
        let hosts = WatchHostsResponse {
            hosts: vec![SchedulerHost {
                address: "127.0.0.1:50006".into(),
            }],
        };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(hosts)]))))
    }

    async fn delete_by_metadata(
        &self,
        _request: Request<DeleteByMetadataRequest>,
    ) -> Result<Response<DeleteByMetadataResponse>, Status> {
        Ok(Response::new(DeleteByMetadataResponse {}))
    }

    async fn delete_by_name_prefix(
        &self,
        request: Request<DeleteByNamePrefixRequest>,
    ) -> Result<Response<DeleteByNamePrefixResponse>, Status> {
        if request.get_ref().name_prefix.is_empty() {
            return Err(Status::invalid_argument("no prefix"));
        }
        Ok(Response::new(DeleteByNamePrefixResponse {}))
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
    assert_eq!(dapr_server::SERVICE_NAME, "dapr.proto.runtime.v1.Dapr");
    assert_eq!(
        <DaprServer<StubState> as NamedService>::NAME,
        "dapr.proto.runtime.v1.Dapr"
    );
    assert_eq!(
        scheduler_server::SERVICE_NAME,
        "dapr.proto.scheduler.v1.Scheduler"
    );
    assert_eq!(
        <SchedulerServer<StubScheduler> as NamedService>::NAME,
        "dapr.proto.scheduler.v1.Scheduler"
    );
}

#[tokio::test]
async fn scheduler_paths() {
    let transport = Recorder::new(SchedulerServer::new(StubScheduler));
    let mut client = SchedulerClient::new(transport.clone());

    client
        .schedule_job(ScheduleJobRequest {
            name: "r1".into(),
            job: Some(Job::default()),
            ..Default::default()
        })
        .await
        .expect("schedule_job");

    let got = client
        .get_job(GetJobRequest {
            name: "r1".into(),
            metadata: None,
        })
        .await
        .expect("get_job")
        .into_inner();
    assert_eq!(got.job.expect("job").schedule.as_deref(), Some("r1"));

    client
        .delete_job(DeleteJobRequest::default())
        .await
        .expect("delete_job");

    // Bidi stream: the initial message, then one result.
    let requests = tokio_stream::iter([
        WatchJobsRequest {
            watch_job_request_type: Some(WatchJobRequestType::Initial(WatchJobsRequestInitial {
                app_id: "app".into(),
                ..Default::default()
            })),
        },
        WatchJobsRequest {
            watch_job_request_type: Some(WatchJobRequestType::Result(WatchJobsRequestResult {
                id: 1,
                status: 0,
            })),
        },
    ]);
    let mut fires = client
        .watch_jobs(requests)
        .await
        .expect("stream opened")
        .into_inner();
    let mut names = Vec::new();
    while let Some(fire) = fires.message().await.expect("fire") {
        assert_eq!(fire.wapr_tick_id, "tick");
        names.push(fire.name);
    }
    assert_eq!(names, ["app", "ack:1"]);

    let listed = client
        .list_jobs(ListJobsRequest::default())
        .await
        .expect("list_jobs")
        .into_inner();
    assert_eq!(listed.jobs.len(), 1);
    assert_eq!(listed.jobs[0].name, "r1");

    // Server stream.
    let mut hosts = client
        .watch_hosts(WatchHostsRequest {})
        .await
        .expect("stream opened")
        .into_inner();
    let first = hosts.message().await.expect("hosts").expect("one message");
    assert_eq!(first.hosts[0].address, "127.0.0.1:50006");
    assert!(hosts.message().await.expect("clean end").is_none());

    client
        .delete_by_metadata(DeleteByMetadataRequest {
            metadata: None,
            id_prefix_match: Some(true),
        })
        .await
        .expect("delete_by_metadata");
    let err = client
        .delete_by_name_prefix(DeleteByNamePrefixRequest::default())
        .await
        .expect_err("stub rejects an empty prefix");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    assert_eq!(
        transport.paths(),
        [
            "/dapr.proto.scheduler.v1.Scheduler/ScheduleJob",
            "/dapr.proto.scheduler.v1.Scheduler/GetJob",
            "/dapr.proto.scheduler.v1.Scheduler/DeleteJob",
            "/dapr.proto.scheduler.v1.Scheduler/WatchJobs",
            "/dapr.proto.scheduler.v1.Scheduler/ListJobs",
            "/dapr.proto.scheduler.v1.Scheduler/WatchHosts",
            "/dapr.proto.scheduler.v1.Scheduler/DeleteByMetadata",
            "/dapr.proto.scheduler.v1.Scheduler/DeleteByNamePrefix",
        ]
    );
}

#[tokio::test]
async fn dapr_state_paths() {
    let transport = Recorder::new(DaprServer::new(StubState));
    let mut client = DaprClient::new(transport.clone());
    let store = || "statestore".to_string();

    let got = client
        .get_state(GetStateRequest {
            store_name: store(),
            key: "k".into(),
            ..Default::default()
        })
        .await
        .expect("get_state")
        .into_inner();
    assert_eq!((got.data.as_slice(), got.etag.as_str()), (&b"k"[..], "1"));

    let bulk = client
        .get_bulk_state(GetBulkStateRequest {
            store_name: store(),
            keys: vec!["a".into(), "b".into()],
            ..Default::default()
        })
        .await
        .expect("get_bulk_state")
        .into_inner();
    let keys: Vec<_> = bulk.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);

    client
        .save_state(SaveStateRequest {
            store_name: store(),
            states: vec![],
        })
        .await
        .expect("save_state");
    client
        .delete_state(DeleteStateRequest {
            store_name: store(),
            key: "k".into(),
            ..Default::default()
        })
        .await
        .expect("delete_state");
    let err = client
        .execute_state_transaction(ExecuteStateTransactionRequest {
            store_name: store(),
            ..Default::default()
        })
        .await
        .expect_err("stub aborts empty transactions");
    assert_eq!(err.code(), tonic::Code::Aborted);

    assert_eq!(
        transport.paths(),
        [
            "/dapr.proto.runtime.v1.Dapr/GetState",
            "/dapr.proto.runtime.v1.Dapr/GetBulkState",
            "/dapr.proto.runtime.v1.Dapr/SaveState",
            "/dapr.proto.runtime.v1.Dapr/DeleteState",
            "/dapr.proto.runtime.v1.Dapr/ExecuteStateTransaction",
        ]
    );
}

#[tokio::test]
async fn dapr_building_block_paths() {
    let transport = Recorder::new(DaprServer::new(StubState));
    let mut client = DaprClient::new(transport.clone());

    let answer = client
        .invoke_service(InvokeServiceRequest {
            id: "billing".into(),
            message: Some(InvokeRequest {
                method: "charge".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("invoke_service")
        .into_inner();
    assert_eq!(
        answer.data.map(|d| d.value),
        Some(b"billing/charge".to_vec())
    );
    client
        .publish_event(PublishEventRequest {
            pubsub_name: "pubsub".into(),
            topic: "alerts".into(),
            ..Default::default()
        })
        .await
        .expect("publish_event");
    let sent = client
        .invoke_binding(InvokeBindingRequest {
            name: "sms".into(),
            operation: "create".into(),
            ..Default::default()
        })
        .await
        .expect("invoke_binding")
        .into_inner();
    assert_eq!(sent.data, b"create");
    let secret = client
        .get_secret(GetSecretRequest {
            store_name: "vault".into(),
            key: "db".into(),
            ..Default::default()
        })
        .await
        .expect("get_secret")
        .into_inner();
    assert_eq!(secret.data.get("db").map(String::as_str), Some("s3cret"));

    assert_eq!(
        transport.paths(),
        [
            "/dapr.proto.runtime.v1.Dapr/InvokeService",
            "/dapr.proto.runtime.v1.Dapr/PublishEvent",
            "/dapr.proto.runtime.v1.Dapr/InvokeBinding",
            "/dapr.proto.runtime.v1.Dapr/GetSecret",
        ]
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
