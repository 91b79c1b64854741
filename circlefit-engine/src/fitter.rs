//! [`Fitter`]: the builder that holds a fit's components and settings, checks them, and
//! runs the pipeline — stages, then polishing — on one or more threads.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use circlefit_core::{Canvas, CanvasRef, Circle, CostFunc, Error, Optimizer, Renderer, Result};

use crate::pass::{FitContext, Parts, Pass};
use crate::passes::polish::PolishPass;
use crate::passes::refine::RefinePass;
use crate::replica::{CloneForker, FitTeam, Forker, Stops};
use crate::report::Reporter;
use crate::stages::{StagesPass, check_plan};
use crate::team::Team;
use crate::{
    ColorMode, Convergence, EvalPath, FitResult, FitSettings, FitState, Polish, Progress, Restarts,
    Schedule, Strategy,
};

/// Runs a fit with a renderer, a cost function and an optimizer.
///
/// A fit is a pipeline: a [`Schedule`] (by default the settings'
/// [`Strategy`]) plans stages; the stage runner optimises each stage's new circles over
/// the canvas of those kept so far (with residual seeds, restarts, a budget, pruning) and
/// keeps them if they lower the cost; then polishing re-optimises the kept circles in
/// place. Everything is checked before the first stage.
///
/// # Example
///
/// A custom optimizer and renderer work as well as the built-in ones; here a small
/// deterministic search and the `raster` model's own circles (`circlefit-render` has the
/// fast renderer):
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
/// assert_eq!(fitter.evaluation_path(), EvalPath::Full); // no spans, no pixel sum
/// let result = fitter.fit(reference.as_ref())?;
/// assert!(result.cost < result.initial_cost);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Fitter<R, C, O> {
    renderer: R,
    cost: C,
    optimizer: O,
    settings: FitSettings,
    schedule: Option<Box<dyn Schedule + Send>>,
    base: Option<Canvas>,
    cancel: Option<Arc<AtomicBool>>,
    resume: Option<(Vec<Circle>, usize)>,
    threads: usize,
    forker: Option<Box<dyn Forker<R, C, O> + Send + Sync>>,
    require_incremental: bool,
}

impl<R: std::fmt::Debug, C: std::fmt::Debug, O: std::fmt::Debug> std::fmt::Debug
    for Fitter<R, C, O>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fitter")
            .field("renderer", &self.renderer)
            .field("cost", &self.cost)
            .field("optimizer", &self.optimizer)
            .field("settings", &self.settings)
            .field("custom_schedule", &self.schedule.is_some())
            .field("base", &self.base.as_ref().map(|b| (b.width(), b.height())))
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl<R, C, O> Fitter<R, C, O>
where
    R: Renderer + Clone + Send,
    C: CostFunc + Clone + Send,
    O: Optimizer + Clone + Send,
{
    /// Evaluates on `threads` threads (0 = one per core; more than the cores are capped,
    /// since helpers spin between batches). Results are bit-identical for any count.
    ///
    /// Helper threads keep their own copies of the renderer, cost and optimizer. With
    /// several [searches per stage](crate::Restarts::searches), each helper runs whole
    /// searches; with one, the helpers score shares of each batch the optimizer hands over
    /// (Mayfly's females, offspring and mutants, and its males when they move together),
    /// taking points from a shared cursor and waiting for the next batch by spinning (then
    /// parking). While polishing, a helper runs one of each slot's
    /// [climbs](crate::Polish::climbs), or with one climb a slot, the partner slot of each
    /// independent pair. Needs components that can be cloned and sent to another thread;
    /// they need not be `'static`.
    ///
    /// # Panics
    /// A fit panics if a component panics, on whichever thread it runs.
    pub fn threads(mut self, threads: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        self.threads = if threads == 0 {
            cores
        } else {
            threads.min(cores)
        };
        self.forker = Some(Box::new(CloneForker));
        self
    }
}

impl<R: Renderer, C: CostFunc, O: Optimizer> Fitter<R, C, O> {
    /// A fitter with [`FitSettings::default`], a white base canvas and one thread.
    pub fn new(renderer: R, cost: C, optimizer: O) -> Self {
        Self {
            renderer,
            cost,
            optimizer,
            settings: FitSettings::default(),
            schedule: None,
            base: None,
            cancel: None,
            resume: None,
            threads: 1,
            forker: None,
            require_incremental: false,
        }
    }

