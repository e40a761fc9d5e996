//! Mutual TLS between the cluster's processes (`[tls]`, `--tls-cert`,
//! `--tls-key`, `--tls-ca`, `--tls-server-name`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Certificate files for mutual TLS on the internal port and towards
/// placement and the Scheduler. All three files or none: clear text, as
/// self-hosted Dapr on loopback.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// This process's certificate chain (PEM), presented to peers as
    /// server and as client.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// The CA certificates (PEM) a peer's certificate must chain to, as
    /// client and as server.
    pub ca: Option<PathBuf>,
    /// The name every peer's certificate must carry (a DNS SAN), when it
    /// is not the host dialled (pods whose IPs change share one name).
    pub server_name: Option<String>,
}

impl TlsConfig {
    /// Whether TLS is on.
    pub fn enabled(&self) -> bool {
        self.cert.is_some() || self.key.is_some() || self.ca.is_some()
    }

    /// Checks that the files come together.
    ///
    /// # Errors
    /// The field and the reason.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !self.enabled() {
            if self.server_name.is_some() {
                return Err((
                    "tls.server_name",
                    "set without a certificate, key and CA".into(),
                ));
            }
            return Ok(());
        }
        for (field, value) in [
            ("tls.cert", &self.cert),
            ("tls.key", &self.key),
            ("tls.ca", &self.ca),
        ] {
            if value.is_none() {
                return Err((
                    field,
                    "TLS needs a certificate, its key and a CA together (--tls-cert, --tls-key, --tls-ca)".into(),
                ));
            }
        }
        Ok(())
    }
}
