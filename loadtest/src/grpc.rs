//! `--protocol grpc`: actor calls over Dapr's gRPC runtime API
//! (`dapr.proto.runtime.v1.Dapr/InvokeActor`) instead of the HTTP API.
//!
//! Each target's gRPC address is read from its metadata
//! (`GET /v1.0/metadata`, `extended.grpcAddress`, which wapr nodes report)
//! and must be on the target's own host, so the load still goes only where
//! `--target` (or the spawned cluster) says. A target gets
//! `--grpc-connections` HTTP/2 connections (default
//! [`CONNECTIONS_PER_TARGET`]); calls take them in turn.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Client;
use tonic::transport::{Channel, Endpoint};
use wapr_proto::dapr::proto::runtime::v1::InvokeActorRequest;
use wapr_proto::dapr::proto::runtime::v1::dapr_client::DaprClient;

use crate::LoadError;
use crate::client::get_json;
use crate::stats::Outcome;
use crate::target::Target;

/// HTTP/2 connections opened to each target's gRPC port by default (a Dapr
/// SDK client opens one; 64 callers on one connection measured 80 % of 4's
/// throughput here, BENCHMARKS.md).
pub const CONNECTIONS_PER_TARGET: usize = 4;

/// The gRPC clients of every target, in `--target` order.
#[derive(Debug)]
pub struct GrpcTargets {
    targets: Vec<Vec<DaprClient<Channel>>>,
    origins: Vec<String>,
    /// Dapr's API token, sent as metadata when set.
    token: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
    next: AtomicUsize,
}

impl GrpcTargets {
    /// Finds and connects to each target's gRPC API, `connections`
    /// HTTP/2 connections each.
    ///
    /// # Errors
    /// A target that reports no gRPC address, one on another host, or one
    /// that cannot be reached.
    pub async fn connect(
        http: &Client,
        targets: &[Target],
        timeout: Duration,
        connections: usize,
    ) -> Result<Self, LoadError> {
        let connections = connections.max(1);
        let mut all = Vec::with_capacity(targets.len());
        let mut origins = Vec::with_capacity(targets.len());
        for target in targets {
            let not_ready = |reason: String| LoadError::NotReady {
                target: target.to_string(),
                reason,
            };
            let metadata = get_json(http, target.metadata_url())
                .await
                .ok_or_else(|| not_ready("no answer from /v1.0/metadata".into()))?;
            let address = metadata["extended"]["grpcAddress"]
                .as_str()
                .ok_or_else(|| {
                    not_ready("its metadata names no gRPC address (does it serve one?)".into())
                })?;
            let addr: std::net::SocketAddr = address
                .parse()
                .map_err(|e| not_ready(format!("gRPC address {address:?}: {e}")))?;
            let host = target.base().host_str().unwrap_or_default();
            let same_host = host == addr.ip().to_string()
                || (host == "localhost" && addr.ip().is_loopback())
                || (addr.ip().is_unspecified() && !host.is_empty());
            if !same_host {
                return Err(not_ready(format!(
                    "its gRPC address {addr} is not on the target's host {host}"
                )));
            }
            let port = addr.port();
            let url = format!("http://{host}:{port}");
            let mut clients = Vec::with_capacity(connections);
            for _ in 0..connections {
                let channel = Endpoint::from_shared(url.clone())
                    .map_err(|e| not_ready(format!("gRPC endpoint {url}: {e}")))?
                    .timeout(timeout)
                    .connect_timeout(timeout.min(Duration::from_secs(5)))
                    .tcp_nodelay(true)
                    .connect()
                    .await
                    .map_err(|e| not_ready(format!("cannot connect to gRPC {url}: {e}")))?;
                clients.push(DaprClient::new(channel));
            }
            eprintln!("wapr-loadtest: gRPC: {target} → {url} ({connections} connections)");
            all.push(clients);
            origins.push(url);
        }
        Ok(Self {
            targets: all,
            origins,
            token: crate::client::api_token().and_then(|t| t.parse().ok()),
            next: AtomicUsize::new(0),
        })
    }

    /// `http://host:port` of target `target`'s gRPC API: what its calls hit.
    pub fn origin(&self, target: usize) -> Option<&str> {
        self.origins.get(target).map(String::as_str)
    }

    /// Every target's gRPC origin.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// Calls `method` of `actor_type/id` on target `target` with an empty
    /// payload. A successful RPC that carries Dapr's error body (a method's
    /// own failure, as daprd answers it) counts as an error.
    pub async fn invoke(&self, target: usize, actor_type: &str, id: &str, method: &str) -> Outcome {
        let Some(clients) = self.targets.get(target) else {
            return Outcome::Error("no such target".into());
        };
        let i = self.next.fetch_add(1, Ordering::Relaxed) % clients.len().max(1);
        let mut client = clients[i].clone();
        let request = InvokeActorRequest {
            actor_type: actor_type.to_string(),
            actor_id: id.to_string(),
            method: method.to_string(),
            data: Vec::new(),
            metadata: Default::default(),
        };
        let mut request = tonic::Request::new(request);
        if let Some(token) = &self.token {
            request
                .metadata_mut()
                .insert(crate::client::API_TOKEN_HEADER, token.clone());
        }
        match client.invoke_actor(request).await {
            Ok(reply) => {
                let data = reply.into_inner().data;
                if data.starts_with(b"{\"errorCode\"") {
                    Outcome::Error(crate::client::http_error_kind(500, &data))
                } else {
                    Outcome::Ok
                }
            }
            Err(status) => Outcome::Error(format!("grpc {:?}", status.code())),
        }
    }
}
