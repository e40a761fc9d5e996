//! Dapr's API tokens (dapr-actors-next.md §4.3): what the node's faces
//! require of their callers. Never part of the config file: the CLI fills
//! them from `--api-token-file` or `DAPR_API_TOKEN`, and `APP_API_TOKEN`.

use std::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq as _;

/// A secret token; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl Token {
    /// A token from its text, trimmed of surrounding whitespace (a file's
    /// final newline); `None` if nothing is left (an empty token is no
    /// token, as daprd treats an empty `DAPR_API_TOKEN`).
    pub fn new(text: &str) -> Option<Self> {
        let text = text.trim();
        (!text.is_empty()).then(|| Self(Arc::from(text)))
    }

    /// Whether `given` is this token, compared in constant time (only
    /// the length leaks).
    pub fn matches(&self, given: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(given).into()
    }

    /// The token's text, to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The tokens a node checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiTokens {
    /// Every HTTP and gRPC API call must carry it in `dapr-api-token`
    /// (`DAPR_API_TOKEN` or `--api-token-file`); the health routes are
    /// exempt, as daprd exempts them.
    pub api: Option<Token>,
    /// What the sidecar sends on the app channel (`APP_API_TOKEN`): checked
    /// on the routes a sidecar calls (`/dapr/*`, event deliveries).
    pub app: Option<Token>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_trimmed_compared_exactly_and_never_printed() {
        let token = Token::new("s3cret\n").expect("a token");
        assert!(token.matches(b"s3cret"));
        for wrong in [&b""[..], b"s3cre", b"s3cret ", b"S3CRET", &[b'x'; 4096]] {
            assert!(!token.matches(wrong), "{wrong:?}");
        }
        assert_eq!(Token::new(" \n"), None);
        assert!(!format!("{token:?}").contains("s3cret"));
        let tokens = ApiTokens {
            api: Some(token),
            app: None,
        };
        assert!(!format!("{tokens:?}").contains("s3cret"));
    }
}
