//! The placement client: one `ReportDaprStatus` stream to Dapr's placement
//! service, driven as daprd drives it (`shared/docs/dapr-protocol.md` §1).
//!
//! - Dials one address at a time, round-robin over the configured addresses
//!   and the IPs each one resolves to, over plain h2c with **no** client
//!   HTTP/2 keepalive pings (placement has no keepalive enforcement policy,
//!   so pings earn `GOAWAY too_many_pings`) and no metadata headers.
//! - Sends `Host{…, operation: REPORT}` first, and again only when the
//!   hosted types change ([`PlacementClient::set_entities`]).
//! - Hands every `lock`/`update`/`unlock` to a [`TableListener`]. Gen B
//!   servers (1.17+, orders carry a version) get an ack per order, the
//!   `UPDATE` ack only once the listener has applied the table. Gen A
//!   servers (1.14–1.16, the version only in `tables.version`) get no acks,
//!   a full `Host` heartbeat every second while the node hosts types, and a
//!   `lock` left without `unlock` is released by the client after 15 s.
//! - A lost stream, a rejection ("not a leader", shutting down), a protocol
//!   error or a gen B round stuck between `lock` and `unlock` resets the
//!   stream: the listener's `disconnected` runs (if it saw an order since the
//!   last one), and the client dials the next address after a jittered delay.

use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};
use wapr_proto::dapr::proto::placement::v1::placement_client::PlacementClient as GrpcClient;

use super::{
    API_LEVEL, DEFAULT_PLACEMENT_PORT, Host, HostOperation, PlacementOrder, TableListener,
    operation,
};

/// Messages queued for placement before the client gives up on the stream
/// (placement stopped reading).
const OUTBOUND_CAPACITY: usize = 64;

/// On shutdown, how long to wait for placement to end the stream after the
/// client has closed its side.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Who this node is, as reported to placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostReport {
    /// `"ip:port"` other hosts dial for `CallActor` (`Host.name`).
    pub name: String,
    /// The app ID (`Host.id`).
    pub app_id: String,
    /// The namespace (`Host.namespace`), see [`super::current_namespace`].
    pub namespace: String,
    /// The actor types this node hosts (`Host.entities`); empty = none.
    pub entities: Vec<String>,
}

/// Where the client connects and how long it waits.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Placement addresses, `"host:port"` (port 50005 if left out), tried
    /// round-robin. Empty disables the client.
    pub addresses: Vec<String>,
    /// Pause between connection attempts, with ±50 % jitter (daprd: 0.5 s).
    pub reconnect_delay: Duration,
    /// Gen B: the longest `lock` → `unlock` before the client drops the
    /// stream and reconnects (daprd 1.18: 30 s).
    pub disseminate_timeout: Duration,
    /// Gen A: heartbeat period (1 s).
    pub gen_a_heartbeat: Duration,
    /// Gen A: a `lock` with no `unlock` for this long is released by the
    /// client (15 s).
    pub gen_a_unlock_timeout: Duration,
    /// Bound on resolving an address and on each connect.
    pub connect_timeout: Duration,
    /// Mutual TLS towards placement, when the cluster runs it.
    pub tls: Option<crate::tls::ClusterTls>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            addresses: vec![format!("localhost:{DEFAULT_PLACEMENT_PORT}")],
            reconnect_delay: Duration::from_millis(500),
            disseminate_timeout: Duration::from_secs(30),
            gen_a_heartbeat: Duration::from_secs(1),
            gen_a_unlock_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            tls: None,
        }
    }
}

/// The placement protocol generation a server speaks (§0 of the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Generation {
    /// No order received yet.
    #[default]
    Unknown,
    /// 1.14–1.16: no versions on orders, no acks, 1 s heartbeats.
    A,
    /// 1.17+: versioned orders, acked rounds, no heartbeats.
    B,
}

/// What the client is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStatus {
    /// The address of the open stream, if any.
    pub connected: Option<String>,
    /// The last table version applied (`update` completed), on any stream.
    pub version: Option<u64>,
    /// Unlocked after a table on the current stream: lookups may proceed.
    pub ready: bool,
    /// The generation of the last server that sent an order.
    pub generation: Generation,
    /// Connection attempts after the first one.
    pub reconnects: u64,
}

/// Handle on a running placement client. Dropping it stops the client as
/// [`PlacementClient::shutdown`] does, without waiting.
pub struct PlacementClient {
    status: watch::Receiver<ClientStatus>,
    entities: watch::Sender<Vec<String>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl PlacementClient {
    /// Starts the client loop on the current tokio runtime.
    pub fn start(
        settings: ClientSettings,
        report: HostReport,
        listener: Arc<dyn TableListener>,
    ) -> Self {
        let (status_tx, status) = watch::channel(ClientStatus::default());
        let (entities, entities_rx) = watch::channel(report.entities.clone());
        let (stop, stop_rx) = watch::channel(false);
        let worker = Worker {
            settings,
            report,
            listener,
            entities: entities_rx,
            stop: stop_rx,
            status: status_tx,
            dirty: false,
            failing: false,
        };
        let task = tokio::spawn(worker.run());
        Self {
            status,
            entities,
            stop,
            task,
        }
    }

    /// A snapshot of the client's state.
    pub fn status(&self) -> ClientStatus {
        self.status.borrow().clone()
    }

    /// The hosted actor types changed: report them (a fresh `REPORT` now if
    /// connected, else on the next connect). No-op if unchanged.
    pub fn set_entities(&self, entities: Vec<String>) {
        self.entities.send_if_modified(move |current| {
            if *current == entities {
                false
            } else {
                *current = entities;
                true
            }
        });
    }

    /// Stops the client: closes its side of the stream so placement sees the
    /// host leave, and waits (bounded) for the loop to end. Does not call
    /// [`TableListener::disconnected`].
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "placement client task failed");
        }
    }
}

