//! `mcpgate check`.

use std::process::ExitCode;

use crate::assemble;
use crate::cli::CheckArgs;
use crate::config;
use crate::outln;

pub async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = config::load(&args.config)?;
    let assembled = assemble::from_config(&loaded, false).await?;
    outln!(
        "{}: OK — {} tool(s) from {} backend(s), MCP endpoint {}",
        args.config.display(),
        assembled.gateway.catalog().len(),
        loaded.config.backends.len(),
        assembled.public_url
    );
    let policy = assembled.authz.current();
    outln!(
        "authorization: {} tool(s) hidden by read-only mode, {} Cedar polic{}, {} rate limit(s)",
        policy.hidden_by_read_only_mode(),
        policy.policy_count(),
        if policy.policy_count() == 1 {
            "y"
        } else {
            "ies"
        },
        policy.rate_limit_count()
    );
    for warning in &assembled.warnings {
        outln!("warning: {warning}");
    }
    let assemble::Assembled { gateway, audit, .. } = assembled;
    gateway.upstreams().shutdown().await;
    drop(gateway);
    audit.finish().await;
    Ok(ExitCode::SUCCESS)
}
