//! A JSON scanner compatible with Go's `encoding/json`, for the bodies daprd
//! decodes: validation with Go's error wording and an explicit depth limit
//! (iterative, so depth never threatens the stack), an object's members as
//! raw values, Go's string unquoting and case-insensitive key folding, and
//! Go's `json.Compact` ([`compact_json`], [`compact_json_html_escaped`]).

/// Go's `encoding/json` scanner limit, used for [`compact_json`].
const GO_MAX_DEPTH: usize = 10_000;

// ---------------------------------------------------------------------------
// Scanner
// ---------------------------------------------------------------------------

/// The kind of a JSON value, named as Go's type errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

impl Kind {
    /// Go's name for the kind, as its type errors print it.
    pub(super) fn go_name(self) -> &'static str {
        match self {
            Kind::Object => "object",
            Kind::Array => "array",
            Kind::String => "string",
            Kind::Number => "number",
            Kind::Bool => "bool",
            Kind::Null => "null",
        }
    }
}

/// Why the scanner stopped: the input ended early, a byte Go's scanner
/// refuses (with Go's context words), or nesting past the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ScanError {
    Eof,
    Syntax(u8, String),
    TooDeep,
}

/// Go's `quoteChar` (the byte as a rune, quoted with single quotes).
pub(super) fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".to_owned(),
        b'"' => "'\"'".to_owned(),
        0x07 => r"'\a'".to_owned(),
        0x08 => r"'\b'".to_owned(),
        0x0c => r"'\f'".to_owned(),
        b'\n' => r"'\n'".to_owned(),
        b'\r' => r"'\r'".to_owned(),
        b'\t' => r"'\t'".to_owned(),
        0x0b => r"'\v'".to_owned(),
        b'\\' => r"'\\'".to_owned(),
        0x00..=0x1f | 0x7f => format!(r"'\x{c:02x}'"),
        0x20..=0x7e => format!("'{}'", char::from(c)),
        // Go converts the byte to the rune U+0080..U+00FF.
        0x80..=0x9f | 0xa0 | 0xad => format!(r"'\u{c:04x}'"),
        _ => format!("'{}'", char::from(c)),
    }
}

