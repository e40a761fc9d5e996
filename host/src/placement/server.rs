//! The embedded Dapr placement server: gen B (Dapr 1.17+) dissemination
//! rounds with acks, single instance, no Raft
//! (`shared/docs/dapr-protocol.md` §1.3, §1.12).
//!
//! Real `daprd` 1.17/1.18 sidecars and wapr's own [`super::client`] connect
//! to it over `ReportDaprStatus`. Per namespace it keeps a version counter
//! and the hosts that host actor types, and whenever that set changes it runs
//! a round: `lock N` to every stream of the namespace, wait for every
//! `LOCK` ack, `update N` with the tables, wait for every `UPDATE` ack,
//! `unlock N`, wait for every `UNLOCK` ack.
//!
//! Design: all state lives in one event loop task ([`Core`]), fed by a
//! bounded channel of [`Event`]s (a stream joined, sent a message, left) and
//! woken by its own timers (dissemination deadlines, coalesce windows). Each
//! stream has a reader task (admission checks on every message) and a
//! bounded outbound queue the loop fills with `try_send`, so no stream can
//! block the loop or another stream: a stream that stops reading is closed
//! when its queue is full, one that stops acking when the round's deadline
//! passes. No lock is ever held across an `.await`.
//!
//! Decisions beyond the spec:
//! - A stream is bound to the namespace of its first message; a later
//!   message naming another namespace is refused (`InvalidArgument`).
//! - Hosts whose first message has `operation == UNKNOWN` are gen A
//!   (≤ 1.16) sidecars: they get every order but are never waited for (gen A
//!   pushes without acks, §1.12), and each of their messages is a report
//!   (their 1 s heartbeats). An entity-less gen A host gets its one-shot
//!   table only while it has never had one. For gen B streams an UNKNOWN
//!   message acks the current phase, as Dapr 1.18 does.
//! - The one-shot push to an entity-less host uses the namespace's current
//!   version, `0` if the namespace has never had a round (as Dapr does: the
//!   sidecar still becomes ready on `unlock 0`). No one-shot is sent while a
//!   round is in flight: the host is part of that round and gets its tables.
//! - A dissemination timeout closes the streams that have not acked the
//!   current phase. If one of them hosted actor types a new round starts;
//!   otherwise the round simply carries on for the others.
//! - A namespace with no streams left is forgotten (its version restarts
//!   at 0, as in Dapr).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};
use tracing::{debug, info, warn};
use wapr_proto::dapr::proto::placement::v1::placement_server::{Placement, PlacementServer};

use super::{
    DEFAULT_REPLICATION_FACTOR, Host, HostOperation, PlacementOrder, PlacementTable,
    PlacementTables, operation,
};

/// The status message for streams refused or ended by a shutdown.
const SHUTTING_DOWN: &str = "placement server is shutting down";

/// Orders that may wait for one stream before it counts as not reading.
const ORDER_BUFFER: usize = 64;

/// Events that may wait for the loop before readers wait.
const EVENT_BUFFER: usize = 1024;

/// How long [`serve`] waits for connections to close after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Server settings. The defaults are Dapr's gen B placement flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementSettings {
    /// Virtual nodes per host, sent in every table (`--replicationFactor`, 100).
    pub replication_factor: i64,
    /// How long a round may wait for acks before the streams that have not
    /// acked are closed (`--disseminate-timeout`, 8 s).
    pub disseminate_timeout: Duration,
    /// Debounces connections and disconnections into one follow-up round
    /// (`--disseminate-coalesce-window`, 0 = off).
    pub coalesce_window: Duration,
    /// Interval of the server's HTTP/2 keepalive pings (`--keepalive-time`, 2 s).
    pub keepalive_time: Duration,
    /// A connection whose ping is not acked within this is closed
    /// (`--keepalive-timeout`, 3 s).
    pub keepalive_timeout: Duration,
}

impl Default for PlacementSettings {
    fn default() -> Self {
        Self {
            replication_factor: DEFAULT_REPLICATION_FACTOR,
            disseminate_timeout: Duration::from_secs(8),
            coalesce_window: Duration::ZERO,
            keepalive_time: Duration::from_secs(2),
            keepalive_timeout: Duration::from_secs(3),
        }
    }
}

/// Why the placement server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PlacementServerError {
    /// The listen address could not be bound.
    #[error("cannot bind the placement server to {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// The gRPC transport failed.
    #[error("placement server transport error: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// What the server holds, per namespace (for `wapr status` and tests).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlacementSnapshot {
    /// Namespaces with at least one open stream, by name.
    pub namespaces: BTreeMap<String, NamespaceSnapshot>,
}

/// One namespace in a [`PlacementSnapshot`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NamespaceSnapshot {
    /// The latest round's version (0 before the first round).
    pub version: u64,
    /// Whether that round is still waiting for acks.
    pub disseminating: bool,
    /// Open streams, with and without actor types.
    pub streams: usize,
    /// The hosts in the tables (those with actor types), sorted by name.
    pub hosts: Vec<HostSnapshot>,
}

/// One host in a [`NamespaceSnapshot`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostSnapshot {
    /// `ip:port` other hosts dial.
    pub name: String,
    /// App ID.
    pub id: String,
    /// Actor types it hosts, sorted.
    pub entities: Vec<String>,
}

/// The placement service: implements the tonic [`Placement`] trait. Cheap to
/// clone; all clones share one state.
#[derive(Clone)]
pub struct PlacementService {
    inner: Arc<Inner>,
}

struct Inner {
    settings: PlacementSettings,
    events: mpsc::Sender<Event>,
    /// The loop's receiver until the loop is started (on the first stream,
    /// from inside the runtime).
    unstarted: Mutex<Option<mpsc::Receiver<Event>>>,
    shutdown: watch::Sender<bool>,
    next_stream: AtomicU64,
    snapshot: Arc<Mutex<PlacementSnapshot>>,
}

impl fmt::Debug for PlacementService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlacementService")
            .field("settings", &self.inner.settings)
            .field("shutting_down", &self.is_shutting_down())
            .finish_non_exhaustive()
    }
}

impl PlacementService {
    /// A service with `settings`. Its event loop starts with the first stream.
    pub fn new(settings: PlacementSettings) -> Self {
        let (events, rx) = mpsc::channel(EVENT_BUFFER);
        let (shutdown, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                settings,
                events,
                unstarted: Mutex::new(Some(rx)),
                shutdown,
                next_stream: AtomicU64::new(0),
                snapshot: Arc::new(Mutex::new(PlacementSnapshot::default())),
            }),
        }
    }

    /// The settings the service was built with.
    pub fn settings(&self) -> &PlacementSettings {
        &self.inner.settings
    }

    /// The tonic service to add to a `Server`.
    pub fn into_server(self) -> PlacementServer<Self> {
        PlacementServer::new(self)
    }

    /// Namespaces, versions and hosts as the event loop last left them.
    pub fn snapshot(&self) -> PlacementSnapshot {
        lock(&self.inner.snapshot).clone()
    }

    /// Refuses new streams (`Unavailable` "placement server is shutting
    /// down") and ends the open ones with the same status. Idempotent.
    pub fn shutdown(&self) {
        if !self.inner.shutdown.send_replace(true) {
            info!("placement server shutting down");
        }
    }

    /// Whether [`PlacementService::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    fn ensure_loop(&self) {
        let rx = lock(&self.inner.unstarted).take();
        if let Some(rx) = rx {
            let core = Core {
                settings: self.inner.settings.clone(),
                namespaces: HashMap::new(),
                stream_ns: HashMap::new(),
                snapshot: Arc::clone(&self.inner.snapshot),
            };
            tokio::spawn(core.run(rx, self.inner.shutdown.subscribe()));
        }
    }
}

