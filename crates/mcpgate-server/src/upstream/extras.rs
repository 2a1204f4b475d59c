//! Everything besides tools that upstream MCP servers offer: resources,
//! resource templates, subscriptions, prompts, completion and the log
//! level, routed to the upstream that serves each item.
//!
//! Prompt names carry the backend's prefix, like tool names. Resource URIs
//! are passed through unchanged (clients and servers build them), so a URI
//! is routed to the backend that listed it, else to the backend whose
//! template matches it, else to the only backend that forwards resources.

// Logging and resource subscriptions are deprecated by SEP-2577
// (2026-07-28) but still spoken by the protocol versions most servers use.
#![allow(deprecated)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CompleteRequestParams, CompleteResult, GetPromptRequestParams, GetPromptResult, Prompt,
    ReadResourceRequestParams, ReadResourceResult, Reference, Resource, ResourceTemplate,
    SetLevelRequestParams, SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::Peer;
use rmcp::{ErrorData as McpError, RoleClient, RoleServer, ServiceError};

use super::McpBackend;

/// What of an upstream besides its tools the gateway passes on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forwarded {
    /// `resources/*` (list, templates, read, subscribe).
    pub resources: bool,
    /// `prompts/*`.
    pub prompts: bool,
}

/// The upstream MCP backends of a gateway, for what is not a tool call.
#[derive(Default)]
pub struct Upstreams {
    backends: Vec<(Arc<McpBackend>, Forwarded)>,
    /// Resource URI → the backend (index) that listed it.
    owners: Mutex<HashMap<String, usize>>,
}

/// A backend serving a request, and the error to answer otherwise.
type Routed<'a> = Result<&'a Arc<McpBackend>, McpError>;

fn upstream_error(backend: &McpBackend, error: ServiceError) -> McpError {
    match error {
        // The upstream's own answer (e.g. resource not found) is the caller's.
        ServiceError::McpError(error) => error,
        other => McpError::internal_error(
            format!("MCP backend `{}` did not answer: {other}", backend.name()),
            None,
        ),
    }
}

impl Upstreams {
    /// Serve `backends`, each passing on what its [`Forwarded`] says.
    pub fn new(backends: Vec<(Arc<McpBackend>, Forwarded)>) -> Self {
        Upstreams {
            backends,
            owners: Mutex::default(),
        }
    }

    /// Whether any backend forwards resources (capabilities to announce).
    pub fn any_resources(&self) -> bool {
        self.backends.iter().any(|(_, f)| f.resources)
    }

    /// Whether any backend forwards prompts.
    pub fn any_prompts(&self) -> bool {
        self.backends.iter().any(|(_, f)| f.prompts)
    }

    /// The backends.
    pub fn backends(&self) -> impl Iterator<Item = &Arc<McpBackend>> {
        self.backends.iter().map(|(backend, _)| backend)
    }

    /// Stop every upstream (child processes exit) and wait for them, a
    /// few seconds at most.
    pub async fn shutdown(&self) {
        futures::future::join_all(self.backends().map(|backend| backend.shutdown())).await;
    }

