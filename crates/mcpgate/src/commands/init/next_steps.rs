//! What `init` prints: the recommendation, its reason, and the exact
//! commands to run next.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use super::answers::{Runs, Users};
use super::spec::Scopes;
use super::strategy::Strategy;
use super::template::{PEPPER_ENV, Plan, TLS_CERT, TLS_CLIENT_CA, TLS_KEY};

/// A word for a POSIX shell, quoted when it needs to be.
pub fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `text` wrapped at about 90 columns, each line starting with `indent`
/// (the first with `first`).
fn wrap(out: &mut String, first: &str, indent: &str, text: &str) {
    let mut line = first.to_owned();
    let mut empty = first.is_empty();
    for word in text.split_whitespace() {
        if !empty && line.len() + word.len() + 1 > 90 {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}

/// The text printed after the config was written to `output`.
pub fn render(plan: &Plan<'_>, output: &Path) -> String {
    let recommendation = plan.recommendation;
    let config = shell_word(&output.display().to_string());
    let mut out = String::new();
    let _ = writeln!(out, "\nRecommended: {}", recommendation.strategy.title());
    wrap(&mut out, "Why:", "    ", &recommendation.reason);
    for note in &recommendation.notes {
        wrap(&mut out, "Note:", "     ", note);
    }
    let scopes = match plan.spec.map(|s| &s.scopes) {
        Some(Scopes::FromSpec { all, .. }) => format!("scopes from the spec ({})", all.join(", ")),
        Some(Scopes::Generated) => format!(
            "the spec declares no scopes, so rules require read:{0} / write:{0}",
            plan.backend
        ),
        None => format!("rules require read:{0} / write:{0}", plan.backend),
    };
    let tools = match plan.spec {
        Some(spec) => format!(
            "{} read-only tool(s) listed, {} that may write hidden by read-only mode",
            spec.read_tools.len(),
            spec.write_tools.len()
        ),
        None => "no spec yet".to_owned(),
    };
    out.push('\n');
    wrap(
        &mut out,
        &format!("Wrote {}:", output.display()),
        "  ",
        &format!("backend `{}` ({tools}); {scopes}.", plan.backend),
    );

    let mut todo: Vec<String> = Vec::new();
    if plan.spec_location.is_none() {
        todo.push(format!(
            "Set backends.{}.spec to your API's OpenAPI file.",
            plan.backend
        ));
    }
    if plan.base_url.is_none() {
        todo.push(format!(
            "Set backends.{}.base_url to where the API runs.",
            plan.backend
        ));
    }
    let strategy = recommendation.strategy;
    if plan.public_url.is_none() && matches!(strategy, Strategy::Jwt | Strategy::OAuth) {
        todo.push(
            "Set server.public_url to the URL clients use for /mcp (or pass --public-url): \
             tokens are accepted only when issued for it."
                .to_owned(),
        );
    }
    let https = plan.public_url.is_some_and(|u| u.scheme() == "https");
    if plan.runs == Runs::Remote && strategy != Strategy::MutualTls && !https {
        todo.push(
            "Serve HTTPS, so that credentials never cross the network in clear text: \
             uncomment [server.tls], or terminate TLS at a reverse proxy and set \
             server.public_url to its https URL."
                .to_owned(),
        );
    }
    match strategy {
        Strategy::MutualTls => todo.push(format!(
            "Put, next to the config: the server's certificate chain in {TLS_CERT}, its key in \
             {TLS_KEY} (readable by mcpgate only), and the CA that issues client certificates \
             in {TLS_CLIENT_CA}."
        )),
        Strategy::Jwt | Strategy::OAuth => todo.push(format!(
            "At your identity provider, register this gateway as an API (resource) whose \
             identifier is its public URL, with the scopes {}; {}",
            match plan.spec.map(|s| &s.scopes) {
                Some(Scopes::FromSpec { all, .. }) => all.join(", "),
                _ => format!("read:{0}, write:{0}", plan.backend),
            },
            if strategy == Strategy::OAuth {
                "let MCP clients register (dynamic client registration, or pre-registered \
                 clients) with the authorization-code flow and PKCE."
            } else {
                "put people's groups in the `groups` claim."
            }
        )),
        _ => {}
    }
    if !todo.is_empty() {
        out.push_str("\nEdit the config:\n");
        for item in &todo {
            wrap(&mut out, "  -", "    ", item);
        }
    }

    out.push_str("\nNext:\n");
    let credential = plan.spec.and_then(|s| s.credential.as_ref());
    if strategy == Strategy::ApiKeys {
        let _ = writeln!(
            out,
            "  export {PEPPER_ENV}=$(head -c 32 /dev/urandom | base64)   \
             # once; keep it in your secret manager, every instance needs it"
        );
    }
    if let Some(credential) = credential {
        let _ = writeln!(
            out,
            "  export {}=...   # {}",
            credential.env_var, credential.what
        );
    }
    let _ = writeln!(out, "  mcpgate check --config {config}");
    let read_scopes = plan.read_scopes().join(",");
    match strategy {
        Strategy::Stdio => {
            let absolute = std::fs::canonicalize(output).unwrap_or_else(|_| output.to_owned());
            let mut server = json!({
                "command": "mcpgate",
                "args": ["serve", "--stdio", "--config", absolute.display().to_string()],
            });
            if let Some(credential) = credential {
                server["env"] = json!({ credential.env_var.clone(): "..." });
            }
            let snippet = json!({ "mcpServers": { plan.backend: server } });
            out.push_str(
                "\nThen add it to your desktop MCP client's configuration (it starts \
                 `mcpgate serve --stdio` itself):\n",
            );
            let pretty = serde_json::to_string_pretty(&snippet).unwrap_or_default();
            for line in pretty.lines() {
                let _ = writeln!(out, "  {line}");
            }
            if let Some(credential) = credential {
                wrap(
                    &mut out,
                    "",
                    "",
                    &format!(
                        "The client passes {} to mcpgate; to keep it out of the client's \
                         file, use `value = \"file:PATH\"` in the config instead.",
                        credential.env_var
                    ),
                );
            }
            out.push_str("Or serve it over HTTP on loopback:\n");
            let _ = writeln!(out, "  mcpgate serve --config {config}");
        }
        Strategy::ApiKeys => {
            let _ = writeln!(
                out,
                "  mcpgate keys create --config {config} --name {} --scopes {read_scopes} --expires 90d",
                match plan.users {
                    Users::One | Users::Team => "alice",
                    Users::Services => "client-1",
                    Users::Customers => "customer-1",
                }
            );
            let _ = writeln!(out, "  mcpgate serve --config {config}");
            out.push('\n');
            wrap(
                &mut out,
                "",
                "",
                "One key per client or person (printed once; clients send it as \
                 `Authorization: Bearer mcpg_...`), with read scopes until a caller needs \
                 more. Before a key expires: `mcpgate keys rotate --config FILE KEY_ID \
                 --overlap 24h`; at once, everywhere: `mcpgate keys revoke`.",
            );
        }
        Strategy::MutualTls => {
            let _ = writeln!(out, "  mcpgate serve --config {config}");
            out.push('\n');
            wrap(
                &mut out,
                "",
                "",
                &format!(
                    "Clients connect with their certificate and get {read_scopes}; see who \
                     called what with `mcpgate audit tail --config FILE`."
                ),
            );
        }
        Strategy::Jwt | Strategy::OAuth => {
            let _ = writeln!(out, "  mcpgate serve --config {config}");
            let _ = writeln!(
                out,
                "  mcpgate authz explain --config {config} --as \"$ACCESS_TOKEN\" --tool TOOL   # why a token may (not) call a tool"
            );
            if strategy == Strategy::OAuth {
                out.push('\n');
                wrap(
                    &mut out,
                    "",
                    "",
                    "MCP clients find your identity provider at \
                     /.well-known/oauth-protected-resource under the public URL, and step up \
                     to more scopes when a call is answered 403.",
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("mcpgate.toml"), "mcpgate.toml");
        assert_eq!(
            shell_word("/srv/my config/mcpgate.toml"),
            "'/srv/my config/mcpgate.toml'"
        );
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
