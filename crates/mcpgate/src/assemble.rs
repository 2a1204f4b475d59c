//! Config → a running gateway's parts.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use mcpgate_auth::{Authenticator, LocalUser};
use mcpgate_authz::{AuthzConfig, Policy, PolicyInputs, Reloadable};
use mcpgate_openapi::{BackendCredential, ExecutorConfig, HttpExecutor, Import};
use mcpgate_server::http::{HttpOptions, ProtectedResource};
use mcpgate_server::upstream::{
    McpBackend, UpstreamOptions, UpstreamTool, UpstreamTransport, Upstreams,
};
use mcpgate_server::{Catalog, EchoBackend, Gateway, GatewayOptions, OpenApiBackend};
use url::Url;

use crate::audit_setup::{AuditParts, AuditRuntime};
use crate::auth_setup;
use crate::config::{
    AcceptedAuth, BackendConfig, BackendKind, CredentialConfig, EnvValue, Forwarded, LoadedConfig,
    ServerConfig,
};

/// Largest spec accepted from a URL.
const MAX_SPEC_BYTES: usize = 64 * 1024 * 1024;

/// One backend ready to join the catalog.
pub struct BackendParts {
    /// Its name in the config.
    pub name: String,
    /// Prefix for its tool names.
    pub tool_prefix: String,
    /// How callers of its tools must have authenticated.
    pub accepted_auth: AcceptedAuth,
    /// What serves its tools.
    pub source: BackendSource,
}

/// What serves a backend's tools.
pub enum BackendSource {
    /// A REST API, from its imported spec.
    OpenApi(Box<OpenApiParts>),
    /// The built-in echo tool.
    Echo,
    /// An upstream MCP server, connected.
    Mcp(Box<McpParts>),
}

/// A connected upstream MCP server and what of it to offer.
pub struct McpParts {
    /// The connection.
    pub backend: Arc<McpBackend>,
    /// Its tools as the gateway offers them (filtered, renamed).
    pub tools: Vec<mcpgate_core::ToolSpec>,
    /// What besides tools is passed on.
    pub forwarded: mcpgate_server::upstream::Forwarded,
}

/// A REST API ready to be called.
pub struct OpenApiParts {
    /// The imported spec.
    pub import: Import,
    /// Where calls go.
    pub base_url: Url,
    /// Its own credential.
    pub credential: Option<BackendCredential>,
    /// Per-call limit.
    pub timeout: Duration,
    /// Response size limit.
    pub max_response_bytes: usize,
}

/// An imported tool as the gateway offers it: named with the backend's
/// prefix, owned by the backend, with the backend's accepted methods.
pub(crate) fn finish_spec(
    backend: &str,
    tool_prefix: &str,
    accepted_auth: &AcceptedAuth,
    mut spec: mcpgate_core::ToolSpec,
) -> anyhow::Result<mcpgate_core::ToolSpec> {
    spec.backend = backend.to_owned();
    spec.accepted_auth = if spec.is_known_read_only() {
        accepted_auth.read.clone()
    } else {
        accepted_auth.write.clone()
    };
    if !tool_prefix.is_empty() {
        spec.name = format!("{tool_prefix}{}", spec.name);
        if !mcpgate_core::is_valid_tool_name(&spec.name) {
            bail!(
                "backends.{backend}: tool name `{}` is longer than 64 characters with the prefix; shorten tool_prefix",
                spec.name
            );
        }
    }
    Ok(spec)
}

/// The tools `loaded` would serve, without starting anything (for
/// commands that only inspect the configuration).
pub async fn tools_of(loaded: &LoadedConfig) -> anyhow::Result<Vec<mcpgate_core::ToolSpec>> {
    let mut tools = Vec::new();
    for (name, backend) in &loaded.config.backends {
        if backend.kind == BackendKind::Echo {
            tools.push(finish_spec(
                name,
                &backend.tool_prefix(name),
                &backend.accepted_auth,
                EchoBackend::tool_spec(name),
            )?);
            continue;
        }
        let context = || format!("{}: backends.{name}", loaded.path.display());
        if backend.kind == BackendKind::Mcp {
            // An MCP server's tools are known only by asking it.
            let parts = mcp_parts(name, backend, loaded.base_dir())
                .await
                .with_context(context)?;
            parts.backend.shutdown().await;
            for spec in parts.tools {
                tools.push(finish_spec(name, "", &backend.accepted_auth, spec)?);
            }
            continue;
        }
        // Only the spec: the backend's credential is not needed to know its tools.
        let text = read_spec(&backend.spec, loaded.base_dir())
            .await
            .with_context(context)?;
        let import = mcpgate_openapi::import_str(&text, name)
            .with_context(|| format!("spec {}", backend.spec))
            .with_context(context)?;
        for tool in import.tools {
            tools.push(finish_spec(
                name,
                &backend.tool_prefix(name),
                &backend.accepted_auth,
                tool.spec,
            )?);
        }
    }
    Ok(tools)
}

