//! Forwarding calls to the owning node over Dapr's internal gRPC API
//! (`ServiceInvocation/CallActor`), with one pooled HTTP/2 connection per
//! peer address.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use opentelemetry::trace::SpanContext;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use wapr_proto::dapr::proto::internals::v1::service_invocation_client::ServiceInvocationClient;

use super::wire::{
    ACTOR_MOVED, DISSEMINATING_SUFFIX, REMOTE_ACTOR_MOVED, TURN_FAILED, decode_reply, encode_fire,
    encode_request,
};
use crate::actor_key::ActorKey;
use crate::call::{CallRequest, FireRequest};
use crate::config::{CLUSTER_TOKEN_HEADER, Token};
use crate::error::{CallError, ErrorCode, ErrorKind};
use crate::tls::ClusterTls;
use crate::traces::propagation;

/// How long to wait for a TCP connection to a peer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Largest forwarded message (request or reply), matching the HTTP API's
/// largest body plus framing.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Sends calls to other nodes.
pub struct Forwarder {
    peers: DashMap<Arc<str>, ServiceInvocationClient<Channel>>,
    call_timeout: Duration,
    /// The cluster token every request carries, if the cluster has one.
    token: Option<MetadataValue<Ascii>>,
    /// Mutual TLS towards peers, when the cluster runs it.
    tls: Option<ClusterTls>,
}

impl Forwarder {
    /// A forwarder whose calls give up after `call_timeout` (a turn's
    /// deadline plus margin) and carry the cluster `token`, if any (a
    /// [`Token`] is printable ASCII, so it always fits in metadata).
    /// With `tls`, peers are dialled over mutual TLS.
    pub fn new(call_timeout: Duration, token: Option<&Token>, tls: Option<ClusterTls>) -> Self {
        Self {
            peers: DashMap::new(),
            call_timeout,
            token: token.and_then(|t| t.expose().parse().ok()),
            tls,
        }
    }

    /// Sets the deadline, the cluster token and the trace context (as
    /// daprd: `traceparent` and `grpc-trace-bin`).
    fn stamp<T>(&self, request: &mut tonic::Request<T>, trace: &SpanContext) {
        request.set_timeout(self.call_timeout);
        propagation::to_metadata(trace, request.metadata_mut());
        if let Some(token) = &self.token {
            request
                .metadata_mut()
                .insert(CLUSTER_TOKEN_HEADER, token.clone());
        }
    }

    /// Forwards `call` to the node at `address` and returns its reply.
    /// [`CallError::Moved`] and [`CallError::Unreachable`] mean "re-resolve
    /// and retry"; any other error is the owner's answer.
    pub async fn call(
        &self,
        address: &Arc<str>,
        call: &CallRequest,
        trace: &SpanContext,
    ) -> Result<Bytes, CallError> {
        let mut client = self.client(address, &call.target)?;
        let mut request = tonic::Request::new(encode_request(call));
        self.stamp(&mut request, trace);
        match client.call_actor(request).await {
            Ok(reply) => decode_reply(reply.into_inner()),
            Err(status) => Err(classify(address, &call.target, &status)),
        }
    }

    /// Forwards a timer or reminder fire to the node at `address`
    /// (`CallActorReminder`) and waits until its turn ended there.
    /// [`CallError::Moved`], [`CallError::Unreachable`] and
    /// [`CallError::InDoubt`] mean "re-resolve and retry" (a reminder tick
    /// carries its id, so a retry applies once); a turn that ran and failed
    /// comes back as [`CallError::Remote`] and is not retried here.
    pub async fn fire(
        &self,
        address: &Arc<str>,
        fire: &FireRequest,
        trace: &SpanContext,
    ) -> Result<(), CallError> {
        let mut client = self.client(address, &fire.target)?;
        let mut request = encode_fire(fire);
        self.stamp(&mut request, trace);
        match client.call_actor_reminder(request).await {
            Ok(_) => Ok(()),
            Err(status) => {
                if let Some(code) = status
                    .metadata()
                    .get(TURN_FAILED)
                    .and_then(|v| v.to_str().ok())
                {
                    return Err(CallError::Remote {
                        status: 500,
                        code: ErrorCode::from_code(code).unwrap_or(ErrorCode::ActorInvokeMethod),
                        kind: ErrorKind::Application,
                        message: status.message().to_string(),
                    });
                }
                Err(classify(address, &fire.target, &status))
            }
        }
    }

    /// Forgets connections to hosts that left the table.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.peers.retain(|address, _| keep(address));
    }

    fn client(
        &self,
        address: &Arc<str>,
        target: &ActorKey,
    ) -> Result<ServiceInvocationClient<Channel>, CallError> {
        if let Some(client) = self.peers.get(address) {
            return Ok(client.clone());
        }
        let invalid = |e: &dyn std::fmt::Display| CallError::Host {
            actor: target.clone(),
            message: format!("cannot dial {address:?}: {e}"),
        };
        let tls = self.tls.as_ref().map(|tls| tls.client_for(address));
        let endpoint = crate::tls::endpoint(address, tls.as_ref())
            .map_err(|e| invalid(&e))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true);
        let client = ServiceInvocationClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        self.peers.insert(Arc::clone(address), client.clone());
        Ok(client)
    }
}

/// Maps a gRPC failure of `CallActor`: moved and disseminating are
/// retryable (as daprd's caller treats them), `Unavailable` means the owner
/// could not be reached, a reset or timeout mid-call is in doubt (retried
/// with the call's request id, so it applies once), anything else is final.
fn classify(address: &str, target: &ActorKey, status: &tonic::Status) -> CallError {
    let message = status.message();
    match status.code() {
        tonic::Code::Internal
            if message == ACTOR_MOVED
                || message == REMOTE_ACTOR_MOVED
                || message.ends_with(DISSEMINATING_SUFFIX) =>
        {
            CallError::Moved {
                actor: target.clone(),
            }
        }
        tonic::Code::Unavailable => CallError::Unreachable {
            actor: target.clone(),
            address: address.to_string(),
            message: message.to_string(),
        },
        tonic::Code::Unknown | tonic::Code::Cancelled | tonic::Code::DeadlineExceeded => {
            CallError::InDoubt {
                actor: target.clone(),
                address: address.to_string(),
                message: format!("{:?}: {message}", status.code()),
            }
        }
        code => CallError::Remote {
            status: 500,
            code: ErrorCode::ActorInvokeMethod,
            kind: ErrorKind::Internal,
            message: format!("forwarding to {address} failed: {code:?}: {message}"),
        },
    }
}