/// Why a stream (or an attempt to open one) ended.
#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error("cannot resolve {address}: {reason}")]
    Resolve { address: String, reason: String },
    #[error("cannot connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("placement rejected the stream: {:?}: {}", .0.code(), .0.message())]
    Rejected(Status),
    #[error("stream failed: {:?}: {}", .0.code(), .0.message())]
    Failed(Status),
    #[error("placement closed the stream")]
    Closed,
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("dissemination timeout after {timeout:?} for version {version}")]
    DisseminationTimeout { timeout: Duration, version: u64 },
    #[error("cannot send to placement: {0}")]
    Send(&'static str),
}

impl StreamError {
    fn status(&self) -> Option<&Status> {
        match self {
            Self::Rejected(s) | Self::Failed(s) => Some(s),
            _ => None,
        }
    }
}

enum Ended {
    Shutdown,
    Lost(StreamError),
}

impl From<StreamError> for Ended {
    fn from(err: StreamError) -> Self {
        Self::Lost(err)
    }
}

fn protocol(msg: impl Into<String>) -> Ended {
    Ended::Lost(StreamError::Protocol(msg.into()))
}

/// Where the current stream is in a dissemination round.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    #[default]
    Idle,
    Locked,
    Updated,
    Unlocked,
}

/// Per-stream protocol state (a new stream starts from scratch, as daprd's).
#[derive(Default)]
struct StreamState {
    generation: Generation,
    phase: Phase,
    /// The recorded round version.
    version: u64,
    /// Gen B: dissemination timeout; gen A: self-unlock. Armed by `lock`.
    deadline: Option<Instant>,
    /// A table was applied on this stream.
    applied: bool,
    /// Gen A only.
    heartbeat: Option<Interval>,
}

struct Worker {
    settings: ClientSettings,
    report: HostReport,
    listener: Arc<dyn TableListener>,
    entities: watch::Receiver<Vec<String>>,
    stop: watch::Receiver<bool>,
    status: watch::Sender<ClientStatus>,
    /// The listener saw an order since the last `disconnected()`.
    dirty: bool,
    /// Connection failures are being logged quietly (after the first).
    failing: bool,
}

impl Worker {
    async fn run(mut self) {
        let count = self.settings.addresses.len();
        if count == 0 {
            tracing::error!("placement client has no addresses: actors are disabled");
            stopped(&mut self.stop).await;
            return;
        }
        let mut attempt: usize = 0;
        loop {
            let address = self.settings.addresses[attempt % count].clone();
            let ended = self.session(&address, attempt / count).await;
            self.status.send_modify(|s| {
                s.connected = None;
                s.ready = false;
            });
            let err = match ended {
                Ended::Shutdown => break,
                Ended::Lost(err) => err,
            };
            self.log_lost(&address, &err);
            if self.dirty {
                let listener = Arc::clone(&self.listener);
                tokio::select! {
                    biased;
                    () = stopped(&mut self.stop) => break,
                    () = listener.disconnected() => {}
                }
                self.dirty = false;
            }
            attempt = attempt.wrapping_add(1);
            self.status.send_modify(|s| s.reconnects += 1);
            let delay = jittered(self.settings.reconnect_delay);
            tokio::select! {
                biased;
                () = stopped(&mut self.stop) => break,
                () = tokio::time::sleep(delay) => {}
            }
        }
        tracing::debug!("placement client stopped");
    }

    fn log_lost(&mut self, address: &str, err: &StreamError) {
        let code = err.status().map(Status::code);
        let not_leader = code == Some(Code::FailedPrecondition)
            && err
                .status()
                .is_some_and(|s| s.message().contains("not a leader"));
        if not_leader {
            tracing::debug!(placement = address, error = %err, "placement replica is not the leader; trying the next address");
        } else if code == Some(Code::Unavailable) {
            tracing::info!(placement = address, error = %err, "placement unavailable; reconnecting");
        } else if matches!(
            err,
            StreamError::Resolve { .. } | StreamError::Connect { .. }
        ) {
            if self.failing {
                tracing::debug!(placement = address, error = %err, "cannot reach placement");
            } else {
                tracing::warn!(placement = address, error = %err, "cannot reach placement; retrying");
                self.failing = true;
            }
        } else if matches!(err, StreamError::Protocol(_)) {
            tracing::warn!(placement = address, error = %err, "placement protocol error; resetting the stream");
        } else {
            tracing::warn!(placement = address, error = %err, "placement stream lost; reconnecting");
        }
    }

    /// A `Host` message with every identifying field filled.
    fn host(&self, op: HostOperation, version: Option<u64>, entities: Vec<String>) -> Host {
        Host {
            name: self.report.name.clone(),
            id: self.report.app_id.clone(),
            namespace: self.report.namespace.clone(),
            entities,
            api_level: API_LEVEL,
            operation: op as i32,
            version,
            ..Host::default()
        }
    }

    /// A `REPORT` with the current types (marking them as reported).
    fn report_message(&mut self) -> Host {
        let entities = self.entities.borrow_and_update().clone();
        self.host(HostOperation::Report, None, entities)
    }

    /// Connects, opens the stream and runs it until it ends.
    async fn session(&mut self, address: &str, rotation: usize) -> Ended {
        let connecting = connect(
            address,
            rotation,
            self.settings.connect_timeout,
            self.settings.tls.as_ref(),
        );
        let (target, channel) = tokio::select! {
            biased;
            () = stopped(&mut self.stop) => return Ended::Shutdown,
            connected = connecting => match connected {
                Ok(ok) => ok,
                Err(err) => return err.into(),
            },
        };
        let (tx, rx) = mpsc::channel(OUTBOUND_CAPACITY);
        let report = self.report_message();
        if let Err(err) = send(&tx, report) {
            return err.into();
        }
        let mut grpc = GrpcClient::new(channel);
        let opening = grpc.report_dapr_status(ReceiverStream::new(rx));
        tokio::pin!(opening);
        // Placement may hold its response headers until its first order:
        // keep reporting type changes meanwhile.
        let response = loop {
            tokio::select! {
                biased;
                () = stopped(&mut self.stop) => return Ended::Shutdown,
                response = &mut opening => break response,
                changed = self.entities.changed() => {
                    if changed.is_err() {
                        return Ended::Shutdown;
                    }
                    let report = self.report_message();
                    if let Err(err) = send(&tx, report) {
                        return err.into();
                    }
                }
            }
        };
        let inbound = match response {
            Ok(response) => response.into_inner(),
            Err(status) => return StreamError::Rejected(status).into(),
        };
        self.failing = false;
        tracing::info!(placement = %target, "connected to placement");
        self.status
            .send_modify(|s| s.connected = Some(target.clone()));
        self.run_stream(tx, inbound).await
    }

