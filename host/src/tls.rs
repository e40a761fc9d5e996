//! Mutual TLS between a cluster's processes: the nodes' internal ports
//! (forwarded calls), placement and the Scheduler. rustls on ring, through
//! tonic's own TLS for its clients and servers and `tokio-rustls` for the
//! node's accept loop. Every side presents its certificate and accepts a
//! peer only if the peer's chains to the configured CA: a process without
//! a valid certificate can neither join nor forward.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, RootCertStore};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::config::TlsConfig;

/// A tonic endpoint for `address` (`host:port`): `http://` in clear text,
/// or `https://` with `tls` (see [`ClusterTls::client_for`]).
///
/// # Errors
/// The address is not a valid URI authority, or the TLS settings are
/// refused.
pub fn endpoint(
    address: &str,
    tls: Option<&ClientTlsConfig>,
) -> Result<tonic::transport::Endpoint, tonic::transport::Error> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let endpoint = tonic::transport::Endpoint::from_shared(format!("{scheme}://{address}"))?;
    match tls {
        Some(tls) => endpoint.tls_config(tls.clone()),
        None => Ok(endpoint),
    }
}

/// ALPN for the internal port: gRPC (forwarded calls) and HTTP/1.1 (its
/// JSON routes).
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why the TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("cannot read the TLS {what} {path}: {source}")]
    Read {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file holds nothing usable.
    #[error("the TLS {what} {path} is not usable: {message}")]
    Invalid {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: String,
        /// Why.
        message: String,
    },
}

/// The loaded certificate, key and CA, ready for each side.
#[derive(Clone)]
pub struct ClusterTls {
    cert_pem: Arc<[u8]>,
    key_pem: Arc<[u8]>,
    ca_pem: Arc<[u8]>,
    server_name: Option<String>,
    acceptor: TlsAcceptor,
    /// rustls client settings (for the HTTP client of the internal port).
    client: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for ClusterTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.display().to_string(),
        source,
    })
}

fn invalid(what: &'static str, path: &Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::Invalid {
        what,
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

impl ClusterTls {
    /// Loads the files `config` names; `None` when TLS is off.
    ///
    /// # Errors
    /// [`TlsError`] naming the file that cannot be read or used (no
    /// certificate in it, a key that does not parse or does not match).
    pub fn load(config: &TlsConfig) -> Result<Option<Self>, TlsError> {
        let (Some(cert_path), Some(key_path), Some(ca_path)) =
            (&config.cert, &config.key, &config.ca)
        else {
            return Ok(None);
        };
        let cert_pem = read("certificate", cert_path)?;
        let key_pem = read("key", key_path)?;
        let ca_pem = read("CA", ca_path)?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| invalid("certificate", cert_path, e))?;
        if certs.is_empty() {
            return Err(invalid(
                "certificate",
                cert_path,
                "no PEM certificate in it",
            ));
        }
        let key =
            PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| invalid("key", key_path, e))?;
        let client_key = key.clone_key();
        let mut roots = RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(&ca_pem) {
            let ca = ca.map_err(|e| invalid("CA", ca_path, e))?;
            roots.add(ca).map_err(|e| invalid("CA", ca_path, e))?;
        }
        if roots.is_empty() {
            return Err(invalid("CA", ca_path, "no PEM certificate in it"));
        }
        // ring, as tonic's TLS here: aws-lc would need cmake and clang on
        // every build machine. rustls 0.23.48 deprecates ring's provider
        // for lacking post-quantum key exchange, which this cluster-internal
        // mTLS does without.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(roots);
        let client = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("certificate", cert_path, e))?
            .with_root_certificates(Arc::clone(&roots))
            .with_client_auth_cert(certs.clone(), client_key)
            .map_err(|e| invalid("key", key_path, e))?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots,
            Arc::clone(&provider),
        )
        .build()
        .map_err(|e| invalid("CA", ca_path, e))?;
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("certificate", cert_path, e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| invalid("key", key_path, e))?;
        server.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(Some(Self {
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
            ca_pem: ca_pem.into(),
            server_name: config.server_name.clone(),
            acceptor: TlsAcceptor::from(Arc::new(server)),
            client: Arc::new(client),
        }))
    }

    /// The acceptor of the node's own accept loop (client certificates
    /// required).
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// The TLS of a tonic client dialling `address` (`host:port`, the host
    /// a name or an IP): the CA, this process's identity, and the name the
    /// peer's certificate must carry (the configured server name, else the
    /// host).
    pub fn client_for(&self, address: &str) -> ClientTlsConfig {
        let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&*self.ca_pem))
            .identity(Identity::from_pem(&*self.cert_pem, &*self.key_pem))
            .domain_name(self.server_name.as_deref().unwrap_or(host))
    }

    /// rustls client settings with this process's identity, trusting the
    /// CA (no ALPN: the HTTP client sets its own), and the name peers' certificates must carry
    /// when one is configured.
    pub fn http_client(&self) -> (Arc<rustls::ClientConfig>, Option<&str>) {
        (Arc::clone(&self.client), self.server_name.as_deref())
    }

    /// The TLS of a tonic server (placement, Scheduler): this process's
    /// identity, client certificates required and checked against the CA.
    pub fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&*self.cert_pem, &*self.key_pem))
            .client_ca_root(Certificate::from_pem(&*self.ca_pem))
    }
}