/// JSON whitespace.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// A cursor over JSON text that validates it as Go's scanner does.
pub(super) struct Scanner<'a> {
    s: &'a [u8],
    /// The offset of the next byte to read.
    pub(super) i: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `s`.
    pub(super) fn new(s: &'a [u8]) -> Self {
        Self { s, i: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips JSON whitespace.
    pub(super) fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.i += 1;
        }
    }

    /// Whether every byte has been read.
    pub(super) fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    /// Consumes `c` or fails with `context`.
    fn expect(&mut self, c: u8, context: &'static str) -> Result<(), ScanError> {
        match self.peek() {
            None => Err(ScanError::Eof),
            Some(x) if x == c => {
                self.i += 1;
                Ok(())
            }
            Some(x) => Err(ScanError::Syntax(x, context.to_owned())),
        }
    }

    /// Scans one complete value (leading whitespace skipped) that sits inside
    /// `depth` containers, with an explicit stack instead of recursion.
    pub(super) fn value(&mut self, depth: usize, max_depth: usize) -> Result<Kind, ScanError> {
        let mut stack: Vec<u8> = Vec::new();
        let mut first: Option<Kind> = None;
        'value: loop {
            self.skip_ws();
            let c = self.peek().ok_or(ScanError::Eof)?;
            let kind = match c {
                b'{' | b'[' => {
                    if depth + stack.len() + 1 > max_depth {
                        return Err(ScanError::TooDeep);
                    }
                    self.i += 1;
                    stack.push(c);
                    first.get_or_insert(if c == b'{' { Kind::Object } else { Kind::Array });
                    self.skip_ws();
                    let close = if c == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                        stack.pop();
                    } else if c == b'{' {
                        self.key()?;
                        continue 'value;
                    } else {
                        continue 'value;
                    }
                    None
                }
                b'"' => {
                    self.string()?;
                    Some(Kind::String)
                }
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                    Some(Kind::Number)
                }
                b't' => {
                    self.literal(b"true")?;
                    Some(Kind::Bool)
                }
                b'f' => {
                    self.literal(b"false")?;
                    Some(Kind::Bool)
                }
                b'n' => {
                    self.literal(b"null")?;
                    Some(Kind::Null)
                }
                _ => {
                    return Err(ScanError::Syntax(
                        c,
                        "looking for beginning of value".into(),
                    ));
                }
            };
            if let Some(kind) = kind {
                first.get_or_insert(kind);
            }
            // After a value: close containers or move to the next element.
            loop {
                let Some(&open) = stack.last() else {
                    return first.ok_or(ScanError::Eof);
                };
                self.skip_ws();
                let c = self.peek().ok_or(ScanError::Eof)?;
                match (open, c) {
                    (b'{', b',') => {
                        self.i += 1;
                        self.skip_ws();
                        self.key()?;
                        continue 'value;
                    }
                    (b'[', b',') => {
                        self.i += 1;
                        continue 'value;
                    }
                    (b'{', b'}') | (b'[', b']') => {
                        self.i += 1;
                        stack.pop();
                    }
                    (b'{', _) => {
                        return Err(ScanError::Syntax(c, "after object key:value pair".into()));
                    }
                    _ => return Err(ScanError::Syntax(c, "after array element".into())),
                }
            }
        }
    }

    /// Scans `"key"` and the `:` after it.
    fn key(&mut self) -> Result<(), ScanError> {
        match self.peek() {
            None => return Err(ScanError::Eof),
            Some(b'"') => self.string()?,
            Some(c) => {
                return Err(ScanError::Syntax(
                    c,
                    "looking for beginning of object key string".into(),
                ));
            }
        }
        self.skip_ws();
        self.expect(b':', "after object key")
    }

    /// Scans a string literal starting at its opening quote.
    fn string(&mut self) -> Result<(), ScanError> {
        self.i += 1;
        loop {
            let c = self.peek().ok_or(ScanError::Eof)?;
            self.i += 1;
            match c {
                b'"' => return Ok(()),
                b'\\' => {
                    let e = self.peek().ok_or(ScanError::Eof)?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            for _ in 0..4 {
                                let h = self.peek().ok_or(ScanError::Eof)?;
                                if !h.is_ascii_hexdigit() {
                                    return Err(ScanError::Syntax(
                                        h,
                                        "in \\u hexadecimal character escape".into(),
                                    ));
                                }
                                self.i += 1;
                            }
                        }
                        _ => return Err(ScanError::Syntax(e, "in string escape code".into())),
                    }
                }
                // Go accepts any other byte, invalid UTF-8 included.
                0x00..=0x1f => return Err(ScanError::Syntax(c, "in string literal".into())),
                _ => {}
            }
        }
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    /// Scans `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<(), ScanError> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            None => return Err(ScanError::Eof),
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            Some(c) => return Err(ScanError::Syntax(c, "in numeric literal".into())),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            match self.peek() {
                None => return Err(ScanError::Eof),
                Some(c) if c.is_ascii_digit() => self.digits(),
                Some(c) => {
                    return Err(ScanError::Syntax(
                        c,
                        "after decimal point in numeric literal".into(),
                    ));
                }
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            match self.peek() {
                None => return Err(ScanError::Eof),
                Some(c) if c.is_ascii_digit() => self.digits(),
                Some(c) => {
                    return Err(ScanError::Syntax(
                        c,
                        "in exponent of numeric literal".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), ScanError> {
        self.i += 1;
        for &expected in &word[1..] {
            let c = self.peek().ok_or(ScanError::Eof)?;
            if c != expected {
                // Go names the literal and the byte it expected next.
                let context = format!(
                    "in literal {} (expecting '{}')",
                    String::from_utf8_lossy(word),
                    char::from(expected)
                );
                return Err(ScanError::Syntax(c, context));
            }
            self.i += 1;
        }
        Ok(())
    }
}

/// One member of an (already validated) object.
pub(super) struct Member<'a> {
    /// The key, unquoted as Go unquotes it.
    pub(super) key: String,
    /// The raw bytes of the value.
    pub(super) value: &'a [u8],
    /// The kind of the value.
    pub(super) kind: Kind,
}

/// Splits a validated object into its members, in order.
pub(super) fn members(object: &[u8]) -> Result<Vec<Member<'_>>, ScanError> {
    let mut sc = Scanner::new(object);
    let mut out = Vec::new();
    sc.skip_ws();
    sc.expect(b'{', "looking for beginning of value")?;
    sc.skip_ws();
    if sc.peek() == Some(b'}') {
        return Ok(out);
    }
    loop {
        sc.skip_ws();
        if sc.peek() != Some(b'"') {
            return Err(match sc.peek() {
                Some(c) => {
                    ScanError::Syntax(c, "looking for beginning of object key string".into())
                }
                None => ScanError::Eof,
            });
        }
        let key_start = sc.i + 1;
        sc.string()?;
        let key_raw = &object[key_start..sc.i - 1];
        sc.skip_ws();
        sc.expect(b':', "after object key")?;
        sc.skip_ws();
        let value_start = sc.i;
        let kind = sc.value(0, usize::MAX)?;
        out.push(Member {
            key: go_unquote(key_raw),
            value: &object[value_start..sc.i],
            kind,
        });
        sc.skip_ws();
        match sc.peek() {
            Some(b',') => sc.i += 1,
            Some(b'}') => return Ok(out),
            Some(c) => return Err(ScanError::Syntax(c, "after object key:value pair".into())),
            None => return Err(ScanError::Eof),
        }
    }
}

/// Reads four hex digits at `s[at..]` (Go's `getu4` without the `\u`).
fn hex4(s: &[u8], at: usize) -> Option<u32> {
    let digits = s.get(at..at + 4)?;
    digits.iter().try_fold(0, |acc, &c| {
        char::from(c).to_digit(16).map(|d| acc * 16 + d)
    })
}

/// Decodes the inside of a validated JSON string as Go does: escapes
/// resolved, a lone surrogate escape and every byte of invalid UTF-8 replaced
/// by U+FFFD.
pub(super) fn go_unquote(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c == b'\\' {
            let e = raw.get(i + 1).copied().unwrap_or(b'\\');
            i += 2;
            match e {
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let Some(unit) = hex4(raw, i) else {
                        out.push(char::REPLACEMENT_CHARACTER);
                        continue;
                    };
                    i += 4;
                    if (0xd800..0xe000).contains(&unit) {
                        let low = raw
                            .get(i..i + 2)
                            .filter(|p| *p == b"\\u")
                            .and_then(|_| hex4(raw, i + 2));
                        match low {
                            Some(low) if unit < 0xdc00 && (0xdc00..0xe000).contains(&low) => {
                                let combined = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                                out.push(char::from_u32(combined).unwrap_or('\u{fffd}'));
                                i += 6;
                            }
                            _ => out.push(char::REPLACEMENT_CHARACTER),
                        }
                    } else {
                        out.push(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                }
                other => out.push(char::from(other)),
            }
            continue;
        }
        // Copy the longest valid UTF-8 run; each invalid byte becomes U+FFFD.
        let run_end = raw[i..]
            .iter()
            .position(|&b| b == b'\\')
            .map_or(raw.len(), |p| i + p);
        let mut chunk = &raw[i..run_end];
        while !chunk.is_empty() {
            match std::str::from_utf8(chunk) {
                Ok(text) => {
                    out.push_str(text);
                    chunk = &[];
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&chunk[..valid]).unwrap_or_default());
                    out.push(char::REPLACEMENT_CHARACTER);
                    chunk = &chunk[valid + 1..];
                }
            }
        }
        i = run_end;
    }
    out
}

