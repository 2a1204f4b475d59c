/// A client certificate that the TLS layer verified against the
/// configured CA (and CRLs), as the authenticate stage sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The certificate's subject common name, else its first DNS name.
    pub subject: String,
    /// `sha256:` and the hex SHA-256 of the certificate (DER).
    pub fingerprint: String,
}