/// What the authorize stage is compiled from.
pub struct AuthzParts {
    /// `[authz]`.
    pub config: AuthzConfig,
    /// `backends.NAME.read_only`, where set.
    pub backend_read_only: BTreeMap<String, bool>,
    /// Policy files are relative to this directory (the config file's).
    pub base_dir: PathBuf,
    /// The config file, to name the line of a setting that is refused.
    pub config_file: Option<PathBuf>,
}

impl AuthzParts {
    /// The authorization settings of `loaded`.
    pub fn from_config(loaded: &LoadedConfig) -> Self {
        AuthzParts {
            config: loaded.config.authz.clone(),
            backend_read_only: loaded
                .config
                .backends
                .iter()
                .filter_map(|(name, b)| b.read_only.map(|on| (name.clone(), on)))
                .collect(),
            base_dir: loaded.base_dir().to_owned(),
            config_file: Some(loaded.path.clone()),
        }
    }

    /// Compile against the tools of `gateway`'s catalog (or any tool list).
    /// A refused setting is named with its file and line.
    pub fn compile(&self, tools: &[mcpgate_core::ToolSpec]) -> anyhow::Result<Policy> {
        Policy::compile(PolicyInputs {
            config: &self.config,
            tools,
            backend_read_only: &self.backend_read_only,
            base_dir: &self.base_dir,
        })
        .map_err(|error| match (&error, &self.config_file) {
            (mcpgate_authz::CompileError::Config { key, message }, Some(file)) => {
                let shown = file.display().to_string();
                let line = std::fs::read_to_string(file).ok().and_then(|text| {
                    crate::config::locate::TomlIndex::parse(&text, &shown).line(key)
                });
                match line {
                    Some(line) => anyhow::anyhow!("{shown}:{line}: {message}"),
                    None => anyhow::anyhow!("{shown}: {message}"),
                }
            }
            _ => anyhow::Error::new(error),
        })
    }
}

/// Everything `serve` needs.
pub struct Assembled {
    /// The gateway.
    pub gateway: Arc<Gateway>,
    /// The authenticate stage for HTTP.
    pub authenticator: Arc<dyn Authenticator>,
    /// The audit writer, to flush at shutdown.
    pub audit: AuditRuntime,
    /// The authorize stage, replaceable on reload.
    pub authz: Arc<Reloadable>,
    /// HTTP transport settings.
    pub http: HttpOptions,
    /// The URL clients use.
    pub public_url: Url,
    /// Import warnings, prefixed with their backend.
    pub warnings: Vec<String>,
}