    async fn run_stream(
        &mut self,
        tx: mpsc::Sender<Host>,
        mut inbound: Streaming<PlacementOrder>,
    ) -> Ended {
        let mut state = StreamState::default();
        let result = loop {
            let step = tokio::select! {
                biased;
                () = stopped(&mut self.stop) => Err(Ended::Shutdown),
                message = inbound.message() => match message {
                    Ok(Some(order)) => self.on_order(&mut state, order, &tx).await,
                    Ok(None) => Err(StreamError::Closed.into()),
                    Err(status) => Err(StreamError::Failed(status).into()),
                },
                changed = self.entities.changed() => match changed {
                    Ok(()) => {
                        let report = self.report_message();
                        send(&tx, report).map_err(Ended::from)
                    }
                    Err(_) => Err(Ended::Shutdown),
                },
                () = until(state.deadline) => self.on_deadline(&mut state),
                () = tick(&mut state.heartbeat) => self.heartbeat(&tx),
            };
            if let Err(ended) = step {
                break ended;
            }
        };
        if let Ended::Shutdown = result {
            close(tx, inbound).await;
        }
        result
    }

    async fn on_order(
        &mut self,
        state: &mut StreamState,
        order: PlacementOrder,
        tx: &mpsc::Sender<Host>,
    ) -> Result<(), Ended> {
        if state.generation == Generation::Unknown {
            let generation = if order.version > 0 {
                Generation::B
            } else {
                Generation::A
            };
            state.generation = generation;
            if generation == Generation::A {
                let period = self.settings.gen_a_heartbeat.max(Duration::from_millis(1));
                let mut heartbeat = tokio::time::interval_at(Instant::now() + period, period);
                heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
                state.heartbeat = Some(heartbeat);
            }
            self.status.send_modify(|s| s.generation = generation);
            tracing::info!(?generation, "placement protocol generation detected");
        }
        let version = order_version(&order, state.version).map_err(protocol)?;
        tracing::debug!(operation = %order.operation, version, "placement order");
        match order.operation.as_str() {
            operation::LOCK => {
                state.phase = Phase::Locked;
                state.version = version;
                let timeout = match state.generation {
                    Generation::B => self.settings.disseminate_timeout,
                    _ => self.settings.gen_a_unlock_timeout,
                };
                state.deadline = Some(Instant::now() + timeout);
                self.dirty = true;
                self.listener.lock(version);
                self.ack(state, HostOperation::Lock, version, tx)?;
            }
            operation::UPDATE => {
                let Some(tables) = order.tables else {
                    return Err(protocol(format!("update {version} without tables")));
                };
                if state.version > version {
                    return Err(protocol(format!(
                        "version mismatch: expected {}, got {version}",
                        state.version
                    )));
                }
                self.dirty = true;
                let listener = Arc::clone(&self.listener);
                tokio::select! {
                    biased;
                    () = stopped(&mut self.stop) => return Err(Ended::Shutdown),
                    () = listener.update(version, tables) => {}
                }
                state.phase = Phase::Updated;
                state.version = version;
                state.applied = true;
                self.status.send_modify(|s| s.version = Some(version));
                self.ack(state, HostOperation::Update, version, tx)?;
            }
            operation::UNLOCK => {
                if state.phase != Phase::Updated || state.version > version {
                    tracing::debug!(
                        version,
                        recorded = state.version,
                        phase = ?state.phase,
                        "ignoring placement unlock that does not follow its update"
                    );
                    return Ok(());
                }
                state.phase = Phase::Unlocked;
                state.version = version;
                state.deadline = None;
                self.listener.unlock(version);
                self.ack(state, HostOperation::Unlock, version, tx)?;
                self.status.send_modify(|s| s.ready = true);
            }
            other => return Err(protocol(format!("unknown operation {other:?}"))),
        }
        Ok(())
    }

    /// Gen B acks an order; gen A servers expect none.
    fn ack(
        &self,
        state: &StreamState,
        op: HostOperation,
        version: u64,
        tx: &mpsc::Sender<Host>,
    ) -> Result<(), Ended> {
        if state.generation != Generation::B {
            return Ok(());
        }
        // name, entities and api_level too (§1.12 step 3): gen B ignores them.
        let entities = self.entities.borrow().clone();
        send(tx, self.host(op, Some(version), entities)).map_err(Ended::from)
    }

    fn on_deadline(&mut self, state: &mut StreamState) -> Result<(), Ended> {
        state.deadline = None;
        if state.generation == Generation::B {
            return Err(StreamError::DisseminationTimeout {
                timeout: self.settings.disseminate_timeout,
                version: state.version,
            }
            .into());
        }
        tracing::warn!(
            version = state.version,
            "placement sent lock but no unlock within {:?}; unlocking",
            self.settings.gen_a_unlock_timeout
        );
        state.phase = Phase::Unlocked;
        self.listener.unlock(state.version);
        if state.applied {
            self.status.send_modify(|s| s.ready = true);
        }
        Ok(())
    }

    /// Gen A heartbeat: the full `Host`, only while the node hosts types
    /// (an entity-less host would get a table push per message).
    fn heartbeat(&self, tx: &mpsc::Sender<Host>) -> Result<(), Ended> {
        let entities = self.entities.borrow().clone();
        if entities.is_empty() {
            return Ok(());
        }
        send(tx, self.host(HostOperation::Unknown, None, entities)).map_err(Ended::from)
    }
}

