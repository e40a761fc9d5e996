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
//!
//! The window is [`LEDGER_ENTRIES`] writing turns: a retry is recognised if
//! fewer than that many other writing turns of the same actor committed
//! between the first attempt and the retry. Under contention every caller
//! of a hot actor may retry at once after its owner dies, so the window must
//! exceed the number of concurrent writers of one actor; `wapr-loadtest
//! single-id-contention` checks it with 100. The stored form is compact
//! binary (ids as 64-bit hashes), so the whole window costs a few KiB per
//! writing turn rather than tens.

use std::collections::VecDeque;

use blake2::{Blake2b512, Digest};
use bytes::Bytes;
use serde::Deserialize;

/// The state key of an actor's ledger. Keys starting with
/// [`RESERVED_KEY_PREFIX`] are refused to actors and the state API.
pub const LEDGER_KEY: &str = "__wapr.requests";

/// State keys reserved for wapr.
pub const RESERVED_KEY_PREFIX: &str = "__wapr.";

/// How many recent writing turns the ledger remembers per actor.
pub const LEDGER_ENTRIES: usize = 256;

/// Longest reply kept for replay; longer replies are remembered as applied
/// without their body.
pub const MAX_REPLY_KEPT: usize = 64;

/// Longest request id accepted.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// First byte of the binary form (the legacy JSON form starts with `{`).
const BINARY_V2: u8 = 0xB2;
/// Reply length marking "applied, reply not kept".
const NOT_KEPT: u16 = u16::MAX;

/// What the ledger knows about a request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Applied; this was the reply.
    Reply(Bytes),
    /// Applied; the reply was too long to keep.
    NotKept,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    id_hash: u64,
    reply: Option<Bytes>,
}

/// An actor's recent request ids, newest last.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: VecDeque<Entry>,
}

/// The JSON form written before the binary one.
#[derive(Deserialize)]
struct LegacyLedger {
    entries: Vec<LegacyEntry>,
}

#[derive(Deserialize)]
struct LegacyEntry {
    id: String,
    #[serde(default)]
    reply: Option<String>,
}

