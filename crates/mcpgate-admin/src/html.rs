//! Pages: one layout, every value escaped, and headers that keep them out
//! of frames and caches and let the browser run no script at all.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub(crate) use mcpgate_oauth::pages::escape;

/// The Content-Security-Policy of every page: nothing but our own
/// stylesheet; forms post only to us; never framed.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Who is signed in, for the header.
pub(crate) struct Chrome<'a> {
    /// The console's path (`/admin`).
    pub(crate) base: &'a str,
    /// The signed-in subject; `None` on the sign-in page.
    pub(crate) who: Option<&'a str>,
    /// The session's anti-CSRF token, for the sign-out form.
    pub(crate) csrf: &'a str,
    /// The section shown (`keys`, `audit`, …) to highlight.
    pub(crate) current: &'a str,
}

/// A whole page.
pub(crate) fn page(status: StatusCode, title: &str, chrome: &Chrome<'_>, body: &str) -> Response {
    let base = escape(chrome.base);
    let nav = match chrome.who {
        None => String::new(),
        Some(who) => {
            let link = |section: &str, label: &str| {
                let class = if section == chrome.current {
                    " class=\"current\""
                } else {
                    ""
                };
                format!("<a href=\"{base}/{section}\"{class}>{label}</a>")
            };
            format!(
                "<nav>{}{}{}{}{}</nav><span class=\"who\">{}</span>\
                 <form method=\"post\" action=\"{base}/logout\">\
                 <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
                 <button type=\"submit\">Sign out</button></form>",
                link("", "Overview"),
                link("keys", "Keys"),
                link("oauth", "OAuth"),
                link("tools", "Tools"),
                link("audit", "Audit"),
                escape(who),
                escape(chrome.csrf),
            )
        }
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title} — mcpgate admin</title>\
         <link rel=\"stylesheet\" href=\"{base}/static/console.css\"></head><body>\
         <header><h1>mcpgate admin</h1>{nav}</header><main><h2>{title}</h2>{body}</main></body></html>",
        title = escape(title),
    );
    with_headers((status, html).into_response(), "text/html; charset=utf-8")
}

/// The security headers every answer of the console carries.
pub(crate) fn with_headers(mut response: Response, content_type: &'static str) -> Response {
    mcpgate_oauth::pages::page_headers(response.headers_mut(), content_type, CSP);
    response
}

/// A `303 See Other` to `location` (after a form post).
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    with_headers(response, "text/plain; charset=utf-8")
}

/// A hidden anti-CSRF field.
pub(crate) fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
        escape(token)
    )
}

/// `items` joined, or a dash.
pub(crate) fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "—".to_owned()
    } else {
        escape(&items.join(" "))
    }
}
