//! The large-spec benchmark: a generated OpenAPI document with thousands of
//! operations, imported by `mcpgate import --json` (time and peak memory of
//! the process), then served by `mcpgate serve` and listed in full through
//! paginated `tools/list` requests.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::process::{self, Running};

/// What was measured.
pub struct ImportReport {
    /// Operations in the spec.
    pub operations: usize,
    /// Size of the spec file.
    pub spec_mib: f64,
    /// `mcpgate import --json`: wall time and peak RSS.
    pub import_time: Duration,
    /// Peak resident memory of `mcpgate import`.
    pub import_peak_mib: f64,
    /// `mcpgate serve`: until `/healthz` answered.
    pub serve_startup: Duration,
    /// Walking every page of `tools/list`.
    pub list_time: Duration,
    /// Pages walked.
    pub pages: usize,
    /// Tools listed (must equal `operations`).
    pub listed: usize,
    /// The serving gateway's resident memory after listing, and its peak.
    pub serve_rss_mib: (f64, f64),
}

/// Generate a spec with `operations` operations in `dir`, then measure.
pub fn run(dir: &Path, operations: usize) -> anyhow::Result<ImportReport> {
    let mcpgate = process::sibling("mcpgate")?;
    let spec = dir.join("large.json");
    let text = generate(operations);
    std::fs::write(&spec, &text)?;

    let mut import = Command::new(&mcpgate);
    import.args(["import", "--json"]).arg(&spec);
    let (stdout, import_time, import_peak_mib) =
        process::measure(import).context("mcpgate import")?;
    let imported: Value = serde_json::from_str(&stdout).context("import --json output")?;
    let tools = imported["tools"].as_array().map_or(0, Vec::len);
    if tools != operations {
        bail!("mcpgate import made {tools} tools out of {operations} operations");
    }

    // Served without authentication (loopback), so that listing measures
    // the catalog and the pages, not the credential.
    let port = crate::gateway::free_port()?;
    std::fs::write(
        dir.join("mcpgate.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[authz]\nread_only = false\n\n\
             [backends.large]\nspec = \"large.json\"\nbase_url = \"http://127.0.0.1:9\"\n"
        ),
    )?;
    let mut serve = Command::new(&mcpgate);
    serve
        .args(["serve", "--insecure-no-auth", "--config"])
        .arg(dir.join("mcpgate.toml"));
    let (gateway, serve_startup) = Running::until_healthy(
        "mcpgate serve (large spec)",
        serve,
        &dir.join("serve.log"),
        &format!("http://127.0.0.1:{port}/healthz"),
    )?;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let started = Instant::now();
    let (pages, listed) = list_all(&url)?;
    let list_time = started.elapsed();
    if listed != operations {
        bail!("tools/list returned {listed} tools out of {operations}");
    }
    let serve_rss_mib = gateway.memory_mib()?;
    Ok(ImportReport {
        operations,
        spec_mib: text.len() as f64 / (1024.0 * 1024.0),
        import_time,
        import_peak_mib,
        serve_startup,
        list_time,
        pages,
        listed,
        serve_rss_mib,
    })
}

/// Every page of `tools/list`, with stateless (2026-07-28) requests over
/// one connection; returns (pages, tools).
fn list_all(url: &str) -> anyhow::Result<(usize, usize)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let addr: std::net::SocketAddr = url
            .trim_start_matches("http://")
            .trim_end_matches("/mcp")
            .parse()?;
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (mut sender, driver) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(driver);
        let mut cursor: Option<String> = None;
        let (mut pages, mut tools) = (0, 0);
        loop {
            let mut params = crate::mcp_params(json!({}));
            if let Some(cursor) = &cursor {
                params["cursor"] = json!(cursor);
            }
            let body = json!({"jsonrpc": "2.0", "id": pages + 1, "method": "tools/list", "params": params});
            let request = hyper::Request::post("/mcp")
                .header(http::header::HOST, addr.to_string())
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(http::header::ACCEPT, "application/json, text/event-stream")
                .header("mcp-protocol-version", crate::PROTOCOL)
                .header("mcp-method", "tools/list")
                .body(http_body_util::Full::new(bytes::Bytes::from(body.to_string())))?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await?
                .to_bytes();
            let message = crate::json_message(&body)
                .with_context(|| format!("tools/list page {pages}: {status}"))?;
            let result = &message["result"];
            tools += result["tools"].as_array().map_or(0, Vec::len);
            pages += 1;
            match result["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        Ok((pages, tools))
    })
}

/// An OpenAPI 3.0 document with `operations` operations over
/// `operations / 4` resources (list, get, update, delete), each with path
/// and query parameters, a request body referring to a shared schema, and
/// OAuth scopes.
pub fn generate(operations: usize) -> String {
    let resources = operations.div_ceil(4);
    let mut paths = String::new();
    let mut made = 0;
    for r in 0..resources {
        let mut collection = String::new();
        let mut item = String::new();
        let ops = [
            ("get", true, "list"),
            ("get", false, "get"),
            ("put", false, "update"),
            ("delete", false, "delete"),
        ];
        for (method, on_collection, verb) in ops {
            if made == operations {
                break;
            }
            made += 1;
            let scope = if method == "get" { "read" } else { "write" };
            let body = if method == "put" {
                r##","requestBody":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/Record"}}}}"##
            } else {
                ""
            };
            let params = if on_collection {
                r#"[{"name":"limit","in":"query","schema":{"type":"integer","minimum":1,"maximum":100}},{"name":"filter","in":"query","schema":{"type":"string"}}]"#
            } else {
                r#"[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}]"#
            };
            let operation = format!(
                r##""{method}":{{"operationId":"{verb}Resource{r}","summary":"{verb} resource {r}","tags":["group{g}"],"parameters":{params}{body},"security":[{{"oauth":["{scope}:group{g}"]}}],"responses":{{"200":{{"description":"ok","content":{{"application/json":{{"schema":{{"$ref":"#/components/schemas/Record"}}}}}}}}}}}}"##,
                g = r % 50,
            );
            let target = if on_collection {
                &mut collection
            } else {
                &mut item
            };
            if !target.is_empty() {
                target.push(',');
            }
            target.push_str(&operation);
        }
        for (path, ops) in [
            (format!("/resource{r}"), collection),
            (format!("/resource{r}/{{id}}"), item),
        ] {
            if ops.is_empty() {
                continue;
            }
            if !paths.is_empty() {
                paths.push(',');
            }
            let _ = write!(paths, r#""{path}":{{{ops}}}"#);
        }
    }
    format!(
        r#"{{"openapi":"3.0.3","info":{{"title":"Large","version":"1"}},"servers":[{{"url":"https://api.example.com"}}],"paths":{{{paths}}},"components":{{"securitySchemes":{{"oauth":{{"type":"oauth2","flows":{{"clientCredentials":{{"tokenUrl":"https://idp.example.com/token","scopes":{{}}}}}}}}}},"schemas":{{"Record":{{"type":"object","required":["id","name"],"properties":{{"id":{{"type":"string"}},"name":{{"type":"string","maxLength":200}},"quantity":{{"type":"integer","minimum":0}},"tags":{{"type":"array","items":{{"type":"string"}}}},"owner":{{"type":"object","properties":{{"team":{{"type":"string"}},"email":{{"type":"string","format":"email"}}}}}}}}}}}}}}}}"#
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn generates_the_asked_number_of_operations() {
        let spec: serde_json::Value = serde_json::from_str(&super::generate(10)).unwrap();
        let count: usize = spec["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(count, 10);
    }
}
