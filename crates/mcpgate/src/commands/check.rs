//! `mcpgate check`.

use std::process::ExitCode;

use crate::assemble;
use crate::cli::CheckArgs;
use crate::config;

pub async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = config::load(&args.config)?;
    let assembled = assemble::from_config(&loaded).await?;
    println!(
        "{}: OK — {} tool(s) from {} backend(s), MCP endpoint {}",
        args.config.display(),
        assembled.gateway.catalog().len(),
        loaded.config.backends.len(),
        assembled.public_url
    );
    for warning in &assembled.warnings {
        println!("warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}
