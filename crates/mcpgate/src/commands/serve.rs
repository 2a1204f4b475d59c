//! `mcpgate serve`.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, bail};
use mcpgate_core::Identity;
use mcpgate_server::http;
use tokio_util::sync::CancellationToken;

use crate::assemble::{self, Assembled};
use crate::cli::ServeArgs;
use crate::config;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut loaded = config::load(&args.config)?;
    if let Some(listen) = args.listen {
        loaded.config.server.listen = listen;
    }
    if args.stdio {
        let assembled = assemble::from_config(&loaded, true).await?;
        log_warnings(&assembled);
        reload_on_hangup(&args.config, &assembled);
        assemble::watch_upstream_tools(&loaded, &assembled);
        serve_stdio(assembled).await?;
        return Ok(ExitCode::SUCCESS);
    }
    refuse_open_bind(
        loaded.config.no_auth(),
        loaded.config.server.listen,
        args.insecure_no_auth,
    )?;
    let listener = bind(loaded.config.server.listen).await?;
    // With port 0 the system picks one: the URL and Host checks need the real one.
    loaded.config.server.listen = listener.local_addr()?;
    let tls = loaded
        .config
        .server
        .tls
        .as_ref()
        .map(|tls| crate::tls_setup::rustls_config(tls, loaded.base_dir()))
        .transpose()?;
    let assembled = assemble::from_config(&loaded, false).await?;
    log_warnings(&assembled);
    reload_on_hangup(&args.config, &assembled);
    assemble::watch_upstream_tools(&loaded, &assembled);
    serve_http(assembled, listener, tls).await?;
    Ok(ExitCode::SUCCESS)
}

fn log_warnings(assembled: &Assembled) {
    for warning in &assembled.warnings {
        tracing::warn!("{warning}");
    }
}

/// On SIGHUP, read the config file again and put its authorization
/// settings (`[authz]`, policy files, `backends.*.read_only`) in force. A
/// config or policy that does not compile is refused with its error, and
/// the policy in force stays. Other settings need a restart.
fn reload_on_hangup(path: &std::path::Path, assembled: &Assembled) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; policy reload is unavailable");
                return;
            }
        };
        let path = path.to_owned();
        let gateway = assembled.gateway.clone();
        let authz = assembled.authz.clone();
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                // The catalog as it is now: MCP backends' tools can change.
                let tools: Vec<mcpgate_core::ToolSpec> =
                    gateway.catalog().specs().cloned().collect();
                match reload_policy(&path, &tools) {
                    Ok(policy) => {
                        for warning in policy.warnings() {
                            tracing::warn!("{warning}");
                        }
                        let policies = policy.policy_count();
                        authz.replace(policy);
                        tracing::info!(
                            config = %path.display(),
                            policies,
                            "authorization policy reloaded"
                        );
                    }
                    Err(error) => tracing::error!(
                        config = %path.display(),
                        "authorization policy NOT reloaded, the previous one stays in force: {error:#}"
                    ),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (path, assembled);
}

fn reload_policy(
    path: &std::path::Path,
    tools: &[mcpgate_core::ToolSpec],
) -> anyhow::Result<mcpgate_authz::Policy> {
    let loaded = config::load(path)?;
    assemble::AuthzParts::from_config(&loaded)
        .compile(tools)
        .with_context(|| path.display().to_string())
}

/// Bind the HTTP listener.
pub async fn bind(address: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}

/// Without authentication, anyone who reaches the address may call every
/// tool: only loopback is safe, unless the operator insists.
fn refuse_open_bind(no_auth: bool, listen: SocketAddr, forced: bool) -> anyhow::Result<()> {
    if !no_auth || listen.ip().is_loopback() {
        return Ok(());
    }
    if !forced {
        bail!(
            "refusing to serve without authentication on {listen}, which is not a loopback address: \
             anyone who can reach it could call every tool. Bind to 127.0.0.1, configure [auth.api_keys], \
             or pass --insecure-no-auth if you really mean it"
        );
    }
    tracing::warn!(
        %listen,
        "SERVING WITHOUT AUTHENTICATION ON A NON-LOOPBACK ADDRESS (--insecure-no-auth): \
         anyone who can reach this address can call every tool"
    );
    Ok(())
}

/// Serve HTTP on `listener` until Ctrl-C or SIGTERM, then write what the
/// audit log still has queued.
pub async fn serve_http(
    assembled: Assembled,
    listener: tokio::net::TcpListener,
    tls: Option<std::sync::Arc<mcpgate_server::tls::ServerConfig>>,
) -> anyhow::Result<()> {
    let Assembled {
        gateway,
        authenticator,
        audit,
        http: options,
        public_url,
        ..
    } = assembled;
    let shutdown = CancellationToken::new();
    let router = http::router(gateway.clone(), authenticator, &options, shutdown.clone());
    tracing::info!(
        listen = %listener.local_addr()?,
        public_url = %public_url,
        tools = gateway.catalog().len(),
        tls = tls.is_some(),
        "mcpgate is serving MCP over Streamable HTTP"
    );
    let stop = shutdown.clone();
    let on_signal = async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        stop.cancel();
    };
    let served = match tls {
        Some(config) => {
            tokio::spawn(on_signal);
            mcpgate_server::tls::serve(listener, router, config, shutdown)
                .await
                .context("the HTTPS server failed")
        }
        None => axum::serve(
            // Answers are streamed (SSE) in several writes: without
            // TCP_NODELAY, Nagle's algorithm holds the last one back until
            // the client's delayed ACK, some 40 ms later.
            axum::serve::ListenerExt::tap_io(listener, |stream| {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY");
                }
            }),
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(on_signal)
        .await
        .context("the HTTP server failed"),
    };
    gateway.upstreams().shutdown().await;
    audit.finish().await;
    served
}

/// Serve one MCP session on stdin/stdout, then write what the audit log
/// still has queued.
pub async fn serve_stdio(assembled: Assembled) -> anyhow::Result<()> {
    let Assembled { gateway, audit, .. } = assembled;
    tracing::info!(tools = gateway.catalog().len(), "serving MCP on stdio");
    let served = mcpgate_server::stdio::serve_stdio(gateway.clone(), Identity::local()).await;
    gateway.upstreams().shutdown().await;
    audit.finish().await;
    Ok(served?)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_auth_is_refused_off_loopback_unless_forced() {
        let open: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let lan: SocketAddr = "192.0.2.10:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let local6: SocketAddr = "[::1]:8080".parse().unwrap();
        assert!(refuse_open_bind(true, open, false).is_err());
        assert!(refuse_open_bind(true, lan, false).is_err());
        assert!(refuse_open_bind(true, local, false).is_ok());
        assert!(refuse_open_bind(true, local6, false).is_ok());
        assert!(refuse_open_bind(true, open, true).is_ok());
        assert!(
            refuse_open_bind(false, open, false).is_ok(),
            "with authentication any address is fine"
        );
    }
}
