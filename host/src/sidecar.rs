//! The connection to a Dapr sidecar's gRPC API (`dapr.proto.runtime.v1`):
//! where it is under `dapr run`, how a channel to it is built and the API
//! token it wants. Shared by the state store that lives behind the sidecar
//! and by the building blocks actors reach through it.

use std::time::Duration;

use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Channel, Endpoint};

/// daprd's default gRPC API port, used when `DAPR_GRPC_PORT` is unset (as
/// Dapr's SDKs do).
pub const DEFAULT_DAPR_GRPC_PORT: u16 = 50001;

/// Header daprd checks when it runs with `DAPR_API_TOKEN`.
pub const API_TOKEN_HEADER: &str = "dapr-api-token";

/// Largest gRPC message sent or accepted on the sidecar's API, both ways
/// (16 MiB).
pub const MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

/// `http://127.0.0.1:$DAPR_GRPC_PORT`, daprd's gRPC API as `dapr run` tells
/// its app; port [`DEFAULT_DAPR_GRPC_PORT`] if the variable is unset or
/// empty.
///
/// # Errors
/// A variable that is not a port number, in words.
pub fn endpoint_from_env() -> Result<String, String> {
    let port = match std::env::var("DAPR_GRPC_PORT") {
        Ok(port) if !port.trim().is_empty() => port
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("DAPR_GRPC_PORT={port:?} is not a port number"))?,
        _ => DEFAULT_DAPR_GRPC_PORT,
    };
    Ok(format!("http://127.0.0.1:{port}"))
}

/// `DAPR_API_TOKEN`, if it is set and not empty.
pub fn api_token_from_env() -> Option<String> {
    std::env::var("DAPR_API_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
}

/// A lazily connecting h2c channel to `endpoint` (`http://host:port`; a
/// bare `host:port` means `http://`) with the given deadlines, and the URI
/// it dials. Nothing is dialled until the first call, and the channel
/// reconnects by itself. No HTTP/2 keep-alive pings are sent (daprd refuses
/// pings more often than every 8 s). Must be called inside a tokio runtime.
///
/// # Errors
/// An endpoint that is not plaintext `http://` or not a valid URI, in
/// words.
pub fn channel(
    endpoint: &str,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<(Channel, String), String> {
    let uri = if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("http://{endpoint}")
    };
    if !uri.starts_with("http://") {
        return Err(format!(
            "endpoint {endpoint:?}: only plaintext http:// (h2c) is supported"
        ));
    }
    let channel = Endpoint::from_shared(uri.clone())
        .map_err(|e| format!("invalid endpoint {endpoint:?}: {e}"))?
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .tcp_nodelay(true)
        .connect_lazy();
    Ok((channel, uri))
}

/// The `dapr-api-token` header value for `token`, if any.
///
/// # Errors
/// A token that cannot be a header value.
pub fn api_token(token: Option<&str>) -> Result<Option<AsciiMetadataValue>, String> {
    token
        .map(|token| {
            MetadataValue::try_from(token)
                .map_err(|_| "the Dapr API token is not a valid header value".to_string())
        })
        .transpose()
}

/// `message` as a request with deadline `timeout` (sent as
/// `grpc-timeout`) and `dapr-api-token` if there is a token.
pub fn request<T>(
    message: T,
    timeout: Duration,
    api_token: Option<&AsciiMetadataValue>,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    if let Some(token) = api_token {
        request
            .metadata_mut()
            .insert(API_TOKEN_HEADER, token.clone());
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn endpoints_are_plaintext_and_default_to_http() {
        let (_, uri) = channel(
            "127.0.0.1:1",
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .expect("bare host:port");
        assert_eq!(uri, "http://127.0.0.1:1");
        let err = channel(
            "https://127.0.0.1:1",
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .expect_err("tls");
        assert!(err.contains("only plaintext"), "{err}");
        assert!(api_token(Some("bad\ntoken")).is_err());
        assert_eq!(api_token(None), Ok(None));
        assert!(api_token(Some("t0k3n")).expect("ok").is_some());
    }
}
