//! Fitting strategies: [`Joint`](Strategy::Joint), [`Sequential`](Strategy::Sequential)
//! and [`Batch`](Strategy::Batch), run by a [`Fitter`] generic over the three traits.
//!
//! All three share one loop: a *stage* optimises `B` new circles (7 parameters each) drawn
//! over the canvas of the circles kept so far, and keeps them only if they lower the cost.
//! Joint is one stage of all `K` circles over the base canvas; Sequential is `K` stages of
//! one circle; Batch is `⌈K/B⌉` stages of `B` circles (the last one smaller if `B ∤ K`).
//!
//! Each stage's optimizer seed is derived from the fit's seed and the stage index
//! ([`stage_seed`]), so a fit is reproducible from its seed alone.
//!
//! When the renderer has a [`SpanRenderer`](circlefit_core::SpanRenderer) and the cost a
//! [`PixelSumCost`](circlefit_core::PixelSumCost) (the built-in `CpuRenderer` and `Mse` do), every
//! evaluation scores only the pixels the candidates cover; the cost is exactly what a full
//! render and a full cost would give. Any other combination renders the kept canvas plus
//! the candidates into a reused scratch canvas and scores it whole.

#![forbid(unsafe_code)]

mod evaluator;
mod hill_climb;
mod incremental;
mod objective;
mod polish;
mod prune;
mod seeding;
// Only `fit_parallel_observed` (feature `rayon`) starts helpers.
#[cfg_attr(not(feature = "rayon"), allow(dead_code))]
mod team;

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use self::evaluator::Evaluator;
pub use self::hill_climb::HillClimber;
use self::objective::ParamObjective;
use circlefit_core::CostFunc;
use circlefit_core::{Bounds, Circle};
use circlefit_core::{Canvas, CanvasRef};
use circlefit_core::{Error, Result};
use circlefit_core::{Objective, Optimizer, Problem, StopReason};
use circlefit_core::{Renderer, SplitMix64};

/// The most circles a fit may ask for.
pub const MAX_CIRCLES: usize = 100_000;

/// How circles are grouped into optimisation stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Strategy {
    /// One optimisation over all circles at once (7·K dimensions), over the base canvas.
    Joint,
    /// One stage per circle, each over the canvas of the circles kept so far.
    Sequential,
    /// Stages of `size` circles optimised jointly over the kept canvas.
    Batch {
        /// Circles per stage, at least 1 and at most the circle count.
        size: usize,
    },
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Joint => f.write_str("joint"),
            Self::Sequential => f.write_str("sequential"),
            Self::Batch { size } => write!(f, "batch({size})"),
        }
    }
}

/// How a circle's colour is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ColorMode {
    /// The optimizer searches all 7 numbers of each circle.
    #[default]
    Search,
    /// The optimizer searches x, y, radius and alpha (4 numbers per circle); the colour is
    /// the least-squares optimum over the pixels the circle covers on the kept canvas,
    /// `c = (256·Σt − (256 − a)·Σp) / (a·n)` per channel (t reference, p kept, a the
    /// quantised alpha, n covered pixels), clamped to `[0, 255]`. In a batch each circle's
    /// colour is solved against the kept canvas, ignoring the batch's other circles; the
    /// cost reported is always exact for the colours used. Needs a renderer with spans.
    ClosedForm,
}

impl ColorMode {
    /// How many numbers the optimizer searches per circle: 7 (x, y, r, red, green, blue,
    /// alpha) when searching the colour, 4 (x, y, r, alpha) when it is solved.
    pub fn params_per_circle(self) -> usize {
        match self {
            ColorMode::Search => circlefit_core::PARAMS_PER_CIRCLE,
            ColorMode::ClosedForm => 4,
        }
    }
}

