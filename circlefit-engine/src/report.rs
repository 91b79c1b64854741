//! Where a fit's progress goes: every pass reports through [`Reporter::report`], which
//! stamps the time and calls the observer.

use std::ops::ControlFlow;
use std::time::Instant;

use crate::{Phase, Progress};

/// The observer of a fit and the time it started.
pub(crate) struct Reporter<'a> {
    observer: &'a mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
    started: Instant,
}

impl<'a> Reporter<'a> {
    /// A reporter to `observer` of a fit that started now.
    pub(crate) fn new(observer: &'a mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>) -> Self {
        Self {
            observer,
            started: Instant::now(),
        }
    }

    /// The same reporter, borrowed for a shorter while (a stage's objective reports
    /// through it).
    pub(crate) fn reborrow(&mut self) -> Reporter<'_> {
        Reporter {
            observer: &mut *self.observer,
            started: self.started,
        }
    }

    /// Hands `progress` to the observer, with the time since the fit started: its
    /// `Break` asks the fit to stop.
    pub(crate) fn report(&mut self, mut progress: Progress<'_>) -> ControlFlow<()> {
        progress.elapsed = self.started.elapsed();
        (self.observer)(&progress)
    }
}

impl Progress<'_> {
    /// Progress in `phase` at `stage` of `stages`: nothing finished, no iteration, no
    /// resume point, the best cost the kept one. The caller sets what differs.
    pub(crate) fn at(
        phase: Phase,
        (stage, stages): (usize, usize),
        circles_kept: usize,
        cost: f64,
        evaluations: u64,
    ) -> Self {
        Self {
            phase,
            stage,
            stages,
            finished: None,
            iteration: 0,
            circles_kept,
            resume_point: None,
            circles: None,
            cost,
            best_cost: cost,
            evaluations,
            elapsed: std::time::Duration::ZERO,
        }
    }
}