/// Go's key folding for matching against an ASCII field name: ASCII letters
/// upper-cased, and the two non-ASCII runes whose fold set holds an ASCII
/// letter (U+212A KELVIN SIGN → `K`, U+017F LONG S → `S`) mapped to it.
pub(super) fn fold_key(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '\u{212a}' => 'K',
            '\u{17f}' => 'S',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Compact
// ---------------------------------------------------------------------------

/// Go's `json.Compact`: whitespace outside strings removed, every other byte
/// kept as is (no re-escaping, number text untouched). `None` unless `raw` is
/// exactly one valid JSON value (surrounding whitespace allowed).
pub fn compact_json(raw: &[u8]) -> Option<Vec<u8>> {
    compact(raw, false)
}

/// What Go's `json.Marshal` makes of a `json.RawMessage` (how daprd writes
/// `data` into callback bodies): [`compact_json`] plus `<`, `>`, `&`, U+2028
/// and U+2029 escaped as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`.
pub fn compact_json_html_escaped(raw: &[u8]) -> Option<Vec<u8>> {
    compact(raw, true)
}

fn compact(raw: &[u8], escape_html: bool) -> Option<Vec<u8>> {
    let mut sc = Scanner::new(raw);
    sc.skip_ws();
    sc.value(0, GO_MAX_DEPTH).ok()?;
    sc.skip_ws();
    if !sc.at_end() {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        i += 1;
        if escape_html {
            match c {
                b'<' => {
                    out.extend_from_slice(b"\\u003c");
                    continue;
                }
                b'>' => {
                    out.extend_from_slice(b"\\u003e");
                    continue;
                }
                b'&' => {
                    out.extend_from_slice(b"\\u0026");
                    continue;
                }
                0xe2 if raw.get(i) == Some(&0x80)
                    && matches!(raw.get(i + 1), Some(0xa8 | 0xa9)) =>
                {
                    out.extend_from_slice(if raw[i + 1] == 0xa8 {
                        b"\\u2028"
                    } else {
                        b"\\u2029"
                    });
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
        } else if is_space(c) {
            continue;
        }
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reminders::request::{BodyError, decode_reminder_body};
    use proptest::prelude::*;

    #[test]
    fn syntax_errors_read_like_go() {
        let cases: &[(&[u8], &str)] = &[
            (b"x", "invalid character 'x' looking for beginning of value"),
            (b"}", "invalid character '}' looking for beginning of value"),
            (b"{\"a\" 1}", "invalid character '1' after object key"),
            (
                b"{\"a\":1 \"b\":2}",
                "invalid character '\"' after object key:value pair",
            ),
            (
                b"{a:1}",
                "invalid character 'a' looking for beginning of object key string",
            ),
            (
                b"{\"a\":1,}",
                "invalid character '}' looking for beginning of object key string",
            ),
            (
                b"{\"a\":tru}",
                "invalid character '}' in literal true (expecting 'e')",
            ),
            (
                b"{\"a\":fals}",
                "invalid character '}' in literal false (expecting 'e')",
            ),
            (
                b"{\"a\":nul}",
                "invalid character '}' in literal null (expecting 'l')",
            ),
            (
                b"{\"a\":01}",
                "invalid character '1' after object key:value pair",
            ),
            (b"{\"a\":-}", "invalid character '}' in numeric literal"),
            (
                b"{\"a\":1.}",
                "invalid character '}' after decimal point in numeric literal",
            ),
            (
                b"{\"a\":1e}",
                "invalid character '}' in exponent of numeric literal",
            ),
            (
                b"{\"a\":\"\\x\"}",
                "invalid character 'x' in string escape code",
            ),
            (
                b"{\"a\":\"\\u12g4\"}",
                "invalid character 'g' in \\u hexadecimal character escape",
            ),
            (
                b"{\"a\":\"\t\"}",
                "invalid character '\\t' in string literal",
            ),
            (
                b"{\"a\":\"\x01\"}",
                "invalid character '\\x01' in string literal",
            ),
            (
                b"{\"a\":[1 2]}",
                "invalid character '2' after array element",
            ),
            (
                b"{\"a\":[1,]}",
                "invalid character ']' looking for beginning of value",
            ),
            (
                b"{\"a\":'x'}",
                "invalid character '\\'' looking for beginning of value",
            ),
            (
                b"{\"a\":+1}",
                "invalid character '+' looking for beginning of value",
            ),
            (
                b"\xef\xbb\xbf{}",
                "invalid character '\u{ef}' looking for beginning of value",
            ),
        ];
        for &(body, want) in cases {
            let got = decode_reminder_body(body).expect_err("syntax error");
            assert!(matches!(got, BodyError::Syntax(_)), "{got:?}");
            assert_eq!(got.to_string(), want, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn strings_decode_like_go() {
        let due = |body: &[u8]| decode_reminder_body(body).expect("valid").due_time;
        assert_eq!(
            due(br#"{"dueTime":"a\"b\\c\/d\b\f\n\r\t"}"#),
            "a\"b\\c/d\u{8}\u{c}\n\r\t"
        );
        assert_eq!(due(br#"{"dueTime":"\u00b5s"}"#), "\u{b5}s");
        assert_eq!(due(br#"{"dueTime":"\ud83d\ude00"}"#), "\u{1f600}");
        // Lone surrogates become U+FFFD; the next escape is kept.
        assert_eq!(due(br#"{"dueTime":"\ud800"}"#), "\u{fffd}");
        assert_eq!(due(br#"{"dueTime":"\ud800\u0041"}"#), "\u{fffd}A");
        assert_eq!(due(br#"{"dueTime":"\udc00\udc00"}"#), "\u{fffd}\u{fffd}");
        assert_eq!(
            due(br#"{"dueTime":"\ud800\ud800\udc00"}"#),
            "\u{fffd}\u{10000}"
        );
        // Every byte of invalid UTF-8 becomes its own U+FFFD (Go's DecodeRune).
        assert_eq!(
            due(b"{\"dueTime\":\"\xe2\x80a\xff\"}"),
            "\u{fffd}\u{fffd}a\u{fffd}"
        );
        assert_eq!(
            due(b"{\"dueTime\":\"\xed\xa0\x80\"}"),
            "\u{fffd}\u{fffd}\u{fffd}"
        );
        assert_eq!(due(b"{\"dueTime\":\"\xc3\xa9\"}"), "\u{e9}");
    }

    // ---- compact ----------------------------------------------------------

    #[test]
    fn compact_is_gos_compact() {
        let cases: &[(&[u8], &[u8])] = &[
            (br#"{  "foo": [ 12, 4 ] }"#, br#"{"foo":[12,4]}"#),
            (b" \t\r\n true \n", b"true"),
            (br#"" a  b ""#, br#"" a  b ""#),
            (br#"[ 1.50e+3 , -0 , 0.0 ]"#, br#"[1.50e+3,-0,0.0]"#),
            (br#"{ "\u00e9" : "\" \\ " }"#, br#"{"\u00e9":"\" \\ "}"#),
            (br#""<a&b>""#, br#""<a&b>""#),
            (b"\"\xff\"", b"\"\xff\""),
            (b"\"\\ud800\"", b"\"\\ud800\""),
            (b"null", b"null"),
        ];
        for &(raw, want) in cases {
            assert_eq!(
                compact_json(raw).as_deref(),
                Some(want),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        for raw in [
            &b""[..],
            b"  ",
            b"{",
            b"{}}",
            b"{} {}",
            b"[1,]",
            b"01",
            b"\"\\x\"",
            b"nul",
            b"1 2",
            b"{\"a\":1}x",
        ] {
            assert_eq!(compact_json(raw), None, "{}", String::from_utf8_lossy(raw));
        }
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(compact_json(deep(10_000).as_bytes()).is_some());
        assert!(compact_json(deep(10_001).as_bytes()).is_none());
    }

    #[test]
    fn compact_html_escaped_is_gos_marshal() {
        assert_eq!(
            compact_json_html_escaped(br#" { "a" : "<b>&</b>" } "#).as_deref(),
            Some(&br#"{"a":"\u003cb\u003e\u0026\u003c/b\u003e"}"#[..])
        );
        assert_eq!(
            compact_json_html_escaped("\"\u{2028}x\u{2029}\"".as_bytes()).as_deref(),
            Some(&br#""\u2028x\u2029""#[..])
        );
        assert_eq!(
            compact_json_html_escaped(b"\"\xe2\x80\xa7\"").as_deref(),
            Some(&b"\"\xe2\x80\xa7\""[..])
        );
        assert_eq!(compact_json_html_escaped(b"{"), None);
    }

    proptest! {
        #[test]
        fn whatever_serde_accepts_compacts(text in r#"[{}\[\]":, \n0-9.eE+\-a-z\\]{0,48}"#) {
            let serde_ok = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            let ours = compact_json(text.as_bytes());
            if serde_ok {
                let ours = ours.expect("Go accepts what serde_json accepts");
                let reparsed: serde_json::Value = serde_json::from_slice(&ours).expect("valid");
                let original: serde_json::Value = serde_json::from_str(&text).expect("valid");
                prop_assert_eq!(reparsed, original);
            }
        }
    }
}
