//! Dapr's building blocks: publish an event, call another app's method, use
//! an output binding, read a secret (new in ABI 0.2.1).
//!
//! The node's Dapr sidecar does the I/O (without one, events go to wapr's
//! built-in broker), so an actor needs no network of its own.
//!
//! - **Deny by default.** Every call is checked against the actor type's
//!   grants (`[actors.<type>.dapr]` in the node's config: exact
//!   pub/sub–topic, app–method, binding–operation and store–key pairs). An
//!   ungranted call fails with [`DaprErrorKind::PermissionDenied`] before
//!   anything leaves the node.
//! - **[`publish`] and [`binding`] are effects of the turn.** They are
//!   recorded with the turn and sent only after its state committed; a turn
//!   that returns `Err` or traps sends none of them. A committed turn's
//!   effects are delivered at least once, each with a stable id (returned
//!   here: an event's CloudEvent `id`, a binding's metadata
//!   `wapr-effect-id`), so receivers can drop duplicates.
//! - **[`invoke`] and [`secret`] run at once**, inside the turn, bounded by
//!   the time the turn has left.
//!
//! A [`DaprError`] converts into the SDK's [`Error`] (kind `application`,
//! message `"<kind>: <message>"`), so `?` in a method fails the turn with
//! it:
//!
//! ```
//! use serde::Serialize;
//! use wapr_actor::{dapr, Error};
//!
//! #[derive(Serialize)]
//! struct Alert<'a> {
//!     device: &'a str,
//!     temperature: f64,
//! }
//!
//! # wapr_actor::testing::set_secret("vault", "api-key", [("api-key", "s3cr3t")]);
//! # fn turn() -> Result<(), Error> {
//! // Sent when the turn commits; the id is the event's CloudEvent `id`.
//! let id = dapr::publish_json("pubsub", "alerts", &Alert { device: "d1", temperature: 31.5 })?;
//! # assert!(!id.is_empty());
//!
//! // A handled refusal: the turn goes on and commits.
//! match dapr::secret("vault", "api-key") {
//!     Ok(values) => wapr_actor::info!("{} values", values.len()),
//!     Err(e) if e.kind() == dapr::DaprErrorKind::PermissionDenied => {
//!         wapr_actor::warn!("no grant: {e}")
//!     }
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(()) }
//! # turn().unwrap();
//! ```
//!
//! On native targets these calls go to the mock of
//! [`testing`](crate::testing), which records what a turn published and
//! bound (dropping it with a failed turn) and answers `invoke` and `secret`
//! as a test sets up.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, codec, host};

/// Content type of JSON data.
pub const JSON: &str = "application/json";

/// Why a building-block call failed (the ABI's `dapr-error-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DaprErrorKind {
    /// The actor type has no grant for this call; nothing was sent.
    PermissionDenied,
    /// The arguments were refused before anything was sent (empty names,
    /// too large, or the call is not allowed here).
    BadRequest,
    /// No answer within the time left in the turn.
    Timeout,
    /// The sidecar (or broker) could not be reached.
    Unavailable,
    /// The sidecar or the called app answered with an error.
    Failed,
}

impl DaprErrorKind {
    /// The kind's name as spelled in the WIT file (for example
    /// `permission-denied`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PermissionDenied => "permission-denied",
            Self::BadRequest => "bad-request",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for DaprErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed building-block call: a [`kind`](DaprErrorKind) and a
/// human-readable message. Displays as `kind: message`
/// (`permission-denied: actor type twin may not publish to pubsub/alerts: …`).
///
/// `?` turns it into an [`Error`] of kind `application` with that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaprError {
    kind: DaprErrorKind,
    message: String,
}

