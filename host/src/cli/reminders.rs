//! `wapr reminders list|get|delete`: an operator's view of reminders and
//! timers, over any node's HTTP API (`GET /wapr/v1/reminders`, and Dapr's
//! `…/reminders/{name}` routes).

use std::fmt::Write as _;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Deserialize;

/// Options of `wapr reminders`.
#[derive(Debug, Args)]
pub struct RemindersArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: RemindersCommand,
    /// Any node's HTTP API.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:3500",
        env = "WAPR_ENDPOINT"
    )]
    pub endpoint: String,
    /// Print the node's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The subcommands of `wapr reminders`.
#[derive(Debug, Subcommand)]
pub enum RemindersCommand {
    /// The reminders of a type (TYPE) or of one actor (TYPE/ID), and the
    /// timers the node holds for them.
    List {
        /// TYPE or TYPE/ID.
        target: String,
    },
    /// One reminder, as Dapr's `GET …/reminders/{name}` shows it.
    Get {
        /// TYPE/ID.
        actor: String,
        /// The reminder's name.
        name: String,
    },
    /// Deletes one reminder.
    Delete {
        /// TYPE/ID.
        actor: String,
        /// The reminder's name.
        name: String,
    },
}

#[derive(Debug, Deserialize)]
struct Listing {
    reminders: Vec<NamedReminder>,
    timers: Vec<Timer>,
}

#[derive(Debug, Deserialize)]
struct NamedReminder {
    name: String,
    reminder: Reminder,
    fired: Option<u32>,
    #[serde(rename = "nextFire")]
    next_fire: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Reminder {
    #[serde(rename = "actorID")]
    actor_id: String,
    #[serde(rename = "dueTime", default)]
    due_time: String,
    #[serde(default)]
    period: String,
}

#[derive(Debug, Deserialize)]
struct Timer {
    name: String,
    #[serde(rename = "actorID")]
    actor_id: String,
    #[serde(default)]
    period: String,
    fired: u32,
    #[serde(rename = "nextFire")]
    next_fire: Option<String>,
}

fn split_actor(actor: &str) -> anyhow::Result<(&str, &str)> {
    actor
        .split_once('/')
        .filter(|(t, i)| !t.is_empty() && !i.is_empty())
        .with_context(|| format!("expected TYPE/ID, got {actor:?}"))
}

impl RemindersArgs {
    fn url(&self, segments: &[&str]) -> anyhow::Result<reqwest::Url> {
        let mut url = reqwest::Url::parse(&self.endpoint)
            .with_context(|| format!("invalid endpoint {:?}", self.endpoint))?;
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("endpoint {:?} cannot have a path", self.endpoint))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Runs the subcommand; returns what to print.
    pub async fn run(self) -> anyhow::Result<String> {
        let client = super::api_client_builder().build()?;
        let (method, url) = match &self.command {
            RemindersCommand::List { target } => {
                let mut url = self.url(&["wapr", "v1", "reminders"])?;
                match target.split_once('/') {
                    Some((t, i)) => url
                        .query_pairs_mut()
                        .append_pair("type", t)
                        .append_pair("id", i),
                    None => url.query_pairs_mut().append_pair("type", target),
                };
                (reqwest::Method::GET, url)
            }
            RemindersCommand::Get { actor, name } => {
                let (t, i) = split_actor(actor)?;
                let url = self.url(&["v1.0", "actors", t, i, "reminders", name])?;
                (reqwest::Method::GET, url)
            }
            RemindersCommand::Delete { actor, name } => {
                let (t, i) = split_actor(actor)?;
                let url = self.url(&["v1.0", "actors", t, i, "reminders", name])?;
                (reqwest::Method::DELETE, url)
            }
        };
        let response = client
            .request(method, url.clone())
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        let body = response.text().await.context("cannot read the reply")?;
        if !status.is_success() {
            bail!("{status}: {body}");
        }
        match self.command {
            RemindersCommand::List { .. } if !self.json => render(&body),
            RemindersCommand::Delete { .. } => Ok("deleted".to_string()),
            _ => Ok(body),
        }
    }
}

/// The listing as two tables.
fn render(body: &str) -> anyhow::Result<String> {
    let listing: Listing = serde_json::from_str(body).context("unexpected listing")?;
    let mut out = String::new();
    let _ = writeln!(out, "reminders: {}", listing.reminders.len());
    for r in &listing.reminders {
        let _ = writeln!(
            out,
            "  {}/{:<24} due {:<22} period {:<16} fired {:<6} next {}",
            r.reminder.actor_id,
            r.name,
            display(&r.reminder.due_time),
            display(&r.reminder.period),
            r.fired.map_or_else(|| "-".into(), |n| n.to_string()),
            r.next_fire.as_deref().unwrap_or("-"),
        );
    }
    let _ = writeln!(out, "timers on this node: {}", listing.timers.len());
    for t in &listing.timers {
        let _ = writeln!(
            out,
            "  {}/{:<24} period {:<16} fired {:<6} next {}",
            t.actor_id,
            t.name,
            display(&t.period),
            t.fired,
            t.next_fire.as_deref().unwrap_or("-"),
        );
    }
    Ok(out.trim_end().to_string())
}

fn display(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}
