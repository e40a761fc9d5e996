//! The embedded Scheduler behind Dapr's `dapr.proto.scheduler.v1.Scheduler`
//! gRPC service (dapr-scheduler.md §15): what `wapr scheduler` serves, and
//! what `wapr dev` runs for its nodes. Plain h2c; no keepalive enforcement
//! (daprd pings every 3 s); messages up to 2 GiB − 1 as Dapr allows.

use std::pin::Pin;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};
use wapr_proto::dapr::proto::scheduler::v1::scheduler_server::{Scheduler, SchedulerServer};
use wapr_proto::dapr::proto::scheduler::v1::{
    DeleteByMetadataRequest, DeleteByMetadataResponse, DeleteByNamePrefixRequest,
    DeleteByNamePrefixResponse, DeleteJobRequest, DeleteJobResponse, GetJobRequest, GetJobResponse,
    Host, ListJobsRequest, ListJobsResponse, ScheduleJobRequest, ScheduleJobResponse,
    WatchHostsRequest, WatchHostsResponse, WatchJobsRequest, WatchJobsResponse, watch_jobs_request,
};

use super::engine::Engine;

/// Largest message either way (Go's `math.MaxInt32`, as the Scheduler sets).
const MAX_MESSAGE: usize = i32::MAX as usize;

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The Scheduler service over an [`Engine`].
#[derive(Clone)]
pub struct SchedulerService {
    engine: Engine,
    /// What `WatchHosts` announces: where daprd (or a node) should connect.
    address: String,
    /// Set when the server stops: open streams end ("server is closing").
    closing: watch::Receiver<bool>,
}

impl SchedulerService {
    /// Serves `engine`, announcing `address` (`host:port`) to `WatchHosts`.
    pub fn new(engine: Engine, address: String) -> Self {
        let (_, closing) = watch::channel(false);
        Self {
            engine,
            address,
            closing,
        }
    }

    /// The tonic service, with Dapr's message limits.
    pub fn into_server(self) -> SchedulerServer<Self> {
        SchedulerServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
}

#[tonic::async_trait]
impl Scheduler for SchedulerService {
    async fn schedule_job(
        &self,
        request: Request<ScheduleJobRequest>,
    ) -> Result<Response<ScheduleJobResponse>, Status> {
        self.engine.schedule_job(request.into_inner()).await?;
        Ok(Response::new(ScheduleJobResponse {}))
    }

    async fn get_job(
        &self,
        request: Request<GetJobRequest>,
    ) -> Result<Response<GetJobResponse>, Status> {
        Ok(Response::new(
            self.engine.get_job(request.into_inner()).await?,
        ))
    }

    async fn delete_job(
        &self,
        request: Request<DeleteJobRequest>,
    ) -> Result<Response<DeleteJobResponse>, Status> {
        self.engine.delete_job(request.into_inner()).await?;
        Ok(Response::new(DeleteJobResponse {}))
    }

    async fn watch_jobs(
        &self,
        request: Request<Streaming<WatchJobsRequest>>,
    ) -> Result<Response<ResponseStream<WatchJobsResponse>>, Status> {
        let mut incoming = request.into_inner();
        let initial = match incoming.message().await? {
            Some(WatchJobsRequest {
                watch_job_request_type:
                    Some(watch_jobs_request::WatchJobRequestType::Initial(initial)),
            }) => initial,
            _ => {
                return Err(Status::unknown(
                    "initial request is required on stream connection",
                ));
            }
        };
        let (sink, triggers) = mpsc::unbounded_channel();
        let stream = self.engine.watch(initial, sink).await?;
        let engine = self.engine.clone();
        // Results come back on the same stream; the stream ends (and its
        // pending triggers are staged) when the client goes away.
        tokio::spawn(async move {
            loop {
                match incoming.message().await {
                    Ok(Some(WatchJobsRequest {
                        watch_job_request_type:
                            Some(watch_jobs_request::WatchJobRequestType::Result(result)),
                    })) => engine.result(stream, result.id, result.status),
                    Ok(Some(_)) => {
                        tracing::warn!(stream, "received nil result from stream; closing it");
                        break;
                    }
                    Ok(None) => break,
                    Err(status) => {
                        tracing::debug!(stream, error = %status, "watch stream ended");
                        break;
                    }
                }
            }
            engine.unwatch(stream);
        });
        let out = UnboundedReceiverStream::new(triggers).map(Ok);
        Ok(Response::new(Box::pin(UntilClosed::new(
            out,
            self.closing.clone(),
        ))))
    }

