//! The request ledger: what makes a retried call apply once.
//!
//! A call may carry a request id (`Idempotency-Key` over HTTP; the router
//! gives every forwarded call one). When a turn with such an id writes
//! state, the ids of the actor's most recent writing turns, with their
//! replies, are committed *in the same transaction* under the reserved key
//! [`LEDGER_KEY`]. A call whose id is already in the ledger is not run
//! again: it gets the recorded reply. So a caller that lost a reply (the
//! owner died after committing, a connection reset mid-call) can retry with
//! the same id, on any node, and the increment is applied exactly once.

use std::collections::VecDeque;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The state key of an actor's ledger. Keys starting with
/// [`RESERVED_KEY_PREFIX`] are refused to actors and the state API.
pub const LEDGER_KEY: &str = "__wapr.requests";

/// State keys reserved for wapr.
pub const RESERVED_KEY_PREFIX: &str = "__wapr.";

/// How many recent writing turns the ledger remembers per actor.
pub const LEDGER_ENTRIES: usize = 16;

/// Longest reply kept for replay; longer replies are remembered as applied
/// without their body.
pub const MAX_REPLY_KEPT: usize = 256;

/// Longest request id accepted.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// What the ledger knows about a request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Applied; this was the reply.
    Reply(Bytes),
    /// Applied; the reply was too long to keep.
    NotKept,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply: Option<String>,
}

/// An actor's recent request ids, newest last.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    entries: VecDeque<Entry>,
}

impl Ledger {
    /// Reads a stored ledger. An unreadable one (never written by wapr) is
    /// treated as empty, with a log line.
    pub fn decode(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes).unwrap_or_else(|err| {
            tracing::warn!(error = %err, "unreadable request ledger; treating it as empty");
            Self::default()
        })
    }

    /// The stored form.
    pub fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// What is known about `id`.
    pub fn find(&self, id: &str) -> Option<Replay> {
        self.entries.iter().rev().find(|e| e.id == id).map(|e| {
            e.reply
                .as_ref()
                .map_or(Replay::NotKept, |r| Replay::Reply(Bytes::from(r.clone())))
        })
    }

    /// Remembers that `id` was applied with `reply`, forgetting the oldest
    /// entry beyond [`LEDGER_ENTRIES`].
    pub fn record(&mut self, id: &str, reply: &[u8]) {
        let reply = (reply.len() <= MAX_REPLY_KEPT)
            .then(|| std::str::from_utf8(reply).ok().map(str::to_string))
            .flatten();
        self.entries.push_back(Entry {
            id: id.to_string(),
            reply,
        });
        while self.entries.len() > LEDGER_ENTRIES {
            self.entries.pop_front();
        }
    }
}

/// Checks a request id: non-empty, bounded, printable ASCII.
pub fn valid_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_recent_ids_with_short_replies() {
        let mut ledger = Ledger::default();
        ledger.record("a", b"42");
        ledger.record("b", &[b'x'; MAX_REPLY_KEPT + 1]);
        let ledger = Ledger::decode(&ledger.encode());
        assert_eq!(
            ledger.find("a"),
            Some(Replay::Reply(Bytes::from_static(b"42")))
        );
        assert_eq!(ledger.find("b"), Some(Replay::NotKept));
        assert_eq!(ledger.find("c"), None);
    }

    #[test]
    fn forgets_the_oldest_beyond_its_size() {
        let mut ledger = Ledger::default();
        for i in 0..=LEDGER_ENTRIES {
            ledger.record(&i.to_string(), b"");
        }
        assert_eq!(ledger.find("0"), None);
        assert!(ledger.find(&LEDGER_ENTRIES.to_string()).is_some());
        assert!(Ledger::decode(b"garbage").find("x").is_none());
    }

    #[test]
    fn request_ids_are_bounded_and_printable() {
        assert!(valid_request_id("3f1c-abc"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id(&"x".repeat(MAX_REQUEST_ID_LEN + 1)));
    }
}
