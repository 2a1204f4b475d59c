//! Redirect URI checks: registered URIs must be safe to send codes to, and
//! a request's URI must match a registered one exactly — except that a
//! loopback URI may use any port (RFC 8252 §7.3: native apps bind an
//! ephemeral port).

use url::Url;

/// Why a redirect URI cannot be registered.
pub fn registration_problem(uri: &str) -> Option<&'static str> {
    let Ok(url) = Url::parse(uri) else {
        return Some("is not an absolute URL");
    };
    if url.fragment().is_some() {
        return Some("must not have a fragment");
    }
    match url.scheme() {
        "https" => None,
        "http" if is_loopback(&url) => None,
        "http" => Some("must use https (http is allowed only for loopback addresses)"),
        // Private-use schemes of native apps (com.example.app:/callback).
        scheme if scheme.contains('.') => None,
        "javascript" | "data" | "file" | "vbscript" => Some("uses a forbidden scheme"),
        _ => Some("must use https, loopback http, or a reverse-domain private scheme"),
    }
}

/// Whether `requested` matches one of `registered`: byte for byte, or, for
/// loopback http URIs, equal in everything but the port.
pub fn matches(registered: &[String], requested: &str) -> bool {
    if registered.iter().any(|r| r == requested) {
        return true;
    }
    let Ok(asked) = Url::parse(requested) else {
        return false;
    };
    if asked.scheme() != "http" || !is_loopback(&asked) {
        return false;
    }
    registered.iter().any(|r| {
        let Ok(mut known) = Url::parse(r) else {
            return false;
        };
        if known.scheme() != "http" || !is_loopback(&known) || known.host() != asked.host() {
            return false;
        }
        let _ = known.set_port(asked.port());
        // Compare the texts, not parsed URLs: `Url` would normalise away
        // differences (a trailing slash, an empty query) an attacker could use.
        known.as_str() == requested || without_default_path(known.as_str()) == requested
    })
}

/// `http://127.0.0.1:1234/` → `http://127.0.0.1:1234` (a registered bare
/// origin gains a `/` when parsed).
fn without_default_path(text: &str) -> &str {
    text.strip_suffix('/')
        .filter(|t| t.matches('/').count() == 2)
        .unwrap_or(text)
}

/// `127.0.0.0/8`, `::1`, or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(uris: &[&str]) -> Vec<String> {
        uris.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_match_only_for_non_loopback() {
        let registered = reg(&["https://app.example/cb"]);
        assert!(matches(&registered, "https://app.example/cb"));
        assert!(!matches(&registered, "https://app.example/cb/"));
        assert!(!matches(&registered, "https://app.example/cb?x=1"));
        assert!(!matches(&registered, "https://app.example/CB"));
        assert!(!matches(&registered, "https://app.example:443/cb"));
        assert!(!matches(&registered, "https://evil.example/cb"));
    }

    #[test]
    fn loopback_any_port_same_path() {
        let registered = reg(&["http://127.0.0.1/callback", "http://localhost:3000/cb"]);
        assert!(matches(&registered, "http://127.0.0.1:53124/callback"));
        assert!(matches(&registered, "http://127.0.0.1/callback"));
        assert!(matches(&registered, "http://localhost:9999/cb"));
        assert!(!matches(&registered, "http://127.0.0.1:53124/callback/"));
        assert!(!matches(
            &registered,
            "http://127.0.0.1:53124/callback?extra=1"
        ));
        assert!(!matches(&registered, "http://127.0.0.2:53124/callback"));
        assert!(!matches(&registered, "http://localhost:9999/callback"));
        assert!(!matches(&registered, "https://127.0.0.1:53124/callback"));
    }

    #[test]
    fn registration_rules() {
        assert_eq!(registration_problem("https://app.example/cb"), None);
        assert_eq!(registration_problem("http://127.0.0.1:4000/cb"), None);
        assert_eq!(registration_problem("com.example.app:/cb"), None);
        assert!(registration_problem("http://app.example/cb").is_some());
        assert!(registration_problem("https://app.example/cb#frag").is_some());
        assert!(registration_problem("javascript:alert(1)").is_some());
        assert!(registration_problem("/relative").is_some());
    }
}
