//! `[server.tls]` → the TLS listener's settings (PEM files read here).

use std::path::Path;

use anyhow::{Context, bail};
use mcpgate_server::tls::pki_types::pem::PemObject;
use mcpgate_server::tls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use mcpgate_server::tls::{TlsSettings, server_config};
use secrecy::ExposeSecret;

use crate::config::{ClientCertificates, TlsConfig};

/// The rustls configuration for `tls`; paths are relative to `base_dir`.
pub fn rustls_config(
    tls: &TlsConfig,
    base_dir: &Path,
) -> anyhow::Result<std::sync::Arc<mcpgate_server::tls::ServerConfig>> {
    let certificates = |path: &Path| -> anyhow::Result<Vec<CertificateDer<'static>>> {
        let path = base_dir.join(path);
        let chain = CertificateDer::pem_file_iter(&path)
            .and_then(|items| items.collect::<Result<Vec<_>, _>>())
            .with_context(|| format!("cannot read PEM certificates from {}", path.display()))?;
        if chain.is_empty() {
            bail!("{} holds no PEM certificate", path.display());
        }
        Ok(chain)
    };
    let key_pem = tls.key.resolve(base_dir).context("server.tls.key")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.expose_secret().as_bytes())
        .context("server.tls.key is not a PEM private key (PKCS#8, PKCS#1 or SEC1)")?;
    let client_roots = tls
        .client_ca
        .as_deref()
        .map(certificates)
        .transpose()
        .context("server.tls.client_ca")?;
    let crls = tls
        .crls
        .iter()
        .map(|path| {
            let path = base_dir.join(path);
            CertificateRevocationListDer::from_pem_file(&path)
                .with_context(|| format!("cannot read a PEM CRL from {}", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if client_roots.is_none() && (tls.client_certificates.is_some() || !crls.is_empty()) {
        bail!("server.tls.client_certificates and crls need server.tls.client_ca");
    }
    let settings = TlsSettings {
        cert_chain: certificates(&tls.cert).context("server.tls.cert")?,
        key,
        client_certificate_required: tls.client_certificates != Some(ClientCertificates::Optional),
        client_roots,
        crls,
    };
    server_config(settings).context("server.tls")
}
