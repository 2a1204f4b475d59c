//! `mcpgate init`: ask how the gateway will be used, recommend an
//! authentication strategy with the reason, and write a commented config
//! for it.
//!
//! - [`answers`]: the questions' values and how they are read;
//! - [`questions`]: flags first, then prompts in a terminal;
//! - [`strategy`]: the pure decision, answers → recommendation;
//! - [`spec`]: what the OpenAPI spec contributes (scopes, credential);
//! - [`template`]: the config text;
//! - [`next_steps`]: what to run afterwards.

mod answers;
mod next_steps;
mod questions;
mod spec;
mod strategy;
mod template;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use url::Url;

use crate::cli::InitArgs;
use answers::{InvalidAnswer, Runs};
use questions::Prompter;
use spec::SpecSummary;
use strategy::Strategy;
use template::Plan;

/// The spec as given and what it says.
struct SpecInput {
    /// `backends.NAME.spec` as written in the config.
    location: String,
    /// What the importer found.
    import: mcpgate_openapi::Import,
    /// The backend name it suggests.
    suggested_backend: String,
}

/// Ask (or read the flags), recommend, write the config, print what to do next.
pub async fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    // Before any question: an answer given for nothing is a waste of time.
    if args.output.exists() && !args.force {
        bail!(
            "{} exists; pass --force to overwrite it, or --output to write another file",
            args.output.display()
        );
    }
    // The flags that only shape the config are checked before any question, too.
    let backend_flag = args
        .backend
        .as_deref()
        .map(check_backend_name)
        .transpose()?;
    let base_url_flag = args
        .base_url
        .as_deref()
        .map(|url| check_base_url(url).map_err(|e| anyhow::anyhow!("--base-url: {e}")))
        .transpose()?;
    let public_url = args
        .public_url
        .as_deref()
        .map(|text| {
            Url::parse(text)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .with_context(|| {
                    format!("--public-url `{text}` is not an http(s) URL, e.g. https://mcp.example.com/mcp")
                })
        })
        .transpose()?;
    let output_dir = parent_dir(&args.output);
    let spec = match &args.spec {
        Some(location) => Some(read_spec(location, &output_dir).await?),
        None => None,
    };
    let interactive = !args.no_input && std::io::stdin().is_terminal();
    let mut terminal = interactive.then(|| {
        Prompter::new(std::io::stdin().lock(), std::io::stderr()).with_intro(format!(
            "mcpgate init: a few questions about how the gateway will be used, then a \
             recommendation with its reason, and {}.",
            args.output.display()
        ))
    });
    let answers = questions::gather(&args, terminal.as_mut())?;
    let recommendation = strategy::recommend(&answers);

    let spec = match spec {
        Some(spec) => Some(spec),
        None => match questions::optional_text(
            terminal.as_mut(),
            "The OpenAPI spec of the API to put behind mcpgate (a file or an http(s) URL)?",
            "spec [path/URL, empty to fill in later]",
            check_spec_location,
        )? {
            Some(location) => Some(read_spec(&location, &output_dir).await?),
            None => None,
        },
    };
    let backend = match backend_flag {
        Some(name) => name,
        None => spec
            .as_ref()
            .map_or_else(|| "api".to_owned(), |s| s.suggested_backend.clone()),
    };
    let summary: Option<SpecSummary> = spec.as_ref().map(|s| spec::summarize(&s.import, &backend));
    let base_url = match base_url_flag {
        Some(url) => Some(url),
        None => match summary.as_ref().and_then(|s| s.server.clone()) {
            Some(server) => Some(server),
            None if spec.is_some() => questions::optional_text(
                terminal.as_mut(),
                "The spec names no absolute server URL. Where does the API run?",
                "base URL [http(s) URL, empty to fill in later]",
                check_base_url,
            )?,
            None => None,
        },
    };
    let listen = args
        .listen
        .unwrap_or_else(|| default_listen(&recommendation.strategy, answers.runs));
    if recommendation.strategy == Strategy::Stdio && !listen.ip().is_loopback() {
        bail!(
            "--listen {listen}: the local single-user profile has no authentication, so it \
             listens on loopback only (e.g. 127.0.0.1:8080); for a gateway others reach, answer \
             --runs remote"
        );
    }
    let environment = if answers.runs == Runs::Remote {
        "prod"
    } else {
        "dev"
    };
    let plan = Plan {
        recommendation: &recommendation,
        runs: answers.runs,
        users: answers.users,
        idp: answers.idp.as_ref(),
        listen,
        public_url: public_url.as_ref(),
        environment,
        backend: &backend,
        spec_location: spec.as_ref().map(|s| s.location.as_str()),
        base_url: base_url.as_deref(),
        spec: summary.as_ref(),
    };
    let text = template::render(&plan);
    // What is written must load: a bug here must not become the user's problem.
    crate::config::parse(&text, &args.output.display().to_string())
        .context("mcpgate init produced a config that does not load (a bug; please report it)")?;
    write_config(&args.output, &text, args.force)?;

    let steps = next_steps::render(&plan, &args.output);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(steps.as_bytes())?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn default_listen(strategy: &Strategy, runs: Runs) -> SocketAddr {
    match (runs, strategy) {
        (Runs::Local, _) | (_, Strategy::Stdio) => SocketAddr::from(([127, 0, 0, 1], 8080)),
        (Runs::Remote, Strategy::MutualTls) => SocketAddr::from(([0, 0, 0, 0], 8443)),
        (Runs::Remote, _) => SocketAddr::from(([0, 0, 0, 0], 8080)),
    }
}

