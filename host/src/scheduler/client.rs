//! How a node reaches a Scheduler: Dapr's own (or `wapr scheduler`) over
//! gRPC, as daprd does (dapr-scheduler.md §8, §9, §16), or the embedded
//! engine in the same process.
//!
//! Over gRPC: `WatchHosts` on one configured address tells the replicas
//! (a server without it, before 1.15, answers `Unimplemented`: the
//! configured list is used); every replica gets unary calls round robin and
//! `streams_per_host` `WatchJobs` streams, each opened with `initial{app_id,
//! namespace, actor_types, accept_job_types: [ACTOR_REMINDER]}`, reopened
//! after a jittered 250–750 ms when it ends, and rebuilt when the host list
//! changes. Triggers of every stream come out of one channel; each is
//! acknowledged on the stream it came from.

use crate::tls::ClusterTls;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;
use wapr_proto::dapr::proto::scheduler::v1::scheduler_client::SchedulerClient;
use wapr_proto::dapr::proto::scheduler::v1::{
    DeleteByMetadataRequest, DeleteJobRequest, GetJobRequest, GetJobResponse, JobTargetType,
    ListJobsRequest, ListJobsResponse, ScheduleJobRequest, WatchHostsRequest, WatchJobsRequest,
    WatchJobsRequestInitial, WatchJobsRequestResult, WatchJobsRequestResultStatus,
    WatchJobsResponse, watch_jobs_request,
};

use super::engine::Engine;
use super::{Outcome, SchedulerApi, SchedulerError, Trigger, Triggers, WatchSpec};
use crate::state::BoxFuture;

/// `WatchJobs` streams per Scheduler host (daprd's `--scheduler-job-streams`).
pub const DEFAULT_STREAMS_PER_HOST: usize = 3;

/// How long to wait for a TCP connection to a Scheduler.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The `initial` message of a watch stream.
fn initial(spec: &WatchSpec) -> WatchJobsRequestInitial {
    WatchJobsRequestInitial {
        app_id: spec.app_id.clone(),
        namespace: spec.namespace.clone(),
        actor_types: spec.actor_types.clone(),
        accept_job_types: vec![JobTargetType::ActorReminder as i32],
        concurrency_limits: Vec::new(),
    }
}

fn status_of(outcome: Outcome) -> i32 {
    match outcome {
        Outcome::Success => WatchJobsRequestResultStatus::Success as i32,
        Outcome::Failed => WatchJobsRequestResultStatus::Failed as i32,
    }
}

/// The embedded engine, reached in-process.
#[derive(Clone)]
pub struct LocalScheduler {
    engine: Engine,
}

impl LocalScheduler {
    /// A client of `engine`.
    pub fn new(engine: Engine) -> Self {
        Self { engine }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Watches `spec`'s actor types; triggers come out of the returned
    /// channel until the engine stops.
    ///
    /// # Errors
    /// The engine's refusal of the watch.
    pub async fn watch(&self, spec: &WatchSpec) -> Result<Triggers, SchedulerError> {
        let (sink, mut responses) = mpsc::unbounded_channel::<WatchJobsResponse>();
        let stream = self.engine.watch(initial(spec), sink).await?;
        let (triggers, out) = mpsc::unbounded_channel();
        let engine = self.engine.clone();
        tokio::spawn(async move {
            while let Some(response) = responses.recv().await {
                let acker = engine.clone();
                let id = response.id;
                let trigger = Trigger::new(
                    response.name,
                    response.metadata,
                    response.data,
                    response.wapr_tick_id,
                    Box::new(move |outcome| acker.result(stream, id, status_of(outcome))),
                );
                if triggers.send(trigger).is_err() {
                    break;
                }
            }
            engine.unwatch(stream);
        });
        Ok(out)
    }
}

impl SchedulerApi for LocalScheduler {
    fn schedule_job(
        &self,
        request: ScheduleJobRequest,
    ) -> BoxFuture<'_, Result<(), SchedulerError>> {
        Box::pin(self.engine.schedule_job(request))
    }