#[tonic::async_trait]
impl Placement for PlacementService {
    async fn report_dapr_status(
        &self,
        request: Request<Streaming<Host>>,
    ) -> Result<Response<tonic::codegen::BoxStream<PlacementOrder>>, Status> {
        let peer = request.remote_addr();
        if self.is_shutting_down() {
            warn!(?peer, "placement: refused a stream: {SHUTTING_DOWN}");
            return Err(Status::unavailable(SHUTTING_DOWN));
        }
        self.ensure_loop();

        let id = self.inner.next_stream.fetch_add(1, Ordering::Relaxed);
        let (orders_tx, orders_rx) = mpsc::channel(ORDER_BUFFER);
        let (close_tx, close_rx) = oneshot::channel();
        let (gone_tx, gone_rx) = oneshot::channel();
        let latest_lock = Arc::new(AtomicU64::new(0));
        let link = StreamLink {
            orders: orders_tx,
            closer: Closer(Arc::new(Mutex::new(Some(close_tx)))),
            latest_lock: Arc::clone(&latest_lock),
        };
        debug!(stream = id, ?peer, "placement: stream opened");
        tokio::spawn(read_stream(
            Arc::clone(&self.inner),
            id,
            peer,
            request.into_inner(),
            link,
            gone_rx,
        ));
        Ok(Response::new(Box::pin(OrderStream {
            orders: orders_rx,
            close: Some(close_rx),
            latest_lock,
            _gone: gone_tx,
            done: false,
        })))
    }
}

/// Binds `addr` for [`serve`]; returns the listener and the bound address
/// (useful with port 0).
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), PlacementServerError> {
    let bind_err = |source| PlacementServerError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    Ok((listener, local))
}

