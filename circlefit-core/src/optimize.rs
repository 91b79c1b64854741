//! The [`Optimizer`] trait, the [`Objective`] it minimises and the [`Problem`] it is given.
//!
//! Nothing here knows about images: an optimizer minimises any function over box bounds.

use std::ops::ControlFlow;

use crate::circle::Bounds;

/// A function to minimise.
///
/// Any `FnMut(&[f64]) -> f64` closure is an objective. An objective that can evaluate many
/// points at once (in parallel, say) overrides [`evaluate_batch`](Objective::evaluate_batch);
/// optimizers hand it every group of points whose evaluation order does not matter.
///
/// NaN is a legal return value; optimizers must treat it as worse than any number (the
/// built-in Mayfly does), so it never becomes the best.
///
/// # Example: a custom objective
///
/// An objective that counts its evaluations and can be stopped from outside:
///
/// ```
/// use circlefit_core::Objective;
///
/// struct Counted { calls: u64, limit: u64 }
///
/// impl Objective for Counted {
///     fn evaluate(&mut self, x: &[f64]) -> f64 {
///         self.calls += 1;
///         x.iter().map(|v| (v - 1.0).powi(2)).sum()
///     }
///     fn interrupted(&self) -> bool {
///         self.calls >= self.limit
///     }
/// }
///
/// let mut f = Counted { calls: 0, limit: 2 };
/// let mut out = [0.0; 2];
/// f.evaluate_batch(&[1.0, 1.0, 3.0, 1.0], 2, &mut out);
/// assert_eq!(out, [0.0, 4.0]);
/// assert!(f.interrupted());
/// ```
pub trait Objective {
    /// The value at `x`.
    fn evaluate(&mut self, x: &[f64]) -> f64;

    /// The values at the points of `xs` (consecutive runs of `dim` numbers) into `out`,
    /// one per point. Must equal calling [`evaluate`](Objective::evaluate) on each point in
    /// order.
    fn evaluate_batch(&mut self, xs: &[f64], dim: usize, out: &mut [f64]) {
        for (x, o) in xs.chunks_exact(dim).zip(out.iter_mut()) {
            *o = self.evaluate(x);
        }
    }

    /// Called by optimizers after each iteration with the iterations and evaluations so far
    /// and the best value found; returning `Break` asks the optimizer to stop (it then
    /// reports [`StopReason::Observer`]). Strategies use it to report progress within a stage.
    fn iteration_done(&mut self, iteration: u64, evaluations: u64, best: f64) -> ControlFlow<()> {
        let _ = (iteration, evaluations, best);
        ControlFlow::Continue(())
    }

    /// Whether the run should stop now (an error or a cancellation inside the objective).
    /// Optimizers check it after each evaluation or batch and return early with
    /// [`StopReason::Interrupted`].
    fn interrupted(&self) -> bool {
        false
    }
}

impl<F: FnMut(&[f64]) -> f64> Objective for F {
    fn evaluate(&mut self, x: &[f64]) -> f64 {
        self(x)
    }
}

/// What an optimizer is asked to do: the bounds, the seed, an evaluation budget and optional
/// starting candidates.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Problem<'a> {
    /// The search box; its dimension is the problem's.
    pub bounds: &'a Bounds,
    /// The seed of this run; the same seed must give the same result.
    pub seed: u64,
    /// The most evaluations the run may use, if limited.
    pub max_evaluations: Option<u64>,
    /// Candidates to start from (each `bounds.dim()` long); an optimizer puts them in its
    /// initial population where it can.
    pub initial: &'a [Vec<f64>],
}

impl<'a> Problem<'a> {
    /// A problem over `bounds` with seed `seed`, no budget and no starting candidates.
    pub fn new(bounds: &'a Bounds, seed: u64) -> Self {
        Self {
            bounds,
            seed,
            max_evaluations: None,
            initial: &[],
        }
    }

    /// Limits the number of evaluations.
    pub fn with_max_evaluations(mut self, max: u64) -> Self {
        self.max_evaluations = Some(max);
        self
    }

    /// Sets starting candidates.
    pub fn with_initial(mut self, initial: &'a [Vec<f64>]) -> Self {
        self.initial = initial;
        self
    }