    fn get_job(
        &self,
        request: GetJobRequest,
    ) -> BoxFuture<'_, Result<GetJobResponse, SchedulerError>> {
        Box::pin(self.engine.get_job(request))
    }

    fn delete_job(&self, request: DeleteJobRequest) -> BoxFuture<'_, Result<(), SchedulerError>> {
        Box::pin(self.engine.delete_job(request))
    }

    fn list_jobs(
        &self,
        request: ListJobsRequest,
    ) -> BoxFuture<'_, Result<ListJobsResponse, SchedulerError>> {
        Box::pin(self.engine.list_jobs(request))
    }

    fn delete_by_metadata(
        &self,
        request: DeleteByMetadataRequest,
    ) -> BoxFuture<'_, Result<(), SchedulerError>> {
        Box::pin(self.engine.delete_by_metadata(request))
    }
}

/// A Scheduler over gRPC (Dapr's, or `wapr scheduler`).
pub struct GrpcScheduler {
    configured: Vec<String>,
    hosts: watch::Sender<Vec<String>>,
    clients: std::sync::RwLock<Vec<SchedulerClient<Channel>>>,
    cursor: AtomicUsize,
    /// Mutual TLS towards the Scheduler, when the cluster runs it.
    tls: Option<ClusterTls>,
}

fn channel(address: &str, tls: Option<&ClusterTls>) -> Result<Channel, SchedulerError> {
    let invalid = |e: &dyn std::fmt::Display| {
        SchedulerError::invalid_argument(format!("invalid scheduler address {address:?}: {e}"))
    };
    let tls = tls.map(|tls| tls.client_for(address));
    let endpoint = crate::tls::endpoint(address, tls.as_ref())
        .map_err(|e| invalid(&e))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        // daprd's client keepalive: ping every 3 s, 5 s timeout, not idle.
        .http2_keep_alive_interval(Duration::from_secs(3))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(false);
    Ok(endpoint.connect_lazy())
}

fn client(
    address: &str,
    tls: Option<&ClusterTls>,
) -> Result<SchedulerClient<Channel>, SchedulerError> {
    Ok(SchedulerClient::new(channel(address, tls)?)
        .max_decoding_message_size(i32::MAX as usize)
        .max_encoding_message_size(i32::MAX as usize))
}

