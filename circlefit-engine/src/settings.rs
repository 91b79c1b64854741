//! [`FitSettings`]: what a fit does, in related groups, checked before any work.

use circlefit_core::{Error, PARAMS_PER_CIRCLE, Result};

use crate::Strategy;

/// The most circles a fit may ask for.
pub const MAX_CIRCLES: usize = 100_000;
/// The most residual seeds per stage.
pub const MAX_RESIDUAL_SEEDS: usize = 1_000;
/// The most optimizer runs per stage ([`Restarts::runs`]).
pub const MAX_RUNS: usize = 1_000;
/// The most polishing passes ([`Polish::passes`]).
pub const MAX_POLISH_PASSES: u32 = 1_000;
/// The most evaluations of one polished slot ([`Polish::evaluations`]).
pub const MAX_POLISH_EVALUATIONS: u64 = 1_000_000;
/// The most independent searches per stage ([`Restarts::searches`]).
pub const MAX_SEARCHES: usize = 64;
/// The most independent climbs per polished slot ([`Polish::climbs`]).
pub const MAX_POLISH_CLIMBS: u32 = 64;
/// The joint refinement's steps in [`FitSettings::recommended`]: 500 added 0.03 dB on
/// average for up to 2.1× the time of a fit without refinement, 300 stay within 1.6×.
pub const RECOMMENDED_REFINE_STEPS: u32 = 300;
/// The most gradient steps of [`Refine`].
pub const MAX_REFINE_STEPS: u32 = 100_000;

#[cfg(feature = "serde")]
fn one_search() -> usize {
    1
}

#[cfg(feature = "serde")]
fn one_climb() -> u32 {
    1
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
    /// cost reported is always exact for the colours used. The formula is the optimum for
    /// squared R, G, B error; with another cost it is a heuristic colour. Needs a renderer
    /// with spans (checked before the fit starts).
    ClosedForm,
}

impl ColorMode {
    /// How many numbers the optimizer searches per circle: 7 (x, y, r, red, green, blue,
    /// alpha) when searching the colour, 4 (x, y, r, alpha) when it is solved.
    pub fn params_per_circle(self) -> usize {
        match self {
            ColorMode::Search => PARAMS_PER_CIRCLE,
            ColorMode::ClosedForm => 4,
        }
    }
}

/// Optimizer runs per stage and the stage's evaluation budget: what the stage runner
/// restarts with, and how many independent searches it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Restarts {
    /// Optimizer runs per stage, 1 to [`MAX_RUNS`]. Each run after the first starts from
    /// the best point so far (plus the residual seeds) with a fresh seed, which resets
    /// Mayfly's decayed dance and flight.
    pub runs: usize,
    /// The most evaluations one stage may use over all its runs (`None`: each run its own
    /// budget). With several runs and an optimizer that stops when it stagnates (Mayfly:
    /// `stagnation`), a stage restarts from its best point whenever a run stalls, until
    /// the budget is spent. A schedule's [`StagePlan::budget`](crate::StagePlan::budget)
    /// overrides it for its stage. With several [`searches`](Self::searches), each
    /// search has this budget.
    pub stage_budget: Option<u64>,
    /// Independent searches per stage, 1 to [`MAX_SEARCHES`] (settings saved without it
    /// mean 1). Each is a whole optimizer run (with its restarts) from the same residual
    /// seeds and its own seed; the stage keeps the best (the first of equals). Search 0
    /// has the stage seed, so one search is the plain stage. On several threads the
    /// searches run at the same time, one per thread, each scoring its own points (no
    /// hand-off per batch), which is what makes two threads twice as fast; the result
    /// does not depend on the thread count. The work is `searches` times one search: pair
    /// two searches with half the optimizer's iterations to keep a fit's evaluations.
    #[cfg_attr(feature = "serde", serde(default = "one_search"))]
    pub searches: usize,
}

impl Default for Restarts {
    /// One run, no stage budget.
    fn default() -> Self {
        Self {
            runs: 1,
            stage_budget: None,
            searches: 1,
        }
    }
}