impl DaprError {
    /// Creates an error (for tests and fakes; the host makes the real ones).
    pub fn new(kind: DaprErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The category of the failure.
    pub fn kind(&self) -> DaprErrorKind {
        self.kind
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Splits the error into its kind and message.
    pub fn into_parts(self) -> (DaprErrorKind, String) {
        (self.kind, self.message)
    }
}

impl fmt::Display for DaprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for DaprError {}

impl From<DaprError> for Error {
    /// An `application` error whose message is `"<kind>: <message>"`.
    fn from(error: DaprError) -> Self {
        Error::application(error.to_string())
    }
}

/// The HTTP verb the app called by [`invoke`] sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpVerb {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
    /// `CONNECT`.
    Connect,
    /// `OPTIONS`.
    Options,
    /// `TRACE`.
    Trace,
    /// `PATCH`.
    Patch,
}

impl HttpVerb {
    /// Every verb, in the WIT's order.
    pub const ALL: [Self; 9] = [
        Self::Get,
        Self::Head,
        Self::Post,
        Self::Put,
        Self::Delete,
        Self::Connect,
        Self::Options,
        Self::Trace,
        Self::Patch,
    ];

    /// The verb as the WIT spells it (lower case: `get`, `post`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Head => "head",
            Self::Post => "post",
            Self::Put => "put",
            Self::Delete => "delete",
            Self::Connect => "connect",
            Self::Options => "options",
            Self::Trace => "trace",
            Self::Patch => "patch",
        }
    }
}

impl fmt::Display for HttpVerb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HttpVerb {
    type Err = Error;

    /// Parses a verb in any case (`get`, `GET`, `Post`).
    ///
    /// # Errors
    /// `bad-request` naming the text when it is not one of the nine verbs.
    fn from_str(text: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|verb| verb.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "unknown HTTP verb {text:?} (expected get, head, post, put, delete, \
                     connect, options, trace or patch)"
                ))
            })
    }
}

/// What an app called by [`invoke`] answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvokeReply {
    /// The body.
    pub data: Vec<u8>,
    /// Its content type.
    pub content_type: String,
}

impl InvokeReply {
    /// The body decoded as JSON (empty decodes as `null`).
    ///
    /// # Errors
    /// `internal` when the body is not JSON for `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        codec::decode(&self.data)
            .map_err(|e| Error::internal(format!("unexpected reply of an invoked app: {e}")))
    }

    /// The body as text (invalid UTF-8 replaced by U+FFFD).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Publishes `data` to `topic` of pub/sub component `pubsub` when the turn
/// commits; returns the event's CloudEvent `id`, stable across redeliveries.
/// Its content type is `application/json` if `data` is JSON, else
/// `application/octet-stream` (use [`Publish`] to set one, or metadata).
///
/// # Errors
/// `permission-denied` without a grant for the pair, `bad-request` for
/// arguments the host refuses; nothing is published then. The turn may
/// handle the error and still commit.
pub fn publish(pubsub: &str, topic: &str, data: &[u8]) -> Result<String, DaprError> {
    host::dapr_publish(pubsub, topic, data, "", &[])
}

/// Publishes `value` encoded as JSON (content type `application/json`),
/// as [`publish`] does.
///
/// # Errors
/// As [`publish`]; `bad-request` when `value` cannot be encoded as JSON.
pub fn publish_json<T: Serialize + ?Sized>(
    pubsub: &str,
    topic: &str,
    value: &T,
) -> Result<String, DaprError> {
    Publish::json(pubsub, topic, value).send()
}

/// An event to publish, with a content type and metadata: build it, then
/// [`send`](Self::send) it.
///
/// ```
/// # use wapr_actor::dapr::Publish;
/// # fn turn() -> Result<(), wapr_actor::Error> {
/// let id = Publish::new("pubsub", "orders", "id=7;qty=2")
///     .content_type("text/plain")
///     .metadata("ttlInSeconds", "60")
///     .send()?;
/// # assert!(!id.is_empty()); Ok(()) }
/// # turn().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pubsub: String,
    topic: String,
    /// The data, or why it could not be encoded.
    data: Result<Vec<u8>, String>,
    content_type: String,
    metadata: Vec<(String, String)>,
}