/// What a fit does: strategy, circle count, seed, colour mode and the quality options
/// (residual seeds, restarts, convergence stop, polishing).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct FitSettings {
    /// How circles are grouped into stages.
    pub strategy: Strategy,
    /// How many circles to place (fewer may be kept).
    pub circles: usize,
    /// The seed of the whole fit.
    pub seed: u64,
    /// How colours are found.
    #[cfg_attr(feature = "serde", serde(default))]
    pub color: ColorMode,
    /// Starting candidates per stage placed where the kept canvas is most wrong (residual
    /// seeding; 0 = none). The optimizer puts them in its initial population.
    #[cfg_attr(feature = "serde", serde(default))]
    pub residual_seeds: usize,
    /// Optimizer runs per stage (restarts). Each run after the first starts from the best
    /// point so far (plus the residual seeds) with a fresh seed, which resets Mayfly's
    /// decayed dance and flight. 1 = a single run. See also
    /// [`stage_budget`](FitSettings::stage_budget).
    #[cfg_attr(feature = "serde", serde(default = "one"))]
    pub epochs: usize,
    /// Stop the fit once this many stages in a row each lowered the cost by less than
    /// `convergence_threshold` (relative); `None` runs every stage.
    #[cfg_attr(feature = "serde", serde(default))]
    pub convergence_patience: Option<usize>,
    /// The relative improvement `(before − after) / before` below which a stage counts as
    /// stale for [`convergence_patience`](FitSettings::convergence_patience).
    #[cfg_attr(feature = "serde", serde(default))]
    pub convergence_threshold: f64,
    /// After the stages, re-optimise this many kept circles in their draw slots with the
    /// others fixed (spread over the draw order; more than the circle count means repeated
    /// passes), each searched within ±5 % of every parameter's range around it (colour
    /// included, whatever [`color`](FitSettings::color) says) and kept only if the total
    /// cost falls. Each candidate is scored over the old and new circles' pixels
    /// only, exactly. Needs a span renderer and a pixel-sum cost; 0 = off. Not for joint fits.
    #[cfg_attr(feature = "serde", serde(default))]
    pub polish: usize,
    /// The evaluation budget of each polished slot (`None`: the search's own, 150 for the
    /// hill climber).
    #[cfg_attr(feature = "serde", serde(default))]
    pub polish_budget: Option<u64>,
    /// How each slot is searched.
    #[cfg_attr(feature = "serde", serde(default))]
    pub polish_search: PolishSearch,
    /// Batch strategy only: after each stage, drop the batch's circles whose removal does
    /// not raise the cost (leave-one-out, scored exactly on the incremental path) and
    /// refill them in later stages, which then run until `circles` are kept (at most
    /// twice the usual number of stages).
    #[cfg_attr(feature = "serde", serde(default))]
    pub prune: bool,
    /// Stop the stages once the kept canvas's cost is at or below this (`None`: run them
    /// all). Polishing still runs. To stop a stage's optimizer run as soon as a candidate
    /// reaches it, give the optimizer the same target (Mayfly: `target_cost`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub target_cost: Option<f64>,
    /// The most evaluations one stage may use over all its runs (`None`: each run its own
    /// budget). With [`epochs`](FitSettings::epochs) and an optimizer that stops when it
    /// stagnates (Mayfly: `stagnation`), a stage restarts from its best point whenever a
    /// run stalls, until the budget is spent.
    #[cfg_attr(feature = "serde", serde(default))]
    pub stage_budget: Option<u64>,
}

/// How polishing searches a slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum PolishSearch {
    /// The built-in [`HillClimber`] (measured twice as sample-efficient as Mayfly for this
    /// local refinement).
    #[default]
    HillClimb,
    /// The fitter's own optimizer (the one that runs the stages).
    Optimizer,
}

#[cfg(feature = "serde")]
fn one() -> usize {
    1
}

impl Default for FitSettings {
    /// Sequential, 50 circles, seed 0, nothing else turned on.
    fn default() -> Self {
        Self::new(Strategy::Sequential, 50, 0)
    }
}

impl FitSettings {
    /// Settings with the given strategy, circle count and seed.
    pub fn new(strategy: Strategy, circles: usize, seed: u64) -> Self {
        Self {
            strategy,
            circles,
            seed,
            color: ColorMode::Search,
            residual_seeds: 0,
            epochs: 1,
            convergence_patience: None,
            convergence_threshold: 0.0,
            polish: 0,
            polish_budget: None,
            polish_search: PolishSearch::HillClimb,
            prune: false,
            target_cost: None,
            stage_budget: None,
        }
    }

