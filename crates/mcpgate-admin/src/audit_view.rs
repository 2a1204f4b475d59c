//! `/admin/audit` (the trail, filtered, with charts) and `/admin/`
//! (the overview).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use mcpgate_core::{format_rfc3339, parse_duration, parse_rfc3339};
use mcpgate_store::audit::{AuditFilter, AuditRecord};
use serde::Deserialize;
use serde_json::Value;

use crate::AdminConsole;
use crate::charts;
use crate::html::{escape, page};
use crate::session::SignedIn;

/// Rows shown in the table.
const TABLE_ROWS: usize = 200;
/// Records the charts are drawn from.
const CHART_RECORDS: i64 = 5_000;

/// The audit page's filters.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    pub(crate) subject: Option<String>,
    pub(crate) tool: Option<String>,
    pub(crate) decision: Option<String>,
    /// An RFC 3339 time, or a duration back from now (`24h`).
    pub(crate) since: Option<String>,
}

impl Filters {
    /// The store's filter; `Err` names a bad field.
    pub(crate) fn to_store(&self, limit: i64) -> Result<AuditFilter, String> {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        let decision = text(&self.decision);
        if let Some(d) = &decision
            && d != "allow"
            && d != "deny"
        {
            return Err("decision is `allow` or `deny`".to_owned());
        }
        let since = match text(&self.since) {
            None => None,
            Some(since) => Some(match parse_duration(&since) {
                Ok(back) => format_rfc3339(SystemTime::now() - back),
                Err(_) if parse_rfc3339(&since).is_some() => since,
                Err(_) => {
                    return Err(
                        "since is an RFC 3339 time (2026-12-04T09:00:00Z) or a duration back from now (24h)"
                            .to_owned(),
                    );
                }
            }),
        };
        Ok(AuditFilter {
            subject: text(&self.subject),
            tool: text(&self.tool),
            decision,
            since,
            limit: Some(limit),
            newest_first: true,
            after_seq: None,
        })
    }
}

/// What the table shows of a record.
pub(crate) struct Row {
    pub(crate) seq: i64,
    pub(crate) time: String,
    pub(crate) subject: String,
    pub(crate) auth_method: String,
    pub(crate) method: String,
    pub(crate) tool: String,
    pub(crate) decision: String,
    pub(crate) reason: String,
    pub(crate) outcome: String,
    pub(crate) details: String,
}

