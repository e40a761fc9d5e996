//! The node's accept loop, for each port it serves (HTTP API, gRPC API,
//! internal API): HTTP/1.1 and h2c on one listener, as `axum::serve`, plus
//! what a server facing many clients needs:
//!
//! - a connection that sends nothing for `header_read_timeout` is closed
//!   (and, over HTTP/1.1, one whose request headers take longer), so idle
//!   or slow connections cannot pile up;
//! - at most `max_connections` are open at once; the next waits in the
//!   kernel's accept queue;
//! - on stop the listener closes and open connections finish their
//!   requests (graceful drain) for as long as the caller allows.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use super::NodeError;

/// Bounds on each listener's connections, and its TLS.
#[derive(Clone)]
pub(super) struct ConnLimits {
    /// First byte, the TLS handshake, and HTTP/1.1 request headers, each
    /// within this.
    pub header_read_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Terminates (mutual) TLS on every connection, when set.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl ConnLimits {
    /// The limits `[http]` sets for every port.
    pub(super) fn of(config: &crate::config::HttpConfig) -> Self {
        Self {
            header_read_timeout: config.header_read_timeout,
            max_connections: usize::try_from(config.max_connections).unwrap_or(usize::MAX),
            tls: None,
        }
    }

    /// The same limits, with TLS terminated by `acceptor`.
    pub(super) fn with_tls(mut self, acceptor: Option<&tokio_rustls::TlsAcceptor>) -> Self {
        self.tls = acceptor.cloned();
        self
    }
}

/// A running server on its own port.
pub(super) struct Served {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Served {
    /// Serves `app` on `listener`; `what` names it in logs.
    pub(super) fn spawn(
        listener: TcpListener,
        app: axum::Router,
        limits: ConnLimits,
        what: &'static str,
    ) -> Result<Self, NodeError> {
        let addr = listener.local_addr().map_err(|source| NodeError::Bind {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(accept_loop(listener, app, limits, what, stopped));
        Ok(Self { addr, stop, task })
    }

    /// The address it listens on.
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in flight finish for up to
    /// `timeout`, then drops what is left.
    pub(super) async fn stop(self, timeout: Duration, what: &'static str) {
        let Self { stop, mut task, .. } = self;
        let _ = stop.send(());
        if tokio::time::timeout(timeout, &mut task).await.is_err() {
            tracing::warn!(
                server = what,
                "calls in flight did not finish within the shutdown timeout"
            );
            task.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    app: axum::Router,
    limits: ConnLimits,
    what: &'static str,
    mut stopped: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut warned_full = false;
    loop {
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !warned_full {
                    tracing::warn!(
                        server = what,
                        max_connections = limits.max_connections,
                        "connection limit reached; new connections wait until one closes"
                    );
                    warned_full = true;
                }
                tokio::select! {
                    _ = &mut stopped => break,
                    permit = Arc::clone(&permits).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                }
            }
        };
        let (stream, peer) = tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: pause, go on.
                    tracing::warn!(server = what, error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let watcher = graceful.watcher();
        let first_byte = limits.header_read_timeout;
        let tls = limits.tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if !sends_within(&stream, first_byte).await {
                return;
            }
            let result = match tls {
                None => serve_io(stream, service, watcher, first_byte).await,
                Some(acceptor) => {
                    // A peer without a certificate the CA signed ends here.
                    match tokio::time::timeout(first_byte, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_io(stream, service, watcher, first_byte).await,
                        Ok(Err(err)) => {
                            tracing::warn!(server = what, %peer, error = %err, "TLS handshake refused");
                            return;
                        }
                        Err(_) => return,
                    }
                }
            };
            if let Err(err) = result {
                tracing::trace!(error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Serves one connection (clear or TLS) until it closes or the graceful
/// shutdown `watcher` ends it; HTTP/1.1 headers within `header_timeout`.
async fn serve_io<I>(
    io: I,
    service: TowerToHyperService<axum::Router>,
    watcher: Watcher,
    header_timeout: Duration,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    watcher
        .watch(builder.serve_connection_with_upgrades(TokioIo::new(io), service))
        .await
}

/// Whether the peer sends a first byte within `timeout` (a connection
/// that says nothing is closed before hyper waits on it).
async fn sends_within(stream: &TcpStream, timeout: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(timeout, stream.peek(&mut byte)).await,
        Ok(Ok(n)) if n > 0
    )
}

/// A port the node serves only if it can: its settings and what to call it.
pub(super) struct OptionalPort<'a> {
    /// Its settings.
    pub config: &'a crate::config::OptionalPortConfig,
    /// daprd's default for it.
    pub default: u16,
    /// The flag that picks one, for the warning.
    pub flag: &'static str,
    /// What it serves, for the warning.
    pub what: &'static str,
}

/// Binds an optional port: the configured one (an error if taken), or
/// daprd's default if it is free (else `None`, with a warning: under
/// `dapr run` the sidecar holds daprd's ports).
pub(super) async fn bind_optional(
    port: OptionalPort<'_>,
) -> Result<Option<TcpListener>, NodeError> {
    let config = port.config;
    if !config.enabled {
        return Ok(None);
    }
    let explicit = config.port.is_some();
    let addr = SocketAddr::new(config.listen, config.port.unwrap_or(port.default));
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(Some(listener)),
        Err(source) if explicit => Err(NodeError::Bind { addr, source }),
        Err(err) => {
            tracing::warn!(%addr, error = %err, "the default port of the {} is taken; serving none (set {} to choose one)", port.what, port.flag);
            Ok(None)
        }
    }
}
