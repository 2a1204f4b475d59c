//! Fetching Client ID Metadata Documents without becoming a proxy into the
//! private network (SSRF): the host's addresses are resolved first and the
//! fetch refused when any is loopback, private, link-local (cloud metadata
//! at 169.254.169.254) or otherwise not public — unless the host is allowed
//! in the config — and the connection is pinned to the checked address so
//! a second DNS answer cannot redirect it. No redirects, a size limit and a
//! time limit.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The largest document accepted.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// The longest a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Fetches metadata documents.
#[derive(Debug, Clone)]
pub struct MetadataFetcher {
    private_hosts: Vec<String>,
}

impl MetadataFetcher {
    /// A fetcher that reaches non-public addresses only for `private_hosts`.
    pub fn new(private_hosts: Vec<String>) -> Self {
        MetadataFetcher {
            private_hosts: private_hosts
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        }
    }

    /// The document at `url`, or why it cannot be fetched.
    pub async fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        let parsed = url::Url::parse(url).map_err(|_| "the client id is not a URL".to_owned())?;
        let host = parsed
            .host_str()
            .ok_or("the client id URL has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let allowed_private = self.private_hosts.contains(&host);
        match parsed.scheme() {
            "https" => {}
            "http" if allowed_private => {}
            _ => return Err("the client id must be an https URL".to_owned()),
        }
        if parsed.path() == "/" || parsed.path().is_empty() {
            return Err("the client id URL must have a path".to_owned());
        }
        if parsed.fragment().is_some() || parsed.username() != "" || parsed.password().is_some() {
            return Err("the client id URL must not have a fragment or credentials".to_owned());
        }
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addresses: Vec<SocketAddr> = tokio::time::timeout(
            FETCH_TIMEOUT,
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await
        .map_err(|_| "resolving its host timed out".to_owned())?
        .map_err(|e| format!("cannot resolve its host: {e}"))?
        .collect();
        let Some(first) = addresses.first().copied() else {
            return Err("its host has no address".to_owned());
        };
        if !allowed_private && let Some(bad) = addresses.iter().find(|a| !is_public(a.ip())) {
            return Err(format!(
                "its host resolves to {}, which is not a public address",
                bad.ip()
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&host, first)
            .build()
            .map_err(|e| e.to_string())?;
        let mut response = client
            .get(parsed)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("cannot fetch it: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("fetching it answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("cannot read it: {e}"))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("it is larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(text.parse().unwrap()), "{text}");
        }
        for text in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(text.parse().unwrap()), "{text}");
        }
    }

    #[tokio::test]
    async fn loopback_and_metadata_service_urls_are_refused() {
        let fetcher = MetadataFetcher::new(Vec::new());
        let error = fetcher
            .fetch("https://127.0.0.1/client.json")
            .await
            .unwrap_err();
        assert!(error.contains("not a public address"), "{error}");
        let error = fetcher
            .fetch("https://169.254.169.254/latest/meta-data")
            .await
            .unwrap_err();
        assert!(error.contains("not a public address"), "{error}");
        let error = fetcher
            .fetch("http://example.com/client.json")
            .await
            .unwrap_err();
        assert!(error.contains("https"), "{error}");
        let error = fetcher.fetch("https://localhost/c").await.unwrap_err();
        assert!(error.contains("not a public address"), "{error}");
    }
}
