//! "Write tools need OAuth or mTLS, read tools accept API keys": a backend
//! can demand how the callers of its tools authenticated.

mod common;

use std::process::Command;

use common::{
    DemoBackend, Gateway, demo_config, free_port, mcpgate_bin, random_token, run_node_client,
    write_config,
};

#[test]
fn an_api_key_may_read_but_not_write_when_writes_demand_oauth() {
    let key = random_token();
    let api = DemoBackend::start(&key);
    let dir = tempfile::tempdir().unwrap();
    let pepper = format!("{}{}", random_token(), random_token());
    let config = write_config(
        dir.path(),
        &format!(
            "{}\n[backends.inventory.accepted_auth]\nwrite = [\"oauth\", \"jwt\", \"mutual_tls\"]\n\n\
             [auth.api_keys]\nenvironment = \"prod\"\npepper = \"env:MCPGATE_KEY_PEPPER\"\n",
            demo_config(free_port(), api.addr())
        ),
    );
    let created = Command::new(mcpgate_bin())
        .args([
            "keys",
            "create",
            "--name",
            "writer",
            "--scopes",
            "inventory:read,inventory:write",
            "--config",
        ])
        .arg(&config)
        .env("MCPGATE_KEY_PEPPER", &pepper)
        .env("DEMO_API_KEY", &key)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let secret = String::from_utf8(created.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();

    let gateway = Gateway::spawn(
        &config,
        &[("DEMO_API_KEY", &key), ("MCPGATE_KEY_PEPPER", &pepper)],
    );
    let output = run_node_client([
        "--url".to_owned(),
        gateway.mcp_url(),
        "--header".to_owned(),
        format!("Authorization: Bearer {secret}"),
        "--call".to_owned(),
        "listItems".to_owned(),
        "--call".to_owned(),
        "createItem={\"body\":{\"name\":\"nope\"}}".to_owned(),
    ]);
    let names: Vec<&str> = output["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"listItems"), "{names:?}");
    assert!(
        !names.contains(&"createItem"),
        "write tools are not listed for an API key: {names:?}"
    );
    assert!(output["calls"][0].get("result").is_some(), "{output}");
    let refused = &output["calls"][1]["error"];
    assert_eq!(refused["code"], -32003, "{output}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("does not accept callers authenticated by api_key"),
        "{refused}"
    );
    assert!(
        api.recorded_requests().iter().all(|r| r.method != "POST"),
        "the refused write never reached the backend"
    );
}