impl Restarts {
    /// `runs` runs per stage, no stage budget.
    pub fn runs(runs: usize) -> Self {
        Self {
            runs,
            ..Self::default()
        }
    }

    /// The same with a stage budget.
    pub fn with_stage_budget(mut self, evaluations: u64) -> Self {
        self.stage_budget = Some(evaluations);
        self
    }

    /// The same with `searches` independent searches per stage.
    pub fn with_searches(mut self, searches: usize) -> Self {
        self.searches = searches;
        self
    }
}

/// The convergence stop: end the stages once `patience` stages in a row each lowered the
/// cost by less than `min_gain` (relative: `(before − after) / before`). Polishing still
/// runs.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Convergence {
    /// Stale stages in a row that end the fit (at least 1).
    pub patience: usize,
    /// The relative gain below which a stage is stale, in `[0, 1]`.
    pub min_gain: f64,
}

impl Convergence {
    /// Stop after `patience` stages in a row that each gained less than `min_gain`.
    pub fn new(patience: usize, min_gain: f64) -> Self {
        Self { patience, min_gain }
    }
}

/// How polishing searches a slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum PolishSearch {
    /// The built-in [`HillClimber`](crate::HillClimber) (measured twice as
    /// sample-efficient as Mayfly for this local refinement); slots with disjoint reach
    /// are searched in pairs on two threads.
    #[default]
    HillClimb,
    /// The fitter's own optimizer (the one that runs the stages), one slot at a time.
    Optimizer,
}

/// Polishing, after the stages: re-optimise each kept circle in its draw slot with the
/// others fixed, `passes` times over the draw order, each searched within ±5 % of every
/// parameter's range around it (colour included, whatever [`ColorMode`] says) and kept
/// only if the total cost falls. Each candidate is scored over the old and new circles'
/// pixels only, exactly. Needs a span renderer and a pixel-sum cost (checked before the
/// fit starts). The slots scale with the circles actually kept: `passes × kept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Polish {
    /// Passes over the kept circles, 1 to [`MAX_POLISH_PASSES`].
    pub passes: u32,
    /// The evaluation budget of each slot, 1 to [`MAX_POLISH_EVALUATIONS`] (`None`: the
    /// search's own, 150 for the hill climber).
    #[cfg_attr(feature = "serde", serde(default))]
    pub evaluations: Option<u64>,
    /// How each slot is searched.
    #[cfg_attr(feature = "serde", serde(default))]
    pub search: PolishSearch,
    /// Independent searches of each slot, 1 to [`MAX_POLISH_CLIMBS`] (settings saved
    /// without it mean 1), that share the slot's budget (split as evenly as it goes; each
    /// climb needs at least one evaluation), each from the slot's circle with its own
    /// seed; the best candidate of all of them is kept if it lowers the cost. On two or
    /// more threads one helper climbs beside the calling thread (hill climbing only), so
    /// polishing uses two threads; with one climb, slots whose reach is disjoint are
    /// searched in pairs instead (see [`PolishSearch::HillClimb`]).
    #[cfg_attr(feature = "serde", serde(default = "one_climb"))]
    pub climbs: u32,
}

impl Polish {
    /// `passes` passes with the hill climber and its default budget.
    pub fn passes(passes: u32) -> Self {
        Self {
            passes,
            evaluations: None,
            search: PolishSearch::HillClimb,
            climbs: 1,
        }
    }

    /// The same with a budget per slot.
    pub fn with_evaluations(mut self, evaluations: u64) -> Self {
        self.evaluations = Some(evaluations);
        self
    }

    /// The same with another search.
    pub fn with_search(mut self, search: PolishSearch) -> Self {
        self.search = search;
        self
    }

    /// The same with `climbs` independent climbs per slot, sharing its budget.
    pub fn with_climbs(mut self, climbs: u32) -> Self {
        self.climbs = climbs;
        self
    }