/// Serves `service` on `listener` until `shutdown` resolves, then shuts the
/// service down (open streams end with `Unavailable`) and waits a few
/// seconds at most for the connections to close.
///
/// The server pings every client every `keepalive_time` and drops it after
/// `keepalive_timeout` without an answer. Plain HTTP/2 (h2c), or mutual
/// TLS with `tls`: a member without a certificate the CA signed cannot
/// join.
pub async fn serve(
    listener: TcpListener,
    service: PlacementService,
    tls: Option<&crate::tls::ClusterTls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), PlacementServerError> {
    let settings = service.settings().clone();
    let local = listener.local_addr().ok();
    let (stopped_tx, stopped_rx) = oneshot::channel::<()>();
    let stopper = service.clone();
    let signal = async move {
        shutdown.await;
        stopper.shutdown();
        let _ = stopped_tx.send(());
    };
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        if let Ok(stream) = &conn {
            // Orders are small; do not let Nagle delay them.
            let _ = stream.set_nodelay(true);
        }
        conn
    });
    info!(addr = ?local, "placement server listening");
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls.server())?;
    }
    let server = builder
        .http2_keepalive_interval(Some(settings.keepalive_time))
        .http2_keepalive_timeout(Some(settings.keepalive_timeout))
        .add_service(service.into_server())
        .serve_with_incoming_shutdown(incoming, signal);
    tokio::pin!(server);
    let grace = async {
        if stopped_rx.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = &mut server => {
            info!(addr = ?local, "placement server stopped");
            result.map_err(PlacementServerError::from)
        }
        () = grace => {
            warn!(addr = ?local, "placement server: connections still open {SHUTDOWN_GRACE:?} after shutdown; dropping them");
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------
// Streams

/// Index of a stream, unique for the service's lifetime.
type StreamId = u64;

/// What the loop holds to talk to one stream.
#[derive(Clone)]
struct StreamLink {
    orders: mpsc::Sender<PlacementOrder>,
    closer: Closer,
    /// The highest `lock` version queued; older orders still queued are
    /// stale and skipped (a superseded round).
    latest_lock: Arc<AtomicU64>,
}

impl StreamLink {
    /// Queues `order` without waiting. `false` if the stream is gone or is
    /// not reading (then it is closed with `ResourceExhausted`).
    fn deliver(&self, order: PlacementOrder) -> bool {
        if order.operation == operation::LOCK {
            self.latest_lock.fetch_max(order.version, Ordering::Relaxed);
        }
        match self.orders.try_send(order) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if self.closer.close(Status::resource_exhausted(
                    "placement stream is not reading its orders",
                )) {
                    warn!("placement: closing a stream that does not read its orders");
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Ends a stream with a status; the first close wins.
#[derive(Clone)]
struct Closer(Arc<Mutex<Option<oneshot::Sender<Status>>>>);

impl Closer {
    /// `true` if this call closed the stream.
    fn close(&self, status: Status) -> bool {
        match lock(&self.0).take() {
            Some(tx) => {
                let _ = tx.send(status);
                true
            }
            None => false,
        }
    }
}

/// The server half of one `ReportDaprStatus` stream: the orders the loop
/// queued for it, then the status it was closed with, if any.
pub struct OrderStream {
    orders: mpsc::Receiver<PlacementOrder>,
    close: Option<oneshot::Receiver<Status>>,
    latest_lock: Arc<AtomicU64>,
    /// Dropped with the stream: tells the reader task the stream is gone.
    _gone: oneshot::Sender<()>,
    done: bool,
}

impl fmt::Debug for OrderStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderStream")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Stream for OrderStream {
    type Item = Result<PlacementOrder, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(close) = this.close.as_mut() {
            match Pin::new(close).poll(cx) {
                Poll::Ready(Ok(status)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(status)));
                }
                Poll::Ready(Err(_)) => this.close = None,
                Poll::Pending => {}
            }
        }
        loop {
            match this.orders.poll_recv(cx) {
                Poll::Ready(Some(order)) => {
                    if order.version < this.latest_lock.load(Ordering::Relaxed) {
                        continue;
                    }
                    return Poll::Ready(Some(Ok(order)));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Reads one stream: checks every message, forwards it to the loop, and
/// tells the loop when the stream ends.
async fn read_stream(
    inner: Arc<Inner>,
    id: StreamId,
    peer: Option<SocketAddr>,
    mut inbound: Streaming<Host>,
    link: StreamLink,
    mut gone: oneshot::Receiver<()>,
) {
    let mut shutdown = inner.shutdown.subscribe();
    let mut bound_ns: Option<String> = None;
    loop {
        let received = tokio::select! {
            biased;
            _ = &mut gone => {
                debug!(stream = id, ?peer, "placement: stream response ended");
                break;
            }
            _ = shutdown.wait_for(|down| *down) => {
                link.closer.close(Status::unavailable(SHUTTING_DOWN));
                break;
            }
            received = inbound.message() => received,
        };
        let host = match received {
            Ok(Some(host)) => host,
            Ok(None) => {
                debug!(stream = id, ?peer, "placement: stream closed by the client");
                break;
            }
            Err(status) => {
                debug!(stream = id, ?peer, %status, "placement: stream receive error");
                link.closer.close(status);
                break;
            }
        };
        if let Err(status) = authorize(&host, bound_ns.as_deref()) {
            warn!(
                stream = id,
                ?peer,
                name = %host.name,
                app_id = %host.id,
                namespace = %host.namespace,
                code = ?status.code(),
                "placement: refused a message: {}",
                status.message()
            );
            link.closer.close(status);
            break;
        }
        let event = if bound_ns.is_none() {
            bound_ns = Some(host.namespace.clone());
            Event::Join {
                id,
                host,
                link: link.clone(),
            }
        } else {
            Event::Message { id, host }
        };
        if inner.events.send(event).await.is_err() {
            link.closer.close(Status::unavailable(SHUTTING_DOWN));
            break;
        }
    }
    if bound_ns.is_some() {
        let _ = inner.events.send(Event::Leave { id }).await;
    }
}

/// Dapr's admission checks, run on every message (§1.3 step 3), plus the
/// stream's namespace binding.
fn authorize(host: &Host, bound_ns: Option<&str>) -> Result<(), Status> {
    let op = HostOperation::try_from(host.operation).map_err(|_| {
        Status::invalid_argument(format!("unknown host operation {}", host.operation))
    })?;
    if op == HostOperation::Unknown && host.version.is_some() {
        return Err(Status::invalid_argument(
            "both operation and version must be set or both must be unset",
        ));
    }
    if host.id.is_empty() || host.namespace.is_empty() {
        return Err(Status::invalid_argument(
            "host ID and namespace must be provided",
        ));
    }
    for entity in &host.entities {
        let mut parts = entity.split('.');
        if parts.next() == Some("dapr") && parts.next() == Some("internal") {
            let (ns, app) = (parts.next(), parts.next());
            if ns != Some(host.namespace.as_str()) || app != Some(host.id.as_str()) {
                return Err(Status::permission_denied(format!(
                    "entity {entity} is not allowed for app ID {} in namespace {}",
                    host.id, host.namespace
                )));
            }
        }
    }
    if let Some(ns) = bound_ns
        && ns != host.namespace
    {
        return Err(Status::invalid_argument(format!(
            "namespace changed from {ns} to {} on an open stream",
            host.namespace
        )));
    }
    Ok(())
}

fn host_operation(host: &Host) -> HostOperation {
    HostOperation::try_from(host.operation).unwrap_or(HostOperation::Unknown)
}

// ---------------------------------------------------------------------------
// The event loop

/// What reader tasks tell the loop.
enum Event {
    /// The first (accepted) message of a stream.
    Join {
        id: StreamId,
        host: Host,
        link: StreamLink,
    },
    /// A later accepted message.
    Message { id: StreamId, host: Host },
    /// The stream ended (for whatever reason).
    Leave { id: StreamId },
}

/// All placement state; owned by the loop task.
struct Core {
    settings: PlacementSettings,
    namespaces: HashMap<String, Namespace>,
    stream_ns: HashMap<StreamId, String>,
    snapshot: Arc<Mutex<PlacementSnapshot>>,
}

impl Core {
    async fn run(mut self, mut events: mpsc::Receiver<Event>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let wake = self
                .namespaces
                .values()
                .filter_map(Namespace::next_wake)
                .min();
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|down| *down) => {
                    self.shut_down();
                    break;
                }
                event = events.recv() => match event {
                    Some(event) => self.handle(event),
                    None => break,
                },
                () = sleep_until(wake) => self.fire_timers(Instant::now()),
            }
        }
        debug!("placement: event loop ended");
    }

    fn handle(&mut self, event: Event) {
        let now = Instant::now();
        let name = match event {
            Event::Join { id, host, link } => {
                let name = host.namespace.clone();
                self.stream_ns.insert(id, name.clone());
                let settings = &self.settings;
                self.namespaces
                    .entry(name.clone())
                    .or_insert_with(|| Namespace::new(name.clone(), settings))
                    .join(id, host, link, now);
                name
            }
            Event::Message { id, host } => {
                let Some(name) = self.stream_ns.get(&id).cloned() else {
                    return;
                };
                let Some(ns) = self.namespaces.get_mut(&name) else {
                    return;
                };
                ns.message(id, host, now);
                name
            }
            Event::Leave { id } => {
                let Some(name) = self.stream_ns.remove(&id) else {
                    return;
                };
                let Some(ns) = self.namespaces.get_mut(&name) else {
                    return;
                };
                ns.leave(id, now);
                name
            }
        };
        self.settle(&name);
    }

    fn fire_timers(&mut self, now: Instant) {
        let due: Vec<String> = self
            .namespaces
            .iter()
            .filter(|(_, ns)| ns.next_wake().is_some_and(|at| at <= now))
            .map(|(name, _)| name.clone())
            .collect();
        for name in due {
            if let Some(ns) = self.namespaces.get_mut(&name) {
                ns.on_timer(now);
            }
            self.settle(&name);
        }
    }

    /// Forgets an empty namespace; publishes the namespace's snapshot if
    /// anything it shows changed.
    fn settle(&mut self, name: &str) {
        let snapshot = match self.namespaces.get_mut(name) {
            Some(ns) if !ns.is_empty() => match ns.snapshot_if_changed() {
                Some(snapshot) => Some(snapshot),
                None => return,
            },
            Some(_) => {
                debug!(namespace = name, "placement: namespace has no streams left");
                self.namespaces.remove(name);
                None
            }
            None => None,
        };
        let mut shared = lock(&self.snapshot);
        match snapshot {
            Some(snapshot) => {
                shared.namespaces.insert(name.to_string(), snapshot);
            }
            None => {
                shared.namespaces.remove(name);
            }
        }
    }

    fn shut_down(&mut self) {
        for ns in self.namespaces.values() {
            for member in ns.members.values() {
                member.link.closer.close(Status::unavailable(SHUTTING_DOWN));
            }
            for joining in ns.joining.values() {
                joining
                    .link
                    .closer
                    .close(Status::unavailable(SHUTTING_DOWN));
            }
        }
        self.namespaces.clear();
        self.stream_ns.clear();
        lock(&self.snapshot).namespaces.clear();
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Where a namespace's round is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No round in flight.
    Idle,
    /// `lock N` sent, waiting for `LOCK` acks.
    Lock,
    /// `update N` sent, waiting for `UPDATE` acks.
    Update,
    /// `unlock N` sent, waiting for `UNLOCK` acks.
    Unlock,
}

impl Phase {
    fn of_ack(op: HostOperation) -> Option<Self> {
        match op {
            HostOperation::Lock => Some(Self::Lock),
            HostOperation::Update => Some(Self::Update),
            HostOperation::Unlock => Some(Self::Unlock),
            HostOperation::Unknown | HostOperation::Report => None,
        }
    }
}

/// A stream taking part in its namespace's rounds.
struct Member {
    link: StreamLink,
    /// Gen A sidecar: gets orders, never waited for.
    legacy: bool,
    /// The phase of the current round this stream has acked.
    acked: Option<Phase>,
    /// Whether it was ever sent tables.
    has_table: bool,
}

/// A new stream waiting for the round in flight (or the coalesce window).
struct Joining {
    link: StreamLink,
    host: Host,
    legacy: bool,
}

/// One namespace: its store, its version and its round.
struct Namespace {
    name: String,
    replication_factor: i64,
    timeout: Duration,
    coalesce: Duration,
    version: u64,
    phase: Phase,
    /// When the round in flight times out.
    deadline: Option<Instant>,
    /// When the queued joins/leaves are processed (coalesce window).
    coalesce_at: Option<Instant>,
    members: BTreeMap<StreamId, Member>,
    /// Hosts with actor types, as reported (entities sorted).
    store: BTreeMap<StreamId, Host>,
    joining: BTreeMap<StreamId, Joining>,
    /// Gone streams whose hosts are still in the store (removed by the next round).
    leaving: Vec<StreamId>,
    /// Streams whose orders could not be queued; removed by `reap`.
    doomed: Vec<StreamId>,
    /// Bumped whenever `store` changes.
    store_rev: u64,
    /// What the last published snapshot was built from.
    published: Option<(u64, Phase, usize, u64)>,
}

impl Namespace {
    fn new(name: String, settings: &PlacementSettings) -> Self {
        Self {
            name,
            replication_factor: settings.replication_factor,
            timeout: settings.disseminate_timeout,
            coalesce: settings.coalesce_window,
            version: 0,
            phase: Phase::Idle,
            deadline: None,
            coalesce_at: None,
            members: BTreeMap::new(),
            store: BTreeMap::new(),
            joining: BTreeMap::new(),
            leaving: Vec::new(),
            doomed: Vec::new(),
            store_rev: 0,
            published: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.members.is_empty() && self.joining.is_empty()
    }

    fn next_wake(&self) -> Option<Instant> {
        match (self.deadline, self.coalesce_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The snapshot, unless nothing it shows changed since the last call.
    fn snapshot_if_changed(&mut self) -> Option<NamespaceSnapshot> {
        let key = (
            self.version,
            self.phase,
            self.members.len() + self.joining.len(),
            self.store_rev,
        );
        if self.published == Some(key) {
            return None;
        }
        self.published = Some(key);
        Some(self.snapshot())
    }

    fn snapshot(&self) -> NamespaceSnapshot {
        let mut hosts: Vec<HostSnapshot> = self
            .store
            .values()
            .map(|host| HostSnapshot {
                name: host.name.clone(),
                id: host.id.clone(),
                entities: host.entities.clone(),
            })
            .collect();
        hosts.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        NamespaceSnapshot {
            version: self.version,
            disseminating: self.phase != Phase::Idle,
            streams: self.members.len() + self.joining.len(),
            hosts,
        }
    }

    // -- entry points (each ends with `reap`) --

    fn join(&mut self, id: StreamId, host: Host, link: StreamLink, now: Instant) {
        let legacy = host_operation(&host) == HostOperation::Unknown;
        debug!(
            namespace = %self.name,
            stream = id,
            name = %host.name,
            app_id = %host.id,
            entities = ?host.entities,
            legacy,
            "placement: host connected"
        );
        self.joining.insert(id, Joining { link, host, legacy });
        self.schedule_queue(now);
        self.reap(now);
    }

    fn message(&mut self, id: StreamId, host: Host, now: Instant) {
        let op = host_operation(&host);
        if let Some(joining) = self.joining.get_mut(&id) {
            // Waiting for the next round: keep its latest report.
            if op == HostOperation::Report || (op == HostOperation::Unknown && joining.legacy) {
                joining.host = host;
            }
            return;
        }
        let Some(member) = self.members.get(&id) else {
            return;
        };
        let explicit_report = op == HostOperation::Report;
        let op = match op {
            HostOperation::Unknown if member.legacy => HostOperation::Report,
            // Pre-1.17 style ack: whichever phase is current.
            HostOperation::Unknown => match self.phase {
                Phase::Idle => HostOperation::Report,
                Phase::Lock => HostOperation::Lock,
                Phase::Update => HostOperation::Update,
                Phase::Unlock => HostOperation::Unlock,
            },
            op => op,
        };
        if let Some(version) = host.version
            && version < self.version
        {
            debug!(namespace = %self.name, stream = id, version, current = self.version, ?op, "placement: ignoring a stale message");
            return;
        }
        match Phase::of_ack(op) {
            Some(phase) => self.ack(id, phase, host.version, now),
            None => self.report(id, &host, explicit_report, now),
        }
        self.reap(now);
    }

    fn leave(&mut self, id: StreamId, now: Instant) {
        self.remove(id, now);
        self.reap(now);
    }

    fn on_timer(&mut self, now: Instant) {
        if self.deadline.is_some_and(|at| at <= now) {
            self.on_deadline(now);
        }
        if self.coalesce_at.is_some_and(|at| at <= now) {
            self.coalesce_at = None;
            if self.phase == Phase::Idle {
                self.flush_queue(now);
            }
        }
        self.reap(now);
    }

    // -- internals --

    /// Removes the streams whose orders could not be queued.
    fn reap(&mut self, now: Instant) {
        while let Some(id) = self.doomed.pop() {
            if self.members.contains_key(&id) {
                debug!(namespace = %self.name, stream = id, "placement: removing a stream that cannot take orders");
                self.remove(id, now);
            }
        }
    }

    /// A stream is gone: it stops counting for acks at once; its host leaves
    /// the tables with the next round.
    fn remove(&mut self, id: StreamId, now: Instant) {
        if self.joining.remove(&id).is_some() {
            return;
        }
        if self.members.remove(&id).is_none() {
            return;
        }
        if self.store.contains_key(&id) {
            info!(namespace = %self.name, stream = id, "placement: host with actor types disconnected");
            self.leaving.push(id);
        }
        if self.phase == Phase::Idle {
            self.schedule_queue(now);
        } else {
            self.maybe_advance(now);
        }
    }

    /// Processes queued joins and leaves now, or arms the coalesce window.
    /// Only while idle; a round in flight picks them up when it completes.
    fn schedule_queue(&mut self, now: Instant) {
        if self.phase != Phase::Idle || (self.joining.is_empty() && self.leaving.is_empty()) {
            return;
        }
        if self.coalesce.is_zero() {
            self.flush_queue(now);
        } else if self.coalesce_at.is_none() {
            self.coalesce_at = Some(now + self.coalesce);
        }
    }

    /// Applies queued joins and leaves (idle only): one round if the store
    /// changed, otherwise one-shot tables for the new entity-less streams.
    fn flush_queue(&mut self, now: Instant) {
        self.coalesce_at = None;
        let (changed, fresh) = self.apply_queue();
        if self.members.is_empty() {
            return;
        }
        if changed {
            self.start_round(now);
        } else {
            for id in fresh {
                if !self.store.contains_key(&id) {
                    self.push_one_shot(id);
                }
            }
        }
    }

    /// Moves queued streams into the members and the store, drops the hosts
    /// of gone streams. Returns whether the store changed, and the new
    /// members.
    fn apply_queue(&mut self) -> (bool, Vec<StreamId>) {
        let mut changed = false;
        for id in std::mem::take(&mut self.leaving) {
            if self.store.remove(&id).is_some() {
                self.store_rev += 1;
                changed = true;
            }
        }
        let mut fresh = Vec::new();
        for (id, joining) in std::mem::take(&mut self.joining) {
            changed |= self.store_set(id, &joining.host);
            self.members.insert(
                id,
                Member {
                    link: joining.link,
                    legacy: joining.legacy,
                    acked: None,
                    has_table: false,
                },
            );
            fresh.push(id);
        }
        (changed, fresh)
    }

    /// Starts round `version + 1` for every member, superseding any round in
    /// flight and folding in everything queued.
    fn start_round(&mut self, now: Instant) {
        self.coalesce_at = None;
        self.apply_queue();
        self.version += 1;
        self.phase = Phase::Lock;
        self.deadline = Some(now + self.timeout);
        for member in self.members.values_mut() {
            member.acked = None;
        }
        info!(
            namespace = %self.name,
            version = self.version,
            hosts = self.store.len(),
            streams = self.members.len(),
            "placement: dissemination round started"
        );
        self.broadcast(&order(operation::LOCK, self.version, None));
        self.maybe_advance(now);
    }

    /// Moves the round on while every member (gen A ones excepted) has acked
    /// the current phase.
    fn maybe_advance(&mut self, now: Instant) {
        loop {
            let phase = self.phase;
            if phase == Phase::Idle
                || !self
                    .members
                    .values()
                    .all(|m| m.legacy || m.acked == Some(phase))
            {
                return;
            }
            match phase {
                Phase::Lock => {
                    self.phase = Phase::Update;
                    let tables = self.tables();
                    for member in self.members.values_mut() {
                        member.has_table = true;
                    }
                    self.broadcast(&order(operation::UPDATE, self.version, Some(tables)));
                }
                Phase::Update => {
                    self.phase = Phase::Unlock;
                    self.broadcast(&order(operation::UNLOCK, self.version, None));
                }
                Phase::Unlock | Phase::Idle => {
                    self.phase = Phase::Idle;
                    self.deadline = None;
                    info!(namespace = %self.name, version = self.version, "placement: dissemination round complete");
                    self.schedule_queue(now);
                    return;
                }
            }
        }
    }

    fn ack(&mut self, id: StreamId, phase: Phase, version: Option<u64>, now: Instant) {
        if phase != self.phase || version.is_some_and(|v| v != self.version) {
            debug!(
                namespace = %self.name,
                stream = id,
                ?phase,
                ?version,
                current_phase = ?self.phase,
                current_version = self.version,
                "placement: ignoring an ack for another phase or version"
            );
            return;
        }
        if let Some(member) = self.members.get_mut(&id) {
            member.acked = Some(phase);
        }
        self.maybe_advance(now);
    }

    fn report(&mut self, id: StreamId, host: &Host, explicit: bool, now: Instant) {
        if self.store_set(id, host) {
            if self.phase != Phase::Idle {
                info!(namespace = %self.name, stream = id, version = self.version, "placement: host changed mid-round; superseding the round");
            }
            self.start_round(now);
            return;
        }
        if self.store.contains_key(&id) || self.phase != Phase::Idle {
            return;
        }
        // Entity-less host: a one-shot table for each REPORT (gen B), or
        // for a heartbeat only while it has never had one.
        let wants = self
            .members
            .get(&id)
            .is_some_and(|m| explicit || !m.has_table);
        if wants {
            self.push_one_shot(id);
        }
    }

    /// Stores the host if it has actor types (removes it if not). Returns
    /// whether the store changed.
    fn store_set(&mut self, id: StreamId, host: &Host) -> bool {
        let mut stored = host.clone();
        stored.entities.sort();
        stored.operation = HostOperation::Report as i32;
        stored.version = None;
        if stored.entities.is_empty() {
            let removed = self.store.remove(&id).is_some();
            self.store_rev += u64::from(removed);
            return removed;
        }
        if let Some(old) = self.store.get(&id)
            && old.name == stored.name
            && old.id == stored.id
            && old.namespace == stored.namespace
            && old.entities == stored.entities
        {
            return false;
        }
        self.store.insert(id, stored);
        self.store_rev += 1;
        true
    }

    /// `lock N`, `update N` (current tables), `unlock N` to one stream, at
    /// the current version; its acks are not waited for.
    fn push_one_shot(&mut self, id: StreamId) {
        let version = self.version;
        let tables = self.tables();
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        member.has_table = true;
        debug!(namespace = %self.name, stream = id, version, "placement: one-shot table push");
        let orders = [
            order(operation::LOCK, version, None),
            order(operation::UPDATE, version, Some(tables)),
            order(operation::UNLOCK, version, None),
        ];
        for order in orders {
            if !member.link.deliver(order) {
                self.doomed.push(id);
                return;
            }
        }
    }

    fn broadcast(&mut self, order: &PlacementOrder) {
        for (id, member) in &self.members {
            if !member.link.deliver(order.clone()) {
                self.doomed.push(*id);
            }
        }
    }

    /// The round's deadline passed: close the streams that have not acked
    /// the current phase; then a new round if the tables lost hosts, else
    /// carry on with the others.
    fn on_deadline(&mut self, now: Instant) {
        self.deadline = None;
        let phase = self.phase;
        if phase == Phase::Idle {
            return;
        }
        let laggards: Vec<StreamId> = self
            .members
            .iter()
            .filter(|(_, m)| !m.legacy && m.acked != Some(phase))
            .map(|(id, _)| *id)
            .collect();
        warn!(
            namespace = %self.name,
            version = self.version,
            ?phase,
            streams = ?laggards,
            "placement: dissemination timeout after {:?}; closing the streams that did not ack",
            self.timeout
        );
        for id in laggards {
            if let Some(member) = self.members.remove(&id) {
                member.link.closer.close(Status::deadline_exceeded(format!(
                    "dissemination timeout after {:?} for version {}",
                    self.timeout, self.version
                )));
                if self.store.contains_key(&id) {
                    self.leaving.push(id);
                }
            }
        }
        if self.leaving.is_empty() {
            self.deadline = Some(now + self.timeout);
            self.maybe_advance(now);
        } else {
            self.start_round(now);
        }
    }

    fn tables(&self) -> PlacementTables {
        let mut entries: HashMap<String, PlacementTable> = HashMap::new();
        for host in self.store.values() {
            for entity in &host.entities {
                entries
                    .entry(entity.clone())
                    .or_default()
                    .load_map
                    .insert(host.name.clone(), host.clone());
            }
        }
        PlacementTables {
            entries,
            version: self.version.to_string(),
            api_level: 0,
            replication_factor: self.replication_factor,
        }
    }
}

fn order(operation: &str, version: u64, tables: Option<PlacementTables>) -> PlacementOrder {
    PlacementOrder {
        tables,
        operation: operation.to_string(),
        version,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::{mpsc, oneshot};
    use tokio::task::JoinHandle;
    use tokio_stream::wrappers::ReceiverStream;
    use tonic::{Code, Status, Streaming};
    use wapr_proto::dapr::proto::placement::v1::placement_client::PlacementClient;

    use super::*;
    use crate::placement::API_LEVEL;

    const WAIT: Duration = Duration::from_secs(3);
    const QUIET: Duration = Duration::from_millis(300);

    struct TestServer {
        addr: SocketAddr,
        service: PlacementService,
        stop: Option<oneshot::Sender<()>>,
        task: JoinHandle<Result<(), PlacementServerError>>,
    }

    impl TestServer {
        async fn start(settings: PlacementSettings) -> Self {
            let (listener, addr) = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let service = PlacementService::new(settings);
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(serve(listener, service.clone(), None, async move {
                let _ = stopped.await;
            }));
            Self {
                addr,
                service,
                stop: Some(stop),
                task,
            }
        }

        async fn default() -> Self {
            Self::start(PlacementSettings {
                disseminate_timeout: Duration::from_secs(5),
                ..PlacementSettings::default()
            })
            .await
        }

        /// Opens a raw stream; `first` is queued before the call.
        async fn open(
            &self,
            first: Option<Host>,
        ) -> (
            mpsc::Sender<Host>,
            Result<Streaming<PlacementOrder>, Status>,
        ) {
            let mut client = PlacementClient::connect(format!("http://{}", self.addr))
                .await
                .unwrap();
            let (tx, rx) = mpsc::channel(16);
            if let Some(first) = first {
                tx.send(first).await.unwrap();
            }
            let response = client.report_dapr_status(ReceiverStream::new(rx)).await;
            (tx, response.map(tonic::Response::into_inner))
        }

        /// Connects a host and sends its REPORT.
        async fn host(&self, ns: &str, id: &str, name: &str, entities: &[&str]) -> TestHost {
            let mut host = TestHost {
                tx: None,
                rx: None,
                ns: ns.into(),
                id: id.into(),
                name: name.into(),
                entities: entities.iter().map(|e| e.to_string()).collect(),
            };
            let (tx, rx) = self.open(Some(host.report())).await;
            host.tx = Some(tx);
            host.rx = Some(rx.unwrap());
            host
        }

        async fn wait_snapshot(
            &self,
            what: &str,
            check: impl Fn(&PlacementSnapshot) -> bool,
        ) -> PlacementSnapshot {
            let deadline = Instant::now() + WAIT;
            loop {
                let snapshot = self.service.snapshot();
                if check(&snapshot) {
                    return snapshot;
                }
                assert!(
                    Instant::now() < deadline,
                    "snapshot never got {what}: {snapshot:#?}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }

        async fn stop(mut self) {
            let _ = self.stop.take().unwrap().send(());
            tokio::time::timeout(WAIT, self.task)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        }
    }

    struct TestHost {
        tx: Option<mpsc::Sender<Host>>,
        rx: Option<Streaming<PlacementOrder>>,
        ns: String,
        id: String,
        name: String,
        entities: Vec<String>,
    }

    impl TestHost {
        fn base(&self) -> Host {
            Host {
                name: self.name.clone(),
                id: self.id.clone(),
                namespace: self.ns.clone(),
                entities: self.entities.clone(),
                api_level: API_LEVEL,
                ..Host::default()
            }
        }

        fn report(&self) -> Host {
            Host {
                operation: HostOperation::Report as i32,
                ..self.base()
            }
        }

        async fn send(&self, host: Host) {
            self.tx.as_ref().unwrap().send(host).await.unwrap();
        }

        async fn ack(&self, op: HostOperation, version: u64) {
            self.send(Host {
                operation: op as i32,
                version: Some(version),
                ..self.base()
            })
            .await;
        }

        /// A pre-1.17 style ack: the full host, operation UNKNOWN, no version.
        async fn ack_unknown(&self) {
            self.send(self.base()).await;
        }

        async fn next(&mut self) -> PlacementOrder {
            let rx = self.rx.as_mut().unwrap();
            match tokio::time::timeout(WAIT, rx.message()).await {
                Ok(Ok(Some(order))) => order,
                other => panic!("{}: expected an order, got {other:?}", self.name),
            }
        }

        async fn expect(&mut self, op: &str, version: u64) -> PlacementOrder {
            let order = self.next().await;
            assert_eq!(
                (order.operation.as_str(), order.version),
                (op, version),
                "{}: unexpected order {order:?}",
                self.name
            );
            match &order.tables {
                Some(tables) => {
                    assert_eq!(op, operation::UPDATE);
                    assert_eq!(tables.version, version.to_string());
                    assert_eq!(tables.replication_factor, DEFAULT_REPLICATION_FACTOR);
                    assert_eq!(tables.api_level, 0);
                }
                None => assert_ne!(op, operation::UPDATE, "update without tables"),
            }
            order
        }

        async fn expect_quiet(&mut self) {
            let rx = self.rx.as_mut().unwrap();
            if let Ok(got) = tokio::time::timeout(QUIET, rx.message()).await {
                panic!("{}: expected no order, got {got:?}", self.name);
            }
        }

        /// Reads (and discards) orders until the stream fails.
        async fn closed(&mut self) -> Status {
            let rx = self.rx.as_mut().unwrap();
            loop {
                match tokio::time::timeout(WAIT, rx.message()).await {
                    Ok(Ok(Some(_))) => continue,
                    Ok(Err(status)) => return status,
                    other => panic!("{}: expected the stream to fail, got {other:?}", self.name),
                }
            }
        }

        /// One-shot push: lock, update, unlock at `version`, no acks needed.
        async fn expect_one_shot(&mut self, version: u64) -> PlacementTables {
            self.expect(operation::LOCK, version).await;
            let tables = self
                .expect(operation::UPDATE, version)
                .await
                .tables
                .unwrap();
            self.expect(operation::UNLOCK, version).await;
            tables
        }

        fn drop_stream(&mut self) {
            self.tx = None;
            self.rx = None;
        }
    }

    /// Runs round `version` for `hosts`, acking every phase; returns the tables.
    async fn round(hosts: &mut [&mut TestHost], version: u64) -> PlacementTables {
        for host in hosts.iter_mut() {
            host.expect(operation::LOCK, version).await;
            host.ack(HostOperation::Lock, version).await;
        }
        let mut tables = None;
        for host in hosts.iter_mut() {
            let order = host.expect(operation::UPDATE, version).await;
            let got = order.tables.unwrap();
            if let Some(seen) = &tables {
                assert_eq!(seen, &got, "hosts got different tables");
            }
            tables = Some(got);
            host.ack(HostOperation::Update, version).await;
        }
        for host in hosts.iter_mut() {
            host.expect(operation::UNLOCK, version).await;
            host.ack(HostOperation::Unlock, version).await;
        }
        tables.unwrap()
    }

    /// Names in `tables.entries[ty].load_map`, sorted.
    fn names(tables: &PlacementTables, ty: &str) -> Vec<String> {
        let mut names: Vec<String> = tables
            .entries
            .get(ty)
            .map(|t| t.load_map.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    fn round_done(ns: &str, version: u64) -> impl Fn(&PlacementSnapshot) -> bool {
        let ns = ns.to_string();
        move |s| {
            s.namespaces
                .get(&ns)
                .is_some_and(|n| n.version == version && !n.disseminating)
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn single_host_round_waits_for_each_ack() {
        let server = TestServer::default().await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:50002", &["zeta", "alpha"])
            .await;

        a.expect(operation::LOCK, 1).await;
        a.expect_quiet().await; // no update before the LOCK ack
        a.ack(HostOperation::Lock, 1).await;
        let tables = a.expect(operation::UPDATE, 1).await.tables.unwrap();
        assert_eq!(tables.entries.len(), 2);
        for ty in ["alpha", "zeta"] {
            let table = &tables.entries[ty];
            assert!(table.hosts.is_empty() && table.sorted_set.is_empty());
            let host = &table.load_map["10.0.0.1:50002"];
            assert_eq!(host.id, "app-a");
            assert_eq!(host.namespace, "default");
            assert_eq!(host.entities, ["alpha", "zeta"]); // sorted
            assert_eq!(host.api_level, API_LEVEL);
            assert_eq!(host.operation, HostOperation::Report as i32);
            assert_eq!(host.version, None);
            assert_eq!(host.port, 0);
        }
        a.expect_quiet().await; // no unlock before the UPDATE ack
        a.ack(HostOperation::Update, 1).await;
        a.expect(operation::UNLOCK, 1).await;
        let snapshot = server.service.snapshot();
        assert!(snapshot.namespaces["default"].disseminating);
        a.ack(HostOperation::Unlock, 1).await;

        let snapshot = server
            .wait_snapshot("round 1 complete", round_done("default", 1))
            .await;
        let ns = &snapshot.namespaces["default"];
        assert_eq!(ns.streams, 1);
        assert_eq!(
            ns.hosts,
            [HostSnapshot {
                name: "10.0.0.1:50002".into(),
                id: "app-a".into(),
                entities: vec!["alpha".into(), "zeta".into()],
            }]
        );
        a.expect_quiet().await;
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn second_host_starts_a_round_for_both() {
        let server = TestServer::default().await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        round(&mut [&mut a], 1).await;

        let mut b = server
            .host("default", "app-b", "10.0.0.2:1", &["counter", "player"])
            .await;
        let tables = round(&mut [&mut a, &mut b], 2).await;
        assert_eq!(names(&tables, "counter"), ["10.0.0.1:1", "10.0.0.2:1"]);
        assert_eq!(names(&tables, "player"), ["10.0.0.2:1"]);
        server
            .wait_snapshot("round 2 complete", round_done("default", 2))
            .await;
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn dropped_stream_starts_a_round_without_it() {
        let server = TestServer::default().await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        round(&mut [&mut a], 1).await;
        let mut b = server
            .host("default", "app-b", "10.0.0.2:1", &["counter"])
            .await;
        round(&mut [&mut a, &mut b], 2).await;

        b.drop_stream();
        let tables = round(&mut [&mut a], 3).await;
        assert_eq!(names(&tables, "counter"), ["10.0.0.1:1"]);
        let snapshot = server
            .wait_snapshot("round 3 complete", round_done("default", 3))
            .await;
        assert_eq!(snapshot.namespaces["default"].streams, 1);
        assert_eq!(snapshot.namespaces["default"].hosts.len(), 1);
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn silent_host_is_dropped_after_the_dissemination_timeout() {
        let server = TestServer::start(PlacementSettings {
            disseminate_timeout: Duration::from_millis(400),
            ..PlacementSettings::default()
        })
        .await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        round(&mut [&mut a], 1).await;

        // B joins but never acks.
        let mut b = server
            .host("default", "app-b", "10.0.0.2:1", &["counter"])
            .await;
        a.expect(operation::LOCK, 2).await;
        a.ack(HostOperation::Lock, 2).await;
        b.expect(operation::LOCK, 2).await;

        let status = b.closed().await;
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        assert_eq!(
            status.message(),
            "dissemination timeout after 400ms for version 2"
        );

        // B hosted actors: a new round without it, and it completes.
        let tables = round(&mut [&mut a], 3).await;
        assert_eq!(names(&tables, "counter"), ["10.0.0.1:1"]);
        let snapshot = server
            .wait_snapshot("round 3 complete", round_done("default", 3))
            .await;
        assert_eq!(snapshot.namespaces["default"].streams, 1);
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn silent_entityless_host_is_dropped_and_the_round_carries_on() {
        let server = TestServer::start(PlacementSettings {
            disseminate_timeout: Duration::from_millis(400),
            ..PlacementSettings::default()
        })
        .await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        a.expect(operation::LOCK, 1).await;
        // C joins mid-round: it waits for round 1, then gets a one-shot.
        let mut c = server.host("default", "caller", "10.0.0.3:1", &[]).await;
        server
            .wait_snapshot("two streams", |s| s.namespaces["default"].streams == 2)
            .await;
        a.ack(HostOperation::Lock, 1).await;
        a.expect(operation::UPDATE, 1).await;
        a.ack(HostOperation::Update, 1).await;
        a.expect(operation::UNLOCK, 1).await;
        a.ack(HostOperation::Unlock, 1).await;
        let tables = c.expect_one_shot(1).await;
        assert_eq!(names(&tables, "counter"), ["10.0.0.1:1"]);
        // A new host: round 2 goes to all three; C ignores it.
        let mut b = server
            .host("default", "app-b", "10.0.0.2:1", &["counter"])
            .await;
        for host in [&mut a, &mut b] {
            host.expect(operation::LOCK, 2).await;
            host.ack(HostOperation::Lock, 2).await;
        }
        assert_eq!(c.closed().await.code(), Code::DeadlineExceeded);
        // Same round, version 2, continues for A and B.
        for host in [&mut a, &mut b] {
            let tables = host.expect(operation::UPDATE, 2).await.tables.unwrap();
            assert_eq!(names(&tables, "counter"), ["10.0.0.1:1", "10.0.0.2:1"]);
            host.ack(HostOperation::Update, 2).await;
        }
        for host in [&mut a, &mut b] {
            host.expect(operation::UNLOCK, 2).await;
            host.ack(HostOperation::Unlock, 2).await;
        }
        server
            .wait_snapshot("round 2 complete", round_done("default", 2))
            .await;
        a.expect_quiet().await;
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn entityless_host_gets_a_one_shot_push() {
        let server = TestServer::default().await;

        // A fresh namespace: the push carries version 0 and empty tables.
        let mut early = server.host("other", "caller", "10.0.0.9:1", &[]).await;
        let tables = early.expect_one_shot(0).await;
        assert!(tables.entries.is_empty());
        assert_eq!(tables.version, "0");

        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        round(&mut [&mut a], 1).await;
        let mut c = server.host("default", "caller", "10.0.0.3:1", &[]).await;
        let tables = c.expect_one_shot(1).await;
        assert_eq!(names(&tables, "counter"), ["10.0.0.1:1"]);
        a.expect_quiet().await;
        // Its acks are not needed and change nothing.
        c.ack(HostOperation::Lock, 1).await;
        c.ack(HostOperation::Update, 1).await;
        c.ack(HostOperation::Unlock, 1).await;

        // Every gen B REPORT gets another push.
        c.send(c.report()).await;
        c.expect_one_shot(1).await;
        a.expect_quiet().await;

        let snapshot = server.service.snapshot();
        let ns = &snapshot.namespaces["default"];
        assert_eq!((ns.version, ns.streams, ns.hosts.len()), (1, 2, 1));
        assert_eq!(ns.hosts[0].id, "app-a");

        // Leaving changes nothing for the others.
        c.drop_stream();
        a.expect_quiet().await;
        server
            .wait_snapshot("caller gone", |s| s.namespaces["default"].streams == 1)
            .await;
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn garbage_is_refused_and_others_are_unaffected() {
        let server = TestServer::default().await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        round(&mut [&mut a], 1).await;

        let good = Host {
            name: "10.0.0.5:1".into(),
            id: "bad".into(),
            namespace: "default".into(),
            entities: vec!["counter".into()],
            api_level: API_LEVEL,
            operation: HostOperation::Report as i32,
            ..Host::default()
        };
        let cases = [
            (
                Host {
                    id: String::new(),
                    ..good.clone()
                },
                Code::InvalidArgument,
                "host ID and namespace must be provided",
            ),
            (
                Host {
                    namespace: String::new(),
                    ..good.clone()
                },
                Code::InvalidArgument,
                "host ID and namespace must be provided",
            ),
            (
                Host {
                    operation: HostOperation::Unknown as i32,
                    version: Some(3),
                    ..good.clone()
                },
                Code::InvalidArgument,
                "both operation and version must be set or both must be unset",
            ),
            (
                Host {
                    operation: 99,
                    ..good.clone()
                },
                Code::InvalidArgument,
                "unknown host operation 99",
            ),
            (
                Host {
                    operation: -1,
                    ..good.clone()
                },
                Code::InvalidArgument,
                "unknown host operation -1",
            ),
            (
                Host {
                    entities: vec!["dapr.internal.other.bad.workflow".into()],
                    ..good.clone()
                },
                Code::PermissionDenied,
                "entity dapr.internal.other.bad.workflow is not allowed for app ID bad in namespace default",
            ),
            (
                Host {
                    entities: vec![
                        "counter".into(),
                        "dapr.internal.default.someone.workflow".into(),
                    ],
                    ..good.clone()
                },
                Code::PermissionDenied,
                "",
            ),
            (
                Host {
                    entities: vec!["dapr.internal".into()],
                    ..good.clone()
                },
                Code::PermissionDenied,
                "",
            ),
            (
                Host {
                    entities: vec!["dapr.internal.default".into()],
                    ..good.clone()
                },
                Code::PermissionDenied,
                "",
            ),
        ];
        for (host, code, message) in cases {
            let (_tx, rx) = server.open(Some(host.clone())).await;
            let status = match rx {
                Err(status) => status,
                Ok(mut rx) => match tokio::time::timeout(WAIT, rx.message()).await {
                    Ok(Err(status)) => status,
                    other => panic!("{host:?}: expected a refusal, got {other:?}"),
                },
            };
            assert_eq!(status.code(), code, "{host:?}: {status:?}");
            if !message.is_empty() {
                assert_eq!(status.message(), message);
            }
        }
        a.expect_quiet().await;

        // A well-formed internal type is fine.
        let mut w = server
            .host(
                "default",
                "wf",
                "10.0.0.6:1",
                &["dapr.internal.default.wf.workflow"],
            )
            .await;
        round(&mut [&mut a, &mut w], 2).await;

        // Garbage mid-stream: the stream is closed, its host removed.
        w.send(Host {
            id: String::new(),
            ..w.report()
        })
        .await;
        assert_eq!(w.closed().await.code(), Code::InvalidArgument);
        let tables = round(&mut [&mut a], 3).await;
        assert_eq!(names(&tables, "counter"), ["10.0.0.1:1"]);
        assert!(
            !tables
                .entries
                .contains_key("dapr.internal.default.wf.workflow")
        );

        // A namespace switch on an open stream is refused.
        let mut x = server
            .host("default", "x", "10.0.0.7:1", &["counter"])
            .await;
        round(&mut [&mut a, &mut x], 4).await;
        x.send(Host {
            namespace: "elsewhere".into(),
            ..x.report()
        })
        .await;
        assert_eq!(x.closed().await.code(), Code::InvalidArgument);
        round(&mut [&mut a], 5).await;

        // Not HTTP/2 at all: that connection fails, nothing else.
        {
            use tokio::io::AsyncWriteExt;
            let mut raw = tokio::net::TcpStream::connect(server.addr).await.unwrap();
            raw.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00garbage garbage")
                .await
                .unwrap();
        }

        // The server still serves.
        let mut b = server
            .host("default", "app-b", "10.0.0.2:1", &["counter"])
            .await;
        round(&mut [&mut a, &mut b], 6).await;
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn identical_reports_start_no_round() {
        let server = TestServer::default().await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["b-type", "a-type"])
            .await;
        round(&mut [&mut a], 1).await;

        a.send(a.report()).await;
        // Same types in another order, other ignored fields changed.
        a.send(Host {
            entities: vec!["a-type".into(), "b-type".into()],
            api_level: 10,
            load: 1,
            ..a.report()
        })
        .await;
        a.expect_quiet().await;
        assert_eq!(server.service.snapshot().namespaces["default"].version, 1);

        // A real change does.
        a.entities.push("c-type".into());
        a.send(a.report()).await;
        let tables = round(&mut [&mut a], 2).await;
        assert_eq!(tables.entries.len(), 3);
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unknown_operation_acks_complete_rounds() {
        let server = TestServer::default().await;
        // Reports with REPORT, acks like a pre-1.17 client.
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        a.expect(operation::LOCK, 1).await;
        a.ack_unknown().await;
        a.expect(operation::UPDATE, 1).await;
        a.ack_unknown().await;
        a.expect(operation::UNLOCK, 1).await;
        a.ack_unknown().await;
        server
            .wait_snapshot("round 1 complete", round_done("default", 1))
            .await;
        // Idle: the same message is an identical report.
        a.ack_unknown().await;
        a.expect_quiet().await;
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn gen_a_host_gets_orders_without_being_waited_for() {
        let server = TestServer::default().await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        round(&mut [&mut a], 1).await;

        // A gen A sidecar: no operation, no version, heartbeats, no acks.
        let mut g = TestHost {
            tx: None,
            rx: None,
            ns: "default".into(),
            id: "legacy".into(),
            name: "10.0.0.8:1".into(),
            entities: vec!["legacy".into()],
        };
        let (tx, rx) = server.open(Some(g.base())).await;
        g.tx = Some(tx);
        g.rx = Some(rx.unwrap());
        let tables = round(&mut [&mut a], 2).await;
        assert_eq!(names(&tables, "legacy"), ["10.0.0.8:1"]);
        g.expect(operation::LOCK, 2).await;
        g.expect(operation::UPDATE, 2).await;
        g.expect(operation::UNLOCK, 2).await;
        server
            .wait_snapshot("round 2 complete", round_done("default", 2))
            .await;

        // Heartbeats start nothing.
        for _ in 0..3 {
            g.send(g.base()).await;
        }
        g.expect_quiet().await;
        a.expect_quiet().await;

        // An entity-less gen A host: one push, not one per heartbeat.
        let mut e = TestHost {
            tx: None,
            rx: None,
            ns: "default".into(),
            id: "legacy-caller".into(),
            name: "10.0.0.9:1".into(),
            entities: vec![],
        };
        let (tx, rx) = server.open(Some(e.base())).await;
        e.tx = Some(tx);
        e.rx = Some(rx.unwrap());
        e.expect_one_shot(2).await;
        e.send(e.base()).await;
        e.send(e.base()).await;
        e.expect_quiet().await;
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn namespaces_are_isolated() {
        let server = TestServer::default().await;
        let mut a = server.host("a", "app", "10.0.0.1:1", &["counter"]).await;
        let tables = round(&mut [&mut a], 1).await;
        assert_eq!(names(&tables, "counter"), ["10.0.0.1:1"]);

        let mut b = server.host("b", "app", "10.0.0.2:1", &["counter"]).await;
        let tables = round(&mut [&mut b], 1).await;
        assert_eq!(names(&tables, "counter"), ["10.0.0.2:1"]);
        a.expect_quiet().await;

        let mut b2 = server.host("b", "app2", "10.0.0.3:1", &["other"]).await;
        let tables = round(&mut [&mut b, &mut b2], 2).await;
        assert!(tables.entries.contains_key("other"));
        assert_eq!(names(&tables, "counter"), ["10.0.0.2:1"]);
        a.expect_quiet().await;

        let snapshot = server.service.snapshot();
        assert_eq!(snapshot.namespaces["a"].version, 1);
        assert_eq!(snapshot.namespaces["b"].version, 2);
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn changed_report_mid_round_supersedes_it() {
        let server = TestServer::default().await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        a.expect(operation::LOCK, 1).await;
        a.ack(HostOperation::Lock, 1).await;
        a.expect(operation::UPDATE, 1).await;
        // Types change before the UPDATE ack: lock 2 at once, no unlock 1.
        a.entities = vec!["counter".into(), "player".into()];
        a.send(a.report()).await;
        a.ack(HostOperation::Update, 1).await; // stale, ignored
        let tables = round(&mut [&mut a], 2).await;
        assert_eq!(names(&tables, "player"), ["10.0.0.1:1"]);
        a.expect_quiet().await;
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn joins_mid_round_fold_into_one_follow_up_round() {
        let server = TestServer::default().await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        a.expect(operation::LOCK, 1).await;
        server
            .wait_snapshot("round 1 in flight", |s| {
                s.namespaces.get("default").is_some_and(|n| n.disseminating)
            })
            .await;
        let mut b = server
            .host("default", "app-b", "10.0.0.2:1", &["counter"])
            .await;
        let mut c = server
            .host("default", "app-c", "10.0.0.3:1", &["counter"])
            .await;
        server
            .wait_snapshot("three streams", |s| s.namespaces["default"].streams == 3)
            .await;
        b.expect_quiet().await;
        a.ack(HostOperation::Lock, 1).await;
        let tables = a.expect(operation::UPDATE, 1).await.tables.unwrap();
        assert_eq!(names(&tables, "counter"), ["10.0.0.1:1"]);
        a.ack(HostOperation::Update, 1).await;
        a.expect(operation::UNLOCK, 1).await;
        a.ack(HostOperation::Unlock, 1).await;

        let tables = round(&mut [&mut a, &mut b, &mut c], 2).await;
        assert_eq!(
            names(&tables, "counter"),
            ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]
        );
        server
            .wait_snapshot("round 2 complete", round_done("default", 2))
            .await;
        c.expect_quiet().await;
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn coalesce_window_batches_joins() {
        let server = TestServer::start(PlacementSettings {
            coalesce_window: Duration::from_millis(300),
            disseminate_timeout: Duration::from_secs(5),
            ..PlacementSettings::default()
        })
        .await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        let mut b = server
            .host("default", "app-b", "10.0.0.2:1", &["counter"])
            .await;
        let tables = round(&mut [&mut a, &mut b], 1).await;
        assert_eq!(names(&tables, "counter"), ["10.0.0.1:1", "10.0.0.2:1"]);
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn shutdown_ends_streams_and_refuses_new_ones() {
        let server = TestServer::default().await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        round(&mut [&mut a], 1).await;

        server.service.shutdown();
        let status = a.closed().await;
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "placement server is shutting down");
        let (_tx, rx) = server.open(Some(a.report())).await;
        let status = rx.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "placement server is shutting down");
        assert!(server.service.snapshot().namespaces.is_empty());
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn serve_stops_with_open_streams() {
        let server = TestServer::default().await;
        let mut a = server
            .host("default", "app-a", "10.0.0.1:1", &["counter"])
            .await;
        a.expect(operation::LOCK, 1).await;
        let started = Instant::now();
        let service = server.service.clone();
        server.stop().await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(service.is_shutting_down());
        assert_eq!(a.closed().await.code(), Code::Unavailable);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn stream_not_reading_its_orders_is_closed() {
        let mut ns = Namespace::new("default".into(), &PlacementSettings::default());
        let (orders, _unread) = mpsc::channel(ORDER_BUFFER);
        let (close_tx, mut close_rx) = oneshot::channel();
        let link = StreamLink {
            orders,
            closer: Closer(Arc::new(Mutex::new(Some(close_tx)))),
            latest_lock: Arc::new(AtomicU64::new(0)),
        };
        let caller = Host {
            name: "10.0.0.3:1".into(),
            id: "caller".into(),
            namespace: "default".into(),
            operation: HostOperation::Report as i32,
            ..Host::default()
        };
        ns.join(7, caller.clone(), link, Instant::now());
        assert!(ns.members.contains_key(&7));
        // Every REPORT queues a one-shot (3 orders) nobody reads.
        for _ in 0..ORDER_BUFFER {
            ns.message(7, caller.clone(), Instant::now());
        }
        let status = close_rx.try_recv().unwrap();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(ns.is_empty());
    }
}