    /// The number of dimensions.
    pub fn dim(&self) -> usize {
        self.bounds.dim()
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum StopReason {
    /// The configured number of iterations ran.
    Iterations,
    /// The evaluation budget was used up.
    Budget,
    /// The best cost reached the target.
    TargetCost,
    /// The best cost stopped improving.
    Stagnation,
    /// An observer asked to stop.
    Observer,
    /// The objective reported [`Objective::interrupted`].
    Interrupted,
}

/// The outcome of a run.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct OptimizeReport {
    /// The best point found.
    pub best_x: Vec<f64>,
    /// Its value.
    pub best_f: f64,
    /// Evaluations used.
    pub evaluations: u64,
    /// Iterations completed.
    pub iterations: u64,
    /// Why the run ended.
    pub stop: StopReason,
    /// The seed the run used.
    pub seed: u64,
}

impl OptimizeReport {
    /// A report (for optimizer implementations outside this crate).
    pub fn new(
        best_x: Vec<f64>,
        best_f: f64,
        evaluations: u64,
        iterations: u64,
        stop: StopReason,
        seed: u64,
    ) -> Self {
        Self {
            best_x,
            best_f,
            evaluations,
            iterations,
            stop,
            seed,
        }
    }
}

/// Minimises an [`Objective`] over box bounds.
///
/// Contract: every point handed to the objective lies inside `problem.bounds`; no more than
/// `problem.max_evaluations` evaluations are made; the same problem (seed included) gives
/// the same report; a NaN value never becomes the best.
///
/// # Example: a custom optimizer
///
/// Pure random search with a tiny self-contained generator:
///
/// ```
/// use circlefit_core::{Bounds, Objective, OptimizeReport, Optimizer, Problem, StopReason};
///
/// #[derive(Debug)]
/// struct RandomSearch { samples: u64 }
///
/// impl Optimizer for RandomSearch {
///     type Error = std::convert::Infallible;
///
///     fn minimize(&mut self, f: &mut dyn Objective, p: &Problem<'_>) -> Result<OptimizeReport, Self::Error> {
///         let mut state = p.seed | 1;
///         let mut next = move || { state ^= state << 13; state ^= state >> 7; state ^= state << 17;
///                                  (state >> 11) as f64 / (1u64 << 53) as f64 };
///         let n = p.max_evaluations.map_or(self.samples, |m| m.min(self.samples));
///         let (mut best_x, mut best_f) = (p.bounds.lower().to_vec(), f64::INFINITY);
///         let mut x = vec![0.0; p.dim()];
///         for _ in 0..n {
///             for ((v, lo), hi) in x.iter_mut().zip(p.bounds.lower()).zip(p.bounds.upper()) {
///                 *v = lo + (hi - lo) * next();
///             }
///             let fx = f.evaluate(&x);
///             if fx < best_f { best_f = fx; best_x.copy_from_slice(&x); }
///         }
///         Ok(OptimizeReport::new(best_x, best_f, n, n, StopReason::Iterations, p.seed))
///     }
/// }
///
/// let bounds = Bounds::uniform(2, -1.0, 1.0)?;
/// let mut sphere = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
/// let report = RandomSearch { samples: 500 }.minimize(&mut sphere, &Problem::new(&bounds, 7))?;
/// assert!(report.best_f < 0.05);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Optimizer {
    /// What can go wrong (invalid settings for this problem, say).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Minimises `objective` over `problem`.
    ///
    /// # Errors
    /// Whatever the implementation reports, for example settings that cannot work for
    /// this problem.
    fn minimize(
        &mut self,
        objective: &mut dyn Objective,
        problem: &Problem<'_>,
    ) -> Result<OptimizeReport, Self::Error>;
}

impl<O: Optimizer + ?Sized> Optimizer for &mut O {
    type Error = O::Error;
    fn minimize(
        &mut self,
        objective: &mut dyn Objective,
        problem: &Problem<'_>,
    ) -> Result<OptimizeReport, Self::Error> {
        (**self).minimize(objective, problem)
    }
}

impl<O: Optimizer + ?Sized> Optimizer for Box<O> {
    type Error = O::Error;
    fn minimize(
        &mut self,
        objective: &mut dyn Objective,
        problem: &Problem<'_>,
    ) -> Result<OptimizeReport, Self::Error> {
        (**self).minimize(objective, problem)
    }
}
