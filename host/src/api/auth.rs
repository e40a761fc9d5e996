//! Dapr's API token on the node's faces (dapr-actors-next.md §4.3).
//!
//! With a token set, every request to the HTTP API must carry it in
//! `dapr-api-token`, else **401** `invalid api token` (text, as daprd's
//! `http.Error`); `GET /v1.0/healthz` and `/v1.0/healthz/outbound` are
//! exempt. The routes a sidecar calls on its app (`/dapr/*`, event
//! deliveries) are checked against the app token (`APP_API_TOKEN`, what
//! daprd sends its app) instead. Every gRPC API call must carry the token
//! in its metadata, else `Unauthenticated` "Unauthorized". The header is
//! removed before the request goes on, so it never reaches an actor.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::{ApiTokens, Token};
use crate::events::EVENTS_PATH;

/// The header (gRPC: metadata key) carrying the token.
pub const TOKEN_HEADER: &str = "dapr-api-token";

/// Which token a request on the HTTP port needs.
fn token_for<'a>(tokens: &'a ApiTokens, method: &Method, path: &str) -> Option<&'a Token> {
    let trimmed = path.trim_end_matches('/');
    if method == Method::GET && (trimmed == "/v1.0/healthz" || trimmed == "/v1.0/healthz/outbound")
    {
        return None;
    }
    if path.starts_with("/dapr/") || path.starts_with(EVENTS_PATH) {
        return tokens.app.as_ref();
    }
    tokens.api.as_ref()
}

fn carries(request: &Request, token: &Token) -> bool {
    request
        .headers()
        .get(TOKEN_HEADER)
        .is_some_and(|given| token.matches(given.as_bytes()))
}

/// The HTTP API's check.
pub(super) async fn http_guard(
    State(tokens): State<ApiTokens>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(token) = token_for(&tokens, request.method(), request.uri().path())
        && !carries(&request, token)
    {
        tracing::debug!(path = %request.uri().path(), "refused a request without the API token");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "invalid api token\n",
        )
            .into_response();
    }
    request.headers_mut().remove(TOKEN_HEADER);
    next.run(request).await
}

/// The gRPC API's check (every method).
pub(super) async fn grpc_guard(
    State(tokens): State<ApiTokens>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(token) = &tokens.api
        && !carries(&request, token)
    {
        tracing::debug!(path = %request.uri().path(), "refused a gRPC call without the API token");
        return tonic::Status::unauthenticated("Unauthorized").into_http::<Body>();
    }
    request.headers_mut().remove(TOKEN_HEADER);
    next.run(request).await
}

/// The internal port's check: the cluster token on every request (gRPC
/// `CallActor`/`CallActorReminder` and the internal HTTP routes alike).
pub async fn cluster_guard(
    State(token): State<Option<Token>>,
    mut request: Request,
    next: Next,
) -> Response {
    use crate::config::CLUSTER_TOKEN_HEADER;
    if let Some(token) = &token {
        let given = request.headers().get(CLUSTER_TOKEN_HEADER);
        if !given.is_some_and(|given| token.matches(given.as_bytes())) {
            tracing::warn!(path = %request.uri().path(), "refused an internal request without the cluster token");
            let grpc = request
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|t| t.as_bytes().starts_with(b"application/grpc"));
            if grpc {
                return tonic::Status::unauthenticated("invalid cluster token").into_http::<Body>();
            }
            return (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "invalid cluster token\n",
            )
                .into_response();
        }
    }
    request.headers_mut().remove(CLUSTER_TOKEN_HEADER);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_exempt_app_routes_take_the_app_token() {
        let token = |t: &str| Token::parse(t).expect("valid");
        let tokens = ApiTokens {
            api: token("api"),
            app: token("app"),
            cluster: None,
        };
        let need =
            |method: Method, path: &str| token_for(&tokens, &method, path).map(Token::expose);
        assert_eq!(need(Method::GET, "/v1.0/healthz"), None);
        assert_eq!(need(Method::GET, "/v1.0/healthz/outbound/"), None);
        assert_eq!(need(Method::POST, "/v1.0/healthz"), Some("api"));
        assert_eq!(need(Method::GET, "/v1.0/metadata"), Some("api"));
        assert_eq!(need(Method::PUT, "/v1.0/actors/t/i/method/m"), Some("api"));
        assert_eq!(need(Method::GET, "/wapr/v1/cluster"), Some("api"));
        assert_eq!(need(Method::GET, "/dapr/subscribe"), Some("app"));
        assert_eq!(need(Method::POST, "/wapr/v1/events/p/t"), Some("app"));
        let no_app = ApiTokens {
            api: token("api"),
            ..ApiTokens::default()
        };
        assert_eq!(token_for(&no_app, &Method::GET, "/dapr/subscribe"), None);
    }
}
