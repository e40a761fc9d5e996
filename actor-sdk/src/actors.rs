//! Calls to other actors (request/response).
//!
//! A call blocks the calling turn until the callee replies. The host tracks the
//! call chain: a call that would wait on an actor already in the chain (for
//! example calling back into the caller) fails with
//! [`ErrorKind::CallCycle`](crate::ErrorKind::CallCycle) instead of
//! deadlocking.

use serde::{Serialize, de::DeserializeOwned};

use crate::{ActorRef, Error, codec, host};

/// Calls `method` on actor `actor_type`/`actor_id` with `request` encoded as
/// JSON and decodes the JSON reply (an empty reply decodes as `null`).
///
/// # Errors
/// The callee's error as it returned it (same kind and message), an error of
/// the host (`not-found`, `unavailable`, `call-cycle`, `internal`), or
/// [`ErrorKind::Internal`](crate::ErrorKind::Internal) when the request cannot
/// be encoded or the reply does not decode as `Resp`.
pub fn call<Req, Resp>(
    actor_type: &str,
    actor_id: &str,
    method: &str,
    request: &Req,
) -> Result<Resp, Error>
where
    Req: Serialize + ?Sized,
    Resp: DeserializeOwned,
{
    let payload = codec::encode(request).map_err(|e| {
        Error::internal(format!(
            "cannot encode the request for {actor_type}/{actor_id} `{method}`: {e}"
        ))
    })?;
    let reply = call_raw(actor_type, actor_id, method, &payload)?;
    codec::decode(&reply).map_err(|e| {
        Error::internal(format!(
            "unexpected reply from {actor_type}/{actor_id} `{method}`: {e}"
        ))
    })
}

/// Calls `method` on actor `actor_type`/`actor_id` with raw bytes and returns
/// the raw reply.
///
/// # Errors
/// The callee's error as it returned it, or an error of the host.
pub fn call_raw(
    actor_type: &str,
    actor_id: &str,
    method: &str,
    payload: &[u8],
) -> Result<Vec<u8>, Error> {
    call_ref(&ActorRef::new(actor_type, actor_id), method, payload)
}

/// Like [`call_raw`], addressing the target with an [`ActorRef`].
///
/// # Errors
/// The callee's error as it returned it, or an error of the host.
pub fn call_ref(target: &ActorRef, method: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
    host::call(target, method, payload)
}
