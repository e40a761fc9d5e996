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
    /// final newline): `None` if nothing is left (an empty token is no
    /// token, as daprd treats an empty `DAPR_API_TOKEN`).
    ///
    /// # Errors
    /// The token holds a byte that cannot travel in an HTTP header or gRPC
    /// metadata (anything but printable ASCII without spaces).
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("a token must be printable ASCII without spaces".into());
        }
        Ok(Some(Self(Arc::from(text))))
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
    /// What members of the cluster send each other (`WAPR_CLUSTER_TOKEN`
    /// or `--cluster-token-file`, the same on every node): every request
    /// to the internal port must carry it in [`CLUSTER_TOKEN_HEADER`].
    pub cluster: Option<Token>,
}

/// The header (gRPC: metadata key) carrying the cluster token.
pub const CLUSTER_TOKEN_HEADER: &str = "wapr-cluster-token";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_trimmed_compared_exactly_and_never_printed() {
        let token = Token::parse("s3cret\n").expect("valid").expect("a token");
        assert!(token.matches(b"s3cret"));
        for wrong in [&b""[..], b"s3cre", b"s3cret ", b"S3CRET", &[b'x'; 4096]] {
            assert!(!token.matches(wrong), "{wrong:?}");
        }
        assert_eq!(Token::parse(" \n"), Ok(None));
        assert!(Token::parse("has space").is_err());
        assert!(Token::parse("caf\u{e9}").is_err());
        assert!(!format!("{token:?}").contains("s3cret"));
        let tokens = ApiTokens {
            api: Some(token),
            ..ApiTokens::default()
        };
        assert!(!format!("{tokens:?}").contains("s3cret"));
    }
}