impl GrpcScheduler {
    /// A client of the Scheduler at `addresses` (`host:port`): unary calls
    /// start at once (round robin over the configured addresses until
    /// `WatchHosts` names the replicas).
    ///
    /// # Errors
    /// An address that is not `host:port`.
    /// With `tls`, every connection is mutual TLS.
    pub fn new(
        addresses: Vec<String>,
        tls: Option<ClusterTls>,
    ) -> Result<Arc<Self>, SchedulerError> {
        if addresses.is_empty() {
            return Err(SchedulerError::invalid_argument("no scheduler address"));
        }
        let clients = addresses
            .iter()
            .map(|a| client(a, tls.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let (hosts, _) = watch::channel(Vec::new());
        Ok(Arc::new(Self {
            configured: addresses,
            hosts,
            clients: std::sync::RwLock::new(clients),
            cursor: AtomicUsize::new(0),
            tls,
        }))
    }

    /// Starts watching: follows `WatchHosts` and keeps `streams_per_host`
    /// streams per replica for `spec`. Triggers come out of the returned
    /// channel; the tasks end when it is dropped.
    pub fn watch(self: &Arc<Self>, spec: WatchSpec, streams_per_host: usize) -> Triggers {
        let (triggers, out) = mpsc::unbounded_channel();
        tokio::spawn(Arc::clone(self).follow_hosts(triggers.clone()));
        tokio::spawn(Arc::clone(self).run_streams(spec, streams_per_host.max(1), triggers));
        out
    }

    /// Keeps the host list current (`WatchHosts`), falling back to the
    /// configured addresses for a server without it.
    async fn follow_hosts(self: Arc<Self>, alive: mpsc::UnboundedSender<Trigger>) {
        loop {
            if alive.is_closed() {
                return;
            }
            let address = {
                let i = rand::random_range(0..self.configured.len());
                self.configured[i].clone()
            };
            let mut watcher = match client(&address, self.tls.as_ref()) {
                Ok(c) => c,
                Err(err) => {
                    tracing::error!(error = %err, "cannot watch scheduler hosts");
                    return;
                }
            };
            match watcher.watch_hosts(WatchHostsRequest {}).await {
                Ok(response) => {
                    let mut stream = response.into_inner();
                    match stream.message().await {
                        Ok(Some(first)) => {
                            let hosts: Vec<String> =
                                first.hosts.into_iter().map(|h| h.address).collect();
                            self.set_hosts(hosts);
                            // Any later message or error starts over.
                            let _ = stream.message().await;
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        Ok(None) => tokio::time::sleep(Duration::from_secs(1)).await,
                        Err(status) if status.code() == tonic::Code::Unimplemented => {
                            self.set_hosts(self.configured.clone());
                            return;
                        }
                        Err(status) => {
                            tracing::debug!(error = %status, "scheduler WatchHosts ended");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
                Err(status) if status.code() == tonic::Code::Unimplemented => {
                    self.set_hosts(self.configured.clone());
                    return;
                }
                Err(status) => {
                    tracing::debug!(%address, error = %status, "cannot reach the scheduler");
                    tokio::time::sleep(jitter(1_000, 500)).await;
                }
            }
        }
    }

    fn set_hosts(&self, hosts: Vec<String>) {
        if hosts.is_empty() {
            return;
        }
        let clients: Vec<_> = hosts
            .iter()
            .filter_map(|a| client(a, self.tls.as_ref()).ok())
            .collect();
        if let Ok(mut current) = self.clients.write() {
            *current = clients;
        }
        tracing::info!(?hosts, "scheduler hosts");
        self.hosts.send_replace(hosts);
    }

    /// Runs the stream set, rebuilding it whenever the host list changes.
    async fn run_streams(
        self: Arc<Self>,
        spec: WatchSpec,
        per_host: usize,
        triggers: mpsc::UnboundedSender<Trigger>,
    ) {
        let mut hosts = self.hosts.subscribe();
        loop {
            let current = hosts.borrow_and_update().clone();
            let (stop, stopped) = watch::channel(false);
            for address in &current {
                for _ in 0..per_host {
                    tokio::spawn(run_stream(
                        address.clone(),
                        self.tls.clone(),
                        spec.clone(),
                        triggers.clone(),
                        stopped.clone(),
                    ));
                }
            }
            tokio::select! {
                changed = hosts.changed() => {
                    let _ = stop.send(true);
                    if changed.is_err() {
                        return;
                    }
                }
                () = triggers.closed() => {
                    let _ = stop.send(true);
                    return;
                }
            }
        }
    }

    fn next_client(&self) -> Vec<SchedulerClient<Channel>> {
        let clients = self.clients.read().map(|c| c.clone()).unwrap_or_default();
        if clients.is_empty() {
            return clients;
        }
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % clients.len();
        clients[start..]
            .iter()
            .chain(clients[..start].iter())
            .cloned()
            .collect()
    }

    /// Runs a unary call on the hosts in turn until one answers something
    /// other than `Unavailable`.
    async fn unary<T, F, Fut>(&self, call: F) -> Result<T, SchedulerError>
    where
        F: Fn(SchedulerClient<Channel>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut last = SchedulerError::unavailable("no scheduler host");
        for client in self.next_client() {
            match call(client).await {
                Ok(response) => return Ok(response.into_inner()),
                Err(status) if status.code() == tonic::Code::Unavailable => {
                    last = SchedulerError::from(status);
                }
                Err(status) => return Err(SchedulerError::from(status)),
            }
        }
        Err(last)
    }
}

impl SchedulerApi for GrpcScheduler {
    fn schedule_job(
        &self,
        request: ScheduleJobRequest,
    ) -> BoxFuture<'_, Result<(), SchedulerError>> {
        Box::pin(async move {
            self.unary(|mut c| {
                let request = request.clone();
                async move { c.schedule_job(request).await }
            })
            .await
            .map(|_| ())
        })
    }

    fn get_job(
        &self,
        request: GetJobRequest,
    ) -> BoxFuture<'_, Result<GetJobResponse, SchedulerError>> {
        Box::pin(async move {
            self.unary(|mut c| {
                let request = request.clone();
                async move { c.get_job(request).await }
            })
            .await
        })
    }

    fn delete_job(&self, request: DeleteJobRequest) -> BoxFuture<'_, Result<(), SchedulerError>> {
        Box::pin(async move {
            self.unary(|mut c| {
                let request = request.clone();
                async move { c.delete_job(request).await }
            })
            .await
            .map(|_| ())
        })
    }

    fn list_jobs(
        &self,
        request: ListJobsRequest,
    ) -> BoxFuture<'_, Result<ListJobsResponse, SchedulerError>> {
        Box::pin(async move {
            self.unary(|mut c| {
                let request = request.clone();
                async move { c.list_jobs(request).await }
            })
            .await
        })
    }

    fn delete_by_metadata(
        &self,
        request: DeleteByMetadataRequest,
    ) -> BoxFuture<'_, Result<(), SchedulerError>> {
        Box::pin(async move {
            self.unary(|mut c| {
                let request = request.clone();
                async move { c.delete_by_metadata(request).await }
            })
            .await
            .map(|_| ())
        })
    }
}

/// One `WatchJobs` stream to `address`, reopened until `stop` says so.
async fn run_stream(
    address: String,
    tls: Option<ClusterTls>,
    spec: WatchSpec,
    triggers: mpsc::UnboundedSender<Trigger>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() || triggers.is_closed() {
            return;
        }
        let Ok(mut client) = client(&address, tls.as_ref()) else {
            return;
        };
        let (requests, outbound) = mpsc::unbounded_channel::<WatchJobsRequest>();
        let _ = requests.send(WatchJobsRequest {
            watch_job_request_type: Some(watch_jobs_request::WatchJobRequestType::Initial(
                initial(&spec),
            )),
        });
        let opened = tokio::select! {
            opened = client.watch_jobs(UnboundedReceiverStream::new(outbound)) => opened,
            _ = stop.changed() => return,
        };
        match opened {
            Ok(response) => {
                tracing::debug!(%address, "scheduler stream open");
                let mut inbound = response.into_inner();
                loop {
                    let message = tokio::select! {
                        message = inbound.message() => message,
                        _ = stop.changed() => return,
                    };
                    match message {
                        Ok(Some(response)) => {
                            let acks = requests.clone();
                            let id = response.id;
                            let trigger = Trigger::new(
                                response.name,
                                response.metadata,
                                response.data,
                                response.wapr_tick_id,
                                Box::new(move |outcome| {
                                    // Dropped if the stream has died: the
                                    // Scheduler redelivers the tick.
                                    let _ = acks.send(WatchJobsRequest {
                                        watch_job_request_type: Some(
                                            watch_jobs_request::WatchJobRequestType::Result(
                                                WatchJobsRequestResult {
                                                    id,
                                                    status: status_of(outcome),
                                                },
                                            ),
                                        ),
                                    });
                                }),
                            );
                            if triggers.send(trigger).is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(status) => {
                            tracing::debug!(%address, error = %status, "scheduler stream ended");
                            break;
                        }
                    }
                }
            }
            Err(status) => {
                tracing::debug!(%address, error = %status, "cannot open a scheduler stream");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(jitter(500, 250)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Go kit's `Jitter(base, spread)`: uniform in `[base - spread, base + spread)` ms.
fn jitter(base_ms: u64, spread_ms: u64) -> Duration {
    let low = base_ms.saturating_sub(spread_ms);
    let high = base_ms + spread_ms;
    Duration::from_millis(rand::random_range(low..high.max(low + 1)))
}