/// The directory the config goes in (created if needed).
fn parent_dir(output: &Path) -> PathBuf {
    match output.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn is_url(location: &str) -> bool {
    location.starts_with("http://") || location.starts_with("https://")
}

fn check_spec_location(text: &str) -> Result<String, InvalidAnswer> {
    let text = text.trim();
    if is_url(text) || Path::new(text).is_file() {
        return Ok(text.to_owned());
    }
    Err(InvalidAnswer {
        given: text.to_owned(),
        expected: "a readable file or an http(s) URL".to_owned(),
    })
}

fn check_base_url(text: &str) -> Result<String, InvalidAnswer> {
    let text = text.trim();
    match Url::parse(text) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.query().is_none()
                && url.fragment().is_none() =>
        {
            Ok(text.to_owned())
        }
        _ => Err(InvalidAnswer {
            given: text.to_owned(),
            expected: "an http(s) URL without query, e.g. https://api.example.com/v1".to_owned(),
        }),
    }
}

fn check_backend_name(name: &str) -> anyhow::Result<String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        bail!("--backend `{name}` may only use letters, digits, `_` and `-` (e.g. `inventory`)");
    }
    Ok(name.to_owned())
}

/// Import the spec and say how the config refers to it: a URL as is, a file
/// relative to the config's directory when it is inside it, else absolute.
async fn read_spec(location: &str, output_dir: &Path) -> anyhow::Result<SpecInput> {
    let (import, written, stem) = if is_url(location) {
        let text = crate::assemble::read_spec(location, Path::new(".")).await?;
        let import = mcpgate_openapi::import_str(&text, "api")
            .with_context(|| format!("cannot import the spec {location}"))?;
        (import, location.to_owned(), String::new())
    } else {
        let path = Path::new(location);
        let import = mcpgate_openapi::import_file(path, "api")
            .with_context(|| format!("cannot import the spec {location}"))?;
        let absolute = path
            .canonicalize()
            .with_context(|| format!("cannot resolve {location}"))?;
        std::fs::create_dir_all(output_dir)
            .with_context(|| format!("cannot create {}", output_dir.display()))?;
        let dir = output_dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", output_dir.display()))?;
        let written = absolute.strip_prefix(&dir).unwrap_or(&absolute);
        let Some(written) = written.to_str() else {
            bail!(
                "the spec's path {} is not UTF-8; move or rename it",
                absolute.display()
            );
        };
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        (import, written.to_owned(), stem)
    };
    let suggested_backend = spec::backend_name(&import.title, &stem);
    Ok(SpecInput {
        location: written,
        import,
        suggested_backend,
    })
}

/// Write the config, refusing to replace a file unless `force`.
fn write_config(path: &Path, text: &str, force: bool) -> anyhow::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // Checked again here: the file may have appeared while we asked.
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} exists; pass --force to overwrite it, or --output to write another file",
                path.display()
            )
        } else {
            anyhow::anyhow!("cannot write {}: {error}", path.display())
        }
    })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
