//! A batch of points scored by several threads at once: each thread takes the next point
//! from one cursor until none is left.
//!
//! Points are handed out one at a time (their cost varies, so fixed shares would leave one
//! thread waiting) in an order the caller chooses (costliest first keeps the threads' last
//! points short). Which thread scores a point never changes its value when every thread's
//! scorer is exact, so the values do not depend on the number of threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

use circlefit_core::{Error, Result};

/// The points of a batch and their values; its buffers are reused from batch to batch, so
/// a batch allocates nothing once they have grown.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    points: RwLock<Points>,
    cursor: AtomicUsize,
    answers: Mutex<Answers>,
}

#[derive(Debug, Default)]
struct Points {
    xs: Vec<f64>,
    dim: usize,
    order: Vec<usize>,
}

#[derive(Debug, Default)]
struct Answers {
    values: Vec<(usize, f64)>,
    /// The error of the lowest point that failed.
    error: Option<(usize, Error)>,
}

fn unpoisoned<G>(r: std::result::Result<G, PoisonError<G>>) -> G {
    // A panic while holding a lock is re-raised when the team's scope joins.
    r.unwrap_or_else(PoisonError::into_inner)
}

impl Batch {
    fn answers(&self) -> MutexGuard<'_, Answers> {
        unpoisoned(self.answers.lock())
    }

    /// Starts a batch of the points `xs` (rows of `dim` numbers), taken in `order`.
    pub(crate) fn fill(&self, xs: &[f64], dim: usize, order: &[usize]) {
        let mut p = unpoisoned(self.points.write());
        p.xs.clear();
        p.xs.extend_from_slice(xs);
        p.dim = dim;
        p.order.clear();
        p.order.extend_from_slice(order);
        self.cursor.store(0, Ordering::Relaxed);
        let mut a = self.answers();
        a.values.clear();
        a.error = None;
    }

    /// Scores points taken from the cursor until none is left, collecting the values in
    /// `mine` (cleared first) and handing them in at the end; the first error stops this
    /// thread's share (the others finish theirs).
    pub(crate) fn take(
        &self,
        mine: &mut Vec<(usize, f64)>,
        mut score: impl FnMut(&[f64]) -> Result<f64>,
    ) {
        mine.clear();
        let p = unpoisoned(self.points.read());
        let mut failed = None;
        while let Some(&i) = p.order.get(self.cursor.fetch_add(1, Ordering::Relaxed)) {
            match score(&p.xs[i * p.dim..(i + 1) * p.dim]) {
                Ok(v) => mine.push((i, v)),
                Err(e) => {
                    failed = Some((i, e));
                    break;
                }
            }
        }
        let mut a = self.answers();
        a.values.extend_from_slice(mine);
        if let Some((i, e)) = failed
            && a.error.as_ref().is_none_or(|(j, _)| i < *j)
        {
            a.error = Some((i, e));
        }
    }

    /// Writes the values into `out` (by point), or returns the error of the lowest point
    /// that failed.
    ///
    /// # Errors
    /// That error.
    pub(crate) fn finish(&self, out: &mut [f64]) -> Result<()> {
        let mut a = self.answers();
        if let Some((_, e)) = a.error.take() {
            return Err(e);
        }
        for &(i, v) in &a.values {
            out[i] = v;
        }
        Ok(())
    }
}
