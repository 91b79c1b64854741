//! Progress on stderr: an indicatif bar on a terminal (stages, then polishing, with PSNR,
//! evaluations/s and ETA), plain lines at every tenth of the way otherwise.

use std::io::IsTerminal;
use std::ops::ControlFlow;

use circlefit::prelude::*;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// The bars of fits running side by side (one line each on a terminal).
#[derive(Debug)]
pub(crate) struct Multi(Option<MultiProgress>);

impl Multi {
    /// Bars shared by several fits when `several`; otherwise each fit draws its own.
    pub(crate) fn new(several: bool) -> Self {
        Self(several.then(MultiProgress::new))
    }
}

/// Reports one fit's progress.
pub(crate) struct Reporter {
    bar: Option<ProgressBar>,
    label: String,
    last_tenth: Option<(u8, usize)>,
}

impl Reporter {
    /// A reporter for the fit labelled `label` (the input, and its place among several).
    pub(crate) fn new(label: String, multi: &Multi) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match &multi.0 {
                Some(m) => m.add(ProgressBar::new(1)),
                None => ProgressBar::new(1),
            };
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:24}] {pos}/{len} {msg} ({elapsed}, ETA {eta})",
                )
                .expect("a valid template")
                .progress_chars("#>-"),
            );
            bar.set_prefix(label.clone());
            bar
        });
        Self {
            bar,
            label,
            last_tenth: None,
        }
    }

    /// The observer: draws the bar or prints a line at each tenth; never stops the fit.
    pub(crate) fn observe(&mut self, p: &Progress<'_>) -> ControlFlow<()> {
        // The phase (0 stages, 1 polishing, 2 refinement) keys the plain lines' tenths.
        let (phase, done, total, what) = match p.phase {
            Phase::Polishing { slot, slots } => (1, slot, slots, "polishing slots"),
            Phase::Refining { step, steps } => (2, step as usize, steps as usize, "refining steps"),
            _ => (
                0,
                p.stage + usize::from(p.finished.is_some()),
                p.stages,
                "stages",
            ),
        };
        let secs = p.elapsed.as_secs_f64().max(1e-9);
        let msg = format!(
            "{what}, {} circles, psnr {:.2} dB, {:.0} evals/s",
            p.circles_kept,
            psnr(p.best_cost),
            p.evaluations as f64 / secs
        );
        match &self.bar {
            Some(bar) => {
                bar.set_length(total.max(1) as u64);
                bar.set_position(done as u64);
                bar.set_message(msg);
            }
            None => {
                let tenth = done * 10 / total.max(1);
                let key = (phase, tenth);
                let at_end = p.finished.is_some() || phase > 0;
                if at_end && self.last_tenth != Some(key) {
                    crate::log_line(&format!("{}: {done}/{total} {msg}, {secs:.1}s", self.label));
                    self.last_tenth = Some(key);
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// Clears the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
