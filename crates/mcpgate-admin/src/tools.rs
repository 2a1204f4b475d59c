//! `/admin/tools`: every tool, the scopes it requires, and whether it
//! counts as read-only.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use crate::AdminConsole;
use crate::html::{escape, page};
use crate::session::SignedIn;

/// A tool as the console shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ToolRow {
    /// Its name.
    pub name: String,
    /// Its backend.
    pub backend: String,
    /// What a caller needs: any one of these sets of scopes (`[[]]`: any
    /// authenticated caller; `[]`: nobody).
    pub requires: Vec<Vec<String>>,
    /// Whether the gateway knows it is read-only.
    pub read_only: bool,
    /// Whether read-only mode hides it.
    pub hidden_by_read_only_mode: bool,
}

/// `GET /admin/tools`.
pub(crate) async fn list(
    State(console): State<AdminConsole>,
    SignedIn(admin): SignedIn,
) -> Response {
    let tools = (console.inner.settings.tools)();
    let mut rows = String::new();
    for tool in &tools {
        let requires = if tool.requires.is_empty() {
            "nobody (deny)".to_owned()
        } else {
            tool.requires
                .iter()
                .map(|set| {
                    if set.is_empty() {
                        "any authenticated caller".to_owned()
                    } else {
                        set.join(" + ")
                    }
                })
                .collect::<Vec<_>>()
                .join(" or ")
        };
        rows.push_str(&format!(
            "<tr data-tool=\"{name}\"><td><code>{name}</code></td><td>{backend}</td><td>{requires}</td>\
             <td>{read_only}</td><td>{hidden}</td></tr>",
            name = escape(&tool.name),
            backend = escape(&tool.backend),
            requires = escape(&requires),
            read_only = if tool.read_only { "yes" } else { "no (may write)" },
            hidden = if tool.hidden_by_read_only_mode { "hidden by read-only mode" } else { "" },
        ));
    }
    let body = format!(
        "<table id=\"tools\"><thead><tr><th>Tool</th><th>Backend</th><th>Requires</th><th>Read-only</th>\
         <th></th></tr></thead><tbody>{rows}</tbody></table>"
    );
    page(
        StatusCode::OK,
        "Tools",
        &console.chrome(&admin, "tools"),
        &body,
    )
}