impl Publish {
    /// An event carrying `data` as these bytes (content type: see
    /// [`publish`]).
    pub fn new(
        pubsub: impl Into<String>,
        topic: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            pubsub: pubsub.into(),
            topic: topic.into(),
            data: Ok(data.into()),
            content_type: String::new(),
            metadata: Vec::new(),
        }
    }

    /// An event carrying `value` encoded as JSON, content type
    /// `application/json`. An encoding error is reported by
    /// [`send`](Self::send).
    pub fn json<T: Serialize + ?Sized>(
        pubsub: impl Into<String>,
        topic: impl Into<String>,
        value: &T,
    ) -> Self {
        let data =
            codec::encode(value).map_err(|e| format!("cannot encode the event as JSON: {e}"));
        Self {
            data,
            content_type: JSON.to_owned(),
            ..Self::new(pubsub, topic, Vec::new())
        }
    }

    /// The data's content type (empty: decided from the data, see
    /// [`publish`]).
    #[must_use]
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// Adds a metadata entry for the pub/sub component (Dapr's
    /// `metadata`, e.g. `ttlInSeconds`).
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// Publishes the event when the turn commits; returns its CloudEvent
    /// `id`.
    ///
    /// # Errors
    /// As [`publish`]; `bad-request` when the data could not be encoded.
    pub fn send(&self) -> Result<String, DaprError> {
        let data = self
            .data
            .as_ref()
            .map_err(|e| DaprError::new(DaprErrorKind::BadRequest, e.clone()))?;
        host::dapr_publish(
            &self.pubsub,
            &self.topic,
            data,
            &self.content_type,
            &self.metadata,
        )
    }
}

/// Calls `method` of Dapr app `app_id` with `data` (of `content_type`;
/// empty for none) and waits for its answer, within the time left in the
/// turn. The call is made at once, whatever becomes of the turn.
///
/// # Errors
/// `permission-denied` without a grant for the pair, `timeout` when no
/// answer came in time, `unavailable` when the sidecar cannot be reached,
/// `failed` when the sidecar or the app answered with an error.
pub fn invoke(
    app_id: &str,
    method: &str,
    verb: HttpVerb,
    data: &[u8],
    content_type: &str,
) -> Result<InvokeReply, DaprError> {
    host::dapr_invoke(app_id, method, verb, data, content_type)
}

/// [`invoke`] with `request` encoded as JSON (content type
/// `application/json`); decode the reply with [`InvokeReply::json`].
///
/// # Errors
/// As [`invoke`]; `bad-request` when `request` cannot be encoded as JSON.
pub fn invoke_json<T: Serialize + ?Sized>(
    app_id: &str,
    method: &str,
    verb: HttpVerb,
    request: &T,
) -> Result<InvokeReply, DaprError> {
    let data = codec::encode(request).map_err(|e| {
        DaprError::new(
            DaprErrorKind::BadRequest,
            format!("cannot encode the request as JSON: {e}"),
        )
    })?;
    invoke(app_id, method, verb, &data, JSON)
}

/// Calls `operation` of output binding `name` with `data` and `metadata`
/// when the turn commits; returns the call's stable id (sent to the binding
/// as metadata `wapr-effect-id`).
///
/// # Errors
/// `permission-denied` without a grant for the pair, `bad-request` for
/// arguments the host refuses; nothing is sent then.
pub fn binding(
    name: &str,
    operation: &str,
    data: &[u8],
    metadata: &[(&str, &str)],
) -> Result<String, DaprError> {
    let metadata: Vec<(String, String)> = metadata
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    host::dapr_binding(name, operation, data, &metadata)
}

/// A call of an output binding, with metadata: build it, then
/// [`send`](Self::send) it.
///
/// ```
/// # use wapr_actor::dapr::Binding;
/// # fn turn() -> Result<(), wapr_actor::Error> {
/// let id = Binding::new("sms", "create", "Your code is 4711")
///     .metadata("toNumber", "+15551234567")
///     .send()?;
/// # assert!(!id.is_empty()); Ok(()) }
/// # turn().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    name: String,
    operation: String,
    /// The data, or why it could not be encoded.
    data: Result<Vec<u8>, String>,
    metadata: Vec<(String, String)>,
}