    /// A slot's budget, when the search has its own (`None`): the hill climber's default.
    pub(crate) fn slot_budget(&self) -> Option<u64> {
        match self.search {
            PolishSearch::HillClimb => Some(
                self.evaluations
                    .unwrap_or(crate::HillClimber::default().default_budget),
            ),
            PolishSearch::Optimizer => self.evaluations,
        }
    }

    /// Climb `c`'s share of the slot budget (`None`: the optimizer's own budget).
    pub(crate) fn climb_budget(&self, c: u32) -> Option<u64> {
        let climbs = u64::from(self.climbs.max(1));
        self.slot_budget()
            .map(|b| b / climbs + u64::from(u64::from(c) < b % climbs))
    }
}

/// Joint refinement, after polishing: every kept circle's numbers moved together by
/// gradient steps (Adam, with a cosine-shaped step size falling to 0) on a floating-point
/// copy of the renderer's edge model, every [`Refine::CHECK_EVERY`] steps and at the last
/// the circles scored exactly; the best exactly scored set is kept, so the result is never
/// worse than polishing left it. Needs a renderer that names the core edge model it draws
/// ([`SpanRenderer::edges`](circlefit_core::SpanRenderer::edges)); hard edges are
/// refined through a one-pixel ramp. The work is cut into fixed bands of rows, so the
/// result is the same on any number of threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Refine {
    /// Gradient steps, 1 to [`MAX_REFINE_STEPS`].
    pub steps: u32,
}

impl Refine {
    /// How often (in steps) the refined circles are scored exactly.
    pub const CHECK_EVERY: u32 = 25;

    /// Refinement with `steps` gradient steps.
    pub fn steps(steps: u32) -> Self {
        Self { steps }
    }
}

/// Where residual seeds look for the error (see [`FitSettings::residual_seeds`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum SeedScales {
    /// The worst 8 × 8 blocks, radii cycling through 4, 8 and 16 px (settings written
    /// before this choice existed mean this).
    #[default]
    Blocks8,
    /// The worst blocks of 4, 8, 16 and 32 px in turn, each seed's radius half its block:
    /// fine detail gets small starting circles and smooth areas large ones (the measured
    /// default of [`FitSettings::recommended`]).
    MultiScale,
}

/// What a fit does: the strategy, circle count and seed, how colours are found, and the
/// quality options in groups (restarts, convergence, polishing, a target).
///
/// [`validate`](FitSettings::validate) checks every field before the first stage; the
/// [`Fitter`](crate::Fitter) also checks the combinations its components cannot run.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct FitSettings {
    /// The built-in schedule (a custom [`Schedule`](crate::Schedule) given to
    /// [`Fitter::schedule`](crate::Fitter::schedule) replaces it).
    pub strategy: Strategy,
    /// How many circles to place, 1 to [`MAX_CIRCLES`] (fewer may be kept).
    pub circles: usize,
    /// The seed of the whole fit.
    pub seed: u64,
    /// How colours are found.
    #[cfg_attr(feature = "serde", serde(default))]
    pub color: ColorMode,
    /// Starting candidates per stage placed where the kept canvas is most wrong (residual
    /// seeding; 0 = none, at most [`MAX_RESIDUAL_SEEDS`]). The optimizer puts them in its
    /// initial population. The error is summed as squared R, G, B error whatever the cost;
    /// with searched colours and a renderer without spans they start mid-grey.
    #[cfg_attr(feature = "serde", serde(default))]
    pub residual_seeds: usize,
    /// The block sizes residual seeds are placed on.
    #[cfg_attr(feature = "serde", serde(default))]
    pub seed_scales: SeedScales,
    /// Optimizer runs and budget per stage.
    #[cfg_attr(feature = "serde", serde(default))]
    pub restarts: Restarts,
    /// Stop the stages early once they stop improving (`None`: run them all).
    #[cfg_attr(feature = "serde", serde(default))]
    pub convergence: Option<Convergence>,
    /// Polish the kept circles after the stages (`None`: no polishing).
    #[cfg_attr(feature = "serde", serde(default))]
    pub polish: Option<Polish>,
    /// Refine all kept circles together after polishing (`None`: no refinement).
    #[cfg_attr(feature = "serde", serde(default))]
    pub refine: Option<Refine>,
    /// Stop the stages once the kept canvas's cost is at or below this (`None`: run them
    /// all). Polishing still runs. To stop a stage's optimizer run as soon as a candidate
    /// reaches it, give the optimizer the same target (Mayfly: `target_cost`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub target_cost: Option<f64>,
}

