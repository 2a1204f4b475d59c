//! Charts as inline SVG, drawn on the server: no script, nothing for the
//! Content-Security-Policy to allow.

use crate::html::escape;

/// Bars per time bucket, each split into allowed and denied.
pub(crate) fn calls_over_time(id: &str, buckets: &[(String, u64, u64)]) -> String {
    let (width, height, top) = (560.0_f64, 160.0_f64, 10.0_f64);
    let max = buckets
        .iter()
        .map(|(_, allowed, denied)| allowed + denied)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let slot = width / buckets.len().max(1) as f64;
    let bar = (slot * 0.7).max(1.0);
    let mut bars = String::new();
    for (n, (label, allowed, denied)) in buckets.iter().enumerate() {
        let x = n as f64 * slot + (slot - bar) / 2.0;
        let allowed_h = *allowed as f64 / max * (height - top);
        let denied_h = *denied as f64 / max * (height - top);
        let base = height;
        bars.push_str(&format!(
            "<g><title>{} — {allowed} allowed, {denied} denied</title>\
             <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{allowed_h:.1}\" fill=\"#2a9d8f\"/>\
             <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{denied_h:.1}\" fill=\"#d62828\"/></g>",
            escape(label),
            base - allowed_h,
            base - allowed_h - denied_h,
        ));
    }
    let first = buckets.first().map(|b| escape(&b.0)).unwrap_or_default();
    let last = buckets.last().map(|b| escape(&b.0)).unwrap_or_default();
    format!(
        "<svg id=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" \
         viewBox=\"0 0 {width} {}\" role=\"img\" aria-label=\"calls and denials over time\">\
         {bars}<line x1=\"0\" y1=\"{height}\" x2=\"{width}\" y2=\"{height}\" stroke=\"#999\"/>\
         <text x=\"0\" y=\"{}\" font-size=\"11\">{first}</text>\
         <text x=\"{width}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{last}</text>\
         <text x=\"{width}\" y=\"12\" font-size=\"11\" text-anchor=\"end\">max {max} per bucket · \
         <tspan fill=\"#2a9d8f\">allowed</tspan> <tspan fill=\"#d62828\">denied</tspan></text></svg>",
        height + 20.0,
        height + 20.0,
        height + 15.0,
        height + 15.0,
    )
}

/// Horizontal bars, one per `(label, count)`, largest first.
pub(crate) fn top(id: &str, rows: &[(String, u64)], color: &str) -> String {
    let row_h = 22.0_f64;
    let width = 360.0_f64;
    let label_w = 170.0_f64;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let mut body = String::new();
    for (n, (label, count)) in rows.iter().enumerate() {
        let y = n as f64 * row_h;
        let w = *count as f64 / max * (width - label_w - 40.0);
        body.push_str(&format!(
            "<text x=\"0\" y=\"{:.1}\" font-size=\"12\">{}</text>\
             <rect x=\"{label_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{count}</text>",
            y + 15.0,
            escape(&shorten(label, 26)),
            y + 4.0,
            row_h - 8.0,
            label_w + w + 4.0,
            y + 15.0,
        ));
    }
    if rows.is_empty() {
        body.push_str("<text x=\"0\" y=\"15\" font-size=\"12\">nothing yet</text>");
    }
    let height = (rows.len().max(1) as f64) * row_h;
    format!(
        "<svg id=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\">{body}</svg>"
    )
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_empty_data_draws() {
        let svg = top("t", &[("<script>".to_owned(), 3)], "#000");
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"));
        assert!(top("t", &[], "#000").contains("nothing yet"));
        let svg = calls_over_time("c", &[("10:00".to_owned(), 2, 1)]);
        assert!(svg.starts_with("<svg id=\"c\"") && svg.contains("2 allowed, 1 denied"));
        assert!(calls_over_time("c", &[]).contains("<svg"));
    }
}