impl Binding {
    /// A call of `operation` of binding `name` with `data` as these bytes.
    pub fn new(
        name: impl Into<String>,
        operation: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            name: name.into(),
            operation: operation.into(),
            data: Ok(data.into()),
            metadata: Vec::new(),
        }
    }

    /// A call with `value` encoded as JSON as its data. An encoding error
    /// is reported by [`send`](Self::send).
    pub fn json<T: Serialize + ?Sized>(
        name: impl Into<String>,
        operation: impl Into<String>,
        value: &T,
    ) -> Self {
        let data = codec::encode(value).map_err(|e| format!("cannot encode the data as JSON: {e}"));
        Self {
            data,
            ..Self::new(name, operation, Vec::new())
        }
    }

    /// Adds a metadata entry for the binding.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// Calls the binding when the turn commits; returns the call's id.
    ///
    /// # Errors
    /// As [`binding`]; `bad-request` when the data could not be encoded.
    pub fn send(&self) -> Result<String, DaprError> {
        let data = self
            .data
            .as_ref()
            .map_err(|e| DaprError::new(DaprErrorKind::BadRequest, e.clone()))?;
        host::dapr_binding(&self.name, &self.operation, data, &self.metadata)
    }
}

/// Reads secret `key` of secret store `store`, at once: its values by name
/// (a store may keep several values under one key; most keep one, named
/// like the key).
///
/// # Errors
/// `permission-denied` without a grant for the pair, `timeout`,
/// `unavailable`, or `failed` (for example, no such secret).
pub fn secret(store: &str, key: &str) -> Result<BTreeMap<String, String>, DaprError> {
    host::dapr_secret(store, key).map(|values| values.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn errors_display_and_convert_with_their_kind() {
        let e = DaprError::new(DaprErrorKind::PermissionDenied, "no grant");
        assert_eq!(e.to_string(), "permission-denied: no grant");
        let converted = Error::from(e.clone());
        assert_eq!(converted.kind(), ErrorKind::Application);
        assert_eq!(converted.message(), "permission-denied: no grant");
        assert_eq!(
            e.into_parts(),
            (DaprErrorKind::PermissionDenied, "no grant".to_owned())
        );
        let names: Vec<&str> = [
            DaprErrorKind::PermissionDenied,
            DaprErrorKind::BadRequest,
            DaprErrorKind::Timeout,
            DaprErrorKind::Unavailable,
            DaprErrorKind::Failed,
        ]
        .map(DaprErrorKind::as_str)
        .into();
        assert_eq!(
            names,
            [
                "permission-denied",
                "bad-request",
                "timeout",
                "unavailable",
                "failed"
            ]
        );
    }

    #[test]
    fn verbs_parse_in_any_case() {
        for verb in HttpVerb::ALL {
            assert_eq!(verb.as_str().parse::<HttpVerb>().unwrap(), verb);
            assert_eq!(
                verb.as_str()
                    .to_ascii_uppercase()
                    .parse::<HttpVerb>()
                    .unwrap(),
                verb
            );
        }
        let err = "fetch".parse::<HttpVerb>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(
            err.message().starts_with("unknown HTTP verb \"fetch\""),
            "{err}"
        );
    }

    #[test]
    fn replies_decode() {
        let reply = InvokeReply {
            data: br#"{"ok":true}"#.to_vec(),
            content_type: JSON.into(),
        };
        assert_eq!(reply.json::<serde_json::Value>().unwrap()["ok"], true);
        assert_eq!(reply.text(), r#"{"ok":true}"#);
        let err = InvokeReply {
            data: b"\xffx".to_vec(),
            content_type: String::new(),
        };
        assert_eq!(err.text(), "\u{fffd}x");
        assert_eq!(
            err.json::<serde_json::Value>().unwrap_err().kind(),
            ErrorKind::Internal
        );
        let empty: Option<u8> = InvokeReply::default().json().unwrap();
        assert_eq!(empty, None);
    }
}
