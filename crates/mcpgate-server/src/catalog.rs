//! Every tool the gateway can offer, with the backend that serves it.

use std::collections::HashMap;
use std::sync::Arc;

use mcpgate_core::ToolSpec;

use crate::backend::Backend;
use crate::mcp::to_rmcp_tool;
use crate::validate::ArgumentValidator;

/// One tool of the catalog.
pub(crate) struct Entry {
    pub(crate) spec: ToolSpec,
    /// The tool as sent in `tools/list`, converted once.
    pub(crate) listed: rmcp::model::Tool,
    pub(crate) validator: ArgumentValidator,
    pub(crate) backend: Arc<dyn Backend>,
}

/// Why a catalog could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Two tools have the same name.
    #[error(
        "tool `{name}` is offered by both backend `{first}` and backend `{second}`; \
         give one of them a `tool_prefix` in mcpgate.toml"
    )]
    DuplicateName {
        /// The tool name.
        name: String,
        /// The backend that offered it first.
        first: String,
        /// The backend that offered it again.
        second: String,
    },
    /// A tool's schema could not be expressed as an MCP tool.
    #[error("tool `{name}` cannot be listed: {reason}")]
    Unlistable {
        /// The tool name.
        name: String,
        /// Why.
        reason: String,
    },
}

/// The tools of all backends, in a stable order.
#[derive(Default)]
pub struct Catalog {
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `spec`, served by `backend`.
    pub fn add(&mut self, spec: ToolSpec, backend: Arc<dyn Backend>) -> Result<(), CatalogError> {
        if let Some(&index) = self.by_name.get(&spec.name) {
            return Err(CatalogError::DuplicateName {
                name: spec.name.clone(),
                first: self.entries[index].spec.backend.clone(),
                second: spec.backend,
            });
        }
        let listed = to_rmcp_tool(&spec).map_err(|reason| CatalogError::Unlistable {
            name: spec.name.clone(),
            reason,
        })?;
        self.by_name.insert(spec.name.clone(), self.entries.len());
        self.entries.push(Entry {
            validator: ArgumentValidator::new(&spec.input_schema),
            spec,
            listed,
            backend,
        });
        Ok(())
    }

    /// This catalog with `backend`'s tools replaced by `specs` (served by
    /// `served`), where its old tools were; the other backends' tools stay.
    pub fn with_backend_tools(
        &self,
        backend: &str,
        specs: Vec<ToolSpec>,
        served: Arc<dyn Backend>,
    ) -> Result<Catalog, CatalogError> {
        let mut next = Catalog::new();
        let mut specs = Some(specs);
        for entry in &self.entries {
            if entry.spec.backend == backend {
                for spec in specs.take().into_iter().flatten() {
                    next.add(spec, served.clone())?;
                }
            } else {
                next.add(entry.spec.clone(), entry.backend.clone())?;
            }
        }
        for spec in specs.into_iter().flatten() {
            next.add(spec, served.clone())?;
        }
        Ok(next)
    }

    /// How many tools there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The specs, in catalog order.
    pub fn specs(&self) -> impl Iterator<Item = &ToolSpec> {
        self.entries.iter().map(|e| &e.spec)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }
}
