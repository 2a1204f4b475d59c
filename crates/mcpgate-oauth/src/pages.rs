//! The two pages a person sees: the consent page and the error page.
//! Server-rendered, no script, every value escaped, and headers that keep
//! them out of frames and caches.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}code{background:#f3f3f3;padding:0 .2rem}ul{padding-left:1.2rem}\
.host{font-weight:bold}.actions{margin-top:2rem;display:flex;gap:1rem}\
button{font-size:1rem;padding:.5rem 1.2rem}button[value=approve]{background:#0b5;color:#fff;border:0}";

/// What the consent page shows.
pub struct Consent<'a> {
    /// The client's display name.
    pub client_name: &'a str,
    /// The client id (shown when it differs from the name).
    pub client_id: &'a str,
    /// The host the code will be sent to.
    pub redirect_host: &'a str,
    /// The signed-in user.
    pub user: &'a str,
    /// Scopes that will be granted.
    pub scopes: &'a [String],
    /// Scopes asked for that the user does not hold.
    pub withheld: &'a [String],
    /// The sign-in this consent belongs to.
    pub request_id: &'a str,
    /// The anti-CSRF token the form must post back.
    pub csrf_token: &'a str,
    /// Where the form posts to.
    pub action: &'a str,
    /// `form-action` sources: the server itself and the client's redirect
    /// origin (browsers check the redirect after a form post too).
    pub form_action_sources: &'a str,
}

/// The consent page.
pub fn consent(page: &Consent<'_>) -> Response {
    let scopes = if page.scopes.is_empty() {
        "<li>no scopes: the client will not be able to call any tool</li>".to_owned()
    } else {
        page.scopes
            .iter()
            .map(|s| format!("<li><code>{}</code></li>", escape(s)))
            .collect()
    };
    let withheld = if page.withheld.is_empty() {
        String::new()
    } else {
        format!(
            "<p>It also asked for scopes you do not hold, which it will not get: {}.</p>",
            page.withheld
                .iter()
                .map(|s| format!("<code>{}</code>", escape(s)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let id_line = if page.client_id != page.client_name {
        format!("<p>Client id: <code>{}</code></p>", escape(page.client_id))
    } else {
        String::new()
    };
    let body = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width\">\
         <title>Allow access? — mcpgate</title><style>{STYLE}</style></head><body>\
         <h1>Allow <strong>{name}</strong> to use tools as {user}?</h1>{id_line}\
         <p>After you decide, you will be sent to <span class=host>{host}</span>.</p>\
         <p>It will be able to use tools that need:</p><ul>{scopes}</ul>{withheld}\
         <form id=mcpgate-consent method=post action=\"{action}\">\
         <input type=hidden name=request value=\"{request}\">\
         <input type=hidden name=csrf_token value=\"{csrf}\">\
         <div class=actions><button type=submit name=decision value=approve>Allow</button>\
         <button type=submit name=decision value=deny>Deny</button></div></form></body></html>",
        name = escape(page.client_name),
        user = escape(page.user),
        host = escape(page.redirect_host),
        action = escape(page.action),
        request = escape(page.request_id),
        csrf = escape(page.csrf_token),
    );
    html(StatusCode::OK, body, page.form_action_sources)
}

/// An error page: for requests that cannot be sent back to the client
/// (unknown client, unregistered redirect URI), so nothing is redirected.
pub fn error(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{title} — mcpgate</title>\
         <style>{STYLE}</style></head><body><h1>{title}</h1><p>{detail}</p></body></html>",
        title = escape(title),
        detail = escape(detail),
    );
    html(status, body, "'none'")
}

fn html(status: StatusCode, body: String, form_action: &str) -> Response {
    let mut response = (status, body).into_response();
    let policy = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    page_headers(response.headers_mut(), "text/html; charset=utf-8", &policy);
    response
}

/// The headers every page a person sees carries (here and in the admin
/// console): its type, `policy` as Content-Security-Policy, never framed,
/// never cached, never sniffed, and a referrer only to the same origin.
pub fn page_headers(headers: &mut axum::http::HeaderMap, content_type: &'static str, policy: &str) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Not `no-referrer`: with it, browsers send `Origin: null` on form
    // posts, and the same-origin checks of our forms need the origin.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        assert_eq!(
            escape("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }
}
