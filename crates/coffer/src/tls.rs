//! HTTPS: the certificate chain and key from PEM files (`--tls-cert`, `--tls-key`), served
//! with rustls on ring. New handshakes read the current certificate, which is reloaded on
//! SIGHUP and when either file changes; a reload that fails keeps the old one. Connections
//! already open keep the certificate they shook hands with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The PEM files of `--tls-cert` and `--tls-key`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The certificate new handshakes get; replaced whole on reload.
#[derive(Debug)]
pub struct Certificate {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' contents at startup, so a change made before `watch` starts is seen.
    loaded: Contents,
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().expect("not poisoned").clone())
    }
}

/// The files' bytes, as last read.
type Contents = (Vec<u8>, Vec<u8>);

impl Certificate {
    /// Reads and checks both files; an error says which file and what is wrong with it.
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let contents = read(&files)?;
        let key = certified(&files, &provider, &contents)?;
        Ok(Arc::new(Self {
            files,
            provider,
            current: RwLock::new(Arc::new(key)),
            loaded: contents,
        }))
    }

    /// The server side of TLS: TLS 1.2 and 1.3, HTTP/1.1 only (the server speaks no h2).
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, String> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// Reads the files again and, if they hold a valid certificate and key, serves them
    /// from the next handshake on.
    fn reload(&self, contents: &Contents) -> Result<(), String> {
        let key = certified(&self.files, &self.provider, contents)?;
        *self.current.write().expect("not poisoned") = Arc::new(key);
        Ok(())
    }

    /// Reloads on SIGHUP, and when the files' contents change (read every `poll`, which
    /// also catches a certificate renewed by rename, as certbot and Kubernetes do). Runs
    /// for ever; a failure is logged and the old certificate stays.
    pub async fn watch(self: Arc<Self>, mut hangup: tokio::signal::unix::Signal, poll: Duration) {
        let mut seen = Some(self.loaded.clone());
        loop {
            let forced = tokio::select! {
                _ = hangup.recv() => true,
                () = tokio::time::sleep(poll) => false,
            };
            let now = match read(&self.files) {
                Ok(c) => c,
                Err(e) => {
                    if forced {
                        tracing::warn!(error = %e, "TLS certificate not reloaded; keeping the old one");
                    }
                    continue;
                }
            };
            if !forced && seen.as_ref() == Some(&now) {
                continue;
            }
            match self.reload(&now) {
                Ok(()) => tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded"),
                // A renewal that writes the certificate and then the key passes through a
                // mismatch: the next poll, with both written, loads them.
                Err(e) => tracing::warn!(error = %e, "TLS certificate not reloaded; keeping the old one"),
            }
            seen = Some(now);
        }
    }
}

fn read(files: &TlsFiles) -> Result<Contents, String> {
    let one = |flag: &str, p: &Path| std::fs::read(p).map_err(|e| format!("{flag} {}: {e}", p.display()));
    Ok((one("--tls-cert", &files.cert)?, one("--tls-key", &files.key)?))
}

/// The chain and key in `contents`, checked to belong together.
fn certified(files: &TlsFiles, provider: &CryptoProvider, (cert, key): &Contents) -> Result<CertifiedKey, String> {
    let cert_file = files.cert.display();
    let key_file = files.key.display();
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--tls-cert {cert_file}: not a PEM certificate chain: {e}"))?;
    if chain.is_empty() {
        return Err(format!("--tls-cert {cert_file}: no CERTIFICATE in the PEM file"));
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| format!("--tls-key {key_file}: no PEM private key (PKCS#8, PKCS#1 or SEC1) found: {e}"))?;
    let certified = CertifiedKey::from_der(chain, key, provider)
        .map_err(|e| format!("--tls-cert {cert_file} and --tls-key {key_file}: {e}"))?;
    Ok(certified)
}
