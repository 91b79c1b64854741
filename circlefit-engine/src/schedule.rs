//! The [`Schedule`]: which stage a fit runs next.
//!
//! A fit is a pipeline of stages. Each stage optimises a few new circles over the canvas of
//! the circles kept so far and keeps them if they lower the cost; a schedule decides how
//! many circles the next stage has, where they may be (a radius range) and how many
//! evaluations it may spend. [`Joint`], [`Sequential`] and [`Batch`] are the three built-in
//! schedules ([`Strategy`](crate::Strategy) names them in settings); a user's own schedule
//! plugs into [`Fitter::schedule`](crate::Fitter::schedule) without touching the engine.

use std::ops::RangeInclusive;

/// Where a fit stands when its schedule is asked for the next stage.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct FitState {
    /// The index of the stage about to run (stages run so far, kept or not).
    pub stage: usize,
    /// Circles kept so far.
    pub kept: usize,
    /// Circles the fit asks for ([`FitSettings::circles`](crate::FitSettings::circles)).
    pub circles: usize,
    /// The image's width in pixels.
    pub width: u32,
    /// The image's height in pixels.
    pub height: u32,
}

impl FitState {
    /// The state before the first stage of a fit of `circles` circles on a `width` ×
    /// `height` image.
    pub fn new(circles: usize, width: u32, height: u32) -> Self {
        Self {
            stage: 0,
            kept: 0,
            circles,
            width,
            height,
        }
    }

    /// The same state at stage `stage` with `kept` circles kept.
    pub fn at(self, stage: usize, kept: usize) -> Self {
        Self {
            stage,
            kept,
            ..self
        }
    }
}

/// One stage, as a schedule plans it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StagePlan {
    /// New circles to optimise together (at least 1).
    pub circles: usize,
    /// The radius range of this stage's circles, in pixels (`None`: from 1 pixel to the
    /// image's longer side, the default). It narrows the default range, so it must lie in
    /// it.
    pub radius: Option<RangeInclusive<f64>>,
    /// The most evaluations this stage may use over all its optimizer runs (`None`: the
    /// fit's [`Restarts::stage_budget`](crate::Restarts::stage_budget)).
    pub budget: Option<u64>,
    /// Whether to drop the stage's circles that do not help (leave-one-out, exact) before
    /// keeping it; a schedule that prunes should plan stages until enough circles are
    /// kept, so pruned circles get refilled.
    pub prune: bool,
}

impl StagePlan {
    /// A stage of `circles` new circles with the default radius range and budget.
    pub fn new(circles: usize) -> Self {
        Self {
            circles,
            radius: None,
            budget: None,
            prune: false,
        }
    }

    /// The same stage with its circles' radius limited to `radius` (pixels).
    pub fn with_radius(mut self, radius: RangeInclusive<f64>) -> Self {
        self.radius = Some(radius);
        self
    }

    /// The same stage with an evaluation budget.
    pub fn with_budget(mut self, evaluations: u64) -> Self {
        self.budget = Some(evaluations);
        self
    }

    /// The same stage with pruning on or off.
    pub fn with_prune(mut self, prune: bool) -> Self {
        self.prune = prune;
        self
    }
}