    /// Sets the strategy (the built-in schedule; see also [`schedule`](Fitter::schedule)).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.settings.strategy = strategy;
        self
    }

    /// Runs the stages a schedule of your own plans instead of the settings' strategy.
    pub fn schedule(mut self, schedule: impl Schedule + Send + 'static) -> Self {
        self.schedule = Some(Box::new(schedule));
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

    /// Sets how colours are found.
    pub fn color(mut self, color: ColorMode) -> Self {
        self.settings.color = color;
        self
    }

    /// Sets the number of residual seeds per stage (see [`FitSettings::residual_seeds`]).
    pub fn residual_seeds(mut self, seeds: usize) -> Self {
        self.settings.residual_seeds = seeds;
        self
    }

    /// Sets the optimizer runs and budget per stage.
    pub fn restarts(mut self, restarts: Restarts) -> Self {
        self.settings.restarts = restarts;
        self
    }

    /// Stops the stages once they no longer improve (see [`Convergence`]).
    pub fn convergence(mut self, convergence: Convergence) -> Self {
        self.settings.convergence = Some(convergence);
        self
    }

    /// Polishes the kept circles after the stages (see [`Polish`]).
    pub fn polish(mut self, polish: Polish) -> Self {
        self.settings.polish = Some(polish);
        self
    }

    /// Stops the stages once the cost is at or below `cost` (see
    /// [`FitSettings::target_cost`]).
    pub fn target_cost(mut self, cost: f64) -> Self {
        self.settings.target_cost = Some(cost);
        self
    }

    /// Sets all settings at once.
    pub fn settings(mut self, settings: FitSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The settings, to read or edit in place.
    pub fn settings_mut(&mut self) -> &mut FitSettings {
        &mut self.settings
    }

    /// The settings.
    pub fn current_settings(&self) -> &FitSettings {
        &self.settings
    }

    /// Draws over `base` instead of an opaque white canvas. It must have the reference's
    /// size (checked before the fit starts).
    pub fn base(mut self, base: Canvas) -> Self {
        self.base = Some(base);
        self
    }

    /// Continues an earlier fit with the same settings, seed and base from what
    /// [`FitResult::resume_point`] returned: `circles`, the completed stages' circles as
    /// the stages left them (redrawn over the base to rebuild the kept canvas exactly),
    /// and `stages_done`. The fit then runs the remaining stages with the same stage
    /// seeds, and polishes as asked, so the result equals one uninterrupted run. The
    /// result lists all circles but only the new stages and evaluations.
    ///
    /// The resume point applies to the next fit only: a second `fit` on the same fitter
    /// starts from the base again.
    pub fn resume(mut self, circles: Vec<Circle>, stages_done: usize) -> Self {
        self.resume = Some((circles, stages_done));
        self
    }

    /// A flag another thread (a Ctrl-C handler, say) can set to stop the fit. It means
    /// exactly what an observer's `Break` means: the stage in flight ends at the
    /// optimizer's next check (its best is kept if it lowers the cost, but the stage does
    /// not count as done: see [`FitResult::partial`]), polishing does not start or ends
    /// after the slot in flight, and the fit returns what it has with
    /// [`FitEnd::Stopped`](crate::FitEnd::Stopped).
    ///
    /// A flag already set when a fit starts is reported, never taken for a stop of the new
    /// fit: [`fit`](Fitter::fit) returns [`Error::InvalidSetting`] naming `cancel flag`
    /// (clear it with `store(false)` to fit again).
    pub fn cancel_on(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// Makes a fit whose candidates would be scored on the full path (see
    /// [`evaluation_path`](Fitter::evaluation_path)) an error before it starts, instead of
    /// a slower fit.
    pub fn require_incremental(mut self, require: bool) -> Self {
        self.require_incremental = require;
        self
    }

    /// How this fit's candidates will be scored: incrementally when the renderer
    /// describes its spans ([`Renderer::as_span_renderer`]) and the cost is a pixel sum
    /// ([`CostFunc::as_pixel_sum`]), else on the full path (a full copy, draw and cost per
    /// candidate: correct, but 5 to 250 times slower).
    pub fn evaluation_path(&self) -> EvalPath {
        if self.renderer.as_span_renderer().is_some() && self.cost.as_pixel_sum().is_some() {
            EvalPath::Incremental
        } else {
            EvalPath::Full
        }
    }

    /// An upper bound of the working memory, in bytes, that fitting a `width` × `height`
    /// image takes with this fitter's thread count (see [`memory_estimate`]).
    pub fn memory_estimate(&self, width: u32, height: u32) -> u64 {
        memory_estimate(width, height, self.threads)
    }

    /// The renderer.
    pub fn renderer_mut(&mut self) -> &mut R {
        &mut self.renderer
    }

    /// The optimizer.
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// Checks everything a fit of `reference` needs before it does any work: the settings,
    /// the base's size, the resume point, the first stage the schedule plans, and what the
    /// settings ask of the components.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for invalid settings (see [`FitSettings::validate`]), the
    /// closed-form colour or polishing with a renderer that has no spans (polishing also
    /// needs a pixel-sum cost), [`require_incremental`](Fitter::require_incremental) on
    /// the full path, a resume point longer than the fit, or an invalid first stage;
    /// [`Error::SizeMismatch`] if the base's size differs from the reference's.
    pub fn check(&self, reference: CanvasRef<'_>) -> Result<()> {
        self.settings.validate()?;
        if let Some(base) = &self.base
            && !base.as_ref().same_size(reference)
        {
            return Err(Error::SizeMismatch {
                what: "base canvas",
                expected_w: reference.width(),
                expected_h: reference.height(),
                actual_w: base.width(),
                actual_h: base.height(),
            });
        }
        let spans = self.renderer.as_span_renderer().is_some();
        if self.settings.color == ColorMode::ClosedForm && !spans {
            return Err(needs(
                "color",
                "closed_form",
                "the closed-form colour needs a renderer that describes its spans",
            ));
        }
        if self.require_incremental && self.evaluation_path() == EvalPath::Full {
            return Err(needs(
                "require incremental",
                "true",
                "the renderer has no spans or the cost is no pixel sum",
            ));
        }
        let (kept, done) = self.resume.as_ref().map_or((0, 0), |(c, s)| (c.len(), *s));
        let schedule = self.active_schedule();
        let state = FitState::new(self.settings.circles, reference.width(), reference.height())
            .at(done, kept);
        if kept > self.settings.circles || done > schedule.planned_stages(&state) {
            return Err(Error::InvalidSetting {
                field: "resume",
                value: format!("{kept} circles after {done} stages"),
                reason: "the saved fit is longer than the fit asked for",
            });
        }
        // The first `done` stages can have kept at most their planned circles (counted as
        // if none had been kept, which is when a refilling schedule plans the most).
        let most: usize = (0..done)
            .map(|i| {
                schedule
                    .next_stage(&state.at(i, 0))
                    .map_or(0, |p| p.circles)
            })
            .sum();
        if kept > most {
            return Err(Error::InvalidSetting {
                field: "resume",
                value: format!("{kept} circles after {done} stages"),
                reason: "those stages cannot have kept that many circles",
            });
        }
        if let Some(plan) = schedule.next_stage(&state) {
            check_plan(&plan, &state)?;
        }
        Ok(())
    }

    fn active_schedule(&self) -> &dyn Schedule {
        match &self.schedule {
            Some(s) => s.as_ref(),
            None => &self.settings.strategy,
        }
    }

    /// Fits `reference`.
    ///
    /// # Errors
    /// As [`fit_observed`](Fitter::fit_observed).
    pub fn fit(&mut self, reference: CanvasRef<'_>) -> Result<FitResult> {
        self.fit_observed(reference, &mut |_| ControlFlow::Continue(()))
    }

    /// Fits `reference`, calling `observer` within and after each stage and after each
    /// polished slot; its `Break` stops the fit as the cancel flag does (see
    /// [`cancel_on`](Fitter::cancel_on)).
    ///
    /// # Errors
    /// Everything [`check`](Fitter::check) reports, before any work, and
    /// [`Error::InvalidSetting`] for a cancel flag already set; [`Error::Renderer`],
    /// [`Error::Cost`] or [`Error::Optimizer`] when a component fails;
    /// [`Error::OptimizerDimension`] when the optimizer returns a point of the wrong size;
    /// [`Error::InvalidSetting`] when a custom schedule plans an invalid later stage.
    pub fn fit_observed(
        &mut self,
        reference: CanvasRef<'_>,
        observer: &mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
    ) -> Result<FitResult> {
        self.check(reference)?;
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        {
            return Err(needs(
                "cancel flag",
                "set",
                "it was already set when the fit started (a stop of an earlier fit?): clear it to fit",
            ));
        }
        // The base is lent to the run and put back, so the fitter can fit again.
        let (base, own) = match self.base.take() {
            Some(base) => (base, true),
            None => (Canvas::white(reference.width(), reference.height())?, false),
        };
        let result = self.run(reference, base.as_ref(), observer);
        if own {
            self.base = Some(base);
        }
        // A resume point is for one fit.
        self.resume = None;
        result
    }

    /// Runs the pipeline on a team of `threads - 1` helpers (none without a forker).
    fn run(
        &mut self,
        reference: CanvasRef<'_>,
        base: CanvasRef<'_>,
        observer: &mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
    ) -> Result<FitResult> {
        let halt = Arc::new(AtomicBool::new(false));
        let scene = (reference, base);
        let Some(forker) = self.forker.take().filter(|_| self.threads > 1) else {
            return self.pipeline(&mut Team::solo(), scene, &halt, observer);
        };
        let stops = Stops {
            cancel: self.cancel.clone(),
            halt: Arc::clone(&halt),
        };
        let parts = (&self.renderer, &self.cost, &self.optimizer);
        let result = forker
            .replicas(parts, scene, &stops, self.threads - 1)
            .and_then(|replicas| {
                forker.run(replicas, &mut |team| {
                    self.pipeline(team, scene, &halt, observer)
                })
            });
        self.forker = Some(forker);
        result
    }

    /// The passes in order, from the start of a fit to its result: the stages, then
    /// polishing if asked for (on the full path it is skipped, and the result says why).
    fn pipeline(
        &mut self,
        team: &mut FitTeam<'_, R, C, O>,
        (reference, base): (CanvasRef<'_>, CanvasRef<'_>),
        halt: &AtomicBool,
        observer: &mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
    ) -> Result<FitResult> {
        let mut result = self.start(reference, base)?;
        let mut passes: Vec<Box<dyn Pass<R, C, O>>> = vec![Box::new(StagesPass)];
        match self.settings.polish {
            // Polishing scores exactly over a slot's pixels only; with a renderer without
            // spans or a cost that is no pixel sum it is skipped, and the result says so,
            // rather than refusing settings such as the recommended.
            Some(_) if result.path == EvalPath::Full => {
                result.polish_skipped = Some(POLISH_NEEDS_INCREMENTAL.to_owned());
            }
            Some(polish) => passes.push(Box::new(PolishPass(polish))),
            None => {}
        }
        if let Some(refine) = self.settings.refine {
            passes.push(Box::new(RefinePass(refine)));
        }
        let mut fit = FitContext {
            reference,
            base,
            settings: &self.settings,
            schedule: match &self.schedule {
                Some(s) => s.as_ref(),
                None => &self.settings.strategy,
            },
            cancel: self.cancel.as_deref(),
            reporter: Reporter::new(observer),
            team,
            halt,
        };
        for pass in &mut passes {
            if result.stopped() {
                break;
            }
            let parts = Parts {
                renderer: &mut self.renderer,
                cost: &self.cost,
                optimizer: &mut self.optimizer,
            };
            pass.run(parts, &mut fit, &mut result)?;
        }
        Ok(result)
    }

    /// The result before the first pass: the resume point's circles (if any) over the
    /// base, at the base's cost (the stages score the resumed circles).
    fn start(&self, reference: CanvasRef<'_>, base: CanvasRef<'_>) -> Result<FitResult> {
        let initial_cost = crate::checked::cost_of(&self.cost, base, reference)?;
        let (circles, stages_done) = self.resume.clone().unwrap_or_default();
        let path = self.evaluation_path();
        Ok(FitResult::starting(
            circles,
            stages_done,
            initial_cost,
            path,
        ))
    }
}

/// An upper bound of the working memory, in bytes, that fitting a `width` × `height` image
/// takes on `threads` threads (the built-in renderer and cost; a custom component's own
/// buffers come on top).
///
/// The budget per pixel: the base (4 bytes); per evaluator — one, plus one per helper
/// thread — the reference, kept and scratch canvases and the cost's row prefix sums
/// (20 bytes), plus the closed-form colour tables up to 2²⁰ pixels (24 bytes); and
/// polishing's canvases and sums for the two slots searched at once (40 bytes). So about
/// 64 bytes per pixel on one thread above a megapixel (measured: 32 on a 2048² fit).
pub fn memory_estimate(width: u32, height: u32, threads: usize) -> u64 {
    let pixels = u64::from(width) * u64::from(height);
    // Colour prefix sums (24 bytes per pixel) and the reference's row moments (16).
    let tables = if pixels <= 1 << 20 { 40 } else { 0 };
    let evaluators = threads.max(1) as u64;
    pixels.saturating_mul(4 + evaluators * (20 + tables) + 40)
}

/// Why polishing asked for did not run ([`FitResult::polish_skipped`]).
const POLISH_NEEDS_INCREMENTAL: &str = "polishing needs the incremental path (a renderer that describes its spans and a pixel-sum cost); this fit scored on the full path, so it was skipped";

fn needs(field: &'static str, value: impl ToString, reason: &'static str) -> Error {
    Error::InvalidSetting {
        field,
        value: value.to_string(),
        reason,
    }
}
