//! One module per subcommand.

mod audit;
mod authz;
mod check;
mod demo;
mod doctor;
mod import;
mod init;
mod keys;
mod oauth;
mod serve;

use std::process::ExitCode;

use crate::cli::Command;

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(args).await,
        Command::Import(args) => import::run(args).await,
        Command::Check(args) => check::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Migrate(args) => audit::migrate(args).await,
        Command::Audit(args) => audit::run(args.command).await,
        Command::Keys(args) => keys::run(args).await,
        Command::Tokens(args) => oauth::tokens(args).await,
        Command::Clients(args) => oauth::clients(args).await,
        Command::Authz(args) => authz::run(args).await,
        Command::Init(args) => init::run(args).await,
        Command::Doctor(args) => doctor::run(args).await,
    }
}