/// Build the gateway described by `loaded`; `stdio` says MCP will run on
/// stdin/stdout.
pub async fn from_config(loaded: &LoadedConfig, stdio: bool) -> anyhow::Result<Assembled> {
    let config = &loaded.config;
    if config.backends.is_empty() {
        bail!(
            "{}: no backends are configured; add a [backends.NAME] section with `spec = \"openapi.yaml\"`",
            loaded.path.display()
        );
    }
    let audit = AuditParts::from_config(loaded, stdio).await?;
    let store = audit.store.clone();
    let audit_store = audit.store.clone();
    let public = public_url(&config.server)?;
    let own_tokens = if stdio {
        None
    } else {
        crate::oauth_setup::verifier(loaded, &public)
            .with_context(|| loaded.path.display().to_string())?
    };
    // Over stdio the caller is the local user who started the process.
    let authenticator: Arc<dyn Authenticator> = if stdio {
        Arc::new(LocalUser)
    } else {
        auth_setup::authenticator(
            loaded,
            audit.store.clone(),
            public.as_str(),
            own_tokens
                .clone()
                .map(|v| v as Arc<dyn mcpgate_auth::BearerVerifier>),
        )
        .await?
    };
    let mut parts = Vec::new();
    for (name, backend) in &config.backends {
        parts.push(
            backend_parts(name, backend, loaded.base_dir())
                .await
                .with_context(|| format!("{}: backends.{name}", loaded.path.display()))?,
        );
    }
    let mut assembled = from_parts(
        &config.server,
        audit,
        authenticator,
        parts,
        &AuthzParts::from_config(loaded),
    )
    .with_context(|| loaded.path.display().to_string())?;
    // Clients can get tokens from these: advertise them (RFC 9728).
    let mut issuers: Vec<String> = Vec::new();
    if let (Some(verifier), Some(oauth)) = (own_tokens, &config.oauth_server) {
        let server = crate::oauth_setup::server(
            loaded,
            oauth,
            verifier,
            store,
            assembled.authz.clone(),
            assembled.gateway.clone(),
        )
        .with_context(|| loaded.path.display().to_string())?;
        server.follow_revocations();
        tracing::info!(issuer = %server.issuer(), "embedded OAuth authorization server enabled");
        issuers.push(server.issuer().to_owned());
        assembled.http.extra_routes = Some(server.router());
    }
    if let (Some(admin), false) = (&config.admin, stdio) {
        let console = crate::admin_setup::console(
            loaded,
            admin,
            &public,
            audit_store,
            assembled.authenticator.clone(),
            assembled.gateway.clone(),
            assembled.authz.clone(),
        )
        .with_context(|| loaded.path.display().to_string())?;
        let routes = console.router();
        assembled.http.extra_routes = Some(match assembled.http.extra_routes.take() {
            Some(existing) => existing.merge(routes),
            None => routes,
        });
    }
    issuers.extend(
        config
            .auth
            .jwt
            .iter()
            .map(|i| &i.issuer)
            .chain(config.auth.introspection.iter().map(|i| &i.issuer))
            .map(|issuer| issuer.as_str().trim_end_matches('/').to_owned()),
    );
    if !issuers.is_empty() {
        assembled.http.protected_resource = Some(protected_resource(
            issuers,
            &assembled.public_url,
            &assembled.authz.current(),
        ));
    }
    Ok(assembled)
}

/// Build the gateway from already prepared backends (the demo uses this).
/// Starts the audit writer, so it must run inside the Tokio runtime.
pub fn from_parts(
    server: &ServerConfig,
    audit: AuditParts,
    authenticator: Arc<dyn Authenticator>,
    backends: Vec<BackendParts>,
    authz: &AuthzParts,
) -> anyhow::Result<Assembled> {
    let mut catalog = Catalog::new();
    let mut warnings = Vec::new();
    let mut upstreams = Vec::new();
    for backend in backends {
        let finish = |spec| {
            finish_spec(
                &backend.name,
                &backend.tool_prefix,
                &backend.accepted_auth,
                spec,
            )
        };
        let (served, specs): (Arc<dyn mcpgate_server::Backend>, Vec<_>) = match backend.source {
            BackendSource::Mcp(mcp) => {
                upstreams.push((mcp.backend.clone(), mcp.forwarded));
                // Named with the prefix already: finished without one.
                let specs = mcp
                    .tools
                    .into_iter()
                    .map(|spec| finish_spec(&backend.name, "", &backend.accepted_auth, spec))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                (mcp.backend, specs)
            }
            BackendSource::Echo => (
                Arc::new(EchoBackend),
                vec![finish(EchoBackend::tool_spec(&backend.name))?],
            ),
            BackendSource::OpenApi(api) => {
                warnings.extend(
                    api.import
                        .warnings
                        .iter()
                        .map(|w| format!("backends.{}: {w}", backend.name)),
                );
                let executor = HttpExecutor::new(ExecutorConfig {
                    base_url: api.base_url,
                    credential: api.credential,
                    timeout: api.timeout,
                    max_response_bytes: api.max_response_bytes,
                })
                .context("cannot create the HTTP client")?;
                let mut operations = HashMap::new();
                let mut specs = Vec::new();
                for tool in api.import.tools {
                    let spec = finish(tool.spec)?;
                    operations.insert(spec.name.clone(), tool.operation);
                    specs.push(spec);
                }
                (Arc::new(OpenApiBackend::new(executor, operations)), specs)
            }
        };
        for spec in specs {
            catalog.add(spec, served.clone())?;
        }
    }
    let tools: Vec<mcpgate_core::ToolSpec> = catalog.specs().cloned().collect();
    let policy = authz.compile(&tools)?;
    warnings.extend(policy.warnings().iter().cloned());
    let policy = Arc::new(Reloadable::new(policy));
    let public_url = public_url(server)?;
    let (sink, audit, fail_closed, redactor) = audit.start();
    let gateway = Gateway::new(
        catalog,
        policy.clone(),
        Arc::new(sink),
        GatewayOptions {
            page_size: server.page_size,
            instructions: server.instructions.clone(),
            fail_closed,
            redactor,
        },
    )
    .with_upstreams(Upstreams::new(upstreams));
    Ok(Assembled {
        gateway: Arc::new(gateway),
        authenticator,
        audit,
        authz: policy,
        http: http_options(server, &public_url),
        public_url,
        warnings,
    })
}