    /// The measured defaults of each strategy, for `circles` circles: what the `fit`
    /// example runs unless told otherwise.
    ///
    /// - Sequential and Batch: closed-form colour, 10 residual seeds per stage, and 8
    ///   polishing passes (`polish = 8 × circles`, hill climbing, 150 evaluations a slot).
    /// - Batch also prunes and refills (+0.01 to +0.11 dB on the four images, no slower).
    /// - Joint: searched colour (it measured better there), nothing else.
    ///
    /// Chosen on four 256² photographs (the bundled cat and three public-domain ones) at
    /// 100 circles, 2 threads; the README has the table. Eight passes sit near the
    /// polishing plateau: twelve added 0.03 dB on average for 35 % more time.
    pub fn recommended(strategy: Strategy, circles: usize, seed: u64) -> Self {
        let base = Self::new(strategy, circles, seed);
        match strategy {
            Strategy::Joint => base,
            Strategy::Sequential | Strategy::Batch { .. } => Self {
                color: ColorMode::ClosedForm,
                residual_seeds: 10,
                polish: circles.saturating_mul(8),
                prune: matches!(strategy, Strategy::Batch { .. }),
                ..base
            },
        }
    }

    /// The same settings with another colour mode.
    pub fn with_color(mut self, color: ColorMode) -> Self {
        self.color = color;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for zero circles or more than [`MAX_CIRCLES`], a batch
    /// size of 0 or larger than the circle count, a convergence patience of 0 or a
    /// threshold outside `[0, 1]`, a polish or stage budget of 0, a target cost that is not
    /// finite and non-negative, and 0 or more than 1000 epochs.
    pub fn validate(&self) -> Result<()> {
        if self.circles == 0 || self.circles > MAX_CIRCLES {
            return Err(Error::InvalidSetting {
                field: "circles",
                value: self.circles.to_string(),
                reason: "must be between 1 and 100000",
            });
        }
        if self.convergence_patience == Some(0) {
            return Err(Error::InvalidSetting {
                field: "convergence patience",
                value: "0".into(),
                reason: "must be at least 1",
            });
        }
        if !(0.0..=1.0).contains(&self.convergence_threshold) {
            return Err(Error::InvalidSetting {
                field: "convergence threshold",
                value: self.convergence_threshold.to_string(),
                reason: "must be in [0, 1]",
            });
        }
        for (field, budget) in [
            ("polish budget", self.polish_budget),
            ("stage budget", self.stage_budget),
        ] {
            if budget == Some(0) {
                return Err(Error::InvalidSetting {
                    field,
                    value: "0".into(),
                    reason: "must be at least 1 evaluation",
                });
            }
        }
        if let Some(t) = self.target_cost
            && !(t.is_finite() && t >= 0.0)
        {
            return Err(Error::InvalidSetting {
                field: "target cost",
                value: t.to_string(),
                reason: "must be finite and at least 0",
            });
        }
        if self.epochs == 0 || self.epochs > 1000 {
            return Err(Error::InvalidSetting {
                field: "epochs",
                value: self.epochs.to_string(),
                reason: "must be between 1 and 1000",
            });
        }
        if let Strategy::Batch { size } = self.strategy
            && (size == 0 || size > self.circles)
        {
            return Err(Error::InvalidSetting {
                field: "batch size",
                value: size.to_string(),
                reason: "must be between 1 and the number of circles",
            });
        }
        Ok(())
    }

    /// Circles per stage.
    fn stage_size(&self) -> usize {
        match self.strategy {
            Strategy::Joint => self.circles,
            Strategy::Sequential => 1,
            Strategy::Batch { size } => size,
        }
    }
}

/// The seed of stage `stage` of a fit seeded with `seed` (SplitMix64 of the two).
pub fn stage_seed(seed: u64, stage: u64) -> u64 {
    SplitMix64::mix(seed.wrapping_add(stage.wrapping_add(1).wrapping_mul(SplitMix64::GAMMA)))
}

/// What happened in one stage.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct StageRecord {
    /// Stage index, from 0.
    pub index: usize,
    /// Circles optimised in this stage.
    pub circles: usize,
    /// Whether they were kept (they lowered the cost).
    pub kept: bool,
    /// Cost before the stage.
    pub cost_before: f64,
    /// Cost after the stage (equal to `cost_before` if nothing was kept).
    pub cost_after: f64,
    /// Objective evaluations in this stage (pruning's included).
    pub evaluations: u64,
    /// Circles of the batch dropped by pruning (see [`FitSettings::prune`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub pruned: usize,
    /// Why the stage's optimizer run ended.
    pub stop: StopReason,
    /// The optimizer seed of this stage.
    pub seed: u64,
}

