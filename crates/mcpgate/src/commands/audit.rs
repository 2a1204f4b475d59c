//! `mcpgate migrate` and `mcpgate audit …`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use mcpgate_store::Store;
use mcpgate_store::audit::{
    AuditFilter, AuditRecord, CheckpointSigner, VerifyingKey, verify_chain,
    verifying_key_from_base64,
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::audit_setup::describe_store;
use crate::cli::{AuditCommand, DecisionArg, StoreArgs};
use crate::config::{self, parse_duration};
use crate::outln;

/// Records read per query when exporting or following.
const PAGE: i64 = 1_000;

pub async fn migrate(args: StoreArgs) -> anyhow::Result<ExitCode> {
    let (store, url) = open(&args).await?;
    outln!(
        "{}: schema up to date ({})",
        describe_store(&url),
        store.kind()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Tail {
            store,
            lines,
            follow,
            json,
        } => {
            let (store, _) = open(&store).await?;
            let filter = AuditFilter {
                limit: Some(lines.max(0)),
                newest_first: true,
                ..AuditFilter::default()
            };
            let mut last = 0;
            for record in store.audit_records(&filter).await? {
                print_record(&record, json)?;
                last = record.seq;
            }
            if follow {
                if last == 0 {
                    last = store.audit_head().await?.seq;
                }
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    let filter = AuditFilter {
                        after_seq: Some(last),
                        limit: Some(PAGE),
                        ..AuditFilter::default()
                    };
                    for record in store.audit_records(&filter).await? {
                        print_record(&record, json)?;
                        last = record.seq;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Query {
            store,
            subject,
            tool,
            since,
            decision,
            limit,
            json,
        } => {
            let (store, _) = open(&store).await?;
            let filter = AuditFilter {
                subject,
                tool,
                since: since.as_deref().map(since_time).transpose()?,
                decision: decision.map(|d| match d {
                    DecisionArg::Allow => "allow".to_owned(),
                    DecisionArg::Deny => "deny".to_owned(),
                }),
                limit: Some(limit.max(0)),
                newest_first: true,
                after_seq: None,
            };
            let records = store.audit_records(&filter).await?;
            for record in &records {
                print_record(record, json)?;
            }
            if !json {
                eprintln!("{} record(s)", records.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export {
            store,
            format: _,
            since,
        } => {
            let (store, _) = open(&store).await?;
            let since = since.as_deref().map(since_time).transpose()?;
            let mut after = 0;
            loop {
                let filter = AuditFilter {
                    after_seq: Some(after),
                    since: since.clone(),
                    limit: Some(PAGE),
                    ..AuditFilter::default()
                };
                let page = store.audit_records(&filter).await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for record in &page {
                    outln!("{}", export_line(record));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { store, public_key } => verify(&store, public_key.as_deref()).await,
        AuditCommand::Keygen => {
            let (signer, seed) = CheckpointSigner::generate()?;
            outln!(
                "signing key (keep secret; reference it as audit.signing_key = \"file:…\" or \"env:…\"):"
            );
            outln!("{seed}");
            outln!("public key (give to auditors: mcpgate audit verify --public-key …):");
            outln!("{}", signer.public_key_base64());
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn verify(args: &StoreArgs, public_key: Option<&str>) -> anyhow::Result<ExitCode> {
    let (store, url) = open(args).await?;
    let key = match public_key {
        Some(text) => Some(verifying_key_from_base64(text).context("--public-key")?),
        None => configured_public_key(args)?,
    };
    let report = verify_chain(&*store, key.as_ref()).await?;
    let signed = match (report.last_signed_seq, key.is_some()) {
        (Some(seq), true) => format!("signed checkpoints verified up to record {seq}"),
        (Some(seq), false) => {
            format!("checkpoints cover up to record {seq} (signatures not checked: no key given)")
        }
        (None, _) => {
            "no checkpoints: truncation of the newest records cannot be detected".to_owned()
        }
    };
    if report.is_ok() {
        outln!(
            "{}: OK — {} record(s), chain intact; {signed}",
            describe_store(&url),
            report.records
        );
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{}: TAMPERING DETECTED in {} record(s) read",
        describe_store(&url),
        report.records
    );
    for problem in &report.problems {
        outln!("  - {problem}");
    }
    Ok(ExitCode::FAILURE)
}

/// The public half of the config's signing key, if the config has one.
fn configured_public_key(args: &StoreArgs) -> anyhow::Result<Option<VerifyingKey>> {
    if !args.config.exists() {
        return Ok(None);
    }
    let loaded = config::load(&args.config)?;
    let Some(reference) = &loaded.config.audit.signing_key else {
        return Ok(None);
    };
    let seed = reference.resolve(loaded.base_dir())?;
    Ok(Some(
        CheckpointSigner::from_base64(seed.expose_secret())?.verifying_key(),
    ))
}

/// The store named by `--store`, or the config's.
async fn open(args: &StoreArgs) -> anyhow::Result<(Arc<dyn Store>, String)> {
    let url = match &args.store {
        Some(url) => url.clone(),
        None => {
            if !args.config.exists() {
                bail!(
                    "no store given: pass --store sqlite:PATH (or postgres://…), or --config FILE \
                     ({} does not exist)",
                    args.config.display()
                );
            }
            config::load(&args.config)?
                .store_url()
                .context("store.url")?
        }
    };
    let store = mcpgate_store::open(&url)
        .await
        .with_context(|| format!("cannot open the store {}", describe_store(&url)))?;
    Ok((store, url))
}

/// `1h` → the RFC 3339 time one hour ago; an RFC 3339 time as it is.
fn since_time(text: &str) -> anyhow::Result<String> {
    if text.contains('T') && text.ends_with('Z') {
        return Ok(text.to_owned());
    }
    let age = parse_duration(text)
        .map_err(anyhow::Error::msg)
        .context("--since")?;
    let start = SystemTime::now()
        .checked_sub(age)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(mcpgate_core::format_rfc3339(start))
}

fn print_record(record: &AuditRecord, json: bool) -> std::io::Result<()> {
    if json {
        outln!("{}", export_line(record));
        return Ok(());
    }
    let entry = &record.entry;
    let body: Value = serde_json::from_str(&entry.body).unwrap_or(Value::Null);
    let reason = body
        .pointer("/decision/reason/kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    outln!(
        "{:>7}  {}  {:<5} {:<13} {:<24} {:<24} {}",
        record.seq,
        entry.time,
        entry.decision,
        entry.outcome,
        entry.subject,
        entry.tool.as_deref().unwrap_or("-"),
        reason
    );
    Ok(())
}

fn export_line(record: &AuditRecord) -> String {
    let body: Value = serde_json::from_str(&record.entry.body)
        .unwrap_or(Value::String(record.entry.body.clone()));
    json!({ "seq": record.seq, "prev_hash": record.prev_hash, "hash": record.hash, "record": body })
        .to_string()
}
