//! A stand-in for a Dapr sidecar's gRPC API, for tests on machines where
//! daprd cannot run: it serves the building-block RPCs by recording every
//! request field by field ([`Recorded`]) and answering predictably, and
//! hands the state RPCs to a [`DaprStateServer`] if it has one.
//!
//! What it answers (built from Dapr's protocol, not from daprd's code):
//! - `PublishEvent`: empty (accepted);
//! - `InvokeService`: the request's data and content type back (an echo);
//! - `InvokeBinding`: the request's data back, with the request's metadata
//!   plus `operation`;
//! - `GetSecret`: the secrets it was given ([`StandIn::with_secret`]);
//!   an unknown store is `InvalidArgument`, an unknown key `NotFound`;
//! - with an API token set ([`StandIn::with_api_token`]), a call without
//!   `dapr-api-token` or with another value is `Unauthenticated`
//!   `Unauthorized`, as daprd answers (without daprd's `ErrorInfo`
//!   details);
//! - with a delay set ([`StandIn::with_delay`]), every building-block call
//!   waits that long first (to test deadlines).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tonic::{Request, Response, Status};
use wapr_proto::dapr::proto::common::v1::InvokeResponse;
use wapr_proto::dapr::proto::runtime::v1::dapr_server::{Dapr, DaprServer};
use wapr_proto::dapr::proto::runtime::v1::{
    DeleteStateRequest, ExecuteStateTransactionRequest, GetBulkStateRequest, GetBulkStateResponse,
    GetSecretRequest, GetSecretResponse, GetStateRequest, GetStateResponse, InvokeBindingRequest,
    InvokeBindingResponse, InvokeServiceRequest, PublishEventRequest, SaveStateRequest,
};

use crate::sidecar::API_TOKEN_HEADER;
use crate::state::serve::DaprStateServer;

/// One building-block request as the stand-in received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rpc")]
pub enum Recorded {
    /// `PublishEvent`.
    PublishEvent {
        /// Field 1.
        pubsub_name: String,
        /// Field 2.
        topic: String,
        /// Field 3.
        data: Vec<u8>,
        /// Field 4.
        data_content_type: String,
        /// Field 5.
        metadata: HashMap<String, String>,
        /// The `dapr-api-token` metadata, if any.
        api_token: Option<String>,
    },
    /// `InvokeService`.
    InvokeService {
        /// Field 1.
        id: String,
        /// `message.method`.
        method: String,
        /// `message.data.type_url`.
        data_type_url: String,
        /// `message.data.value`.
        data: Vec<u8>,
        /// `message.content_type`.
        content_type: String,
        /// `message.http_extension.verb`, by name (`POST`), if set.
        verb: Option<String>,
        /// The `dapr-api-token` metadata, if any.
        api_token: Option<String>,
    },
    /// `InvokeBinding`.
    InvokeBinding {
        /// Field 1.
        name: String,
        /// Field 2.
        data: Vec<u8>,
        /// Field 3.
        metadata: HashMap<String, String>,
        /// Field 4.
        operation: String,
        /// The `dapr-api-token` metadata, if any.
        api_token: Option<String>,
    },
    /// `GetSecret`.
    GetSecret {
        /// Field 1.
        store_name: String,
        /// Field 2.
        key: String,
        /// Field 3.
        metadata: HashMap<String, String>,
        /// The `dapr-api-token` metadata, if any.
        api_token: Option<String>,
    },
}

type Secrets = HashMap<String, HashMap<String, HashMap<String, String>>>;

/// The stand-in sidecar; cheap to clone (clones share the record).
#[derive(Clone, Default)]
pub struct StandIn {
    state: Option<DaprStateServer>,
    records: Arc<Mutex<Vec<Recorded>>>,
    secrets: Arc<Secrets>,
    api_token: Option<String>,
    delay: Option<Duration>,
    journal: Option<Arc<Mutex<std::fs::File>>>,
}

impl std::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandIn")
            .field("state", &self.state)
            .field("delay", &self.delay)
            .finish_non_exhaustive()
    }
}

impl StandIn {
    /// A stand-in that serves the building blocks only (state RPCs are
    /// `Unimplemented`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Also serves Dapr's state API through `state`.
    #[must_use]
    pub fn with_state(mut self, state: DaprStateServer) -> Self {
        self.state = Some(state);
        self
    }

    /// Secret `key` of `store` holds `values`.
    #[must_use]
    pub fn with_secret(mut self, store: &str, key: &str, values: HashMap<String, String>) -> Self {
        Arc::make_mut(&mut self.secrets)
            .entry(store.to_string())
            .or_default()
            .insert(key.to_string(), values);
        self
    }

    /// Requires `dapr-api-token: token` on every call, as daprd with
    /// `DAPR_API_TOKEN` does.
    #[must_use]
    pub fn with_api_token(mut self, token: &str) -> Self {
        self.api_token = Some(token.to_string());
        self
    }

    /// Also appends every recorded request to `file`, one JSON object per
    /// line (`{"rpc":"PublishEvent",…}`), for `wapr state-server
    /// --record-blocks`.
    #[must_use]
    pub fn with_journal(mut self, file: std::fs::File) -> Self {
        self.journal = Some(Arc::new(Mutex::new(file)));
        self
    }