/// The URL clients use for the MCP endpoint (the resource, RFC 8707).
pub fn public_url(server: &ServerConfig) -> anyhow::Result<Url> {
    match &server.public_url {
        Some(url) => Ok(url.clone()),
        None => Url::parse(&format!(
            "{}://{}{}",
            if server.tls.is_some() {
                "https"
            } else {
                "http"
            },
            server.listen,
            server.path
        ))
        .context("server.listen and server.path do not make a URL"),
    }
}

fn http_options(server: &ServerConfig, public_url: &Url) -> HttpOptions {
    let port = server.listen.port();
    let mut hosts = vec![server.listen.to_string()];
    if server.listen.ip().is_loopback() || server.listen.ip().is_unspecified() {
        hosts.extend([
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ]);
    }
    if let Some(host) = public_url.host_str() {
        match public_url.port() {
            Some(port) => hosts.push(format!("{host}:{port}")),
            None => hosts.push(host.to_owned()),
        }
    }
    hosts.extend(server.allowed_hosts.iter().cloned());
    let mut origins = vec![public_url.origin().ascii_serialization()];
    origins.extend(server.allowed_origins.iter().cloned());
    HttpOptions {
        path: server.path.clone(),
        allowed_hosts: hosts,
        allowed_origins: origins,
        max_body_bytes: server.max_body_bytes,
        protected_resource: None,
        extra_routes: None,
    }
}

/// Protected Resource Metadata naming the configured identity providers.
fn protected_resource(
    issuers: Vec<String>,
    public_url: &Url,
    policy: &Policy,
) -> ProtectedResource {
    // RFC 9728 §3.1: the well-known segment goes between host and path.
    let mut metadata_url = public_url.clone();
    metadata_url.set_path(&format!(
        "/.well-known/oauth-protected-resource{}",
        public_url.path().trim_end_matches('/')
    ));
    metadata_url.set_query(None);
    ProtectedResource {
        resource: public_url.to_string(),
        authorization_servers: issuers,
        scopes_supported: policy.all_scopes(),
        challenge_scopes: policy.read_scopes(),
        metadata_url: metadata_url.to_string(),
    }
}

async fn backend_parts(
    name: &str,
    backend: &BackendConfig,
    base_dir: &Path,
) -> anyhow::Result<BackendParts> {
    let source = match backend.kind {
        BackendKind::Echo => BackendSource::Echo,
        BackendKind::Mcp => BackendSource::Mcp(Box::new(mcp_parts(name, backend, base_dir).await?)),
        BackendKind::Openapi => {
            BackendSource::OpenApi(Box::new(openapi_parts(name, backend, base_dir).await?))
        }
    };
    Ok(BackendParts {
        name: name.to_owned(),
        tool_prefix: backend.tool_prefix(name),
        accepted_auth: backend.accepted_auth.clone(),
        source,
    })
}