impl Default for FitSettings {
    /// Sequential, 50 circles, seed 0, nothing else turned on.
    fn default() -> Self {
        Self::new(Strategy::Sequential, 50, 0)
    }
}

fn invalid(field: &'static str, value: impl ToString, reason: &'static str) -> Error {
    Error::InvalidSetting {
        field,
        value: value.to_string(),
        reason,
    }
}

impl FitSettings {
    /// Settings with the given strategy, circle count and seed, nothing else turned on.
    pub fn new(strategy: Strategy, circles: usize, seed: u64) -> Self {
        Self {
            strategy,
            circles,
            seed,
            color: ColorMode::Search,
            residual_seeds: 0,
            seed_scales: SeedScales::Blocks8,
            restarts: Restarts::default(),
            convergence: None,
            polish: None,
            refine: None,
            target_cost: None,
        }
    }

    /// The measured defaults of each strategy, for `circles` circles.
    ///
    /// - Sequential and Batch: closed-form colour, 10 residual seeds per stage on blocks of
    ///   4 to 32 px ([`SeedScales::MultiScale`]), and 8 polishing passes (hill climbing, 150
    ///   evaluations a slot in two climbs of 75, [`Polish::climbs`]: the same pictures
    ///   within 0.08 dB of one climb on eleven photographs, ±0.01 dB on average, and polishing
    ///   that runs 1.6× faster on two threads).
    /// - Batch also prunes and refills (+0.01 to +0.11 dB on the four images, no slower):
    ///   the strategy's `prune` is turned on.
    /// - Sequential and Batch refine all circles together after polishing,
    ///   [`RECOMMENDED_REFINE_STEPS`] steps ([`Refine`]): +0.14 dB on average on eleven
    ///   photographs at 100 circles on 256² with soft edges, +0.43 with free ones
    ///   ([`Edges::Free`](circlefit_core::Edges::Free), whose widths it chooses), for
    ///   1.05–1.64× the time (docs/quality.md, eighth session).
    /// - Joint: searched colour (it measured better there), nothing else.
    ///
    /// Chosen on four 256² photographs (the bundled cat and three public-domain ones) at
    /// 100 circles, 2 threads; the README has the table. The multi-scale seeds were
    /// measured later on eleven photographs against 8 px seeds: +0.08 dB on average at 100
    /// circles on 256², +0.03 at 64 on 512², +0.13 at 300 (`docs/quality.md`). Eight passes sit near the
    /// polishing plateau: twelve added 0.03 dB on average for 35 % more time.
    pub fn recommended(strategy: Strategy, circles: usize, seed: u64) -> Self {
        let base = Self::new(strategy, circles, seed);
        match strategy {
            Strategy::Joint => base,
            Strategy::Sequential | Strategy::Batch { .. } => Self {
                strategy: match strategy {
                    Strategy::Batch { size, .. } => Strategy::Batch { size, prune: true },
                    other => other,
                },
                color: ColorMode::ClosedForm,
                residual_seeds: 10,
                seed_scales: SeedScales::MultiScale,
                polish: Some(Polish::passes(8).with_climbs(2)),
                refine: Some(Refine::steps(RECOMMENDED_REFINE_STEPS)),
                ..base
            },
        }
    }

