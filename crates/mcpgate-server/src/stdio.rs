//! The stdio transport: newline-delimited JSON-RPC on stdin/stdout.
//!
//! Nothing but MCP may be written to stdout; logs go to stderr (the binary
//! sets that up).

use std::sync::Arc;

use mcpgate_core::Identity;
use rmcp::ServiceExt;

use crate::gateway::Gateway;
use crate::mcp::McpHandler;

/// Serve one MCP connection on this process's stdin/stdout until the client
/// closes it, on behalf of `identity`.
pub async fn serve_stdio(gateway: Arc<Gateway>, identity: Identity) -> std::io::Result<()> {
    let handler = McpHandler::for_connection(gateway, identity);
    let service = handler
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    service
        .waiting()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(())
}