pub(crate) fn row(record: &AuditRecord) -> Row {
    let body: Value = serde_json::from_str(&record.entry.body).unwrap_or(Value::Null);
    // `{"decision": "deny", "reason": {"kind": …, "detail": …}}`.
    let reason = match &body["decision"]["reason"] {
        Value::Object(r) => format!(
            "{}{}",
            r.get("kind").and_then(Value::as_str).unwrap_or_default(),
            r.get("detail")
                .and_then(Value::as_str)
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        _ => String::new(),
    };
    let details = match &body["arguments"] {
        Value::Null => String::new(),
        other => {
            let text = other.to_string();
            if text.chars().count() > 160 {
                format!("{}…", text.chars().take(160).collect::<String>())
            } else {
                text
            }
        }
    };
    Row {
        seq: record.seq,
        time: record.entry.time.clone(),
        subject: record.entry.subject.clone(),
        auth_method: record.entry.auth_method.clone(),
        method: body["method"].as_str().unwrap_or_default().to_owned(),
        tool: record.entry.tool.clone().unwrap_or_default(),
        decision: record.entry.decision.clone(),
        reason,
        outcome: record.entry.outcome.clone(),
        details,
    }
}

fn table(records: &[AuditRecord]) -> String {
    let mut rows = String::new();
    for record in records.iter().rev() {
        let r = row(record);
        rows.push_str(&format!(
            "<tr data-seq=\"{seq}\"><td>{seq}</td><td>{time}</td><td>{subject}</td><td>{auth}</td>\
             <td>{method}</td><td>{tool}</td><td class=\"decision {decision}\">{decision}</td><td>{reason}</td>\
             <td>{outcome}</td><td><code>{details}</code></td></tr>",
            seq = r.seq,
            time = escape(&r.time),
            subject = escape(&r.subject),
            auth = escape(&r.auth_method),
            method = escape(&r.method),
            tool = escape(&r.tool),
            decision = escape(&r.decision),
            reason = escape(&r.reason),
            outcome = escape(&r.outcome),
            details = escape(&r.details),
        ));
    }
    format!(
        "<table id=\"audit\"><thead><tr><th>#</th><th>Time</th><th>Subject</th><th>Auth</th><th>Method</th>\
         <th>Tool</th><th>Decision</th><th>Reason</th><th>Outcome</th><th>Details</th></tr></thead>\
         <tbody>{rows}</tbody></table>"
    )
}

/// The three charts over `records`.
pub(crate) fn chart_panel(records: &[AuditRecord]) -> String {
    let times: Vec<(u64, bool)> = records
        .iter()
        .filter_map(|r| {
            let at = parse_rfc3339(&r.entry.time)?
                .duration_since(UNIX_EPOCH)
                .ok()?
                .as_secs();
            Some((at, r.entry.decision == "allow"))
        })
        .collect();
    let (first, last) = (
        times.iter().map(|t| t.0).min().unwrap_or(0),
        times.iter().map(|t| t.0).max().unwrap_or(0),
    );
    let span = last.saturating_sub(first);
    let bucket = [60, 300, 900, 3_600, 6 * 3_600, 86_400]
        .into_iter()
        .find(|size| span / size < 48)
        .unwrap_or(86_400 * 7);
    let mut counts: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    if !times.is_empty() {
        let mut at = first / bucket;
        while at <= last / bucket {
            counts.insert(at, (0, 0));
            at += 1;
        }
    }
    for (at, allowed) in &times {
        let entry = counts.entry(at / bucket).or_default();
        if *allowed {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    let buckets: Vec<(String, u64, u64)> = counts
        .into_iter()
        .map(|(key, (a, d))| {
            let label = format_rfc3339(UNIX_EPOCH + Duration::from_secs(key * bucket));
            (label[..16].replace('T', " "), a, d)
        })
        .collect();
    let top = |items: HashMap<String, u64>| {
        let mut items: Vec<(String, u64)> = items.into_iter().collect();
        items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        items.truncate(8);
        items
    };
    let mut tools: HashMap<String, u64> = HashMap::new();
    let mut denied: HashMap<String, u64> = HashMap::new();
    for record in records {
        if let Some(tool) = &record.entry.tool {
            *tools.entry(tool.clone()).or_default() += 1;
        }
        if record.entry.decision == "deny" {
            *denied.entry(record.entry.subject.clone()).or_default() += 1;
        }
    }
    format!(
        "<div class=\"charts\"><figure><figcaption>Calls and denials over time</figcaption>{}</figure>\
         <figure><figcaption>Top tools</figcaption>{}</figure>\
         <figure><figcaption>Top denied identities</figcaption>{}</figure></div>",
        charts::calls_over_time("chart-calls", &buckets),
        charts::top("chart-top-tools", &top(tools), "#2a9d8f"),
        charts::top("chart-top-denied", &top(denied), "#d62828"),
    )
}

/// `GET /admin/audit`.
pub(crate) async fn list(
    State(console): State<AdminConsole>,
    SignedIn(admin): SignedIn,
    Query(filters): Query<Filters>,
) -> Response {
    let chrome = console.chrome(&admin, "audit");
    let field = |v: &Option<String>| escape(v.as_deref().unwrap_or_default());
    let selected = |value: &str| {
        if filters.decision.as_deref() == Some(value) {
            " selected"
        } else {
            ""
        }
    };
    let form = format!(
        "<div class=\"panel\"><form id=\"audit-filter\" class=\"filters\" method=\"get\" action=\"{base}/audit\">\
         <label>Subject<input name=\"subject\" value=\"{}\"></label>\
         <label>Tool<input name=\"tool\" value=\"{}\"></label>\
         <label>Decision<select name=\"decision\"><option value=\"\">any</option>\
         <option value=\"allow\"{}>allow</option><option value=\"deny\"{}>deny</option></select></label>\
         <label>Since<input name=\"since\" value=\"{}\" placeholder=\"24h or 2026-12-04T09:00:00Z\"></label>\
         <button type=\"submit\">Filter</button></form></div>",
        field(&filters.subject),
        field(&filters.tool),
        selected("allow"),
        selected("deny"),
        field(&filters.since),
        base = escape(&console.inner.settings.path),
    );
    let charted = match filters.to_store(CHART_RECORDS) {
        Ok(charted) => charted,
        Err(why) => {
            let body = format!("{form}<p class=\"error\">{}</p>", escape(&why));
            return page(StatusCode::BAD_REQUEST, "Audit log", &chrome, &body);
        }
    };
    // One read: the table's newest rows are the end of the charts' records
    // (both the newest matching, in sequence order).
    let Ok(all) = console.inner.store.audit_records(&charted).await else {
        let body = format!("{form}<p class=\"error\">The audit log cannot be read.</p>");
        return page(StatusCode::SERVICE_UNAVAILABLE, "Audit log", &chrome, &body);
    };
    let newest = &all[all.len().saturating_sub(TABLE_ROWS)..];
    let body = format!(
        "{form}{}<p class=\"muted\">{} record(s) match; the newest {} are listed, newest first.</p>{}",
        chart_panel(&all),
        all.len(),
        newest.len(),
        table(newest)
    );
    page(StatusCode::OK, "Audit log", &chrome, &body)
}

/// `GET /admin/`: the last day at a glance.
pub(crate) async fn overview(
    State(console): State<AdminConsole>,
    SignedIn(admin): SignedIn,
) -> Response {
    let store = &console.inner.store;
    let day = Filters {
        since: Some("24h".to_owned()),
        ..Filters::default()
    };
    let records = match day.to_store(CHART_RECORDS) {
        Ok(filter) => store.audit_records(&filter).await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let keys = store.api_keys().await.unwrap_or_default();
    let active_keys = keys
        .iter()
        .filter(|k| crate::keys::status(k) == "active")
        .count();
    let grants = mcpgate_oauth::admin::grants(&**store)
        .await
        .unwrap_or_default();
    let active_grants = grants.iter().filter(|g| g.revoked_at.is_none()).count();
    let tools = (console.inner.settings.tools)().len();
    let denied = records
        .iter()
        .filter(|r| r.entry.decision == "deny")
        .count();
    let body = format!(
        "<div class=\"panel\">{active_keys} active API key(s) · {active_grants} active OAuth grant(s) · \
         {tools} tool(s) · {} audited event(s) in the last 24 h, {denied} denied</div>{}\
         <h2>Latest events</h2>{}",
        records.len(),
        chart_panel(&records),
        table(&records[records.len().saturating_sub(10)..]),
    );
    page(
        StatusCode::OK,
        "Overview",
        &console.chrome(&admin, ""),
        &body,
    )
}
