//! The building blocks through a Dapr sidecar's gRPC API
//! (`dapr.proto.runtime.v1.Dapr`): `PublishEvent`, `InvokeService`,
//! `InvokeBinding` and `GetSecret`, each with `dapr-api-token` when the
//! node has one and a deadline (sent as `grpc-timeout` and enforced here)
//! no longer than the caller's timeout.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost_types::Any;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use wapr_proto::dapr::proto::common::v1::{HttpExtension, InvokeRequest};
use wapr_proto::dapr::proto::runtime::v1::dapr_client::DaprClient;
use wapr_proto::dapr::proto::runtime::v1::{
    GetSecretRequest, InvokeBindingRequest, InvokeServiceRequest, PublishEventRequest,
};

use super::{BindingCall, BindingReply, BlockError, BuildingBlocks, Invoke, InvokeReply, Publish};
use crate::sidecar::{self, MAX_MESSAGE_SIZE};
use crate::state::BoxFuture;

/// The building blocks of the Dapr sidecar at one endpoint.
#[derive(Clone)]
pub struct SidecarBlocks {
    client: DaprClient<Channel>,
    endpoint: String,
    api_token: Option<AsciiMetadataValue>,
}

impl std::fmt::Debug for SidecarBlocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SidecarBlocks")
            .field("endpoint", &self.endpoint)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl SidecarBlocks {
    /// The sidecar at `endpoint` (`http://127.0.0.1:50001`), sending
    /// `api_token` as `dapr-api-token` if given. Connects on first use.
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// A bad endpoint or token, in words.
    pub fn connect_lazy(endpoint: &str, api_token: Option<&str>) -> Result<Self, String> {
        // Each call sets its own deadline; the channel's is only a backstop.
        let (channel, uri) =
            sidecar::channel(endpoint, Duration::from_secs(2), Duration::from_secs(300))?;
        Ok(Self {
            client: DaprClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            endpoint: uri,
            api_token: sidecar::api_token(api_token)?,
        })
    }

    /// The sidecar `dapr run` gives this process: `DAPR_GRPC_PORT` and
    /// `DAPR_API_TOKEN`.
    ///
    /// # Errors
    /// A bad `DAPR_GRPC_PORT` or token, in words.
    pub fn from_env() -> Result<Self, String> {
        Self::connect_lazy(
            &sidecar::endpoint_from_env()?,
            sidecar::api_token_from_env().as_deref(),
        )
    }

    /// The URI it dials.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn request<T>(&self, message: T, timeout: Duration) -> Request<T> {
        sidecar::request(message, timeout, self.api_token.as_ref())
    }
}

/// Runs `call` within `timeout`, mapping its failure for `what`. tonic
/// ends a request whose own timeout passed with `Cancelled`; a call that
/// ends `Cancelled` or `DeadlineExceeded` once its time is up is a
/// timeout.
async fn bounded<T>(
    what: String,
    timeout: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, BlockError> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, call).await {
        Err(_) => Err(BlockError::Timeout {
            what,
            after: timeout,
        }),
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(match status.code() {
            Code::DeadlineExceeded | Code::Cancelled if started.elapsed() >= timeout => {
                BlockError::Timeout {
                    what,
                    after: timeout,
                }
            }
            Code::Unavailable => BlockError::Unavailable {
                what,
                message: status.message().to_string(),
            },
            code => BlockError::Failed {
                what,
                code,
                message: status.message().to_string(),
            },
        }),
    }
}

impl BuildingBlocks for SidecarBlocks {
    fn publish(&self, event: Publish, timeout: Duration) -> BoxFuture<'_, Result<(), BlockError>> {
        let what = format!("publish to {}/{}", event.pubsub, event.topic);
        let request = self.request(
            PublishEventRequest {
                pubsub_name: event.pubsub,
                topic: event.topic,
                data: event.data.to_vec(),
                data_content_type: event.content_type,
                metadata: event.metadata,
            },
            timeout,
        );
        let mut client = self.client.clone();
        Box::pin(async move { bounded(what, timeout, client.publish_event(request)).await })
    }

    fn invoke(
        &self,
        call: Invoke,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<InvokeReply, BlockError>> {
        let what = format!("invoke {}/{}", call.app_id, call.method);
        let request = self.request(
            InvokeServiceRequest {
                id: call.app_id,
                message: Some(InvokeRequest {
                    method: call.method,
                    data: Some(Any {
                        type_url: String::new(),
                        value: call.data.to_vec(),
                    }),
                    content_type: call.content_type,
                    http_extension: Some(HttpExtension {
                        verb: call.verb as i32,
                        querystring: String::new(),
                    }),
                }),
            },
            timeout,
        );
        let mut client = self.client.clone();
        Box::pin(async move {
            let answer = bounded(what, timeout, client.invoke_service(request)).await?;
            Ok(InvokeReply {
                data: answer
                    .data
                    .map(|d| Bytes::from(d.value))
                    .unwrap_or_default(),
                content_type: answer.content_type,
            })
        })
    }

    fn binding(
        &self,
        call: BindingCall,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<BindingReply, BlockError>> {
        let what = format!("binding {} ({})", call.name, call.operation);
        let request = self.request(
            InvokeBindingRequest {
                name: call.name,
                data: call.data.to_vec(),
                metadata: call.metadata,
                operation: call.operation,
            },
            timeout,
        );
        let mut client = self.client.clone();
        Box::pin(async move {
            let answer = bounded(what, timeout, client.invoke_binding(request)).await?;
            Ok(BindingReply {
                data: Bytes::from(answer.data),
                metadata: answer.metadata,
            })
        })
    }

    fn secret(
        &self,
        store: String,
        key: String,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<HashMap<String, String>, BlockError>> {
        let what = format!("secret {store}/{key}");
        let request = self.request(
            GetSecretRequest {
                store_name: store,
                key,
                metadata: HashMap::new(),
            },
            timeout,
        );
        let mut client = self.client.clone();
        Box::pin(async move {
            Ok(bounded(what, timeout, client.get_secret(request))
                .await?
                .data)
        })
    }
}