    /// The same settings with another colour mode.
    pub fn with_color(mut self, color: ColorMode) -> Self {
        self.color = color;
        self
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for zero circles or more than [`MAX_CIRCLES`]; a batch
    /// size of 0 or larger than the circle count; more than [`MAX_RESIDUAL_SEEDS`]
    /// residual seeds; 0 or more than [`MAX_RUNS`] runs or a stage budget of 0; a
    /// convergence patience of 0 or a minimum gain outside `[0, 1]`; 0 or more than
    /// [`MAX_POLISH_PASSES`] polishing passes or a slot budget outside 1 to
    /// [`MAX_POLISH_EVALUATIONS`]; 0 or more than [`MAX_SEARCHES`] searches per stage; 0
    /// or more than [`MAX_POLISH_CLIMBS`] climbs per slot, or more than its budget; a target cost that is not finite and non-negative.
    pub fn validate(&self) -> Result<()> {
        if self.circles == 0 || self.circles > MAX_CIRCLES {
            return Err(invalid(
                "circles",
                self.circles,
                "must be between 1 and 100000",
            ));
        }
        if let Strategy::Batch { size, .. } = self.strategy
            && (size == 0 || size > self.circles)
        {
            return Err(invalid(
                "batch size",
                size,
                "must be between 1 and the number of circles",
            ));
        }
        if self.residual_seeds > MAX_RESIDUAL_SEEDS {
            return Err(invalid(
                "residual seeds",
                self.residual_seeds,
                "must be at most 1000",
            ));
        }
        self.validate_restarts()?;
        self.validate_convergence()?;
        self.validate_polish()?;
        if let Some(r) = self.refine
            && (r.steps == 0 || r.steps > MAX_REFINE_STEPS)
        {
            return Err(invalid(
                "refine steps",
                r.steps,
                "must be between 1 and 100000",
            ));
        }
        if let Some(t) = self.target_cost
            && !(t.is_finite() && t >= 0.0)
        {
            return Err(invalid("target cost", t, "must be finite and at least 0"));
        }
        Ok(())
    }

    fn validate_restarts(&self) -> Result<()> {
        let r = &self.restarts;
        if r.runs == 0 || r.runs > MAX_RUNS {
            return Err(invalid(
                "runs per stage",
                r.runs,
                "must be between 1 and 1000",
            ));
        }
        if r.stage_budget == Some(0) {
            return Err(invalid("stage budget", 0, "must be at least 1 evaluation"));
        }
        if r.searches == 0 || r.searches > MAX_SEARCHES {
            return Err(invalid(
                "searches per stage",
                r.searches,
                "must be between 1 and 64",
            ));
        }
        Ok(())
    }

    fn validate_convergence(&self) -> Result<()> {
        let Some(c) = self.convergence else {
            return Ok(());
        };
        if c.patience == 0 {
            return Err(invalid("convergence patience", 0, "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&c.min_gain) {
            return Err(invalid(
                "convergence minimum gain",
                c.min_gain,
                "must be in [0, 1]",
            ));
        }
        Ok(())
    }

    fn validate_polish(&self) -> Result<()> {
        let Some(p) = self.polish else {
            return Ok(());
        };
        if p.passes == 0 || p.passes > MAX_POLISH_PASSES {
            return Err(invalid(
                "polish passes",
                p.passes,
                "must be between 1 and 1000",
            ));
        }
        if let Some(e) = p.evaluations
            && (e == 0 || e > MAX_POLISH_EVALUATIONS)
        {
            return Err(invalid(
                "polish evaluations",
                e,
                "must be between 1 and 1000000 per slot",
            ));
        }
        if p.climbs == 0 || p.climbs > MAX_POLISH_CLIMBS {
            return Err(invalid(
                "polish climbs",
                p.climbs,
                "must be between 1 and 64",
            ));
        }
        if p.slot_budget().is_some_and(|b| b < u64::from(p.climbs)) {
            return Err(invalid(
                "polish climbs",
                p.climbs,
                "each climb needs at least one evaluation of the slot's budget",
            ));
        }
        Ok(())
    }
}