async fn openapi_parts(
    name: &str,
    backend: &BackendConfig,
    base_dir: &Path,
) -> anyhow::Result<OpenApiParts> {
    let text = read_spec(&backend.spec, base_dir).await?;
    let import = mcpgate_openapi::import_str(&text, name)
        .with_context(|| format!("spec {}", backend.spec))?;
    let base_url = match &backend.base_url {
        Some(url) => url.clone(),
        None => import
            .default_server
            .as_deref()
            .and_then(|s| Url::parse(s).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .with_context(|| {
                format!(
                    "the spec declares no absolute http(s) server URL (found {:?}); set base_url",
                    import.default_server
                )
            })?,
    };
    let credential = backend
        .credential
        .as_ref()
        .map(|c| resolve_credential(c, base_dir))
        .transpose()
        .context("credential")?;
    Ok(OpenApiParts {
        import,
        base_url,
        credential,
        timeout: backend.timeout,
        max_response_bytes: backend.max_response_bytes,
    })
}

fn resolve_credential(
    config: &CredentialConfig,
    base_dir: &Path,
) -> anyhow::Result<BackendCredential> {
    Ok(match config {
        CredentialConfig::Header { name, value } => BackendCredential::Header {
            name: name.clone(),
            value: value.resolve(base_dir)?,
        },
        CredentialConfig::Query { name, value } => BackendCredential::Query {
            name: name.clone(),
            value: value.resolve(base_dir)?,
        },
        CredentialConfig::Cookie { name, value } => BackendCredential::Cookie {
            name: name.clone(),
            value: value.resolve(base_dir)?,
        },
        CredentialConfig::Bearer { value } => BackendCredential::Bearer(value.resolve(base_dir)?),
        CredentialConfig::Basic { username, password } => BackendCredential::Basic {
            username: username.clone(),
            password: password.resolve(base_dir)?,
        },
    })
}

/// Start (or connect to) an MCP backend and list the tools it offers
/// through the gateway.
async fn mcp_parts(
    name: &str,
    backend: &BackendConfig,
    base_dir: &Path,
) -> anyhow::Result<McpParts> {
    let transport = match (&backend.command, &backend.url) {
        (Some(command), _) => {
            let mut env = Vec::new();
            for (variable, value) in &backend.env {
                let value = match value {
                    EnvValue::Plain(text) => text.clone(),
                    EnvValue::Secret(secret) => {
                        use secrecy::ExposeSecret;
                        secret
                            .resolve(base_dir)
                            .with_context(|| format!("env.{variable}"))?
                            .expose_secret()
                            .to_owned()
                    }
                };
                env.push((variable.clone(), value));
            }
            UpstreamTransport::Stdio {
                command: command.into(),
                args: backend.args.clone(),
                env,
                cwd: Some(base_dir.join(backend.cwd.as_deref().unwrap_or("."))),
            }
        }
        (None, Some(url)) => UpstreamTransport::Http {
            url: url.to_string(),
            headers: match &backend.credential {
                Some(credential) => {
                    vec![credential_header(credential, base_dir).context("credential")?]
                }
                None => Vec::new(),
            },
        },
        (None, None) => bail!("an MCP backend needs `command` or `url`"),
    };
    let options = UpstreamOptions {
        name: name.to_owned(),
        transport,
        timeout: backend.timeout,
        connect_timeout: backend.connect_timeout,
    };
    let upstream = McpBackend::start(options, backend.tool_prefix(name)).await?;
    let listed = upstream.list_tools().await?;
    let tools = offered_specs(name, &ToolSelection::of(backend), &upstream, &listed);
    Ok(McpParts {
        backend: upstream,
        tools,
        forwarded: mcpgate_server::upstream::Forwarded {
            resources: backend.forward.contains(&Forwarded::Resources),
            prompts: backend.forward.contains(&Forwarded::Prompts),
        },
    })
}

/// The tools of an upstream that the gateway offers: those that pass the
/// include and exclude lists and make valid names with the prefix, marked
/// read-only where the config says so.
fn offered_specs(
    name: &str,
    backend: &ToolSelection,
    upstream: &McpBackend,
    listed: &[UpstreamTool],
) -> Vec<mcpgate_core::ToolSpec> {
    listed
        .iter()
        .filter(|tool| offered(backend, &tool.name))
        .filter(|tool| {
            let shown = format!("{}{}", upstream.prefix(), tool.name);
            let valid = mcpgate_core::is_valid_tool_name(&shown);
            if !valid {
                tracing::warn!(
                    backend = name,
                    tool = %shown,
                    "MCP backend tool skipped: not a valid tool name (1-64 of A-Z a-z 0-9 _ -); shorten tool_prefix or exclude it"
                );
            }
            valid
        })
        .map(|tool| {
            let read_only = backend
                .read_only_tools
                .iter()
                .any(|pattern| mcpgate_core::glob_matches(pattern, &tool.name));
            upstream.tool_spec(tool, read_only)
        })
        .collect()
}

/// Keep the catalog in step with the MCP backends: when one says its tools
/// changed (or it was restarted), list them again, recompile the
/// authorization policy for the new catalog, put both in force and tell
/// the open sessions. A catalog whose policy does not compile is refused,
/// and the one in force stays.
pub fn watch_upstream_tools(loaded: &LoadedConfig, assembled: &Assembled) {
    let gateway = assembled.gateway.clone();
    for upstream in gateway.upstreams().backends() {
        let name = upstream.name().to_owned();
        let Some(backend) = loaded.config.backends.get(&name) else {
            continue;
        };
        let selection = ToolSelection::of(backend);
        let accepted_auth = backend.accepted_auth.clone();
        let upstream = upstream.clone();
        let gateway = gateway.clone();
        let authz = assembled.authz.clone();
        let authz_parts = AuthzParts::from_config(loaded);
        tokio::spawn(async move {
            loop {
                upstream.tools_changed().await;
                let listed = match upstream.list_tools().await {
                    Ok(listed) => listed,
                    Err(error) => {
                        tracing::warn!(backend = %name, %error, "tools not refreshed");
                        continue;
                    }
                };
                let refreshed = offered_specs(&name, &selection, &upstream, &listed)
                    .into_iter()
                    .map(|spec| finish_spec(&name, "", &accepted_auth, spec))
                    .collect::<anyhow::Result<Vec<_>>>()
                    .and_then(|specs| {
                        let served: Arc<dyn mcpgate_server::Backend> = upstream.clone();
                        Ok(gateway.catalog().with_backend_tools(&name, specs, served)?)
                    })
                    .and_then(|catalog| {
                        let tools: Vec<_> = catalog.specs().cloned().collect();
                        Ok((authz_parts.compile(&tools)?, catalog))
                    });
                match refreshed {
                    Ok((policy, catalog)) => {
                        let tools = catalog.len();
                        gateway.replace_catalog(catalog).await;
                        authz.replace(policy);
                        tracing::info!(backend = %name, tools, "MCP backend tools refreshed");
                    }
                    Err(error) => tracing::error!(
                        backend = %name,
                        "MCP backend tools changed but NOT refreshed, the previous catalog stays: {error:#}"
                    ),
                }
            }
        });
    }
}

/// Which upstream tools a backend offers, and which are read-only.
struct ToolSelection {
    include_tools: Vec<String>,
    exclude_tools: Vec<String>,
    read_only_tools: Vec<String>,
}

impl ToolSelection {
    fn of(backend: &BackendConfig) -> Self {
        ToolSelection {
            include_tools: backend.include_tools.clone(),
            exclude_tools: backend.exclude_tools.clone(),
            read_only_tools: backend.read_only_tools.clone(),
        }
    }
}

/// Whether the upstream tool `name` passes the backend's include and
/// exclude lists.
fn offered(backend: &ToolSelection, name: &str) -> bool {
    mcpgate_core::any_matches(&backend.include_tools, name)
        && !backend
            .exclude_tools
            .iter()
            .any(|pattern| mcpgate_core::glob_matches(pattern, name))
}

/// The header that carries an MCP backend's own credential.
fn credential_header(
    config: &CredentialConfig,
    base_dir: &Path,
) -> anyhow::Result<(http::HeaderName, http::HeaderValue)> {
    use base64::Engine;
    use secrecy::ExposeSecret;
    let (name, value) = match config {
        CredentialConfig::Header { name, value } => (
            http::HeaderName::try_from(name.as_str())
                .with_context(|| format!("header name `{name}`"))?,
            value.resolve(base_dir)?.expose_secret().to_owned(),
        ),
        CredentialConfig::Bearer { value } => (
            http::header::AUTHORIZATION,
            format!("Bearer {}", value.resolve(base_dir)?.expose_secret()),
        ),
        CredentialConfig::Basic { username, password } => (
            http::header::AUTHORIZATION,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{username}:{}",
                    password.resolve(base_dir)?.expose_secret()
                ))
            ),
        ),
        CredentialConfig::Query { .. } | CredentialConfig::Cookie { .. } => {
            bail!("an MCP server takes its credential in a header")
        }
    };
    let mut value =
        http::HeaderValue::try_from(value).context("the credential is not a valid header value")?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// Read a spec from a file (relative to the config) or an http(s) URL.
pub async fn read_spec(location: &str, base_dir: &Path) -> anyhow::Result<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let mut response = client
            .get(location)
            .send()
            .await
            .with_context(|| format!("cannot fetch spec {location}"))?;
        if !response.status().is_success() {
            bail!(
                "fetching spec {location} answered HTTP {}",
                response.status()
            );
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_SPEC_BYTES {
                bail!("spec {location} is larger than {MAX_SPEC_BYTES} bytes");
            }
            body.extend_from_slice(&chunk);
        }
        return String::from_utf8(body)
            .with_context(|| format!("spec {location} is not UTF-8 text"));
    }
    let path = base_dir.join(location);
    std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read spec file {}", path.display()))
}
