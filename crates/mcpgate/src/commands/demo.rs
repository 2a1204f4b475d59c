//! `mcpgate demo`: the example Inventory API behind mcpgate, in one process.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use std::sync::Arc;

use mcpgate_auth::LocalUser;
use mcpgate_core::Redactor;
use mcpgate_demo::DemoApi;
use mcpgate_openapi::BackendCredential;
use mcpgate_store::audit::AuditLogOptions;
use secrecy::SecretString;
use url::Url;

use crate::assemble::{self, BackendParts, BackendSource, OpenApiParts};
use crate::audit_setup::AuditParts;
use crate::cli::DemoArgs;
use crate::commands::serve::{bind, serve_http, serve_stdio};
use crate::config::ServerConfig;

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    // A fresh key per run: only this process knows it, which is the point —
    // the MCP caller never sees the backend's credential.
    let api_key = format!("demo_{}", uuid::Uuid::new_v4().simple());
    let api_addr = SocketAddr::from(([127, 0, 0, 1], args.api_port));
    let listener = tokio::net::TcpListener::bind(api_addr)
        .await
        .with_context(|| {
            format!("cannot start the demo API on {api_addr}; choose another --api-port")
        })?;
    let api_addr = listener.local_addr()?;
    tokio::spawn(DemoApi::new(api_key.clone()).serve(listener));

    let import = mcpgate_openapi::import_str(mcpgate_demo::OPENAPI_YAML, "inventory")
        .context("the demo's own OpenAPI file does not import")?;
    let backend = BackendParts {
        name: "inventory".to_owned(),
        tool_prefix: String::new(),
        accepted_auth: Default::default(),
        source: BackendSource::OpenApi(Box::new(OpenApiParts {
            import,
            base_url: Url::parse(&format!("http://{api_addr}"))?,
            credential: Some(BackendCredential::Header {
                name: "X-Demo-Key".to_owned(),
                value: SecretString::from(api_key),
            }),
            timeout: Duration::from_secs(10),
            max_response_bytes: 1024 * 1024,
        })),
    };
    let listener = if args.stdio {
        None
    } else {
        Some(bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?)
    };
    let listen = match &listener {
        Some(listener) => listener.local_addr()?,
        None => SocketAddr::from(([127, 0, 0, 1], args.port)),
    };
    let server = ServerConfig {
        listen,
        instructions: Some(
            "Inventory demo: list, read, create, restock and delete items of a small warehouse."
                .to_owned(),
        ),
        ..ServerConfig::default()
    };
    let store = mcpgate_store::open(&args.store)
        .await
        .with_context(|| format!("cannot open the demo's audit store {}", args.store))?;
    let audit = AuditParts {
        store,
        options: AuditLogOptions::default(),
        fail_closed: true,
        redactor: Redactor::default(),
        jsonl: None,
    };
    // The demo's only caller is the local user, who needs no scopes; read
    // -only mode is the one authorization setting that shows.
    let authz = assemble::AuthzParts {
        config: mcpgate_authz::AuthzConfig {
            read_only: args.read_only,
            ..Default::default()
        },
        backend_read_only: Default::default(),
        base_dir: ".".into(),
        config_file: None,
    };
    let assembled =
        assemble::from_parts(&server, audit, Arc::new(LocalUser), vec![backend], &authz)?;

    let Some(listener) = listener else {
        eprintln!(
            "mcpgate demo: Inventory API on http://{api_addr}, MCP on stdio, audit log in {}",
            args.store
        );
        serve_stdio(assembled).await?;
        return Ok(ExitCode::SUCCESS);
    };
    let url = assembled.public_url.clone();
    let tools = assembled.gateway.catalog().len();
    let mode = if args.read_only {
        "on"
    } else {
        "off, try --read-only"
    };
    let store = &args.store;
    println!(
        "\nmcpgate demo is running.\n\n  \
         Inventory REST API  http://{api_addr}  (its key is known only to the gateway)\n  \
         MCP endpoint        {url}  ({tools} tools; no auth, loopback only; read-only mode {mode})\n  \
         Audit log           {store}  (see it with: mcpgate audit tail --store {store})\n\n\
         Connect an MCP client over Streamable HTTP, e.g. a desktop client's config:\n  \
         {{\"mcpServers\": {{\"mcpgate-demo\": {{\"type\": \"http\", \"url\": \"{url}\"}}}}}}\n\n\
         or over stdio (the client starts its own copy of the demo):\n  \
         {{\"mcpServers\": {{\"mcpgate-demo\": {{\"command\": \"mcpgate\", \"args\": [\"demo\", \"--stdio\", \"--api-port\", \"0\"]}}}}}}\n\n\
         Press Ctrl-C to stop.\n"
    );
    serve_http(assembled, listener, None).await?;
    Ok(ExitCode::SUCCESS)
}
