//! Plain HTTP requests to other members' internal ports (timer, reminder
//! and deactivation calls routed to an actor's owner): reqwest in clear
//! text, or hyper-util's pooled client over mutual TLS (`hyper-rustls` on
//! ring) when the cluster runs TLS. Every request carries the cluster
//! token, if any, and gives up after the timeout.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, Request};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::config::{CLUSTER_TOKEN_HEADER, Token};
use crate::tls::ClusterTls;

/// A member's answer.
#[derive(Debug)]
pub struct PeerReply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
}

/// Sends requests to other members' internal ports.
#[derive(Clone)]
pub struct PeerClient {
    inner: Inner,
    token: Option<HeaderValue>,
    timeout: Duration,
}

#[derive(Clone)]
enum Inner {
    Plain(reqwest::Client),
    Tls(Box<Client<HttpsConnector<HttpConnector>, Full<Bytes>>>),
}

impl PeerClient {
    /// A client carrying `token`, over mutual TLS with `tls`, whose
    /// requests give up after `timeout`.
    ///
    /// # Errors
    /// The HTTP client cannot be built, or the configured server name is
    /// not a valid name.
    pub fn new(
        token: Option<&Token>,
        tls: Option<&ClusterTls>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let inner = match tls {
            None => Inner::Plain(
                reqwest::Client::builder()
                    .timeout(timeout)
                    .build()
                    .map_err(|e| format!("cannot build an HTTP client: {e}"))?,
            ),
            Some(tls) => {
                let (config, server_name) = tls.http_client();
                let builder = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config((*config).clone())
                    .https_only();
                let builder = match server_name {
                    Some(name) => {
                        let name =
                            tokio_rustls::rustls::pki_types::ServerName::try_from(name.to_string())
                                .map_err(|e| format!("invalid TLS server name {name:?}: {e}"))?;
                        builder.with_server_name_resolver(
                            hyper_rustls::FixedServerNameResolver::new(name),
                        )
                    }
                    None => builder,
                };
                Inner::Tls(Box::new(
                    Client::builder(TokioExecutor::new()).build(builder.enable_http1().build()),
                ))
            }
        };
        let token = token.and_then(|t| {
            let mut value = HeaderValue::from_str(t.expose()).ok()?;
            value.set_sensitive(true);
            Some(value)
        });
        Ok(Self {
            inner,
            token,
            timeout,
        })
    }

    /// Sends `method path` with `body` to the member at `address`.
    ///
    /// # Errors
    /// Why no answer came (connection, TLS, timeout).
    pub async fn send(
        &self,
        method: Method,
        address: &str,
        path: &str,
        body: Bytes,
    ) -> Result<PeerReply, String> {
        match &self.inner {
            Inner::Plain(client) => {
                let mut request = client
                    .request(method, format!("http://{address}{path}"))
                    .body(body);
                if let Some(token) = &self.token {
                    request = request.header(CLUSTER_TOKEN_HEADER, token.clone());
                }
                let response = request.send().await.map_err(|e| e.to_string())?;
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let body = response.bytes().await.map_err(|e| e.to_string())?;
                Ok(PeerReply {
                    status,
                    headers,
                    body,
                })
            }
            Inner::Tls(client) => {
                let mut request = Request::builder()
                    .method(method)
                    .uri(format!("https://{address}{path}"));
                if let Some(token) = &self.token {
                    request = request.header(CLUSTER_TOKEN_HEADER, token.clone());
                }
                let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
                let exchange = async {
                    let response = client.request(request).await.map_err(|e| {
                        let mut message = e.to_string();
                        let mut source = std::error::Error::source(&e);
                        while let Some(cause) = source {
                            message.push_str(": ");
                            message.push_str(&cause.to_string());
                            source = cause.source();
                        }
                        message
                    })?;
                    let (parts, body) = response.into_parts();
                    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
                    Ok(PeerReply {
                        status: parts.status.as_u16(),
                        headers: parts.headers,
                        body,
                    })
                };
                tokio::time::timeout(self.timeout, exchange)
                    .await
                    .map_err(|_| format!("no answer within {:?}", self.timeout))?
            }
        }
    }
}