    /// Delays every building-block call by `delay`.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Every building-block request received so far, in order.
    pub fn records(&self) -> Vec<Recorded> {
        self.records
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// The tonic service.
    pub fn into_service(self) -> DaprServer<Self> {
        DaprServer::new(self)
            .max_decoding_message_size(crate::sidecar::MAX_MESSAGE_SIZE)
            .max_encoding_message_size(crate::sidecar::MAX_MESSAGE_SIZE)
    }

    /// Checks the token, waits the delay, records what `record` makes of
    /// the request's token.
    async fn admit<T>(
        &self,
        request: &Request<T>,
        record: impl FnOnce(Option<String>) -> Recorded,
    ) -> Result<(), Status> {
        let token = request
            .metadata()
            .get(API_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(want) = &self.api_token
            && token.as_deref() != Some(want.as_str())
        {
            return Err(Status::unauthenticated("Unauthorized"));
        }
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let recorded = record(token);
        if let Some(journal) = &self.journal {
            use std::io::Write as _;
            let line = serde_json::to_string(&recorded).unwrap_or_default();
            let mut file = journal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(err) = writeln!(file, "{line}") {
                tracing::warn!(error = %err, "cannot append to the building-block journal");
            }
        }
        match self.records.lock() {
            Ok(mut records) => records.push(recorded),
            Err(poisoned) => poisoned.into_inner().push(recorded),
        }
        Ok(())
    }

    fn state(&self) -> Result<&DaprStateServer, Status> {
        self.state.as_ref().ok_or_else(|| {
            Status::unimplemented("this Dapr stand-in serves the building blocks only")
        })
    }
}

#[tonic::async_trait]
impl Dapr for StandIn {
    async fn get_state(
        &self,
        request: Request<GetStateRequest>,
    ) -> Result<Response<GetStateResponse>, Status> {
        self.state()?.get_state(request).await
    }

    async fn get_bulk_state(
        &self,
        request: Request<GetBulkStateRequest>,
    ) -> Result<Response<GetBulkStateResponse>, Status> {
        self.state()?.get_bulk_state(request).await
    }

    async fn save_state(&self, request: Request<SaveStateRequest>) -> Result<Response<()>, Status> {
        self.state()?.save_state(request).await
    }

    async fn delete_state(
        &self,
        request: Request<DeleteStateRequest>,
    ) -> Result<Response<()>, Status> {
        self.state()?.delete_state(request).await
    }

    async fn execute_state_transaction(
        &self,
        request: Request<ExecuteStateTransactionRequest>,
    ) -> Result<Response<()>, Status> {
        self.state()?.execute_state_transaction(request).await
    }

    async fn invoke_service(
        &self,
        request: Request<InvokeServiceRequest>,
    ) -> Result<Response<InvokeResponse>, Status> {
        let message = request.get_ref().message.clone().unwrap_or_default();
        let id = request.get_ref().id.clone();
        let data = message.data.clone().unwrap_or_default();
        self.admit(&request, |api_token| Recorded::InvokeService {
            id,
            method: message.method.clone(),
            data_type_url: data.type_url.clone(),
            data: data.value.clone(),
            content_type: message.content_type.clone(),
            verb: message
                .http_extension
                .as_ref()
                .map(|h| h.verb().as_str_name().to_string()),
            api_token,
        })
        .await?;
        Ok(Response::new(InvokeResponse {
            data: Some(data),
            content_type: message.content_type,
        }))
    }

    async fn publish_event(
        &self,
        request: Request<PublishEventRequest>,
    ) -> Result<Response<()>, Status> {
        let event = request.get_ref().clone();
        self.admit(&request, |api_token| Recorded::PublishEvent {
            pubsub_name: event.pubsub_name,
            topic: event.topic,
            data: event.data,
            data_content_type: event.data_content_type,
            metadata: event.metadata,
            api_token,
        })
        .await?;
        Ok(Response::new(()))
    }

    async fn invoke_binding(
        &self,
        request: Request<InvokeBindingRequest>,
    ) -> Result<Response<InvokeBindingResponse>, Status> {
        let call = request.get_ref().clone();
        let mut metadata = call.metadata.clone();
        metadata.insert("operation".into(), call.operation.clone());
        let data = call.data.clone();
        self.admit(&request, |api_token| Recorded::InvokeBinding {
            name: call.name,
            data: call.data,
            metadata: call.metadata,
            operation: call.operation,
            api_token,
        })
        .await?;
        Ok(Response::new(InvokeBindingResponse { data, metadata }))
    }

    async fn get_secret(
        &self,
        request: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        let ask = request.get_ref().clone();
        self.admit(&request, |api_token| Recorded::GetSecret {
            store_name: ask.store_name.clone(),
            key: ask.key.clone(),
            metadata: ask.metadata.clone(),
            api_token,
        })
        .await?;
        let store = self.secrets.get(&ask.store_name).ok_or_else(|| {
            Status::invalid_argument(format!("secret store {} not found", ask.store_name))
        })?;
        let values = store.get(&ask.key).ok_or_else(|| {
            Status::not_found(format!(
                "secret {} not found in store {}",
                ask.key, ask.store_name
            ))
        })?;
        Ok(Response::new(GetSecretResponse {
            data: values.clone(),
        }))
    }
}