/// Says which stage a fit runs next.
///
/// [`next_stage`](Schedule::next_stage) must be a function of the [`FitState`] alone (no
/// hidden state): that is what lets a fit resume from its kept circles and stage count and
/// reach exactly the result of one uninterrupted run.
///
/// # Example: coarse to fine
///
/// Large circles first, then ever smaller ones, one circle per stage:
///
/// ```
/// use circlefit_engine::{FitState, Schedule, StagePlan};
///
/// #[derive(Debug)]
/// struct CoarseToFine;
///
/// impl Schedule for CoarseToFine {
///     fn next_stage(&self, s: &FitState) -> Option<StagePlan> {
///         if s.stage >= s.circles {
///             return None;
///         }
///         let side = f64::from(s.width.max(s.height));
///         // The largest allowed radius halves every quarter of the fit, down to 1/8 of the side.
///         let quarter = (4 * s.stage / s.circles) as i32;
///         let max = (side / 2f64.powi(quarter + 1)).max(2.0);
///         Some(StagePlan::new(1).with_radius(1.0..=max))
///     }
///     fn planned_stages(&self, s: &FitState) -> usize {
///         s.circles
///     }
/// }
///
/// let s = FitState::new(8, 64, 64);
/// assert_eq!(CoarseToFine.next_stage(&s).unwrap().radius, Some(1.0..=32.0));
/// assert_eq!(CoarseToFine.next_stage(&s.at(7, 5)).unwrap().radius, Some(1.0..=4.0));
/// assert_eq!(CoarseToFine.next_stage(&s.at(8, 8)), None);
/// ```
///
/// `tests/engine.rs` fits with it.
pub trait Schedule {
    /// The stage to run at `state`, or `None` when the fit is done.
    fn next_stage(&self, state: &FitState) -> Option<StagePlan>;

    /// How many stages the fit runs in all, as far as can be told at `state` (for progress
    /// reports; it may change as circles are kept).
    fn planned_stages(&self, state: &FitState) -> usize;
}

impl<S: Schedule + ?Sized> Schedule for &S {
    fn next_stage(&self, state: &FitState) -> Option<StagePlan> {
        (**self).next_stage(state)
    }
    fn planned_stages(&self, state: &FitState) -> usize {
        (**self).planned_stages(state)
    }
}

impl<S: Schedule + ?Sized> Schedule for Box<S> {
    fn next_stage(&self, state: &FitState) -> Option<StagePlan> {
        (**self).next_stage(state)
    }
    fn planned_stages(&self, state: &FitState) -> usize {
        (**self).planned_stages(state)
    }
}

/// One stage of all circles over the base canvas (7·K dimensions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Joint;

impl Schedule for Joint {
    fn next_stage(&self, s: &FitState) -> Option<StagePlan> {
        (s.stage == 0).then(|| StagePlan::new(s.circles))
    }
    fn planned_stages(&self, _: &FitState) -> usize {
        1
    }
}

/// One stage per circle, each over the canvas of the circles kept so far: `K` stages,
/// whether or not each is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sequential;

impl Schedule for Sequential {
    fn next_stage(&self, s: &FitState) -> Option<StagePlan> {
        (s.stage < s.circles).then(|| StagePlan::new(1))
    }
    fn planned_stages(&self, s: &FitState) -> usize {
        s.circles
    }
}

/// Stages of `size` circles optimised jointly over the kept canvas: `⌈K/B⌉` stages (the
/// last smaller if `B ∤ K`). With `prune`, each stage drops its circles that do not help
/// and later stages refill them: stages then run until `K` circles are kept, at most
/// `2⌈K/B⌉` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Circles per stage (at least 1).
    pub size: usize,
    /// Whether to prune and refill.
    pub prune: bool,
}

impl Batch {
    fn stages(&self, circles: usize) -> usize {
        circles.div_ceil(self.size.max(1))
    }
}

impl Schedule for Batch {
    fn next_stage(&self, s: &FitState) -> Option<StagePlan> {
        let size = self.size.max(1);
        let remaining = if self.prune {
            if s.stage >= 2 * self.stages(s.circles) {
                return None;
            }
            s.circles.saturating_sub(s.kept)
        } else {
            s.circles.saturating_sub(s.stage.saturating_mul(size))
        };
        (remaining > 0).then(|| StagePlan::new(size.min(remaining)).with_prune(self.prune))
    }

    fn planned_stages(&self, s: &FitState) -> usize {
        let size = self.size.max(1);
        if self.prune {
            let remaining = s.circles.saturating_sub(s.kept);
            (s.stage + remaining.div_ceil(size)).min(2 * self.stages(s.circles))
        } else {
            self.stages(s.circles)
        }
    }
}
