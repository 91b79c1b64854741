//! A job's history: one entry per kept stage (and one for the end, when polishing or
//! refinement changed the figures), kept in the store beside the job so a resumed job goes
//! on where its earlier attempt stopped and the page can chart PSNR and circles over time.

use serde::{Deserialize, Serialize};

/// The most entries a history holds: a fit has at most one stage per circle, and the
/// circle count is capped by `--max-circles` (`settings.rs`); this bounds a stored
/// history however the job was planned.
pub(crate) const MAX_ENTRIES: usize = 10_001;

/// One point of a job's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct HistoryEntry {
    /// `"stage"` after a kept stage, `"end"` for the result.
    pub(crate) phase: String,
    /// Stages completed.
    pub(crate) stages: usize,
    /// Circles kept.
    pub(crate) circles: usize,
    /// The cost (mean squared error per channel, on 0–255 values).
    pub(crate) cost: f64,
    /// The PSNR in dB (`None`: an exact fit).
    pub(crate) psnr: Option<f64>,
    /// Evaluations so far, over every attempt.
    pub(crate) evaluations: u64,
    /// Seconds of fitting so far, over every attempt.
    pub(crate) seconds: f64,
}

/// A history being written: the entries so far (an earlier attempt's, when resumed).
#[derive(Debug, Default)]
pub(crate) struct History {
    entries: Vec<HistoryEntry>,
}

impl History {
    /// The history an earlier attempt stored (`None`: a new job). An unreadable one starts
    /// afresh: the history is a record, never needed to run the job.
    pub(crate) fn resumed(stored: Option<&str>) -> Self {
        let entries = stored
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        Self { entries }
    }

    /// Seconds the earlier attempts spent (where this attempt's clock starts).
    pub(crate) fn seconds_before(&self) -> f64 {
        self.entries.last().map_or(0.0, |e| e.seconds)
    }

    /// Adds `entry` (within [`MAX_ENTRIES`]; past it the last entry is replaced).
    pub(crate) fn push(&mut self, entry: HistoryEntry) {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.pop();
        }
        self.entries.push(entry);
    }

    /// The entries as stored (a JSON array).
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(&self.entries).unwrap_or_else(|_| "[]".into())
    }
}

/// A stored history's entries (`[]` for none or an unreadable one).
pub(crate) fn entries(stored: Option<&str>) -> Vec<HistoryEntry> {
    History::resumed(stored).entries
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // seconds are stored and read back bit for bit
mod tests {
    use super::*;

    fn entry(stages: usize, seconds: f64) -> HistoryEntry {
        HistoryEntry {
            phase: "stage".into(),
            stages,
            circles: stages,
            cost: 1.0,
            psnr: Some(48.1),
            evaluations: 10,
            seconds,
        }
    }

    #[test]
    fn a_history_round_trips_and_resumes_its_clock() {
        let mut h = History::resumed(None);
        assert_eq!(h.seconds_before(), 0.0);
        h.push(entry(1, 0.5));
        h.push(entry(2, 1.25));
        let again = History::resumed(Some(&h.to_json()));
        assert_eq!(again.entries, h.entries);
        assert_eq!(again.seconds_before(), 1.25);
        assert!(entries(Some("not json")).is_empty());
    }

    #[test]
    fn a_history_never_grows_past_its_maximum() {
        let mut h = History::default();
        for k in 0..MAX_ENTRIES + 5 {
            h.push(entry(k, k as f64));
        }
        assert_eq!(h.entries.len(), MAX_ENTRIES);
        assert_eq!(h.entries.last().unwrap().stages, MAX_ENTRIES + 4);
    }
}