/// The outcome of a fit.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct FitResult {
    /// The kept circles, in draw order.
    pub circles: Vec<Circle>,
    /// The cost of the base canvas with the kept circles drawn.
    pub cost: f64,
    /// The cost of the base canvas alone.
    pub initial_cost: f64,
    /// Objective evaluations used, in all stages.
    pub evaluations: u64,
    /// One record per stage run.
    pub stages: Vec<StageRecord>,
    /// Whether an observer or the cancellation flag stopped the fit before its end.
    pub stopped_early: bool,
    /// Whether the cancellation flag stopped it.
    #[cfg_attr(feature = "serde", serde(default))]
    pub cancelled: bool,
    /// Whether the convergence rule stopped it.
    #[cfg_attr(feature = "serde", serde(default))]
    pub converged: bool,
    /// Whether it stopped because the cost reached [`FitSettings::target_cost`].
    #[cfg_attr(feature = "serde", serde(default))]
    pub reached_target: bool,
    /// Evaluations spent polishing (included in `evaluations`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub polish_evaluations: u64,
}

/// Progress reported to an observer: after each optimizer iteration within a stage (for
/// optimizers that report iterations, as Mayfly does) and after each stage.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Progress<'a> {
    /// The current stage, from 0.
    pub stage: usize,
    /// Total stages of the fit.
    pub stages: usize,
    /// The stage's record once it has finished; `None` for an update within the stage.
    pub finished: Option<&'a StageRecord>,
    /// Optimizer iterations completed in the current stage.
    pub iteration: u64,
    /// Circles kept so far.
    pub circles_kept: usize,
    /// The cost of the kept canvas.
    pub cost: f64,
    /// The best cost seen so far in this stage (the kept cost if nothing better yet).
    pub best_cost: f64,
    /// Evaluations so far, in all stages.
    pub evaluations: u64,
    /// Time since the fit started.
    pub elapsed: Duration,
}

/// Runs a fit with a renderer, a cost function and an optimizer.
///
/// # Example
///
/// A custom optimizer and renderer work as well as the built-in ones; here a small random
/// search and the `raster` model's own circles (`circlefit-render` has the fast renderer):
///
/// ```
/// use circlefit_core::*;
/// use circlefit_engine::*;
///
/// // A renderer straight from the raster model (slow but exact).
/// #[derive(Debug)]
/// struct Plain;
/// impl Renderer for Plain {
///     type Error = std::convert::Infallible;
///     fn draw(&mut self, mut canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
///         let (w, h) = (canvas.width(), canvas.height());
///         for c in circles {
///             let rc = raster::RasterCircle::new(c);
///             let mut spans = Vec::new();
///             rc.spans(w, h, &mut spans);
///             for s in spans {
///                 rc.composite(canvas.row_segment_mut(s.y, s.x0, s.x1));
///             }
///         }
///         Ok(())
///     }
/// }
///
/// // Squared error over RGB.
/// #[derive(Debug)]
/// struct Sse;
/// impl CostFunc for Sse {
///     type Error = std::convert::Infallible;
///     fn cost(&self, a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<f64, Self::Error> {
///         Ok(a.as_bytes().chunks(4).zip(b.as_bytes().chunks(4))
///             .map(|(p, q)| (0..3).map(|k| (p[k] as f64 - q[k] as f64).powi(2)).sum::<f64>())
///             .sum())
///     }
/// }
///
/// // Sample each parameter on a coarse grid: a deliberately simple optimizer.
/// #[derive(Debug)]
/// struct Grid;
/// impl Optimizer for Grid {
///     type Error = std::convert::Infallible;
///     fn minimize(&mut self, f: &mut dyn Objective, p: &Problem<'_>) -> Result<OptimizeReport, Self::Error> {
///         let (lo, hi) = (p.bounds.lower(), p.bounds.upper());
///         let mut best = (f64::INFINITY, lo.to_vec());
///         for step in 0..64 {
///             let t = (step as f64 * 0.618_034).fract();
///             let x: Vec<f64> = lo.iter().zip(hi).enumerate()
///                 .map(|(i, (l, h))| l + (h - l) * ((t + i as f64 * 0.414_213).fract()))
///                 .collect();
///             let fx = f.evaluate(&x);
///             if fx < best.0 { best = (fx, x); }
///         }
///         Ok(OptimizeReport::new(best.1, best.0, 64, 64, StopReason::Iterations, p.seed))
///     }
/// }
///
/// let reference = Canvas::filled(16, 16, [0, 0, 0, 255])?;
/// let mut fitter = Fitter::new(Plain, Sse, Grid).strategy(Strategy::Sequential).circles(3);
/// let result = fitter.fit(reference.as_ref())?;
/// assert!(result.cost < result.initial_cost);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Fitter<R, C, O> {
    renderer: R,
    cost: C,
    optimizer: O,
    settings: FitSettings,
    base: Option<Canvas>,
    cancel: Option<Arc<AtomicBool>>,
    resume: Option<(Vec<Circle>, usize)>,
}

