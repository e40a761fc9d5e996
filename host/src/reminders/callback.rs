//! The JSON shapes daprd writes for timers and reminders: the callback
//! bodies an app receives when one fires (`PUT /actors/{type}/{id}/method/
//! remind/{name}` and `…/timer/{name}`, dapr-actors-next.md §1.6), and how
//! `data` is shown inline (GET answers use the same rule).
//!
//! daprd marshals with Go's `encoding/json`: keys in a fixed order, `data`
//! inlined as compact JSON with `<`, `>`, `&`, U+2028 and U+2029 escaped, and
//! strings escaped the same way. Data that is not JSON (bytes a wapr guest
//! registered) is shown as a base64 JSON string, as daprd shows the bytes of
//! a gRPC registration.

use std::fmt::Write as _;

use base64::Engine as _;
use bytes::Bytes;

use super::request::compact_json_html_escaped;
use crate::call::{FireKind, FireRequest};

/// `data` as daprd inlines it: the stored JSON, compacted and HTML-escaped;
/// bytes that are not JSON become a base64 JSON string.
pub fn inline_data(data: &[u8]) -> Vec<u8> {
    compact_json_html_escaped(data).unwrap_or_else(|| {
        let mut out = Vec::with_capacity(data.len() * 4 / 3 + 4);
        out.push(b'"');
        out.extend(
            base64::engine::general_purpose::STANDARD
                .encode(data)
                .bytes(),
        );
        out.push(b'"');
        out
    })
}

/// Appends `s` as a JSON string the way Go's `json.Marshal` writes it.
pub fn push_go_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The method and body daprd sends an app for `fire`.
pub fn dapr_callback(fire: &FireRequest) -> (String, Bytes) {
    let mut body = String::with_capacity(64 + fire.data.as_ref().map_or(0, Bytes::len));
    body.push('{');
    if let Some(data) = &fire.data {
        body.push_str("\"data\":");
        body.push_str(&String::from_utf8_lossy(&inline_data(data)));
        body.push(',');
    }
    let method = match &fire.kind {
        FireKind::Reminder { .. } => {
            body.push_str("\"dueTime\":\"\",\"period\":\"\"");
            format!("remind/{}", fire.name)
        }
        FireKind::Timer {
            callback,
            due_time,
            period,
        } => {
            body.push_str("\"callback\":");
            push_go_string(&mut body, callback);
            body.push_str(",\"dueTime\":");
            push_go_string(&mut body, due_time);
            body.push_str(",\"period\":");
            push_go_string(&mut body, period);
            format!("timer/{}", fire.name)
        }
    };
    body.push('}');
    (method, Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::actor_key::ActorKey;

    fn fire(data: Option<&[u8]>, kind: FireKind) -> FireRequest {
        FireRequest {
            target: ActorKey::parse("T", "1").expect("key"),
            name: Arc::from("r"),
            data: data.map(Bytes::copy_from_slice),
            kind,
            trace: opentelemetry::trace::SpanContext::NONE,
        }
    }

    #[test]
    fn reminder_bodies_are_daprs() {
        // T1 and the hdata.go expectations (dapr-actors-next.md §1.6).
        let (method, body) =
            dapr_callback(&fire(Some(b"\"foo\""), FireKind::Reminder { tick: None }));
        assert_eq!(method, "remind/r");
        assert_eq!(body, r#"{"data":"foo","dueTime":"","period":""}"#);
        let (_, body) = dapr_callback(&fire(None, FireKind::Reminder { tick: None }));
        assert_eq!(body, r#"{"dueTime":"","period":""}"#);
        let (_, body) = dapr_callback(&fire(Some(b"null"), FireKind::Reminder { tick: None }));
        assert_eq!(body, r#"{"data":null,"dueTime":"","period":""}"#);
        let (_, body) = dapr_callback(&fire(
            Some(b"{  \"foo\": [ 12, 4 ] }"),
            FireKind::Reminder { tick: None },
        ));
        assert_eq!(body, r#"{"data":{"foo":[12,4]},"dueTime":"","period":""}"#);
    }

    #[test]
    fn timer_bodies_are_daprs() {
        // T13.
        let (method, body) = dapr_callback(&fire(
            Some(b"\"hello\""),
            FireKind::Timer {
                callback: Arc::from("mycallback"),
                due_time: Arc::from("0s"),
                period: Arc::from("10s"),
            },
        ));
        assert_eq!(method, "timer/r");
        assert_eq!(
            body,
            r#"{"data":"hello","callback":"mycallback","dueTime":"0s","period":"10s"}"#
        );
    }

    #[test]
    fn bytes_that_are_not_json_are_shown_as_base64() {
        assert_eq!(inline_data(b"hello"), br#""aGVsbG8=""#);
        assert_eq!(inline_data(b"<a>"), br#""PGE+""#);
        assert_eq!(inline_data(br#""<a>""#), br#""\u003ca\u003e""#);
        let mut s = String::new();
        push_go_string(&mut s, "a<b>&\"\\\n\u{1}");
        assert_eq!(s, r#""a\u003cb\u003e\u0026\"\\\n\u0001""#);
    }
}
