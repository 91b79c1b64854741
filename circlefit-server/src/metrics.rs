//! `GET /metrics`: the store's jobs per status and this server's own counters, in
//! Prometheus's text format. Written by hand: a dozen lines of a plain text format, where a
//! metrics crate would bring a registry and its types for five counters and one histogram.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::model::{Outcome, StatusCounts};

/// The fit-time histogram's bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// This server's counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    done: AtomicU64,
    cancelled: AtomicU64,
    failed: AtomicU64,
    adopted: AtomicU64,
    store_errors: AtomicU64,
    /// Fit times: per bucket (cumulative when written), count and sum.
    seconds: Mutex<([u64; BUCKETS.len()], u64, f64)>,
}

impl Metrics {
    /// A fit this server ran ended with `outcome` after `took`.
    pub(crate) fn finished(&self, outcome: Outcome, took: Duration) {
        match outcome {
            Outcome::Done => &self.done,
            Outcome::Cancelled => &self.cancelled,
        }
        .fetch_add(1, Ordering::Relaxed);
        let s = took.as_secs_f64();
        let mut h = self.seconds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = BUCKETS.iter().position(|&b| s <= b) {
            h.0[i] += 1;
        }
        h.1 += 1;
        h.2 += s;
    }

    /// A job this server ran failed.
    pub(crate) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// This server adopted a job whose lease had expired.
    pub(crate) fn adopted(&self) {
        self.adopted.fetch_add(1, Ordering::Relaxed);
    }

    /// A worker could not write to the store.
    pub(crate) fn store_error(&self) {
        self.store_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The text format: the store's figures (`counts`, all adoptions) and this server's.
    pub(crate) fn render(&self, counts: &StatusCounts, adoptions: i64, server: &str) -> String {
        let mut out = String::new();
        let label = server.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(out, "# HELP circlefit_jobs Jobs in the store, per status.");
        let _ = writeln!(out, "# TYPE circlefit_jobs gauge");
        for (status, n) in counts {
            let _ = writeln!(out, "circlefit_jobs{{status=\"{status}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP circlefit_lease_adoptions_total Jobs taken over from a lost server, all servers."
        );
        let _ = writeln!(out, "# TYPE circlefit_lease_adoptions_total counter");
        let _ = writeln!(out, "circlefit_lease_adoptions_total {adoptions}");
        let counters = [
            (
                "circlefit_fits_total",
                "Fits this server ended, per outcome.",
                Some(("outcome", "done")),
                &self.done,
            ),
            (
                "circlefit_fits_total",
                "",
                Some(("outcome", "cancelled")),
                &self.cancelled,
            ),
            (
                "circlefit_fits_total",
                "",
                Some(("outcome", "failed")),
                &self.failed,
            ),
            (
                "circlefit_server_adoptions_total",
                "Jobs this server adopted.",
                None,
                &self.adopted,
            ),
            (
                "circlefit_store_errors_total",
                "Results this server could not store (left to their lease's expiry).",
                None,
                &self.store_errors,
            ),
        ];
        for (name, help, label_pair, value) in counters {
            if !help.is_empty() {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            }
            let labels = match label_pair {
                Some((k, v)) => format!("{{server=\"{label}\",{k}=\"{v}\"}}"),
                None => format!("{{server=\"{label}\"}}"),
            };
            let _ = writeln!(out, "{name}{labels} {}", value.load(Ordering::Relaxed));
        }
        self.render_histogram(&mut out, &label);
        out
    }

    fn render_histogram(&self, out: &mut String, label: &str) {
        let (buckets, count, sum) = *self.seconds.lock().unwrap_or_else(PoisonError::into_inner);
        let name = "circlefit_fit_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Wall time of the fits this server ran to an end."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "{name}_bucket{{server=\"{label}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{server=\"{label}\",le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(out, "{name}_sum{{server=\"{label}\"}} {sum}");
        let _ = writeln!(out, "{name}_count{{server=\"{label}\"}} {count}");
    }
}
