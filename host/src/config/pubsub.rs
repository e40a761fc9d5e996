//! `[pubsub]`: timing of the built-in broker's redeliveries and of the
//! outbox's recovery sweep.
//!
//! ```toml
//! [pubsub]
//! processing_timeout = "60s"   # Dapr's pubsub.redis processingTimeout
//! redeliver_interval = "15s"   # Dapr's pubsub.redis redeliverInterval
//! outbox_grace = "10s"
//! outbox_sweep = "5s"
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The built-in broker and the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PubSubConfig {
    /// An event delivered from Redis Streams but not acked for this long
    /// is delivered again (Dapr's `processingTimeout`, 60 s).
    #[serde(with = "humantime_serde")]
    pub processing_timeout: Duration,
    /// How often such events are looked for (Dapr's `redeliverInterval`,
    /// 15 s).
    #[serde(with = "humantime_serde")]
    pub redeliver_interval: Duration,
    /// How old an effect a committed turn released must be before a
    /// recovery sweep sends it (its own node normally sends it within
    /// milliseconds; the sweep is for nodes that died first).
    #[serde(with = "humantime_serde")]
    pub outbox_grace: Duration,
    /// How often the recovery sweep runs (it backs off to once a minute
    /// while it finds nothing, and comes back to this when it sends).
    #[serde(with = "humantime_serde")]
    pub outbox_sweep: Duration,
}

impl Default for PubSubConfig {
    fn default() -> Self {
        Self {
            processing_timeout: Duration::from_secs(60),
            redeliver_interval: Duration::from_secs(15),
            outbox_grace: Duration::from_secs(10),
            outbox_sweep: Duration::from_secs(5),
        }
    }
}

impl PubSubConfig {
    /// What is wrong, as `(field, reason)`.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        for (field, d) in [
            ("pubsub.processing_timeout", self.processing_timeout),
            ("pubsub.redeliver_interval", self.redeliver_interval),
            ("pubsub.outbox_sweep", self.outbox_sweep),
        ] {
            if d.is_zero() {
                return Err((field, "must be greater than zero"));
            }
        }
        Ok(())
    }
}
