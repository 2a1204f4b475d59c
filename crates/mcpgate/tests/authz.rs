//! Authorization end to end: read-only mode, step-up with a real client and
//! a real identity provider, policy reload, rate limits and `mcpgate authz`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::idp::{Idp, IdpOptions};
use common::raw_http::{Http, call_tool};
use common::*;
use serde_json::{Value, json};

const BACKEND_KEY: &str = "authz-backend-key";

/// The demo config with the backend's `read_only = false` taken out, so the
/// default (read-only mode on) applies.
fn default_mode_config(port: u16, api: &DemoBackend) -> String {
    let config = demo_config(port, api.addr());
    assert!(config.contains("read_only = false\n"));
    config.replace("read_only = false\n", "")
}

/// (tool, decision, reason kind) of every audited `tools/call`, in order.
fn audited_calls(config: &Path) -> Vec<(String, String, String)> {
    audit_export(config)
        .iter()
        .map(|line| &line["record"])
        .filter(|r| r["method"] == "tools/call")
        .map(|r| {
            (
                r["tool"].as_str().unwrap_or("?").to_owned(),
                r["decision"]["decision"].as_str().unwrap_or("?").to_owned(),
                r["decision"]["reason"]["kind"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn read_only_mode_hides_and_refuses_write_tools_by_default() {
    let api = DemoBackend::start(BACKEND_KEY);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &default_mode_config(free_port(), &api));
    let gateway = Gateway::spawn(&config, &[("DEMO_API_KEY", BACKEND_KEY)]);

    let out = run_node_client([
        "--url",
        gateway.mcp_url().as_str(),
        "--call",
        "listItems",
        "--call",
        r#"createItem={"body":{"name":"read-only-breaker","quantity":1}}"#,
        "--call",
        r#"deleteItem={"itemId":1}"#,
    ]);
    assert_eq!(
        sorted_tool_names(&out),
        ["getItem", "health", "listItems"],
        "only the tools known to be read-only are listed: {out:#}"
    );
    assert!(
        successful_text(&out["calls"][0]).contains("widget"),
        "{out:#}"
    );
    for call in [&out["calls"][1], &out["calls"][2]] {
        let error = &call["error"];
        assert_eq!(error["code"], -32003, "a direct call is refused: {call:#}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("read-only mode"),
            "{call:#}"
        );
    }
    let writes: Vec<_> = api
        .recorded_requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(
        writes.is_empty(),
        "nothing but reads reached the API: {writes:?}"
    );
    let audited = audited_calls(&config);
    assert!(
        audited.contains(&("createItem".into(), "deny".into(), "read_only_mode".into())),
        "{audited:?}"
    );
}

#[test]
fn a_read_token_steps_up_to_write_with_the_python_sdk_and_a_real_idp() {
    let api = DemoBackend::start(BACKEND_KEY);
    let port = free_port();
    let mcp_url = format!("http://127.0.0.1:{port}/mcp");
    let idp = Idp::start(IdpOptions {
        resources: &[&mcp_url],
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "{}\n[[auth.jwt]]\nissuer = \"{}\"\n",
            demo_config(port, api.addr()),
            idp.issuer()
        ),
    );
    let gateway = Gateway::spawn(&config, &[("DEMO_API_KEY", BACKEND_KEY)]);
    assert_eq!(gateway.mcp_url(), mcp_url);

    let (client_id, secret) = idp.client("service");
    let out = run_python_client([
        "--url".to_owned(),
        mcp_url.clone(),
        "--oauth-client".to_owned(),
        format!("{client_id}:{secret}"),
        "--oauth-issuer".to_owned(),
        idp.issuer().to_owned(),
        "--call".to_owned(),
        "listItems".to_owned(),
        "--call".to_owned(),
        r#"createItem={"body":{"name":"stepped-up","quantity":2}}"#.to_owned(),
    ]);
    // The first token carries only what the 401 challenge asked for (the
    // read-only tools' scope); the write is refused with a 403 naming the
    // scopes to ask for, and the client's second token carries them.
    let tokens: Vec<Vec<&str>> = out["oauth"]["tokens"]
        .as_array()
        .unwrap_or_else(|| panic!("no tokens recorded: {out:#}"))
        .iter()
        .map(|scope| {
            let mut scopes: Vec<&str> = scope.as_str().unwrap_or("").split(' ').collect();
            scopes.sort_unstable();
            scopes
        })
        .collect();
    assert_eq!(
        tokens,
        [
            vec!["inventory:read"],
            vec!["inventory:read", "inventory:write"]
        ],
        "{out:#}"
    );
    assert!(
        successful_text(&out["calls"][0]).contains("widget"),
        "{out:#}"
    );
    assert!(
        successful_text(&out["calls"][1]).contains("stepped-up"),
        "the write succeeds after stepping up: {out:#}"
    );
    assert_eq!(
        api.recorded_requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        1,
        "the refused attempt never reached the API"
    );
    let creates: Vec<_> = audited_calls(&config)
        .into_iter()
        .filter(|(tool, ..)| tool == "createItem")
        .collect();
    assert_eq!(
        creates,
        [
            (
                "createItem".to_owned(),
                "deny".to_owned(),
                "insufficient_scope".to_owned()
            ),
            ("createItem".to_owned(), "allow".to_owned(), String::new()),
        ]
    );
}

/// Call `createItem` through the node driver; the JSON-RPC error, if any.
fn create_item_error(gateway: &Gateway, name: &str) -> Option<Value> {
    let out = run_node_client([
        "--url".to_owned(),
        gateway.mcp_url(),
        "--call".to_owned(),
        format!(r#"createItem={{"body":{{"name":"{name}","quantity":1}}}}"#),
    ]);
    let call = &out["calls"][0];
    call.get("error").cloned()
}

fn hang_up(gateway: &Gateway) {
    let status = Command::new("kill")
        .args(["-HUP", &gateway.pid().to_string()])
        .status()
        .expect("cannot run kill");
    assert!(status.success());
}

fn wait_for_log(gateway: &Gateway, needle: &str, occurrences: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = gateway.stderr_log();
        if log.matches(needle).count() >= occurrences {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the gateway's log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sighup_swaps_policies_and_a_broken_one_keeps_the_old_in_force() {
    let api = DemoBackend::start(BACKEND_KEY);
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies.cedar");
    std::fs::write(&policies, "// nothing forbidden yet\n").unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "{}\n[authz]\npolicies = [\"policies.cedar\"]\n",
            demo_config(free_port(), api.addr())
        ),
    );
    let gateway = Gateway::spawn(&config, &[("DEMO_API_KEY", BACKEND_KEY)]);
    assert_eq!(create_item_error(&gateway, "before"), None);

    std::fs::write(
        &policies,
        "// Creating items is paused.\n@id(\"pause-creating\")\n\
         forbid(principal, action, resource == Tool::\"createItem\");\n",
    )
    .unwrap();
    hang_up(&gateway);
    wait_for_log(&gateway, "authorization policy reloaded", 1);
    let error = create_item_error(&gateway, "during").expect("the new policy is in force");
    assert_eq!(error["code"], -32003, "{error:#}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("pause-creating"),
        "the refusal names the policy: {error:#}"
    );

    // A policy that does not parse is refused; the one in force stays.
    std::fs::write(
        &policies,
        "@id(\"oops\")\nforbid(principal, action, resource)\nwhen { context.nonsense ==  };\n",
    )
    .unwrap();
    hang_up(&gateway);
    let log = wait_for_log(&gateway, "NOT reloaded", 1);
    assert!(
        log.contains("policies.cedar:3:"),
        "the error names the file and line: {log}"
    );
    let error = create_item_error(&gateway, "after-broken").expect("still forbidden");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("pause-creating")
    );
    let out = run_node_client(["--url", gateway.mcp_url().as_str(), "--call", "listItems"]);
    assert!(
        successful_text(&out["calls"][0]).contains("widget"),
        "{out:#}"
    );

    // A policy that parses but does not fit the schema is refused too.
    std::fs::write(
        &policies,
        "forbid(principal, action, resource) when { principal.department == \"x\" };\n",
    )
    .unwrap();
    hang_up(&gateway);
    let log = wait_for_log(&gateway, "NOT reloaded", 2);
    assert!(log.contains("department"), "{log}");
    assert!(create_item_error(&gateway, "after-invalid").is_some());

    // And a good one replaces it.
    std::fs::write(&policies, "// all clear\n").unwrap();
    hang_up(&gateway);
    wait_for_log(&gateway, "authorization policy reloaded", 2);
    assert_eq!(create_item_error(&gateway, "after"), None);
    let created: Vec<String> = api
        .recorded_requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.body)
        .collect();
    assert_eq!(
        created.len(),
        2,
        "only `before` and `after` were created: {created:?}"
    );
}

#[test]
fn rate_limits_answer_429_over_http_and_an_mcp_error_over_stdio() {
    let api = DemoBackend::start(BACKEND_KEY);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "{}\n[[authz.rate_limits]]\nper = \"identity\"\ntools = [\"list*\"]\nrequests = 2\nwindow = \"1h\"\n",
            demo_config(free_port(), api.addr())
        ),
    );
    let gateway = Gateway::spawn(&config, &[("DEMO_API_KEY", BACKEND_KEY)]);
    let http = Http::new();
    let request = call_tool(&gateway.mcp_url(), "listItems", json!({}));
    for _ in 0..2 {
        assert_eq!(http.send(&request).status, 200);
    }
    let (status, retry_after, body) = http.runtime.block_on(async {
        let mut builder = http.client.post(&request.url).json(&request.body);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = builder.send().await.unwrap();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (
            response.status().as_u16(),
            retry_after,
            response.text().await.unwrap(),
        )
    });
    assert_eq!(status, 429, "{body}");
    let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!(
        (1..=1800).contains(&seconds),
        "one slot per 30 minutes: {seconds}"
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], -32005, "{body}");
    assert_eq!(body["error"]["data"]["retryAfterSeconds"], seconds);
    // Other tools are not covered by the limit.
    assert_eq!(
        http.send(&call_tool(
            &gateway.mcp_url(),
            "getItem",
            json!({"itemId": 1})
        ))
        .status,
        200
    );
    let audited = audited_calls(&config);
    assert!(
        audited.contains(&("listItems".into(), "deny".into(), "rate_limited".into())),
        "{audited:?}"
    );
    drop(gateway);

    let out = run_node_client([
        "--stdio".to_owned(),
        "--call".to_owned(),
        "listItems".to_owned(),
        "--call".to_owned(),
        "listItems".to_owned(),
        "--call".to_owned(),
        "listItems".to_owned(),
        "--env".to_owned(),
        format!("DEMO_API_KEY={BACKEND_KEY}"),
        "--".to_owned(),
        mcpgate_bin().display().to_string(),
        "serve".to_owned(),
        "--stdio".to_owned(),
        "--config".to_owned(),
        config.display().to_string(),
    ]);
    assert!(out["calls"][1].get("result").is_some(), "{out:#}");
    assert_eq!(out["calls"][2]["error"]["code"], -32005, "{out:#}");
}