impl<R: Renderer, C: CostFunc, O: Optimizer> Fitter<R, C, O> {
    /// A fitter with [`FitSettings::default`] and a white base canvas.
    pub fn new(renderer: R, cost: C, optimizer: O) -> Self {
        Self {
            renderer,
            cost,
            optimizer,
            settings: FitSettings::default(),
            base: None,
            cancel: None,
            resume: None,
        }
    }

    /// Sets the strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.settings.strategy = strategy;
        self
    }

    /// Sets the number of circles.
    pub fn circles(mut self, circles: usize) -> Self {
        self.settings.circles = circles;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = seed;
        self
    }

    /// Sets the number of residual seeds per stage (see [`FitSettings::residual_seeds`]).
    pub fn residual_seeds(mut self, seeds: usize) -> Self {
        self.settings.residual_seeds = seeds;
        self
    }

    /// Sets the optimizer runs per stage (see [`FitSettings::epochs`]).
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.settings.epochs = epochs;
        self
    }

    /// Stops the fit once `patience` stages in a row each improve the cost by less than
    /// `threshold` (relative); see [`FitSettings::convergence_patience`].
    pub fn stop_when_converged(mut self, patience: usize, threshold: f64) -> Self {
        self.settings.convergence_patience = Some(patience);
        self.settings.convergence_threshold = threshold;
        self
    }

    /// Polishes this many kept circles after the stages (see [`FitSettings::polish`]).
    pub fn polish(mut self, circles: usize) -> Self {
        self.settings.polish = circles;
        self
    }

    /// How polishing searches each slot (see [`FitSettings::polish_search`]).
    pub fn polish_search(mut self, search: PolishSearch) -> Self {
        self.settings.polish_search = search;
        self
    }

    /// Sets how colours are found.
    pub fn color(mut self, color: ColorMode) -> Self {
        self.settings.color = color;
        self
    }

    /// Edits any setting.
    pub fn settings_mut(mut self, edit: impl FnOnce(&mut FitSettings)) -> Self {
        edit(&mut self.settings);
        self
    }

    /// Sets all settings at once.
    pub fn settings(mut self, settings: FitSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Draws over `base` instead of an opaque white canvas. It must have the reference's
    /// size (checked by [`fit`](Fitter::fit)).
    pub fn base(mut self, base: Canvas) -> Self {
        self.base = Some(base);
        self
    }

    /// Continues an earlier fit with the same settings, seed and base: `circles` are the
    /// circles it kept (drawn over the base to rebuild its kept canvas exactly) and
    /// `stages_done` the stages it ran. The fit then runs the remaining stages, with the
    /// same stage seeds, so the result equals one uninterrupted run. The result lists all
    /// circles but only the new stages and evaluations.
    pub fn resume(mut self, circles: Vec<Circle>, stages_done: usize) -> Self {
        self.resume = Some((circles, stages_done));
        self
    }

    /// A flag another thread (a Ctrl-C handler, say) can set to stop the fit: the current
    /// stage's optimizer stops at its next check, its best candidate is kept if it lowers the
    /// cost, and the fit returns what it has with `stopped_early` and `cancelled` set.
    pub fn cancel_on(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// The settings.
    pub fn current_settings(&self) -> &FitSettings {
        &self.settings
    }

    /// The renderer.
    pub fn renderer_mut(&mut self) -> &mut R {
        &mut self.renderer
    }

    /// The optimizer.
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// Fits `reference`.
    ///
    /// # Errors
    /// As [`fit_observed`](Fitter::fit_observed).
    pub fn fit(&mut self, reference: CanvasRef<'_>) -> Result<FitResult> {
        self.fit_observed(reference, &mut |_| ControlFlow::Continue(()))
    }

    /// Fits `reference`, calling `observer` after each stage; it may stop the fit, which
    /// then returns what it has kept so far.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for invalid [`FitSettings`]; [`Error::SizeMismatch`] if the
    /// base canvas's size differs from the reference's; [`Error::Renderer`],
    /// [`Error::Cost`] or [`Error::Optimizer`] when a component fails;
    /// [`Error::OptimizerDimension`] when the optimizer returns a point of the wrong size.
    pub fn fit_observed(
        &mut self,
        reference: CanvasRef<'_>,
        observer: &mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
    ) -> Result<FitResult> {
        self.run(
            reference,
            observer,
            &mut |_, _| Ok(team::Team::none()),
            &mut [],
        )
    }

    /// The shared loop. `make_workers` builds the parallel evaluators (none for a serial fit)
    /// from the reference and the base.
    #[allow(clippy::type_complexity)]
    fn run<'w>(
        &mut self,
        reference: CanvasRef<'_>,
        observer: &mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
        make_team: &mut dyn FnMut(CanvasRef<'_>, CanvasRef<'_>) -> Result<team::Team<'w>>,
        polish_helpers: &mut [Box<dyn polish::SlotRunner + '_>],
    ) -> Result<FitResult> {
        self.settings.validate()?;
        let (w, h) = (reference.width(), reference.height());
        let white;
        let base = match &self.base {
            Some(base) => base.as_ref(),
            None => {
                white = Canvas::white(w, h)?;
                white.as_ref()
            }
        };
        if self.settings.color == ColorMode::ClosedForm
            && self.renderer.as_span_renderer().is_none()
        {
            return Err(Error::InvalidSetting {
                field: "color",
                value: "closed_form".into(),
                reason: "the closed-form colour needs a renderer that describes its spans",
            });
        }
        let started = Instant::now();
        let mut team = make_team(reference, base)?;
        let mut eval = Evaluator::new(&mut self.renderer, &self.cost, reference, base)?;
        let initial_cost = eval.kept_cost();
        let stage_size = self.settings.stage_size();
        let stages = self.settings.circles.div_ceil(stage_size);
        // Pruned circles are refilled: stages then run until enough circles are kept.
        let refill =
            self.settings.prune && matches!(self.settings.strategy, Strategy::Batch { .. });
        let max_stages = if refill { 2 * stages } else { stages };
        let (prefix, first_stage) = self.resume.clone().unwrap_or_default();
        if first_stage > max_stages || prefix.len() > self.settings.circles {
            return Err(Error::InvalidSetting {
                field: "resume",
                value: format!("{} circles after {first_stage} stages", prefix.len()),
                reason: "the saved fit is longer than the fit asked for",
            });
        }
        if !prefix.is_empty() {
            team.commit(&prefix, || eval.commit(&prefix))?;
        }
        let mut result = FitResult {
            circles: prefix,
            cost: eval.kept_cost(),
            initial_cost,
            evaluations: 0,
            stages: Vec::with_capacity(stages),
            stopped_early: false,
            cancelled: false,
            converged: false,
            reached_target: false,
            polish_evaluations: 0,
        };
        let mut stale = 0usize;
        for stage in first_stage..max_stages {
            let remaining = if refill {
                self.settings.circles - result.circles.len()
            } else {
                self.settings.circles - stage * stage_size
            };
            if remaining == 0 {
                break;
            }
            let count = stage_size.min(remaining);
            // The stages this fit will run if no more are needed for refills.
            let stages = (stage + remaining.div_ceil(stage_size)).min(max_stages);
            let bounds = match self.settings.color {
                ColorMode::Search => Bounds::for_circles(count, w, h)?,
                ColorMode::ClosedForm => Bounds::for_circle_geometry(count, w, h)?,
            };
            let seed = stage_seed(self.settings.seed, stage as u64);
            let cancel = self.cancel.as_deref();
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                result.stopped_early = true;
                result.cancelled = true;
                break;
            }
            let initial = seeding::residual_seeds(
                &mut eval,
                self.settings.color,
                count,
                self.settings.residual_seeds,
            )?;
            let mut objective =
                ParamObjective::new(&mut eval, &bounds, self.settings.color, &mut team);
            objective.cancel = cancel;
            objective.context = Some(objective::StageContext {
                observer: &mut *observer,
                stage,
                stages,
                circles_kept: result.circles.len(),
                evaluations_before: result.evaluations,
                started,
            });
            // With a stage budget, every run gets what the earlier ones left.
            let budget = self.settings.stage_budget;
            fn capped(p: Problem<'_>, budget: Option<u64>, used: u64) -> Problem<'_> {
                match budget {
                    Some(b) => p.with_max_evaluations(b.saturating_sub(used)),
                    None => p,
                }
            }
            let mut report = self
                .optimizer
                .minimize(
                    &mut objective,
                    &capped(
                        Problem::new(&bounds, seed).with_initial(&initial),
                        budget,
                        0,
                    ),
                )
                .map_err(|e| Error::Optimizer(Box::new(e)))?;
            let mut restart = Vec::with_capacity(initial.len() + 1);
            for epoch in 1..self.settings.epochs {
                if objective.error.is_some()
                    || objective.interrupted()
                    || objective.observer_stopped
                    || budget.is_some_and(|b| objective.evaluations >= b)
                {
                    break;
                }
                restart.clear();
                restart.push(report.best_x.clone());
                restart.extend_from_slice(&initial);
                let used = objective.evaluations;
                let again = self
                    .optimizer
                    .minimize(
                        &mut objective,
                        &capped(
                            Problem::new(&bounds, stage_seed(seed, epoch as u64))
                                .with_initial(&restart),
                            budget,
                            used,
                        ),
                    )
                    .map_err(|e| Error::Optimizer(Box::new(e)))?;
                if again.best_f < report.best_f {
                    report = again;
                }
            }
            if let Some(e) = objective.error.take() {
                return Err(e);
            }
            // Re-score the optimizer's answer ourselves: what is kept must be true even if
            // an optimizer misreports its best value.
            let candidate_cost = objective.evaluate(&report.best_x);
            if let Some(e) = objective.error.take() {
                return Err(e);
            }
            let mut evaluations = objective.evaluations;
            let observer_stopped = objective.observer_stopped;
            let mut circles = std::mem::take(&mut objective.circles);
            let mut candidate_cost = candidate_cost;
            let pruned = if refill {
                let (pruned, used) = prune::prune(&mut eval, &mut circles, &mut candidate_cost)?;
                evaluations += used;
                pruned
            } else {
                0
            };
            result.evaluations += evaluations;
            let cost_before = eval.kept_cost();
            let keep = candidate_cost < cost_before;
            if keep {
                team.commit(&circles, || eval.commit(&circles))?;
                result.circles.extend_from_slice(&circles);
            }
            result.cost = eval.kept_cost();
            result.stages.push(StageRecord {
                index: stage,
                circles: count,
                kept: keep,
                cost_before,
                cost_after: result.cost,
                evaluations,
                pruned,
                stop: report.stop,
                seed,
            });
            let progress = Progress {
                stage,
                stages,
                finished: result.stages.last(),
                iteration: report.iterations,
                circles_kept: result.circles.len(),
                cost: result.cost,
                best_cost: result.cost,
                evaluations: result.evaluations,
                elapsed: started.elapsed(),
            };
            let cancelled = cancel.is_some_and(|c| c.load(Ordering::Relaxed));
            let gain = if cost_before > 0.0 {
                (cost_before - result.cost) / cost_before
            } else {
                0.0
            };
            stale = if gain < self.settings.convergence_threshold {
                stale + 1
            } else {
                0
            };
            if self.settings.target_cost.is_some_and(|t| result.cost <= t) && stage + 1 < stages {
                let _ = observer(&progress);
                result.stopped_early = true;
                result.reached_target = true;
                break;
            }
            if self
                .settings
                .convergence_patience
                .is_some_and(|p| stale >= p)
                && stage + 1 < stages
            {
                let _ = observer(&progress);
                result.stopped_early = true;
                result.converged = true;
                break;
            }
            if observer(&progress).is_break() || observer_stopped || cancelled {
                result.stopped_early = stage + 1 < stages || observer_stopped || cancelled;
                result.cancelled = cancelled;
                break;
            }
        }
        // The stage helpers are done: let their threads end before polishing uses the cores.
        drop(team);
        if self.settings.polish > 0
            && !result.circles.is_empty()
            && !result.cancelled
            && self.settings.strategy != Strategy::Joint
        {
            if self.renderer.as_span_renderer().is_none() || self.cost.as_pixel_sum().is_none() {
                return Err(Error::InvalidSetting {
                    field: "polish",
                    value: self.settings.polish.to_string(),
                    reason: "polishing needs a span renderer and a pixel-sum cost",
                });
            }
            result.polish_evaluations = polish::polish(
                &mut self.renderer,
                &self.cost,
                &mut self.optimizer,
                reference,
                base,
                &mut result.circles,
                self.settings.polish,
                self.settings.polish_search,
                self.settings.polish_budget,
                self.settings.seed ^ 0x5011_5500,
                polish_helpers,
            )?;
            result.evaluations += result.polish_evaluations;
            let canvas = render_new(&mut self.renderer, base, &result.circles)?;
            result.cost = self
                .cost
                .cost(canvas.as_ref(), reference)
                .map_err(|e| Error::Cost(Box::new(e)))?;
        }
        Ok(result)
    }
}

#[cfg(feature = "rayon")]
impl<R, C, O> Fitter<R, C, O>
where
    R: Renderer + Clone + Send + 'static,
    C: CostFunc + Clone + Send + 'static,
    O: Optimizer,
{
    /// Fits `reference` like [`fit_observed`](Fitter::fit_observed) on as many threads as
    /// rayon's current pool has (at most one per core; feature `rayon`).
    ///
    /// During the stages, helper threads with their own evaluator copy score shares of
    /// each batch the optimizer hands over (Mayfly's females, offspring and mutants, and
    /// its males when they move together), taking points from a shared cursor and waiting
    /// for the next batch by spinning (then parking) rather than through the pool, which
    /// measured too slow for batches of a few microseconds. Polishing searches independent
    /// slot pairs on two threads.
    ///
    /// Every point's cost is computed exactly and independently, and the polishing schedule
    /// does not depend on the thread count, so the result is bit-identical to
    /// [`fit_observed`](Fitter::fit_observed) for any number of threads.
    ///
    /// # Panics
    /// If a component panics, on whichever thread it runs.
    ///
    /// # Errors
    /// As [`fit_observed`](Fitter::fit_observed).
    pub fn fit_parallel_observed(
        &mut self,
        reference: CanvasRef<'_>,
        observer: &mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
    ) -> Result<FitResult> {
        // Helpers spin between batches, so more of them than cores only slows the fit; the
        // result is the same for any count.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let threads = rayon::current_num_threads().min(cores);
        let (renderer, cost) = (self.renderer.clone(), self.cost.clone());
        let mut polish_helpers: Vec<Box<dyn polish::SlotRunner>> = (1..threads)
            .map(|_| {
                Box::new(polish::ClonedRunner {
                    renderer: renderer.clone(),
                    cost: cost.clone(),
                }) as Box<dyn polish::SlotRunner>
            })
            .collect();
        std::thread::scope(|scope| {
            self.run(
                reference,
                observer,
                &mut |reference, base| {
                    let scorers = (1..threads)
                        .map(|_| {
                            let eval =
                                Evaluator::new(renderer.clone(), cost.clone(), reference, base)?;
                            Ok(Box::new(objective::Worker::new(eval))
                                as Box<dyn objective::PointScorer>)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    Ok(team::Team::new(scope, scorers))
                },
                &mut polish_helpers,
            )
        })
    }
}

/// Renders `circles` over `base` with `renderer` into a new canvas.
///
/// # Errors
/// [`Error::Renderer`] if the renderer fails.
pub fn render_new<R: Renderer>(
    renderer: &mut R,
    base: CanvasRef<'_>,
    circles: &[Circle],
) -> Result<Canvas> {
    let mut out = base.to_canvas();
    renderer
        .draw(out.as_mut(), circles)
        .map_err(|e| Error::Renderer(Box::new(e)))?;
    Ok(out)
}
