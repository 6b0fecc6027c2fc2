//! TLS for the two mail protocols (SMTP submission and IMAP): rustls with the ring provider and
//! the Mozilla roots from webpki-roots, so the binary needs no system certificate store.

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream a protocol client can run over: plain TCP or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Io for T {}

fn connector(ca_file: Option<&Path>) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // An office's own mail server often has a certificate from a private CA: trust it too.
    if let Some(p) = ca_file {
        use rustls::pki_types::pem::PemObject;
        let pem = std::fs::read(p).map_err(|e| format!("cannot read the CA file {}: {e}", p.display()))?;
        let mut n = 0;
        for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            let c = c.map_err(|e| format!("{}: not a PEM certificate ({e:?})", p.display()))?;
            roots.add(c).map_err(|e| format!("{}: {e}", p.display()))?;
            n += 1;
        }
        if n == 0 {
            return Err(format!("{} holds no certificate", p.display()));
        }
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

/// Wraps `io` in TLS to `host`, checking the server's certificate against that name.
pub async fn wrap(host: &str, io: Box<dyn Io>, ca_file: Option<&Path>) -> Result<Box<dyn Io>, String> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| format!("TLS server name {host}: {e}"))?;
    let s = connector(ca_file)?.connect(name, io).await.map_err(|e| format!("TLS handshake with {host}: {e}"))?;
    Ok(Box::new(s))
}

/// Loopback hosts, the only ones a plain-text (unencrypted) login may go to.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