/// A request id's 64-bit hash (BLAKE2b, first 8 bytes): ids are client
/// strings up to 128 bytes; a collision among 256 entries is ~2^-49.
fn id_hash(id: &str) -> u64 {
    let digest = Blake2b512::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

impl Ledger {
    /// Reads a stored ledger (binary, or the legacy JSON). An unreadable one
    /// (never written by wapr) is treated as empty, with a log line.
    pub fn decode(bytes: &[u8]) -> Self {
        let decoded = match bytes.first() {
            Some(&BINARY_V2) => Self::decode_binary(&bytes[1..]),
            _ => serde_json::from_slice::<LegacyLedger>(bytes)
                .ok()
                .map(|legacy| Self {
                    entries: legacy
                        .entries
                        .into_iter()
                        .map(|e| Entry {
                            id_hash: id_hash(&e.id),
                            reply: e.reply.map(Bytes::from),
                        })
                        .collect(),
                }),
        };
        decoded.unwrap_or_else(|| {
            tracing::warn!("unreadable request ledger; treating it as empty");
            Self::default()
        })
    }

    fn decode_binary(mut rest: &[u8]) -> Option<Self> {
        let mut entries = VecDeque::with_capacity(LEDGER_ENTRIES + 1);
        while !rest.is_empty() {
            let (hash, tail) = rest.split_first_chunk::<8>()?;
            let (len, tail) = tail.split_first_chunk::<2>()?;
            let len = u16::from_le_bytes(*len);
            let (reply, tail) = if len == NOT_KEPT {
                (None, tail)
            } else {
                let (reply, tail) = tail.split_at_checked(usize::from(len))?;
                (Some(Bytes::copy_from_slice(reply)), tail)
            };
            entries.push_back(Entry {
                id_hash: u64::from_le_bytes(*hash),
                reply,
            });
            rest = tail;
        }
        Some(Self { entries })
    }

    /// The stored form: a version byte, then per entry the id hash (8 bytes
    /// LE), the reply length (2 bytes LE, `0xFFFF`: not kept), the reply.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(1 + self.entries.len() * 16);
        out.push(BINARY_V2);
        for e in &self.entries {
            out.extend_from_slice(&e.id_hash.to_le_bytes());
            match &e.reply {
                Some(reply) => {
                    let len = u16::try_from(reply.len()).unwrap_or(NOT_KEPT);
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(reply);
                }
                None => out.extend_from_slice(&NOT_KEPT.to_le_bytes()),
            }
        }
        Bytes::from(out)
    }

    /// What a stored ledger knows about `id`, read in place (no entry is
    /// copied unless it is the one found). Same answer as
    /// `Ledger::decode(stored).find(id)`.
    pub fn find_stored(stored: &[u8], id: &str) -> Option<Replay> {
        let Some((&BINARY_V2, body)) = stored.split_first() else {
            return Self::decode(stored).find(id);
        };
        let Some(spans) = entry_spans(body) else {
            return Self::decode(stored).find(id);
        };
        let hash = id_hash(id);
        spans.iter().rev().find_map(|&(start, end)| {
            let entry = &body[start..end];
            (entry[..8] == hash.to_le_bytes()).then(|| {
                if u16::from_le_bytes([entry[8], entry[9]]) == NOT_KEPT {
                    Replay::NotKept
                } else {
                    Replay::Reply(Bytes::copy_from_slice(&entry[10..]))
                }
            })
        })
    }

    /// A stored ledger (or none) with `id` recorded: the same bytes as
    /// decode, [`Ledger::record`], [`Ledger::encode`], built by copying the
    /// kept entries' bytes once.
    pub fn record_stored(stored: Option<&[u8]>, id: &str, reply: &[u8]) -> Bytes {
        let body = match stored.map(<[u8]>::split_first) {
            None => Some(&[][..]),
            Some(Some((&BINARY_V2, body))) => Some(body),
            Some(_) => None,
        };
        let Some((body, spans)) = body.and_then(|b| Some((b, entry_spans(b)?))) else {
            let mut ledger = stored.map_or_else(Ledger::default, Ledger::decode);
            ledger.record(id, reply);
            return ledger.encode();
        };
        // Keep the newest LEDGER_ENTRIES - 1 entries, then the new one.
        let drop = spans.len().saturating_sub(LEDGER_ENTRIES - 1);
        let kept = spans
            .get(drop)
            .map_or(&[][..], |&(start, _)| &body[start..]);
        let mut out = Vec::with_capacity(1 + kept.len() + 10 + reply.len().min(MAX_REPLY_KEPT));
        out.push(BINARY_V2);
        out.extend_from_slice(kept);
        out.extend_from_slice(&id_hash(id).to_le_bytes());
        if reply.len() <= MAX_REPLY_KEPT {
            let len = u16::try_from(reply.len()).unwrap_or(NOT_KEPT);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(reply);
        } else {
            out.extend_from_slice(&NOT_KEPT.to_le_bytes());
        }
        Bytes::from(out)
    }

    /// What is known about `id`.
    pub fn find(&self, id: &str) -> Option<Replay> {
        let hash = id_hash(id);
        self.entries
            .iter()
            .rev()
            .find(|e| e.id_hash == hash)
            .map(|e| e.reply.clone().map_or(Replay::NotKept, Replay::Reply))
    }

    /// Remembers that `id` was applied with `reply`, forgetting the oldest
    /// entry beyond [`LEDGER_ENTRIES`].
    pub fn record(&mut self, id: &str, reply: &[u8]) {
        let reply = (reply.len() <= MAX_REPLY_KEPT).then(|| Bytes::copy_from_slice(reply));
        self.entries.push_back(Entry {
            id_hash: id_hash(id),
            reply,
        });
        while self.entries.len() > LEDGER_ENTRIES {
            self.entries.pop_front();
        }
    }
}

