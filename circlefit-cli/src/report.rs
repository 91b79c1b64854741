//! The end of a run over several images: a summary on stderr and, with `--report`, one row
//! per image as JSON or CSV (by the file's extension), written atomically.

use std::fmt::Write as _;
use std::path::Path;

use crate::batch::{Ended, Row};
use crate::error::CliError;

/// One line: how many images did what, the mean and worst PSNR of the fitted and skipped
/// ones, and the wall time.
pub(crate) fn summary(rows: &[Ended], seconds: f64) {
    let count = |s: &str| rows.iter().filter(|(r, _)| r.status == s).count();
    let scored: Vec<(&str, f64)> = rows
        .iter()
        .filter_map(|(r, _)| r.psnr.map(|p| (r.input.as_str(), p)))
        .collect();
    let mut line = format!(
        "{} images: {} fitted, {} skipped, {} failed",
        rows.len(),
        count("done"),
        count("skipped"),
        count("failed")
    );
    let stopped = count("interrupted") + count("not started");
    if stopped > 0 {
        let _ = write!(line, ", {stopped} interrupted or not started");
    }
    if !scored.is_empty() {
        let mean = scored.iter().map(|s| s.1).sum::<f64>() / scored.len() as f64;
        let (worst, p) = scored
            .iter()
            .copied()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("not empty");
        let _ = write!(line, "; psnr mean {mean:.2} dB, worst {p:.2} dB ({worst})");
    }
    let _ = write!(line, "; {seconds:.1} s");
    crate::log_line(&line);
}

/// Writes the rows to `path`: `.csv` as CSV, anything else as a JSON array.
///
/// # Errors
/// [`CliError::Output`] if it cannot be written.
pub(crate) fn write(path: &Path, rows: &[Ended]) -> Result<(), CliError> {
    let rows: Vec<&Row> = rows.iter().map(|(r, _)| r).collect();
    let csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let text = if csv {
        to_csv(&rows)
    } else {
        serde_json::to_string_pretty(&rows).map_err(|e| CliError::Output {
            path: path.display().to_string(),
            message: e.to_string(),
        })? + "\n"
    };
    circlefit::io::write_atomic(path, text.as_bytes())?;
    Ok(())
}

fn to_csv(rows: &[&Row]) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    }
    fn opt<T: ToString>(v: Option<T>) -> String {
        v.map(|v| v.to_string()).unwrap_or_default()
    }
    let mut out = String::from("input,status,circles,psnr,evaluations,seconds,outputs,error\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            field(&r.input),
            r.status,
            opt(r.circles),
            opt(r.psnr.map(|p| format!("{p:.4}"))),
            opt(r.evaluations),
            opt(r.seconds.map(|s| format!("{s:.3}"))),
            field(&r.outputs.join(" ")),
            field(r.error.as_deref().unwrap_or(""))
        );
    }
    out
}
