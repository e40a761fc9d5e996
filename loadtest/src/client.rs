//! The HTTP client and how one actor call's outcome is classified.

use std::time::Duration;

use reqwest::{Client, Url};

use crate::LoadError;
use crate::stats::Outcome;

/// The client every request goes through: no proxy (so requests go straight
/// to the URL's host), no redirects (so the URL sent to is the URL hit),
/// a per-request `timeout`, a large connection pool, and Dapr's API token
/// ([`api_token`]) on every request when one is set.
pub fn build_client(timeout: Duration) -> Result<Client, LoadError> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = api_token()
        && let Ok(mut value) = reqwest::header::HeaderValue::from_str(&token)
    {
        value.set_sensitive(true);
        headers.insert(API_TOKEN_HEADER, value);
    }
    Ok(Client::builder()
        .default_headers(headers)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_max_idle_per_host(10_000)
        .tcp_nodelay(true)
        .build()?)
}

/// The header carrying Dapr's API token.
pub const API_TOKEN_HEADER: &str = "dapr-api-token";

/// Dapr's API token from `DAPR_API_TOKEN`, if set and not empty: what a
/// node started with that token requires of every API call.
pub fn api_token() -> Option<String> {
    std::env::var("DAPR_API_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// `POST url` with an empty body; reads the whole reply.
pub async fn call(client: &Client, url: Url) -> Outcome {
    let response = match client.post(url).send().await {
        Ok(response) => response,
        Err(err) => return Outcome::Error(classify(&err)),
    };
    let status = response.status();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(err) => return Outcome::Error(format!("body: {}", classify(&err))),
    };
    if status.is_success() {
        Outcome::Ok
    } else {
        Outcome::Error(http_error_kind(status.as_u16(), &body))
    }
}

/// A reply: its outcome and, when it was a 2xx, its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// How the request ended.
    pub outcome: Outcome,
    /// The body of a 2xx reply (empty otherwise).
    pub body: Vec<u8>,
}

/// `POST url` with `body` and, when given, an `Idempotency-Key` header (a
/// wapr node applies a retried writing call with the same key once).
pub async fn post(client: &Client, url: Url, body: &[u8], idempotency_key: Option<&str>) -> Reply {
    let mut request = client.post(url).body(body.to_vec());
    if let Some(key) = idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    let failed = |outcome| Reply {
        outcome,
        body: Vec::new(),
    };
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => return failed(Outcome::Error(classify(&err))),
    };
    let status = response.status();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(err) => return failed(Outcome::Error(format!("body: {}", classify(&err)))),
    };
    if status.is_success() {
        Reply {
            outcome: Outcome::Ok,
            body: body.to_vec(),
        }
    } else {
        failed(Outcome::Error(http_error_kind(status.as_u16(), &body)))
    }
}

/// `GET url` as JSON; `None` on any failure.
pub async fn get_json(client: &Client, url: Url) -> Option<serde_json::Value> {
    let response = client.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// `http STATUS` plus Dapr's `errorCode` from the body when there is one.
pub fn http_error_kind(status: u16, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct DaprError {
        #[serde(rename = "errorCode")]
        error_code: String,
    }
    match serde_json::from_slice::<DaprError>(body) {
        Ok(e) if !e.error_code.is_empty() && e.error_code.len() <= 64 => {
            format!("http {status} {}", e.error_code)
        }
        _ => format!("http {status}"),
    }
}

/// A transport failure's kind: `timeout`, `connect`, or `request`.
pub fn classify(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timeout".into()
    } else if err.is_connect() {
        "connect".into()
    } else {
        "request".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dapr_error_codes_are_kept() {
        assert_eq!(
            http_error_kind(
                404,
                br#"{"errorCode":"ERR_ACTOR_NO_ADDRESS","message":"x"}"#
            ),
            "http 404 ERR_ACTOR_NO_ADDRESS"
        );
        assert_eq!(http_error_kind(502, b"bad gateway"), "http 502");
        assert_eq!(http_error_kind(500, br#"{"errorCode":""}"#), "http 500");
    }

    #[tokio::test]
    async fn refused_connections_are_connect_errors() {
        // Bind then drop a listener: nothing listens on that port now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = build_client(Duration::from_secs(2)).unwrap();
        let url = crate::target::Target::loopback(port).method_url("counter", "x", "get");
        assert_eq!(call(&client, url).await, Outcome::Error("connect".into()));
    }
}
