//! The host side of ABI 0.2.1's `dapr` interface: an actor publishing an
//! event, calling another app, using an output binding or reading a secret.
//!
//! Every call is checked against the type's grants first (deny by default;
//! a refusal is logged and is the guest's `permission-denied`). `publish`
//! and `binding` are effects: checked and buffered with the turn, released
//! by the outbox only after the turn commits. `invoke` and `secret` go to
//! the node's building blocks at once, bounded by what is left of the turn.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wapr_proto::dapr::proto::common::v1::http_extension::Verb;

use super::bindings::v0_2::wapr::actor::dapr::{
    self as wit, DaprError, DaprErrorKind, HttpVerb, InvokeReply,
};
use super::ctx::{ActorCtx, wait};
use crate::blocks::{Block, BlockError, BuildingBlocks, Granted, Invoke, NodeBlocks};
use crate::config::{DaprCall, MAX_GRANT_NAME_LEN};
use crate::outbox::Effect;

/// Time kept back from the turn's deadline, so a slow call ends as the
/// guest's `timeout` rather than as the turn's deadline.
const MARGIN: Duration = Duration::from_millis(20);

/// Most bytes of data one building-block call may carry.
pub const MAX_BLOCK_DATA: usize = 4 << 20;

fn error(kind: DaprErrorKind, message: impl Into<String>) -> DaprError {
    DaprError {
        kind,
        message: message.into(),
    }
}

fn from_block_error(err: &BlockError) -> DaprError {
    let kind = match err {
        BlockError::Denied(_) => DaprErrorKind::PermissionDenied,
        BlockError::Timeout { .. } => DaprErrorKind::Timeout,
        BlockError::Unavailable { .. } => DaprErrorKind::Unavailable,
        BlockError::Failed { code, .. } if *code == tonic::Code::InvalidArgument => {
            DaprErrorKind::BadRequest
        }
        BlockError::Failed { .. } => DaprErrorKind::Failed,
    };
    error(kind, err.to_string())
}

fn check_name(what: &str, value: &str) -> Result<(), DaprError> {
    if value.is_empty() {
        return Err(error(DaprErrorKind::BadRequest, format!("{what} is empty")));
    }
    if value.len() > MAX_GRANT_NAME_LEN {
        return Err(error(
            DaprErrorKind::BadRequest,
            format!("{what} is longer than {MAX_GRANT_NAME_LEN} bytes"),
        ));
    }
    Ok(())
}

fn check_data(data: &[u8]) -> Result<(), DaprError> {
    if data.len() > MAX_BLOCK_DATA {
        return Err(error(
            DaprErrorKind::BadRequest,
            format!(
                "{} bytes of data is more than the {MAX_BLOCK_DATA} a building-block call may carry",
                data.len()
            ),
        ));
    }
    Ok(())
}

fn metadata(entries: Vec<(String, String)>) -> Result<HashMap<String, String>, DaprError> {
    let mut map = HashMap::with_capacity(entries.len());
    for (key, value) in entries {
        check_name("a metadata key", &key)?;
        map.insert(key, value);
    }
    Ok(map)
}

fn verb(verb: HttpVerb) -> Verb {
    match verb {
        HttpVerb::Get => Verb::Get,
        HttpVerb::Head => Verb::Head,
        HttpVerb::Post => Verb::Post,
        HttpVerb::Put => Verb::Put,
        HttpVerb::Delete => Verb::Delete,
        HttpVerb::Connect => Verb::Connect,
        HttpVerb::Options => Verb::Options,
        HttpVerb::Trace => Verb::Trace,
        HttpVerb::Patch => Verb::Patch,
    }
}

impl ActorCtx {
    /// The type's building blocks out of `blocks`, checked for `call`
    /// and `block`.
    fn granted<'b>(
        &self,
        blocks: Option<&'b NodeBlocks>,
        call: &DaprCall<'_>,
        block: Block,
    ) -> Result<&'b Granted, DaprError> {
        let actor_type = self.key.actor_type();
        let Some(granted) = blocks.and_then(|blocks| blocks.for_type(actor_type)) else {
            tracing::warn!(%actor_type, %call, "building-block call refused: not granted");
            return Err(error(
                DaprErrorKind::PermissionDenied,
                format!(
                    "actor type {actor_type} may not {call}: it is not granted in [actors.{actor_type}.dapr]"
                ),
            ));
        };
        granted.check(call).map_err(|e| from_block_error(&e))?;
        if !granted.offers(block) {
            return Err(error(DaprErrorKind::Unavailable, granted.missing(block)));
        }
        Ok(granted)
    }

    /// Checks an effect's grant.
    fn check_grant(&self, call: &DaprCall<'_>, block: Block) -> Result<(), DaprError> {
        let blocks = self.services.blocks.get().cloned();
        self.granted(blocks.as_deref(), call, block).map(|_| ())
    }

    /// Buffers `effect` with the turn; its id.
    fn buffer_effect(&mut self, effect: Effect) -> Result<String, DaprError> {
        if self.services.outbox.get().is_none() {
            return Err(error(
                DaprErrorKind::Unavailable,
                "this node has no outbox to send effects from",
            ));
        }
        let key = self.key.clone();
        let max = self.turn.max_state_bytes;
        self.state
            .effects()
            .push(&key, effect, max)
            .map_err(|message| error(DaprErrorKind::BadRequest, message))
    }

    /// What is left of the turn for a synchronous call, if anything.
    fn time_left(&self) -> Option<Duration> {
        self.turn
            .deadline
            .checked_duration_since(Instant::now())
            .and_then(|left| left.checked_sub(MARGIN))
            .filter(|left| !left.is_zero())
    }

    /// Waits for a synchronous building-block call, counting the wait.
    fn wait_block<T>(
        &mut self,
        what: &str,
        call: impl FnOnce(&Granted, Duration) -> crate::state::BoxFuture<'_, Result<T, BlockError>>,
        granted_for: (&DaprCall<'_>, Block),
    ) -> wasmtime::Result<Result<T, DaprError>> {
        let Some(left) = self.time_left() else {
            return Ok(Err(error(
                DaprErrorKind::Timeout,
                format!("{what}: no time left in the turn"),
            )));
        };
        let blocks = self.services.blocks.get().cloned();
        let granted = match self.granted(blocks.as_deref(), granted_for.0, granted_for.1) {
            Ok(granted) => granted,
            Err(err) => return Ok(Err(err)),
        };
        let waiting = Instant::now();
        let answer = wait(
            call(granted, left),
            self.turn.deadline,
            &self.turn.interrupt,
        );
        self.turn.waited += waiting.elapsed();
        let answer = answer.map_err(|e| self.abort_wait(e))?;
        Ok(answer.map_err(|e| from_block_error(&e)))
    }
}