#[test]
fn authz_explain_and_list_say_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policies.cedar"),
        "// Deleting only in office hours (Mon-Fri 09:00-17:00 UTC).\n\
         @id(\"office-hours-deletes\")\n\
         forbid(principal, action, resource == Tool::\"deleteItem\")\n\
         unless { context.time.weekday <= 5 && context.time.hour >= 9 && context.time.hour < 17 };\n",
    )
    .unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[backends.inventory]\nspec = {spec}\nbase_url = \"http://127.0.0.1:9\"\nread_only = false\n\n\
             [authz]\npolicies = [\"policies.cedar\"]\n\
             scope_implies = {{ \"inventory:admin\" = [\"inventory:write\"], \"inventory:write\" = [\"inventory:read\"] }}\n\n\
             [authz.roles.manager]\nscopes = [\"inventory:admin\"]\ngroups = [\"warehouse-leads\"]\n",
            spec = Value::from(demo_spec_path().display().to_string()),
        ),
    );
    let config = config.to_str().unwrap();
    let explain = |args: &[&str]| -> (Option<i32>, String) {
        let output = Command::new(mcpgate_bin())
            .args(["authz", "explain", "--config", config])
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    };
    // Saturday night: the manager's role allows it, the policy does not.
    let (code, text) = explain(&[
        "--as",
        "alice",
        "--group",
        "warehouse-leads",
        "--tool",
        "deleteItem",
        "--args",
        r#"{"itemId": 3}"#,
        "--time",
        "2026-11-28T22:00:00Z",
    ]);
    assert_eq!(code, Some(3), "{text}");
    for mention in [
        "DENIED",
        "role manager from group warehouse-leads",
        "scope inventory:write implied by inventory:admin",
        "forbidden by policy office-hours-deletes",
        "policies.cedar:2",
    ] {
        assert!(
            text.contains(mention),
            "should mention {mention:?}:\n{text}"
        );
    }
    // Wednesday morning: allowed.
    let (code, text) = explain(&[
        "--as",
        "alice",
        "--group",
        "warehouse-leads",
        "--tool",
        "deleteItem",
        "--time",
        "2026-11-25T10:00:00Z",
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.starts_with("ALLOWED"), "{text}");
    // A reader is told which scope is missing.
    let (code, text) = explain(&[
        "--as",
        "bob",
        "--scope",
        "inventory:read",
        "--tool",
        "createItem",
    ]);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("missing inventory:write"),
        "names the missing scope:\n{text}"
    );

    let (ok, text) = run_mcpgate(&[
        "authz",
        "list",
        "--config",
        config,
        "--as",
        "bob",
        "--scope",
        "inventory:read",
        "--denied",
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("bob may call 3 of 6 tool(s)"), "{text}");
    assert!(
        text.contains("deleteItem") && text.contains("lacks a required scope"),
        "{text}"
    );

    // `check` refuses a policy that does not fit the schema, naming the line.
    std::fs::write(
        dir.path().join("policies.cedar"),
        "permit(principal, action, resource);\n\nforbid(principal, action, resource)\n  when { resource.colour == \"red\" };\n",
    )
    .unwrap();
    let (ok, text) = run_mcpgate(&["check", "--config", config]);
    assert!(!ok, "{text}");
    assert!(text.contains("policies.cedar:4:"), "{text}");
    assert!(text.contains("colour"), "{text}");
}