    /// Whether there are upstream MCP backends at all.
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }

    /// The backends that forward resources (or prompts), for a caller who
    /// may use those named by `allowed`.
    fn serving<'a>(
        &'a self,
        resources: bool,
        allowed: &'a (dyn Fn(&str) -> bool + Sync),
    ) -> impl Iterator<Item = (usize, &'a Arc<McpBackend>)> + 'a {
        self.backends
            .iter()
            .enumerate()
            .filter(move |(_, (_, f))| if resources { f.resources } else { f.prompts })
            .filter(move |(_, (b, _))| allowed(b.name()))
            .map(|(i, (b, _))| (i, b))
    }

    /// Every resource of the backends the caller may use.
    pub async fn list_resources(
        &self,
        allowed: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Vec<Resource>, McpError> {
        let mut all = Vec::new();
        for (index, backend) in self.serving(true, allowed) {
            let peer = peer_of(backend).await?;
            let resources = peer
                .list_all_resources()
                .await
                .map_err(|e| upstream_error(backend, e))?;
            let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
            for resource in &resources {
                owners.insert(resource.uri.clone(), index);
            }
            all.extend(resources);
        }
        Ok(all)
    }

    /// Every resource template of the backends the caller may use.
    pub async fn list_resource_templates(
        &self,
        allowed: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Vec<ResourceTemplate>, McpError> {
        let mut all = Vec::new();
        for (_, backend) in self.serving(true, allowed) {
            let peer = peer_of(backend).await?;
            all.extend(
                peer.list_all_resource_templates()
                    .await
                    .map_err(|e| upstream_error(backend, e))?,
            );
        }
        Ok(all)
    }

    /// The backend that serves resource `uri`.
    pub async fn resource_owner(&self, uri: &str) -> Routed<'_> {
        let resources: Vec<(usize, &Arc<McpBackend>)> = self.serving(true, &|_| true).collect();
        let known = self
            .owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uri)
            .copied();
        if let Some(index) = known
            && let Some((_, backend)) = resources.iter().find(|(i, _)| *i == index)
        {
            return Ok(backend);
        }
        if resources.len() == 1 {
            return Ok(resources[0].1);
        }
        for (_, backend) in &resources {
            let Ok(peer) = peer_of(backend).await else {
                continue;
            };
            if let Ok(templates) = peer.list_all_resource_templates().await
                && templates
                    .iter()
                    .any(|t| template_matches(&t.uri_template, uri))
            {
                return Ok(backend);
            }
        }
        Err(McpError::resource_not_found(
            format!("no backend serves resource `{uri}`"),
            None,
        ))
    }

    /// Read a resource from `backend`.
    pub async fn read_resource(
        backend: &McpBackend,
        params: ReadResourceRequestParams,
    ) -> Result<ReadResourceResult, McpError> {
        let peer = peer_of(backend).await?;
        peer.read_resource(params)
            .await
            .map_err(|e| upstream_error(backend, e))
    }

    /// Subscribe `session` to `params.uri` at `backend`.
    pub async fn subscribe(
        backend: &McpBackend,
        params: SubscribeRequestParams,
        session: u64,
        caller: Peer<RoleServer>,
    ) -> Result<(), McpError> {
        let peer = peer_of(backend).await?;
        backend.routes().subscribe(&params.uri, session, caller);
        peer.subscribe(params)
            .await
            .map_err(|e| upstream_error(backend, e))
    }

    /// End `session`'s subscription; the upstream's ends with the last one.
    pub async fn unsubscribe(
        backend: &McpBackend,
        params: UnsubscribeRequestParams,
        session: u64,
    ) -> Result<(), McpError> {
        if backend.routes().unsubscribe(&params.uri, session) {
            return Ok(());
        }
        let peer = peer_of(backend).await?;
        peer.unsubscribe(params)
            .await
            .map_err(|e| upstream_error(backend, e))
    }

    /// Every prompt of the backends the caller may use, names prefixed.
    pub async fn list_prompts(
        &self,
        allowed: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Vec<Prompt>, McpError> {
        let mut all = Vec::new();
        for (_, backend) in self.serving(false, allowed) {
            let peer = peer_of(backend).await?;
            let prompts = peer
                .list_all_prompts()
                .await
                .map_err(|e| upstream_error(backend, e))?;
            all.extend(prompts.into_iter().map(|mut prompt| {
                prompt.name = format!("{}{}", backend.prefix(), prompt.name);
                prompt
            }));
        }
        Ok(all)
    }

    /// The backend serving prompt `name` (prefixed), and the name it knows.
    pub fn prompt_owner(&self, name: &str) -> Result<(&Arc<McpBackend>, String), McpError> {
        self.serving(false, &|_| true)
            .filter_map(|(_, b)| name.strip_prefix(b.prefix()).map(|n| (b, n.to_owned())))
            // The longest prefix wins, so `a__` and `a__b__` stay apart.
            .max_by_key(|(b, _)| b.prefix().len())
            .ok_or_else(|| McpError::invalid_params(format!("unknown prompt `{name}`"), None))
    }

    /// Get a prompt (its name already without the prefix) from `backend`.
    pub async fn get_prompt(
        backend: &McpBackend,
        params: GetPromptRequestParams,
    ) -> Result<GetPromptResult, McpError> {
        let peer = peer_of(backend).await?;
        peer.get_prompt(params)
            .await
            .map_err(|e| upstream_error(backend, e))
    }

    /// The backend a completion request is for, with the reference renamed
    /// as that backend knows it.
    pub async fn completion_owner(
        &self,
        mut params: CompleteRequestParams,
    ) -> Result<(&Arc<McpBackend>, CompleteRequestParams), McpError> {
        let backend = match &mut params.r#ref {
            Reference::Prompt(prompt) => {
                let (backend, name) = self.prompt_owner(&prompt.name)?;
                prompt.name = name;
                backend
            }
            Reference::Resource(resource) => self.resource_owner(&resource.uri).await?,
            _ => {
                return Err(McpError::invalid_params(
                    "completion is only offered for prompts and resource templates",
                    None,
                ));
            }
        };
        Ok((backend, params))
    }

    /// Ask `backend` for completions.
    pub async fn complete(
        backend: &McpBackend,
        params: CompleteRequestParams,
    ) -> Result<CompleteResult, McpError> {
        let peer = peer_of(backend).await?;
        peer.complete(params)
            .await
            .map_err(|e| upstream_error(backend, e))
    }

    /// Pass the caller's log level to every upstream that logs. The
    /// connection is shared, so the last level set holds for all callers.
    pub async fn set_level(&self, params: SetLevelRequestParams) -> Result<(), McpError> {
        for (backend, _) in &self.backends {
            let peer = peer_of(backend).await?;
            let logs = peer
                .peer_info()
                .is_some_and(|info| info.capabilities.logging.is_some());
            if logs {
                peer.set_level(params.clone())
                    .await
                    .map_err(|e| upstream_error(backend, e))?;
            }
        }
        Ok(())
    }
}