impl wit::Host for ActorCtx {
    fn publish(
        &mut self,
        pubsub: String,
        topic: String,
        data: Vec<u8>,
        content_type: String,
        entries: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<String, DaprError>> {
        let checked = (|| {
            check_name("the pub/sub name", &pubsub)?;
            check_name("the topic", &topic)?;
            check_data(&data)?;
            let metadata = metadata(entries)?;
            self.check_grant(
                &DaprCall::Publish {
                    pubsub: &pubsub,
                    topic: &topic,
                },
                Block::Publish,
            )?;
            Ok(metadata)
        })();
        let metadata = match checked {
            Ok(metadata) => metadata,
            Err(err) => return Ok(Err(err)),
        };
        let content_type = if content_type.is_empty() {
            default_content_type(&data).to_string()
        } else {
            content_type
        };
        Ok(self.buffer_effect(Effect::Publish(crate::blocks::Publish {
            pubsub,
            topic,
            data: Bytes::from(data),
            content_type,
            metadata,
        })))
    }

    fn invoke(
        &mut self,
        app_id: String,
        method: String,
        http_verb: HttpVerb,
        data: Vec<u8>,
        content_type: String,
    ) -> wasmtime::Result<Result<InvokeReply, DaprError>> {
        if let Err(err) = check_name("the app id", &app_id)
            .and_then(|()| check_name("the method", &method))
            .and_then(|()| check_data(&data))
        {
            return Ok(Err(err));
        }
        let what = format!("invoke {app_id}/{method}");
        let call = DaprCall::Invoke {
            app_id: &app_id,
            method: &method,
        };
        let request = Invoke {
            app_id: app_id.clone(),
            method: method.clone(),
            verb: verb(http_verb),
            data: Bytes::from(data),
            content_type,
        };
        let reply = self.wait_block(
            &what,
            |granted, left| granted.invoke(request, left),
            (&call, Block::Invoke),
        )?;
        Ok(reply.map(|reply| InvokeReply {
            data: reply.data.to_vec(),
            content_type: reply.content_type,
        }))
    }

    fn binding(
        &mut self,
        name: String,
        operation: String,
        data: Vec<u8>,
        entries: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<String, DaprError>> {
        let checked = (|| {
            check_name("the binding name", &name)?;
            check_name("the operation", &operation)?;
            check_data(&data)?;
            let metadata = metadata(entries)?;
            self.check_grant(
                &DaprCall::Binding {
                    name: &name,
                    operation: &operation,
                },
                Block::Binding,
            )?;
            Ok(metadata)
        })();
        let metadata = match checked {
            Ok(metadata) => metadata,
            Err(err) => return Ok(Err(err)),
        };
        Ok(
            self.buffer_effect(Effect::Binding(crate::blocks::BindingCall {
                name,
                operation,
                data: Bytes::from(data),
                metadata,
            })),
        )
    }

    fn secret(
        &mut self,
        store: String,
        key: String,
    ) -> wasmtime::Result<Result<Vec<(String, String)>, DaprError>> {
        if let Err(err) =
            check_name("the secret store", &store).and_then(|()| check_name("the key", &key))
        {
            return Ok(Err(err));
        }
        let what = format!("secret {store}/{key}");
        let call = DaprCall::Secret {
            store: &store,
            key: &key,
        };
        let (s, k) = (store.clone(), key.clone());
        let values = self.wait_block(
            &what,
            |granted, left| granted.secret(s, k, left),
            (&call, Block::Secret),
        )?;
        Ok(values.map(|values| {
            let mut values: Vec<_> = values.into_iter().collect();
            values.sort();
            values
        }))
    }
}

/// The content type of data published without one: JSON if it parses as
/// JSON, else bytes.
fn default_content_type(data: &[u8]) -> &'static str {
    if serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok() {
        "application/json"
    } else {
        "application/octet-stream"
    }
}
