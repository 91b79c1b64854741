//! `report.html`: one self-contained file about an ended job — the reference, the result
//! and the error map (PNG data URIs), its figures, settings and history (table and chart) —
//! that opens anywhere and can be mailed. Nothing in it is fetched.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::history::HistoryEntry;
use crate::model::JobRow;

/// The pictures a report shows, as PNG.
pub(crate) struct Pictures {
    pub(crate) reference: Vec<u8>,
    pub(crate) result: Vec<u8>,
    pub(crate) diff: Vec<u8>,
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn data_uri(png: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    format!("data:image/png;base64,{b64}")
}

/// The report of job `row` with its `history` and `pictures`.
pub(crate) fn html(row: &JobRow, history: &[HistoryEntry], pictures: &Pictures) -> String {
    let id = row.id;
    let psnr = row.psnr.map_or("—".to_owned(), |p| format!("{p:.2} dB"));
    let mut s = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>circlefit job {id}</title><style>body{{font:15px system-ui,sans-serif;max-width:70rem;margin:1.5rem auto;padding:0 1rem;color:#222}}figure{{margin:0}}.pics{{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:1rem}}.pics img{{width:100%;image-rendering:pixelated;border:1px solid #ccc}}table{{border-collapse:collapse}}td,th{{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:left}}</style></head><body><h1>circlefit job {id}</h1><p>{status} · {circles} circles · PSNR {psnr} · {evals} evaluations</p>"#,
        status = row.status,
        circles = row.circles,
        evals = row.evaluations,
    );
    s += r#"<div class="pics">"#;
    for (caption, png) in [
        ("Reference (as the fit saw it)", &pictures.reference),
        ("Result", &pictures.result),
        ("Error map (viridis, brighter is worse)", &pictures.diff),
    ] {
        let _ = write!(
            s,
            r#"<figure><img alt="{caption}" src="{}"><figcaption>{caption}</figcaption></figure>"#,
            data_uri(png)
        );
    }
    s += "</div><h2>History</h2>";
    s += &crate::chart::history_svg(history);
    s += "<h2>Settings</h2><table><tbody>";
    if let Some(settings) = row.settings.as_object() {
        for (k, v) in settings {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v));
        }
    }
    let _ = write!(
        s,
        "</tbody></table><details><summary>The history: every kept stage ({} entries)</summary>",
        history.len()
    );
    s += "<table><thead><tr><th>phase</th><th>stages</th><th>circles</th><th>PSNR (dB)</th><th>cost</th><th>evaluations</th><th>seconds</th></tr></thead><tbody>";
    for e in history {
        let p = e.psnr.map_or("—".to_owned(), |p| format!("{p:.2}"));
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{p}</td><td>{:.3}</td><td>{}</td><td>{:.2}</td></tr>",
            escape(&e.phase),
            e.stages,
            e.circles,
            e.cost,
            e.evaluations,
            e.seconds
        );
    }
    s += "</tbody></table></details>";
    if let Some(e) = &row.error {
        let _ = write!(s, "<p>Error: {}</p>", escape(e));
    }
    s += "</body></html>\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