/// The round version of an order: `order.version` if set (gen B), else
/// `tables.version` (gen A `update`), else the recorded one (gen A `lock`
/// and `unlock` carry none).
fn order_version(order: &PlacementOrder, recorded: u64) -> Result<u64, String> {
    if order.version > 0 {
        return Ok(order.version);
    }
    match &order.tables {
        Some(tables) => tables
            .version
            .parse()
            .map_err(|_| format!("unparsable tables.version {:?}", tables.version)),
        None => Ok(recorded),
    }
}

fn send(tx: &mpsc::Sender<Host>, host: Host) -> Result<(), StreamError> {
    tx.try_send(host).map_err(|err| match err {
        TrySendError::Full(_) => {
            StreamError::Send("outbound queue full (placement is not reading)")
        }
        TrySendError::Closed(_) => StreamError::Send("stream closed"),
    })
}

/// Closes our side of the stream, then gives placement a moment to end its
/// side, so it sees a clean end rather than a reset.
async fn close(tx: mpsc::Sender<Host>, mut inbound: Streaming<PlacementOrder>) {
    drop(tx);
    let drain = async { while let Ok(Some(_)) = inbound.message().await {} };
    if tokio::time::timeout(CLOSE_GRACE, drain).await.is_err() {
        tracing::debug!("placement did not end the stream in time; dropping it");
    }
}

/// Resolves `address` and connects to one of its IPs, starting at
/// `rotation` so that successive attempts walk every replica behind a name.
async fn connect(
    address: &str,
    rotation: usize,
    limit: Duration,
    tls: Option<&crate::tls::ClusterTls>,
) -> Result<(String, Channel), StreamError> {
    let address = with_default_port(address);
    // With TLS, placement's certificate must name the host as configured
    // (not the IP it resolved to), unless a server name is set.
    let tls = tls.map(|tls| tls.client_for(&address));
    let resolve_err = |reason: String| StreamError::Resolve {
        address: address.clone(),
        reason,
    };
    let mut ips: Vec<SocketAddr> =
        match tokio::time::timeout(limit, tokio::net::lookup_host(address.as_str())).await {
            Ok(Ok(ips)) => ips.collect(),
            Ok(Err(err)) => return Err(resolve_err(err.to_string())),
            Err(_) => return Err(resolve_err("timed out".into())),
        };
    ips.sort();
    ips.dedup();
    if ips.is_empty() {
        return Err(resolve_err("no addresses".into()));
    }
    let mut last = resolve_err("no addresses".into());
    for i in 0..ips.len() {
        let ip = ips[(rotation + i) % ips.len()];
        match dial(ip, limit, tls.as_ref()).await {
            Ok(channel) => {
                let label = if ip.to_string() == address {
                    address
                } else {
                    format!("{address} ({ip})")
                };
                return Ok((label, channel));
            }
            Err(reason) => {
                last = StreamError::Connect {
                    target: ip.to_string(),
                    reason,
                }
            }
        }
    }
    Err(last)
}

async fn dial(
    ip: SocketAddr,
    limit: Duration,
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Result<Channel, String> {
    // Deliberately no `http2_keep_alive_interval` and no adaptive window
    // (BDP pings): the server pings us every 2 s, hyper answers.
    let endpoint = crate::tls::endpoint(&ip.to_string(), tls)
        .map_err(|err| error_chain(&err))?
        .connect_timeout(limit)
        .tcp_nodelay(true);
    match tokio::time::timeout(limit, endpoint.connect()).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(err)) => Err(error_chain(&err)),
        Err(_) => Err("timed out".into()),
    }
}

