//! `mcpgate doctor`: every check against a fixture that has exactly that
//! problem (tests/fixtures/doctor/<check-id>/), a clean config that has none,
//! the `--json` document and the exit status against `--fail-on`.
//!
//! Fixtures are copied to a fresh directory under Cargo's target dir (not
//! /tmp, which doctor itself would flag as a volatile store) together with
//! the shared spec they point to. API keys are minted with the real
//! `mcpgate keys create` into the fixture's SQLite store.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

/// The pepper `keys create` hashes with (any 32+ bytes will do in a test).
const PEPPER: &str = "doctor-test-pepper-0123456789abcdef";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/doctor")
}

/// A copy of fixture `name` (and of the shared spec) in a directory of its own.
struct Fixture {
    dir: tempfile::TempDir,
    name: String,
}

impl Fixture {
    fn new(name: &str) -> Self {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        for part in [name, "shared"] {
            copy_dir(&fixtures().join(part), &dir.path().join(part));
        }
        Fixture {
            dir,
            name: name.to_owned(),
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join(&self.name).join("mcpgate.toml")
    }

    /// `mcpgate keys create` on this fixture's config with `args`.
    fn create_key(&self, args: &[&str]) {
        let config = self.config();
        let mut all = vec![
            "keys",
            "create",
            "--config",
            config.to_str().expect("UTF-8 path"),
        ];
        all.extend_from_slice(args);
        let output = mcpgate(&all);
        assert!(output.status.success(), "keys create failed: {output:?}");
    }

    /// `mcpgate doctor --json` on this fixture: (exit status, report).
    fn doctor_json(&self, extra: &[&str]) -> (i32, Value) {
        let config = self.config();
        let mut args = vec!["doctor", "--config", config.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let output = mcpgate(&args);
        let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "doctor --json printed no JSON ({e}): {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.code().expect("exit status"), report)
    }

    fn doctor_text(&self, extra: &[&str]) -> (i32, String) {
        let config = self.config();
        let mut args = vec!["doctor", "--config", config.to_str().unwrap()];
        args.extend_from_slice(extra);
        let output = mcpgate(&args);
        (
            output.status.code().expect("exit status"),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The binary with the key pepper set and nothing of the caller's
/// environment that a fixture refers to.
fn mcpgate(args: &[&str]) -> Output {
    Command::new(mcpgate_bin())
        .args(args)
        .env("MCPGATE_KEY_PEPPER", PEPPER)
        .env_remove("MCPGATE_DOCTOR_FIXTURE_UNSET_STORE")
        .output()
        .expect("cannot run mcpgate")
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings array")
}

/// The findings of check `id`.
fn of<'a>(report: &'a Value, id: &str) -> Vec<&'a Value> {
    findings(report).iter().filter(|f| f["id"] == id).collect()
}

/// Each check's fixture: (check id, severity, where the location must end).
const CASES: &[(&str, &str, &str)] = &[
    ("inline-secret", "critical", "inline-secret/mcpgate.toml:15"),
    ("env-file-secret", "high", "env-file-secret/.env:2"),
    (
        "spec-example-secret",
        "high",
        "spec-example-secret/openapi.yaml:19",
    ),
    (
        "no-auth-public-bind",
        "critical",
        "no-auth-public-bind/mcpgate.toml:3",
    ),
    (
        "tls-off-public-url",
        "high",
        "tls-off-public-url/mcpgate.toml:4",
    ),
    (
        "jwt-long-leeway",
        "medium",
        "jwt-long-leeway/mcpgate.toml:8",
    ),
    (
        "audit-not-fail-closed",
        "medium",
        "audit-not-fail-closed/mcpgate.toml:11",
    ),
    (
        "audit-store-volatile",
        "medium",
        "audit-store-volatile/mcpgate.toml:10",
    ),
    (
        "audit-no-signing-key",
        "low",
        "audit-no-signing-key/mcpgate.toml",
    ),
    ("write-with-read-scope", "high", "shared/openapi.yaml:24"),
    (
        "write-by-api-key",
        "medium",
        "write-by-api-key/mcpgate.toml:12",
    ),
    (
        "broad-scope-grant",
        "medium",
        "broad-scope-grant/mcpgate.toml:16",
    ),
    ("keys-not-checked", "info", "keys-not-checked/mcpgate.toml"),
    (
        "spec-no-security-schemes",
        "low",
        "spec-no-security-schemes/openapi.yaml",
    ),
    (
        "spec-operations-without-security",
        "low",
        "spec-operations-without-security/openapi.yaml:50",
    ),
    ("spec-unreadable", "high", "spec-unreadable/mcpgate.toml:13"),
    ("authz-invalid", "high", "authz-invalid/mcpgate.toml:16"),
    ("config-invalid", "high", "config-invalid/mcpgate.toml:3"),
];

#[test]
fn every_check_finds_its_fixture() {
    let mut failures = Vec::new();
    for &(id, severity, location) in CASES {
        let fixture = Fixture::new(id);
        let (_, report) = fixture.doctor_json(&["--fail-on", "critical"]);
        let found = of(&report, id);
        let matching = found.iter().any(|f| {
            f["severity"] == severity
                && f["location"]
                    .as_str()
                    .is_some_and(|l| l.ends_with(location))
                && !f["message"].as_str().unwrap_or_default().is_empty()
                && !f["fix"].as_str().unwrap_or_default().is_empty()
        });
        if !matching {
            failures.push(format!(
                "{id}: expected a {severity} finding at …{location}, got {:#}",
                report["findings"]
            ));
        }
        // Each fixture has one problem: nothing else may be reported, except
        // that a config with an inline secret does not load either.
        let also: &[&str] = if id == "inline-secret" {
            &["config-invalid"]
        } else {
            &[]
        };
        let unexpected: Vec<&Value> = findings(&report)
            .iter()
            .filter(|f| f["id"] != id && !also.iter().any(|a| f["id"] == *a))
            .collect();
        if !unexpected.is_empty() {
            failures.push(format!("{id}: unexpected findings {unexpected:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_clean_config_has_no_findings_even_with_keys_in_its_store() {
    let fixture = Fixture::new("clean");
    fixture.create_key(&[
        "--name",
        "ci-reader",
        "--scopes",
        "items:read",
        "--expires",
        "30d",
    ]);
    let (status, report) = fixture.doctor_json(&["--fail-on", "info"]);
    assert_eq!(findings(&report), &Vec::<Value>::new(), "{report:#}");
    assert_eq!(status, 0);
    assert_eq!(report["summary"]["total"], 0);
    let (status, text) = fixture.doctor_text(&["--fail-on", "info"]);
    assert_eq!(status, 0, "{text}");
    assert!(text.contains("no findings"), "{text}");
}

#[test]
fn keys_without_expiry_or_too_old_or_too_broad_or_in_several_environments() {
    let fixture = Fixture::new("clean");
    fixture.create_key(&["--name", "forever", "--scopes", "items:read"]);
    fixture.create_key(&["--name", "god", "--scopes", "*", "--expires", "30d"]);
    fixture.create_key(&[
        "--name",
        "old",
        "--scopes",
        "items:read",
        "--expires",
        "400d",
    ]);
    fixture.create_key(&["--name", "ci", "--scopes", "items:read", "--expires", "30d"]);
    fixture.create_key(&[
        "--name",
        "ci",
        "--scopes",
        "items:read",
        "--expires",
        "30d",
        "--env",
        "staging",
    ]);
    // A key past its expiry and a revoked one are not judged: they cannot be used.
    fixture.create_key(&["--name", "gone", "--scopes", "*"]);
    let store = fixture.config().with_file_name("mcpgate.db");
    sqlite(
        &store,
        &[
            "UPDATE api_keys SET created_at = '2020-01-01T00:00:00Z' WHERE name = 'old'",
            "UPDATE api_keys SET revoked_at = '2021-01-01T00:00:00Z' WHERE name = 'gone'",
        ],
    );
    let (_, report) = fixture.doctor_json(&[]);
    let named = |id: &str| -> Vec<String> {
        let mut names: Vec<String> = of(&report, id)
            .iter()
            .map(|f| {
                assert!(
                    f["location"].as_str().unwrap().starts_with("store: key_"),
                    "{f:#}"
                );
                f["message"].as_str().unwrap().to_owned()
            })
            .collect();
        names.sort();
        names
    };
    let no_expiry = named("key-no-expiry");
    assert_eq!(no_expiry.len(), 1, "{no_expiry:?}");
    assert!(no_expiry[0].contains("(forever)"), "{no_expiry:?}");
    let overdue = named("key-rotation-overdue");
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert!(overdue[0].contains("(old)"), "{overdue:?}");
    let broad = named("broad-scope-key");
    assert_eq!(broad.len(), 1, "{broad:?}");
    assert!(broad[0].contains("(god)"), "{broad:?}");
    let multi = named("key-multi-environment");
    assert_eq!(multi.len(), 1, "{multi:?}");
    assert!(
        multi[0].contains("`ci`") && multi[0].contains("prod, staging"),
        "{multi:?}"
    );
    // A shorter rotation period makes every active key overdue.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (_, report) = fixture.doctor_json(&["--rotation-period", "1s"]);
    assert_eq!(of(&report, "key-rotation-overdue").len(), 5, "{report:#}");
}

#[test]
fn writes_by_api_key_are_not_reported_where_the_config_excludes_them() {
    let jwt = "\n[[auth.jwt]]\nissuer = \"https://idp.example.com\"\njwks_uri = \"https://idp.example.com/jwks.json\"\n";
    let accepted = "\n[backends.shop.accepted_auth]\nwrite = [\"jwt\"]\n";
    let policy = "\n[authz]\npolicies = [\"no-api-key-writes.cedar\"]\n";
    for (name, extra) in [
        ("accepted_auth.write", accepted),
        ("a Cedar forbid", policy),
    ] {
        let fixture = Fixture::new("write-by-api-key");
        let config = fixture.config();
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(jwt);
        text.push_str(extra);
        std::fs::write(&config, text).unwrap();
        std::fs::write(
            config.with_file_name("no-api-key-writes.cedar"),
            "@id(\"no-api-key-writes\")\nforbid(principal, action, resource)\n\
             when { !resource.read_only && context.auth_method == \"api_key\" };\n",
        )
        .unwrap();
        let (status, report) = fixture.doctor_json(&["--fail-on", "info"]);
        assert_eq!(
            findings(&report),
            &Vec::<Value>::new(),
            "{name}: {report:#}"
        );
        assert_eq!(status, 0, "{name}");
    }
}

#[test]
fn the_exit_status_follows_fail_on() {
    // One medium finding (fail_closed = false) and nothing else.
    let fixture = Fixture::new("audit-not-fail-closed");
    let (_, report) = fixture.doctor_json(&[]);
    let worst = findings(&report)
        .iter()
        .map(|f| f["severity"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(worst, ["medium"], "{report:#}");
    for (fail_on, status) in [
        ("critical", 0),
        ("high", 0),
        ("medium", 1),
        ("low", 1),
        ("info", 1),
    ] {
        let (code, report) = fixture.doctor_json(&["--fail-on", fail_on]);
        assert_eq!(code, status, "--fail-on {fail_on}: {report:#}");
        assert_eq!(report["summary"]["failed"], status == 1);
        assert_eq!(report["summary"]["fail_on"], fail_on);
    }
    // The default threshold is high: a critical finding fails it.
    let (code, _) = Fixture::new("no-auth-public-bind").doctor_json(&[]);
    assert_eq!(code, 1);
}

#[test]
fn the_json_report_has_findings_and_a_summary() {
    let fixture = Fixture::new("no-auth-public-bind");
    let (_, report) = fixture.doctor_json(&[]);
    assert!(report["config"].as_str().unwrap().ends_with("mcpgate.toml"));
    let all = findings(&report);
    assert!(!all.is_empty());
    for finding in all {
        let keys: Vec<&str> = finding
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "severity", "message", "location", "fix"]);
    }
    let summary = &report["summary"];
    assert_eq!(summary["total"], all.len());
    let counted: u64 = ["critical", "high", "medium", "low", "info"]
        .iter()
        .map(|s| summary[s].as_u64().unwrap())
        .sum();
    assert_eq!(counted, all.len() as u64);
    assert_eq!(summary["critical"], 1);
    // Worst first.
    assert_eq!(all[0]["severity"], "critical");
}

#[test]
fn the_text_report_groups_by_severity_and_never_repeats_a_secret() {
    let fixture = Fixture::new("inline-secret");
    let (status, text) = fixture.doctor_text(&[]);
    assert_eq!(status, 1, "{text}");
    assert!(text.contains("CRITICAL (2)"), "{text}");
    assert!(text.contains("HIGH (1)"), "{text}");
    assert!(text.contains("inline-secret/mcpgate.toml:14"), "{text}");
    assert!(text.contains("fix: "), "{text}");
    let (_, json) = fixture.doctor_json(&[]);
    for secret in [
        "b1946ac92492d2347c6235b4d2611184",
        "mcpg_prod_4f1c9e2ab7d34c5e8f60a1b2c3d4e5f6_x9",
    ] {
        assert!(!text.contains(secret), "{text}");
        assert!(!json.to_string().contains(secret), "{json:#}");
    }
    let env = Fixture::new("env-file-secret");
    let (_, text) = env.doctor_text(&[]);
    assert!(!text.contains("b1946ac92492d2347c6235b4d2611184"), "{text}");
    assert!(text.contains("SHOP_TOKEN"), "{text}");
}

#[test]
fn a_missing_config_or_a_bad_rotation_period_is_an_error() {
    let (ok, out) = run_mcpgate(&["doctor", "--config", "/nonexistent/mcpgate.toml"]);
    assert!(!ok);
    assert!(out.contains("cannot read config file"), "{out}");
    let clean = Fixture::new("clean");
    let config = clean.config();
    let (ok, out) = run_mcpgate(&[
        "doctor",
        "--config",
        config.to_str().unwrap(),
        "--rotation-period",
        "soon",
    ]);
    assert!(!ok);
    assert!(out.contains("--rotation-period"), "{out}");
}