/// Where each entry of a binary ledger body starts and ends, or `None` if
/// the body is cut short.
fn entry_spans(body: &[u8]) -> Option<Vec<(usize, usize)>> {
    let mut spans = Vec::with_capacity(LEDGER_ENTRIES + 1);
    let mut at = 0;
    while at < body.len() {
        let len = body.get(at + 8..at + 10)?;
        let len = u16::from_le_bytes([len[0], len[1]]);
        let end = at + 10 + if len == NOT_KEPT { 0 } else { usize::from(len) };
        if end > body.len() {
            return None;
        }
        spans.push((at, end));
        at = end;
    }
    Some(spans)
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
    fn reads_the_legacy_json_form_and_rewrites_it_compactly() {
        let legacy = br#"{"entries":[{"id":"old-1","reply":"7"},{"id":"old-2"}]}"#;
        let mut ledger = Ledger::decode(legacy);
        assert_eq!(
            ledger.find("old-1"),
            Some(Replay::Reply(Bytes::from_static(b"7")))
        );
        assert_eq!(ledger.find("old-2"), Some(Replay::NotKept));
        ledger.record("new", b"8");
        let encoded = ledger.encode();
        assert_eq!(encoded[0], BINARY_V2);
        let ledger = Ledger::decode(&encoded);
        assert!(ledger.find("old-1").is_some() && ledger.find("new").is_some());
        // Truncated binary is unreadable, hence empty, never a panic.
        assert_eq!(
            Ledger::decode(&encoded[..encoded.len() - 1]).find("new"),
            None
        );
    }

    #[test]
    fn a_full_window_of_counter_replies_stays_a_few_kib() {
        let mut ledger = Ledger::default();
        for i in 0..LEDGER_ENTRIES * 2 {
            ledger.record(&uuid_like(i), i.to_string().as_bytes());
        }
        let size = ledger.encode().len();
        assert!(size < 4096, "{size} bytes");
        assert!(ledger.find(&uuid_like(LEDGER_ENTRIES)).is_some());
        assert!(ledger.find(&uuid_like(LEDGER_ENTRIES - 1)).is_none());
    }

    fn uuid_like(i: usize) -> String {
        format!("{i:08x}-0000-4000-8000-000000000000")
    }

    #[test]
    fn request_ids_are_bounded_and_printable() {
        assert!(valid_request_id("3f1c-abc"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id(&"x".repeat(MAX_REQUEST_ID_LEN + 1)));
    }
}

#[cfg(test)]
mod stored_form {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The in-place forms agree with decode/record/encode/find, across
        /// the window's eviction boundary and both reply kinds.
        #[test]
        fn in_place_forms_match_the_decoded_ledger(
            turns in proptest::collection::vec(("[a-z]{1,3}", proptest::collection::vec(any::<u8>(), 0..80)), 0..300),
            probe in "[a-z]{1,3}",
        ) {
            let mut decoded = Ledger::default();
            let mut stored: Option<Bytes> = None;
            for (id, reply) in &turns {
                decoded.record(id, reply);
                stored = Some(Ledger::record_stored(stored.as_deref(), id, reply));
                prop_assert_eq!(stored.as_deref(), Some(&decoded.encode()[..]));
            }
            let encoded = decoded.encode();
            prop_assert_eq!(Ledger::find_stored(&encoded, &probe), decoded.find(&probe));
        }
    }

    #[test]
    fn damaged_or_legacy_ledgers_fall_back_to_decoding() {
        let legacy = br#"{"entries":[{"id":"a","reply":"r"}]}"#;
        assert_eq!(
            Ledger::find_stored(legacy, "a"),
            Some(Replay::Reply(Bytes::from("r")))
        );
        let mut ledger = Ledger::default();
        ledger.record("a", b"r");
        let encoded = ledger.encode();
        let cut = &encoded[..encoded.len() - 1];
        assert_eq!(Ledger::find_stored(cut, "a"), None);
        let rebuilt = Ledger::record_stored(Some(legacy), "b", b"");
        assert!(Ledger::find_stored(&rebuilt, "a").is_some());
        assert!(Ledger::find_stored(&rebuilt, "b").is_some());
    }
}
