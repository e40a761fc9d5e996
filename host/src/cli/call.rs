//! `wapr call TYPE/ID METHOD [PAYLOAD]`: one actor call over the HTTP API.

use anyhow::{Context, bail};
use clap::Args;

/// Options of `wapr call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The actor, as TYPE/ID.
    pub actor: String,
    /// The method.
    pub method: String,
    /// Request body (JSON, sent as is).
    pub payload: Option<String>,
    /// The node's HTTP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:3500", env = "WAPR_ENDPOINT")]
    pub endpoint: String,
}

impl CallArgs {
    /// Makes the call; prints the reply body, or fails with Dapr's error.
    pub async fn run(self) -> anyhow::Result<String> {
        let (actor_type, actor_id) = self
            .actor
            .split_once('/')
            .filter(|(t, i)| !t.is_empty() && !i.is_empty())
            .with_context(|| format!("expected TYPE/ID, got {:?}", self.actor))?;
        let url = reqwest::Url::parse(&self.endpoint)
            .with_context(|| format!("invalid endpoint {:?}", self.endpoint))?;
        let mut url = url;
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("endpoint {:?} cannot have a path", self.endpoint))?
            .pop_if_empty()
            .extend([
                "v1.0",
                "actors",
                actor_type,
                actor_id,
                "method",
                &self.method,
            ]);
        let response = super::api_client_builder()
            .build()?
            .post(url.clone())
            .header("content-type", "application/json")
            .body(self.payload.unwrap_or_default())
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        let body = response.text().await.context("cannot read the reply")?;
        if !status.is_success() {
            bail!("{status}: {body}");
        }
        Ok(body)
    }
}