    async fn list_jobs(
        &self,
        request: Request<ListJobsRequest>,
    ) -> Result<Response<ListJobsResponse>, Status> {
        Ok(Response::new(
            self.engine.list_jobs(request.into_inner()).await?,
        ))
    }

    async fn watch_hosts(
        &self,
        _request: Request<WatchHostsRequest>,
    ) -> Result<Response<ResponseStream<WatchHostsResponse>>, Status> {
        // One replica: announce it once and hold the stream open (a resend
        // would make daprd rebuild every stream).
        let hosts = WatchHostsResponse {
            hosts: vec![Host {
                address: self.address.clone(),
            }],
        };
        let out = tokio_stream::once(Ok(hosts)).chain(tokio_stream::pending());
        Ok(Response::new(Box::pin(UntilClosed::new(
            out,
            self.closing.clone(),
        ))))
    }

    async fn delete_by_metadata(
        &self,
        request: Request<DeleteByMetadataRequest>,
    ) -> Result<Response<DeleteByMetadataResponse>, Status> {
        self.engine.delete_by_metadata(request.into_inner()).await?;
        Ok(Response::new(DeleteByMetadataResponse {}))
    }

    async fn delete_by_name_prefix(
        &self,
        request: Request<DeleteByNamePrefixRequest>,
    ) -> Result<Response<DeleteByNamePrefixResponse>, Status> {
        self.engine
            .delete_by_name_prefix(request.into_inner())
            .await?;
        Ok(Response::new(DeleteByNamePrefixResponse {}))
    }
}

/// Serves `service` on `listener` (mutual TLS with `tls`: a client without
/// a certificate the CA signed is refused) until `shutdown` resolves; then open
/// streams end with "server is closing" (as the Scheduler's do), so the
/// server stops without waiting for its clients.
///
/// # Errors
/// The transport's error.
pub async fn serve(
    listener: TcpListener,
    mut service: SchedulerService,
    tls: Option<&crate::tls::ClusterTls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let (close, closing) = watch::channel(false);
    service.closing = closing;
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls.server())?;
    }
    builder
        .add_service(service.into_server())
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            async move {
                shutdown.await;
                let _ = close.send(true);
            },
        )
        .await
}

/// A response stream that ends with `Unavailable` "server is closing" once
/// `closing` says so.
struct UntilClosed<S> {
    inner: S,
    /// `None` once the signal can no longer come (its sender is gone).
    closing: Option<tokio_stream::wrappers::WatchStream<bool>>,
    done: bool,
}

impl<S> UntilClosed<S> {
    fn new(inner: S, closing: watch::Receiver<bool>) -> Self {
        Self {
            inner,
            closing: Some(tokio_stream::wrappers::WatchStream::new(closing)),
            done: false,
        }
    }
}

impl<T, S: Stream<Item = Result<T, Status>> + Unpin> Stream for UntilClosed<S> {
    type Item = Result<T, Status>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if self.done {
            return Poll::Ready(None);
        }
        while let Some(closing) = self.closing.as_mut() {
            match Pin::new(closing).poll_next(cx) {
                Poll::Ready(Some(true)) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(Status::unavailable("server is closing"))));
                }
                Poll::Ready(Some(false)) => {}
                Poll::Ready(None) => self.closing = None,
                Poll::Pending => break,
            }
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}