/// `host:port` with Dapr's default port added when missing.
fn with_default_port(address: &str) -> String {
    let address = address.trim();
    let address = address.strip_prefix("http://").unwrap_or(address);
    let has_port = if address.starts_with('[') {
        address.contains("]:")
    } else if address.parse::<Ipv6Addr>().is_ok() {
        return format!("[{address}]:{DEFAULT_PLACEMENT_PORT}");
    } else {
        address.contains(':')
    };
    if has_port {
        address.to_string()
    } else {
        format!("{address}:{DEFAULT_PLACEMENT_PORT}")
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `delay` ±50 % (0.5 s → 0.25–0.75 s, as daprd).
fn jittered(delay: Duration) -> Duration {
    if delay.is_zero() {
        return delay;
    }
    delay.mul_f64(rand::random_range(0.5..1.5))
}

/// Resolves once the client is told to stop (or its handle is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the handle was dropped: stop as well.
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::net::TcpListener;
    use tokio::sync::Semaphore;
    use tokio_stream::wrappers::TcpListenerStream;
    use tonic::{Request, Response};
    use wapr_proto::dapr::proto::placement::v1::placement_server::{Placement, PlacementServer};

    use super::*;
    use crate::placement::{PlacementTable, PlacementTables};
    use crate::state::BoxFuture;

    const WAIT: Duration = Duration::from_secs(2);
    const NAME: &str = "10.0.0.7:50002";
    const APP_ID: &str = "app-1";
    const NAMESPACE: &str = "ns-1";

    // ----- a scripted placement server -----

    /// What the server saw from one client stream.
    #[derive(Debug)]
    enum Inbound {
        Msg(Host),
        End { clean: bool },
    }

    /// One accepted stream, driven by the test.
    struct Conn {
        orders: mpsc::UnboundedSender<Result<PlacementOrder, Status>>,
        inbound: mpsc::UnboundedReceiver<Inbound>,
    }

    impl Conn {
        async fn next(&mut self) -> Inbound {
            tokio::time::timeout(WAIT, self.inbound.recv())
                .await
                .expect("nothing from the client in time")
                .expect("relay gone")
        }

        async fn recv(&mut self) -> Host {
            match self.next().await {
                Inbound::Msg(host) => host,
                Inbound::End { clean } => panic!("stream ended (clean: {clean})"),
            }
        }

        /// The next event is the end of the stream; returns whether clean.
        async fn expect_end(&mut self) -> bool {
            match self.next().await {
                Inbound::End { clean } => clean,
                Inbound::Msg(host) => panic!("expected the stream to end, got {host:?}"),
            }
        }

        /// Nothing arrives for `quiet`.
        async fn expect_quiet(&mut self, quiet: Duration) {
            if let Ok(Some(event)) = tokio::time::timeout(quiet, self.inbound.recv()).await {
                panic!("expected silence, got {event:?}");
            }
        }

        fn order(&self, operation: &str, version: u64, tables_version: Option<&str>) {
            let tables = tables_version.map(tables);
            self.orders
                .send(Ok(PlacementOrder {
                    tables,
                    operation: operation.into(),
                    version,
                }))
                .expect("relay gone");
        }

        async fn expect_ack(&mut self, op: HostOperation, version: u64) {
            let host = self.recv().await;
            assert_eq!(host.operation, op as i32, "{host:?}");
            assert_eq!(host.version, Some(version), "{host:?}");
            assert_eq!(host.id, APP_ID);
            assert_eq!(host.namespace, NAMESPACE);
            assert_eq!(host.name, NAME);
            assert_eq!(host.api_level, 20);
        }

        async fn expect_report(&mut self, entities: &[&str]) {
            let host = self.recv().await;
            assert_eq!(host.operation, HostOperation::Report as i32, "{host:?}");
            assert_eq!(host.version, None);
            assert_eq!(host.entities, entities);
        }

        /// A whole gen B round, acked.
        async fn round(&mut self, version: u64) {
            self.order(operation::LOCK, version, None);
            self.expect_ack(HostOperation::Lock, version).await;
            self.order(operation::UPDATE, version, Some(&version.to_string()));
            self.expect_ack(HostOperation::Update, version).await;
            self.order(operation::UNLOCK, version, None);
            self.expect_ack(HostOperation::Unlock, version).await;
        }
    }

    fn tables(version: &str) -> PlacementTables {
        let mut table = PlacementTable::default();
        table.load_map.insert(
            NAME.into(),
            Host {
                name: NAME.into(),
                ..Host::default()
            },
        );
        PlacementTables {
            entries: [("counter".to_string(), table)].into(),
            version: version.into(),
            api_level: 0,
            replication_factor: 100,
        }
    }

    struct Script {
        conns: mpsc::UnboundedSender<Conn>,
        /// Reject every stream with this status (a non-leader replica).
        reject: Option<(Code, &'static str)>,
        attempts: AtomicUsize,
    }

    #[tonic::async_trait]
    impl Placement for Script {
        async fn report_dapr_status(
            &self,
            request: Request<Streaming<Host>>,
        ) -> Result<Response<tonic::codegen::BoxStream<PlacementOrder>>, Status> {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            if let Some((code, message)) = self.reject {
                return Err(Status::new(code, message));
            }
            let mut hosts = request.into_inner();
            let (resp_tx, resp_rx) = mpsc::channel(32);
            let (orders, mut orders_rx) = mpsc::unbounded_channel();
            let (inbound_tx, inbound) = mpsc::unbounded_channel();
            // Relays both ways; ends the response when the client's side
            // ends, as the real server does.
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        message = hosts.message() => match message {
                            Ok(Some(host)) => {
                                let _ = inbound_tx.send(Inbound::Msg(host));
                            }
                            Ok(None) => {
                                let _ = inbound_tx.send(Inbound::End { clean: true });
                                break;
                            }
                            Err(_) => {
                                let _ = inbound_tx.send(Inbound::End { clean: false });
                                break;
                            }
                        },
                        order = orders_rx.recv() => match order {
                            Some(order) => {
                                if resp_tx.send(order).await.is_err() {
                                    break;
                                }
                            }
                            None => break,
                        },
                    }
                }
            });
            let _ = self.conns.send(Conn { orders, inbound });
            Ok(Response::new(Box::pin(ReceiverStream::new(resp_rx))))
        }
    }

    struct Server {
        address: String,
        conns: mpsc::UnboundedReceiver<Conn>,
        script: Arc<Script>,
    }

    impl Server {
        async fn start(reject: Option<(Code, &'static str)>) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap().to_string();
            let (conns_tx, conns) = mpsc::unbounded_channel();
            let script = Arc::new(Script {
                conns: conns_tx,
                reject,
                attempts: AtomicUsize::new(0),
            });
            let service = PlacementServer::from_arc(Arc::clone(&script));
            tokio::spawn(
                tonic::transport::Server::builder()
                    .add_service(service)
                    .serve_with_incoming(TcpListenerStream::new(listener)),
            );
            Self {
                address,
                conns,
                script,
            }
        }

        async fn accept(&mut self) -> Conn {
            tokio::time::timeout(WAIT, self.conns.recv())
                .await
                .expect("no stream in time")
                .unwrap()
        }
    }

    // ----- a recording listener -----

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Event {
        Lock(u64),
        Update(u64, String),
        Unlock(u64),
        Disconnected,
    }

    struct Recorder {
        events: mpsc::UnboundedSender<Event>,
        /// `update` takes one permit before it completes.
        update_permits: Semaphore,
    }

    impl TableListener for Recorder {
        fn lock(&self, version: u64) {
            let _ = self.events.send(Event::Lock(version));
        }

        fn update(&self, version: u64, tables: PlacementTables) -> BoxFuture<'_, ()> {
            Box::pin(async move {
                self.update_permits.acquire().await.unwrap().forget();
                let _ = self.events.send(Event::Update(version, tables.version));
            })
        }

        fn unlock(&self, version: u64) {
            let _ = self.events.send(Event::Unlock(version));
        }

        fn disconnected(&self) -> BoxFuture<'_, ()> {
            let _ = self.events.send(Event::Disconnected);
            Box::pin(async {})
        }
    }

    struct Harness {
        client: PlacementClient,
        events: mpsc::UnboundedReceiver<Event>,
        listener: Arc<Recorder>,
    }

    impl Harness {
        fn start(addresses: Vec<String>, entities: &[&str]) -> Self {
            Self::start_with(settings(addresses), entities)
        }

        fn start_with(settings: ClientSettings, entities: &[&str]) -> Self {
            let (events_tx, events) = mpsc::unbounded_channel();
            let listener = Arc::new(Recorder {
                events: events_tx,
                update_permits: Semaphore::new(Semaphore::MAX_PERMITS),
            });
            let report = HostReport {
                name: NAME.into(),
                app_id: APP_ID.into(),
                namespace: NAMESPACE.into(),
                entities: entities.iter().map(|e| e.to_string()).collect(),
            };
            let client = PlacementClient::start(settings, report, listener.clone());
            Self {
                client,
                events,
                listener,
            }
        }

        async fn event(&mut self) -> Event {
            tokio::time::timeout(WAIT, self.events.recv())
                .await
                .expect("no listener call in time")
                .unwrap()
        }

        fn no_event(&mut self) {
            if let Ok(event) = self.events.try_recv() {
                panic!("unexpected listener call {event:?}");
            }
        }

        async fn wait_status(&self, what: impl Fn(&ClientStatus) -> bool) -> ClientStatus {
            let start = Instant::now();
            loop {
                let status = self.client.status();
                if what(&status) {
                    return status;
                }
                assert!(start.elapsed() < WAIT, "status never matched: {status:?}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    fn settings(addresses: Vec<String>) -> ClientSettings {
        ClientSettings {
            addresses,
            reconnect_delay: Duration::from_millis(20),
            disseminate_timeout: Duration::from_secs(5),
            gen_a_heartbeat: Duration::from_millis(250),
            gen_a_unlock_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            tls: None,
        }
    }

    // ----- tests -----

    #[tokio::test(flavor = "multi_thread")]
    async fn first_report_has_the_right_fields() {
        let mut server = Server::start(None).await;
        let h = Harness::start(vec![server.address.clone()], &["counter", "player"]);
        let mut conn = server.accept().await;
        let host = conn.recv().await;
        assert_eq!(host.name, NAME);
        assert_eq!(host.id, APP_ID);
        assert_eq!(host.namespace, NAMESPACE);
        assert_eq!(host.api_level, 20);
        assert_eq!(host.entities, ["counter", "player"]);
        assert_eq!(host.operation, HostOperation::Report as i32);
        assert_eq!(host.version, None);
        assert_eq!(host.port, 0);
        assert_eq!(host.load, 0);
        let status = h.wait_status(|s| s.connected.is_some()).await;
        assert_eq!(status.connected.as_deref(), Some(server.address.as_str()));
        assert!(!status.ready);
        assert_eq!(status.generation, Generation::Unknown);
        h.client.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn gen_b_round_is_acked_and_update_ack_waits_for_the_listener() {
        let mut server = Server::start(None).await;
        let mut h = Harness::start(vec![server.address.clone()], &["counter"]);
        h.listener
            .update_permits
            .forget_permits(Semaphore::MAX_PERMITS);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;

        conn.order(operation::LOCK, 1, None);
        conn.expect_ack(HostOperation::Lock, 1).await;
        assert_eq!(h.event().await, Event::Lock(1));

        conn.order(operation::UPDATE, 1, Some("1"));
        // The listener has not finished applying: no UPDATE ack yet.
        conn.expect_quiet(Duration::from_millis(200)).await;
        h.no_event();
        h.listener.update_permits.add_permits(1);
        assert_eq!(h.event().await, Event::Update(1, "1".into()));
        conn.expect_ack(HostOperation::Update, 1).await;
        assert!(!h.client.status().ready);

        conn.order(operation::UNLOCK, 1, None);
        conn.expect_ack(HostOperation::Unlock, 1).await;
        assert_eq!(h.event().await, Event::Unlock(1));
        let status = h.wait_status(|s| s.ready).await;
        assert_eq!(status.version, Some(1));
        assert_eq!(status.generation, Generation::B);
        h.client.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn compressed_rounds_are_accepted() {
        let mut server = Server::start(None).await;
        let mut h = Harness::start(vec![server.address.clone()], &["counter"]);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;

        conn.order(operation::LOCK, 1, None);
        conn.expect_ack(HostOperation::Lock, 1).await;
        conn.order(operation::UPDATE, 1, Some("1"));
        conn.expect_ack(HostOperation::Update, 1).await;
        // No unlock for 1: round 2 starts at once.
        conn.order(operation::LOCK, 2, None);
        conn.expect_ack(HostOperation::Lock, 2).await;
        conn.order(operation::UPDATE, 2, Some("2"));
        conn.expect_ack(HostOperation::Update, 2).await;
        conn.order(operation::UNLOCK, 2, None);
        conn.expect_ack(HostOperation::Unlock, 2).await;

        let mut events = Vec::new();
        for _ in 0..5 {
            events.push(h.event().await);
        }
        assert_eq!(
            events,
            [
                Event::Lock(1),
                Event::Update(1, "1".into()),
                Event::Lock(2),
                Event::Update(2, "2".into()),
                Event::Unlock(2),
            ]
        );
        let status = h.wait_status(|s| s.ready).await;
        assert_eq!(status.version, Some(2));
        h.client.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unlock_is_ignored_unless_it_follows_its_update() {
        let mut server = Server::start(None).await;
        let mut h = Harness::start(vec![server.address.clone()], &["counter"]);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;

        // unlock straight after lock: ignored, no ack.
        conn.order(operation::LOCK, 1, None);
        conn.expect_ack(HostOperation::Lock, 1).await;
        conn.order(operation::UNLOCK, 1, None);
        conn.expect_quiet(Duration::from_millis(150)).await;
        assert_eq!(h.event().await, Event::Lock(1));
        h.no_event();
        assert!(!h.client.status().ready);

        conn.order(operation::UPDATE, 1, Some("1"));
        conn.expect_ack(HostOperation::Update, 1).await;
        // unlock for an older round: ignored.
        conn.order(operation::UNLOCK, 0, Some("0"));
        conn.expect_quiet(Duration::from_millis(150)).await;
        conn.order(operation::UNLOCK, 1, None);
        conn.expect_ack(HostOperation::Unlock, 1).await;
        // a second unlock: ignored.
        conn.order(operation::UNLOCK, 1, None);
        conn.expect_quiet(Duration::from_millis(150)).await;

        assert_eq!(h.event().await, Event::Update(1, "1".into()));
        assert_eq!(h.event().await, Event::Unlock(1));
        h.no_event();
        h.wait_status(|s| s.ready).await;
        h.client.shutdown().await;
    }

    /// Sends `lock 5` and then `bad`, which must reset the stream: the
    /// listener hears `disconnected`, a new stream reports again and resyncs.
    async fn assert_resets(bad: PlacementOrder) {
        let mut server = Server::start(None).await;
        let mut h = Harness::start(vec![server.address.clone()], &["counter"]);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;
        conn.order(operation::LOCK, 5, None);
        conn.expect_ack(HostOperation::Lock, 5).await;
        assert_eq!(h.event().await, Event::Lock(5));

        conn.orders.send(Ok(bad)).unwrap();
        conn.expect_end().await;
        assert_eq!(h.event().await, Event::Disconnected);

        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;
        conn.round(1).await;
        assert_eq!(h.event().await, Event::Lock(1));
        assert_eq!(h.event().await, Event::Update(1, "1".into()));
        assert_eq!(h.event().await, Event::Unlock(1));
        let status = h.wait_status(|s| s.ready).await;
        assert_eq!(status.reconnects, 1);
        assert_eq!(status.version, Some(1));
        h.client.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn version_mismatch_resets_the_stream() {
        assert_resets(PlacementOrder {
            tables: Some(tables("4")),
            operation: operation::UPDATE.into(),
            version: 4,
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unknown_operation_resets_the_stream() {
        assert_resets(PlacementOrder {
            tables: None,
            operation: "LOCK".into(),
            version: 6,
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn update_without_tables_resets_the_stream() {
        assert_resets(PlacementOrder {
            tables: None,
            operation: operation::UPDATE.into(),
            version: 5,
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unparsable_tables_version_resets_the_stream() {
        assert_resets(PlacementOrder {
            tables: Some(tables("five")),
            operation: operation::UPDATE.into(),
            version: 0,
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn stream_error_resets_and_resyncs() {
        let mut server = Server::start(None).await;
        let mut h = Harness::start(vec![server.address.clone()], &["counter"]);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;
        conn.round(1).await;
        for _ in 0..3 {
            h.event().await;
        }
        h.wait_status(|s| s.ready).await;
        conn.orders
            .send(Err(Status::deadline_exceeded(
                "dissemination timeout after 8s for version 2",
            )))
            .unwrap();
        assert_eq!(h.event().await, Event::Disconnected);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;
        let status = h.client.status();
        assert!(!status.ready);
        assert_eq!(status.version, Some(1));
        conn.round(2).await;
        h.wait_status(|s| s.ready && s.version == Some(2)).await;
        h.client.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn client_dissemination_timeout_resets_the_stream() {
        let mut server = Server::start(None).await;
        let mut settings = settings(vec![server.address.clone()]);
        settings.disseminate_timeout = Duration::from_millis(300);
        let mut h = Harness::start_with(settings, &["counter"]);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;
        conn.order(operation::LOCK, 1, None);
        conn.expect_ack(HostOperation::Lock, 1).await;
        conn.order(operation::UPDATE, 1, Some("1"));
        conn.expect_ack(HostOperation::Update, 1).await;
        // No unlock: the client gives up on the stream.
        let started = Instant::now();
        conn.expect_end().await;
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(h.event().await, Event::Lock(1));
        assert_eq!(h.event().await, Event::Update(1, "1".into()));
        assert_eq!(h.event().await, Event::Disconnected);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;
        h.client.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn not_a_leader_rotates_to_the_next_address() {
        let follower = Server::start(Some((
            Code::FailedPrecondition,
            "node id=dapr-placement-1 is not a leader. Only the leader can serve requests",
        )))
        .await;
        let mut leader = Server::start(None).await;
        let mut h = Harness::start(
            vec![follower.address.clone(), leader.address.clone()],
            &["counter"],
        );
        let mut conn = leader.accept().await;
        conn.expect_report(&["counter"]).await;
        let status = h.wait_status(|s| s.connected.is_some()).await;
        assert_eq!(status.connected.as_deref(), Some(leader.address.as_str()));
        assert_eq!(status.reconnects, 1);
        assert_eq!(follower.script.attempts.load(Ordering::SeqCst), 1);
        // Nothing was received from the follower: nothing to halt.
        h.no_event();
        conn.round(1).await;
        h.wait_status(|s| s.ready).await;
        h.client.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unreachable_address_rotates_to_the_next() {
        // Bind and close a port so nothing listens there.
        let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead_address = dead.local_addr().unwrap().to_string();
        drop(dead);
        let mut server = Server::start(None).await;
        let h = Harness::start(vec![dead_address, server.address.clone()], &[]);
        let mut conn = server.accept().await;
        conn.expect_report(&[]).await;
        h.client.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn gen_a_server_gets_no_acks_and_heartbeats() {
        let mut server = Server::start(None).await;
        let mut h = Harness::start(vec![server.address.clone()], &["counter"]);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;

        // Gen A: no order versions; the version is only in tables.version.
        let pushed = Instant::now();
        conn.order(operation::LOCK, 0, None);
        conn.order(operation::UPDATE, 0, Some("7"));
        conn.order(operation::UNLOCK, 0, None);
        assert_eq!(h.event().await, Event::Lock(0));
        assert_eq!(h.event().await, Event::Update(7, "7".into()));
        assert_eq!(h.event().await, Event::Unlock(7));
        let status = h.wait_status(|s| s.ready).await;
        assert_eq!(status.version, Some(7));
        assert_eq!(status.generation, Generation::A);

        // Only heartbeats arrive (no acks): full Host, no operation/version.
        let mut beats = Vec::new();
        for _ in 0..3 {
            let host = conn.recv().await;
            assert_eq!(host.operation, HostOperation::Unknown as i32, "{host:?}");
            assert_eq!(host.version, None);
            assert_eq!(host.name, NAME);
            assert_eq!(host.id, APP_ID);
            assert_eq!(host.namespace, NAMESPACE);
            assert_eq!(host.api_level, 20);
            assert_eq!(host.entities, ["counter"]);
            beats.push(pushed.elapsed());
        }
        assert!(beats[0] >= Duration::from_millis(200), "{beats:?}");
        assert!(beats[2] >= Duration::from_millis(700), "{beats:?}");

        // A second round: lock reports the current version.
        conn.order(operation::LOCK, 0, None);
        conn.order(operation::UPDATE, 0, Some("8"));
        conn.order(operation::UNLOCK, 0, None);
        assert_eq!(h.event().await, Event::Lock(7));
        assert_eq!(h.event().await, Event::Update(8, "8".into()));
        assert_eq!(h.event().await, Event::Unlock(8));

        // No heartbeats once the node hosts no types; a REPORT for the change.
        h.client.set_entities(vec![]);
        loop {
            let host = conn.recv().await;
            if host.operation == HostOperation::Report as i32 {
                assert!(host.entities.is_empty());
                break;
            }
        }
        conn.expect_quiet(Duration::from_millis(600)).await;
        h.client.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn gen_a_lock_without_unlock_unlocks_by_itself() {
        let mut server = Server::start(None).await;
        let mut settings = settings(vec![server.address.clone()]);
        settings.gen_a_unlock_timeout = Duration::from_millis(300);
        let mut h = Harness::start_with(settings, &["counter"]);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;
        conn.order(operation::LOCK, 0, None);
        conn.order(operation::UPDATE, 0, Some("3"));
        let locked = Instant::now();
        assert_eq!(h.event().await, Event::Lock(0));
        assert_eq!(h.event().await, Event::Update(3, "3".into()));
        assert_eq!(h.event().await, Event::Unlock(3));
        assert!(locked.elapsed() >= Duration::from_millis(250));
        h.wait_status(|s| s.ready).await;
        // The stream stays up.
        assert!(h.client.status().connected.is_some());
        h.client.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn gen_b_server_gets_no_heartbeats() {
        let mut server = Server::start(None).await;
        let h = Harness::start(vec![server.address.clone()], &["counter"]);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;
        conn.round(1).await;
        // Heartbeat period is 250 ms in these settings: ~6 would have arrived.
        conn.expect_quiet(Duration::from_millis(1500)).await;
        h.client.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn set_entities_sends_a_new_report() {
        let mut server = Server::start(None).await;
        let h = Harness::start(vec![server.address.clone()], &["counter"]);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;
        conn.round(1).await;

        h.client
            .set_entities(vec!["counter".into(), "player".into()]);
        conn.expect_report(&["counter", "player"]).await;
        // Unchanged: no REPORT.
        h.client
            .set_entities(vec!["counter".into(), "player".into()]);
        conn.expect_quiet(Duration::from_millis(150)).await;

        // Acks carry the new types too.
        conn.order(operation::LOCK, 2, None);
        let ack = conn.recv().await;
        assert_eq!(ack.operation, HostOperation::Lock as i32);
        assert_eq!(ack.entities, ["counter", "player"]);

        // Changed while disconnected: the next connection reports them.
        conn.orders.send(Err(Status::unavailable("gone"))).unwrap();
        h.client.set_entities(vec!["player".into()]);
        let mut conn = server.accept().await;
        conn.expect_report(&["player"]).await;
        conn.expect_quiet(Duration::from_millis(100)).await;
        h.client.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn shutdown_ends_the_stream_cleanly() {
        let mut server = Server::start(None).await;
        let h = Harness::start(vec![server.address.clone()], &["counter"]);
        let mut conn = server.accept().await;
        conn.expect_report(&["counter"]).await;
        conn.round(1).await;
        h.wait_status(|s| s.ready).await;

        let Harness {
            client, mut events, ..
        } = h;
        let started = Instant::now();
        client.shutdown().await;
        assert!(started.elapsed() < Duration::from_millis(500));
        assert!(
            conn.expect_end().await,
            "the server saw a reset, not an end"
        );
        // Shutdown is not a lost placement: no disconnected().
        let mut seen = Vec::new();
        while let Ok(event) = events.try_recv() {
            seen.push(event);
        }
        assert_eq!(
            seen,
            [
                Event::Lock(1),
                Event::Update(1, "1".into()),
                Event::Unlock(1)
            ]
        );
        // And it does not come back.
        assert!(
            tokio::time::timeout(Duration::from_millis(200), server.conns.recv())
                .await
                .is_err()
        );
    }

    #[test]
    fn default_port_is_added() {
        assert_eq!(with_default_port("localhost"), "localhost:50005");
        assert_eq!(with_default_port("10.0.0.1:6050"), "10.0.0.1:6050");
        assert_eq!(with_default_port("::1"), "[::1]:50005");
        assert_eq!(with_default_port("[::1]"), "[::1]:50005");
        assert_eq!(with_default_port("[::1]:7"), "[::1]:7");
        assert_eq!(with_default_port(" http://p:1 "), "p:1");
    }

    #[test]
    fn jitter_stays_within_half_the_delay() {
        for _ in 0..100 {
            let d = jittered(Duration::from_millis(500));
            assert!(d >= Duration::from_millis(250) && d <= Duration::from_millis(750));
        }
        assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn order_version_prefers_the_order() {
        let order = |version, tables_version: Option<&str>| PlacementOrder {
            tables: tables_version.map(tables),
            operation: operation::UPDATE.into(),
            version,
        };
        assert_eq!(order_version(&order(3, Some("9")), 1), Ok(3));
        assert_eq!(order_version(&order(3, Some("")), 1), Ok(3));
        assert_eq!(order_version(&order(0, Some("9")), 1), Ok(9));
        assert_eq!(order_version(&order(0, None), 4), Ok(4));
        assert!(order_version(&order(0, Some("x")), 4).is_err());
    }
}
