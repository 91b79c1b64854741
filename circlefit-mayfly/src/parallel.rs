//! Parallel evaluation of a plain function's batches (feature `rayon`).

use circlefit_core::Objective;
use rayon::prelude::*;

/// Wraps a thread-safe function so that the batches an optimizer hands over (Mayfly's
/// females, offspring, mutants) are evaluated on rayon's thread pool.
///
/// Each point's value lands in its own slot, so results are bit-identical for any number of
/// threads, and identical to evaluating the same function serially.
///
/// ```
/// use circlefit_core::{Bounds, Optimizer, Problem};
/// use circlefit_mayfly::{Mayfly, ParallelFn};
///
/// let bounds = Bounds::uniform(8, -5.0, 5.0)?;
/// let mut f = ParallelFn(|x: &[f64]| x.iter().map(|v| v * v).sum::<f64>());
/// let report = Mayfly::builder().iterations(50).build()?.minimize(&mut f, &Problem::new(&bounds, 1))?;
/// assert!(report.best_f < 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ParallelFn<F>(pub F);

impl<F: Fn(&[f64]) -> f64 + Sync> Objective for ParallelFn<F> {
    fn evaluate(&mut self, x: &[f64]) -> f64 {
        (self.0)(x)
    }

    fn evaluate_batch(&mut self, xs: &[f64], dim: usize, out: &mut [f64]) {
        let f = &self.0;
        out.par_iter_mut()
            .zip(xs.par_chunks_exact(dim))
            .for_each(|(o, x)| *o = f(x));
    }
}