async fn peer_of(backend: &McpBackend) -> Result<Peer<RoleClient>, McpError> {
    backend
        .peer()
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))
}

/// Whether `uri` fits an RFC 6570 level-1 template (`{name}` matches any
/// run of characters without `/`).
fn template_matches(template: &str, uri: &str) -> bool {
    let mut rest = uri;
    let mut parts = template.split('{');
    let Some(first) = parts.next() else {
        return false;
    };
    let Some(after) = rest.strip_prefix(first) else {
        return false;
    };
    rest = after;
    for part in parts {
        let Some((_, literal)) = part.split_once('}') else {
            return false;
        };
        let end = if literal.is_empty() {
            rest.find('/').unwrap_or(rest.len())
        } else {
            match rest.find(literal) {
                Some(end) => end,
                None => return false,
            }
        };
        if rest[..end].contains('/') {
            return false;
        }
        rest = &rest[end + literal.len()..];
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::template_matches;

    #[test]
    fn templates_match_level_one_variables() {
        assert!(template_matches(
            "test://template/{id}/data",
            "test://template/123/data"
        ));
        assert!(template_matches("file:///{path}", "file:///a"));
        assert!(template_matches("x://{a}-{b}", "x://1-2"));
        assert!(!template_matches(
            "test://template/{id}/data",
            "test://template/1/2/data"
        ));
        assert!(!template_matches(
            "test://template/{id}/data",
            "test://other/1/data"
        ));
        assert!(!template_matches(
            "test://template/{id}/data",
            "test://template/1/data/more"
        ));
        assert!(template_matches("static://a", "static://a"));
    }
}
