//! A job's history as a small SVG chart: PSNR (left axis) and circles (right axis) over the
//! seconds of fitting. The page shows it as an image and the report embeds it, so there is
//! one drawing of it. Hand-written: two polylines and four labels do not need a plotting
//! library.

use std::fmt::Write as _;

use crate::history::HistoryEntry;

const W: f64 = 480.0;
const H: f64 = 200.0;
/// The plot's margins: left, right, top, bottom.
const M: (f64, f64, f64, f64) = (60.0, 44.0, 12.0, 28.0);

/// The chart of `entries` (a "no history yet" panel when there are none).
pub(crate) fn history_svg(entries: &[HistoryEntry]) -> String {
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" font-family="system-ui, sans-serif" font-size="11"><title>PSNR and circles over time</title><rect width="{W}" height="{H}" fill="white"/>"#
    );
    let points: Vec<(f64, f64, f64)> = entries
        .iter()
        .filter_map(|e| Some((e.seconds, e.psnr?, e.circles as f64)))
        .collect();
    if points.is_empty() {
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#666">no stage kept yet</text></svg>"##,
            W / 2.0,
            H / 2.0
        );
        return s;
    }
    let span = |f: fn(&(f64, f64, f64)) -> f64| {
        let lo = points.iter().map(f).fold(f64::INFINITY, f64::min);
        let hi = points.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
        if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, lo + 0.5)
        }
    };
    let (t, p, c) = (span(|q| q.0), span(|q| q.1), span(|q| q.2));
    let x = |v: f64| M.0 + (v - t.0) / (t.1 - t.0) * (W - M.0 - M.1);
    let y = |v: f64, (lo, hi): (f64, f64)| H - M.3 - (v - lo) / (hi - lo) * (H - M.2 - M.3);
    let line = |pick: fn(&(f64, f64, f64)) -> f64, range: (f64, f64)| -> String {
        points
            .iter()
            .map(|q| format!("{:.1},{:.1}", x(q.0), y(pick(q), range)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (bottom, right) = (H - M.3, W - M.1);
    let _ = write!(
        s,
        r##"<path d="M{l},{top}V{bottom}H{right}V{top}" fill="none" stroke="#bbb"/><polyline points="{}" fill="none" stroke="#c0392b" stroke-width="2"/><polyline points="{}" fill="none" stroke="#2471a3" stroke-width="2" stroke-dasharray="5 3"/>"##,
        line(|q| q.1, p),
        line(|q| q.2, c),
        l = M.0,
        top = M.2,
    );
    let label = |x: f64, y: f64, anchor: &str, colour: &str, text: String| {
        format!(r#"<text x="{x}" y="{y}" text-anchor="{anchor}" fill="{colour}">{text}</text>"#)
    };
    s += &label(
        M.0 - 4.0,
        M.2 + 8.0,
        "end",
        "#c0392b",
        format!("{:.1} dB", p.1),
    );
    s += &label(M.0 - 4.0, bottom, "end", "#c0392b", format!("{:.1}", p.0));
    s += &label(
        right + 4.0,
        M.2 + 8.0,
        "start",
        "#2471a3",
        format!("{:.0}", c.1),
    );
    s += &label(
        right + 4.0,
        bottom,
        "start",
        "#2471a3",
        format!("{:.0}", c.0),
    );
    s += &label(M.0, H - 8.0, "start", "#444", format!("{:.1} s", t.0));
    s += &label(right, H - 8.0, "end", "#444", format!("{:.1} s", t.1));
    s += &label(
        W / 2.0,
        H - 8.0,
        "middle",
        "#444",
        "PSNR (solid) · circles (dashed)".into(),
    );
    s += "</svg>";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seconds: f64, psnr: f64, circles: usize) -> HistoryEntry {
        HistoryEntry {
            phase: "stage".into(),
            stages: circles,
            circles,
            cost: 1.0,
            psnr: Some(psnr),
            evaluations: 1,
            seconds,
        }
    }

    #[test]
    fn the_chart_spans_its_figures_and_an_empty_history_says_so() {
        let svg = history_svg(&[entry(0.5, 18.0, 10), entry(2.0, 24.5, 40)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("24.5 dB") && svg.contains(">40<") && svg.contains("2.0 s"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(history_svg(&[]).contains("no stage kept yet"));
        // One point still draws (a flat range is widened, never divided by zero).
        assert!(!history_svg(&[entry(1.0, 20.0, 5)]).contains("NaN"));
    }
}
