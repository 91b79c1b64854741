//! What a fit reports: [`FitResult`], one [`StageRecord`] per stage, and the [`Progress`]
//! an observer sees.

use std::time::Duration;

use circlefit_core::{Circle, StopReason};

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
    /// Circles of the stage dropped by pruning (see [`StagePlan::prune`](crate::StagePlan::prune)).
    #[cfg_attr(feature = "serde", serde(default))]
    pub pruned: usize,
    /// Why the stage's optimizer run ended.
    pub stop: StopReason,
    /// The optimizer seed of this stage.
    pub seed: u64,
    /// Whether the stage ran to its end; `false` for the stage a stop cut short (its
    /// circles, if kept, are the result's [`partial`](FitResult::partial) ones).
    #[cfg_attr(feature = "serde", serde(default = "yes"))]
    pub complete: bool,
}

impl StageRecord {
    /// The stage's relative gain, `(cost_before − cost_after) / cost_before` (0 when the
    /// cost before was 0).
    pub fn gain(&self) -> f64 {
        if self.cost_before > 0.0 {
            (self.cost_before - self.cost_after) / self.cost_before
        } else {
            0.0
        }
    }
}

#[cfg(feature = "serde")]
fn yes() -> bool {
    true
}

/// How a fit ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum FitEnd {
    /// Every stage the schedule planned ran (and polishing, if asked).
    #[default]
    Completed,
    /// The kept cost reached [`FitSettings::target_cost`](crate::FitSettings::target_cost).
    ReachedTarget,
    /// The convergence rule ended the stages.
    Converged,
    /// The cancel flag or the observer stopped the fit (one stop, one meaning): the stage
    /// in flight ended at the optimizer's next check, and polishing did not start or
    /// stopped after the slot in flight.
    Stopped,
}

/// How candidates were scored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum EvalPath {
    /// Over the pixels the candidates cover only, exactly (a
    /// [`SpanRenderer`](circlefit_core::SpanRenderer) and a
    /// [`PixelSumCost`](circlefit_core::PixelSumCost)).
    Incremental,
    /// Each candidate drawn over a full copy of the kept canvas and scored whole: the
    /// renderer has no spans or the cost is no pixel sum.
    #[default]
    Full,
}

/// The outcome of a fit.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct FitResult {
    /// The kept circles, in draw order (polished, if polishing ran).
    pub circles: Vec<Circle>,
    /// The cost of the base canvas with the kept circles drawn.
    pub cost: f64,
    /// The cost of the base canvas alone.
    pub initial_cost: f64,
    /// Objective evaluations used, in all stages and polishing.
    pub evaluations: u64,
    /// One record per stage run.
    pub stages: Vec<StageRecord>,
    /// How the fit ended.
    #[cfg_attr(feature = "serde", serde(default))]
    pub end: FitEnd,
    /// Stages that ran to their end, counting those of a resumed fit: where a resume
    /// starts.
    #[cfg_attr(feature = "serde", serde(default))]
    pub stages_done: usize,
    /// The last `partial` circles come from a stage a stop cut short (its best, kept
    /// because it lowered the cost); a resume leaves them out.
    #[cfg_attr(feature = "serde", serde(default))]
    pub partial: usize,
    /// The circles as the stages left them, before polishing changed any (`None` if it
    /// changed none): what a resume continues from.
    #[cfg_attr(feature = "serde", serde(default))]
    pub unpolished: Option<Vec<Circle>>,
    /// Evaluations spent polishing (included in `evaluations`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub polish_evaluations: u64,
    /// Slots polishing searched.
    #[cfg_attr(feature = "serde", serde(default))]
    pub polished_slots: usize,
    /// How the stages scored their candidates (polishing always scores incrementally: a
    /// fit on the full path skips it, see `polish_skipped`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub path: EvalPath,
    /// Why polishing that the settings ask for did not run: it needs the incremental path
    /// (a renderer that describes its spans and a pixel-sum cost), and this fit scored on
    /// the full path, as with a cost of your own that is no pixel sum. `None` when it ran
    /// or was not asked for.
    #[cfg_attr(feature = "serde", serde(default))]
    pub polish_skipped: Option<String>,
    /// Gradient steps the joint refinement ran ([`FitSettings::refine`](crate::FitSettings::refine); 0 when it did not run).
    #[cfg_attr(feature = "serde", serde(default))]
    pub refined_steps: u32,
    /// Why refinement that the settings ask for did not run: it needs a renderer that
    /// names the edge model it draws. `None` when it ran or was not asked for.
    #[cfg_attr(feature = "serde", serde(default))]
    pub refine_skipped: Option<String>,
}

impl FitResult {
    /// A result before the first pass: `circles` kept after `stages_done` stages (a resume
    /// point), at `cost`, nothing else done yet.
    pub(crate) fn starting(
        circles: Vec<Circle>,
        stages_done: usize,
        cost: f64,
        path: EvalPath,
    ) -> Self {
        Self {
            circles,
            cost,
            initial_cost: cost,
            evaluations: 0,
            stages: Vec::new(),
            end: FitEnd::Completed,
            stages_done,
            partial: 0,
            unpolished: None,
            polish_evaluations: 0,
            polished_slots: 0,
            path,
            polish_skipped: None,
            refined_steps: 0,
            refine_skipped: None,
        }
    }

    /// Whether the fit ended before running everything it planned (a stop, the target or
    /// the convergence rule).
    pub fn stopped_early(&self) -> bool {
        self.end != FitEnd::Completed
    }

    /// Whether the cancel flag or the observer stopped it.
    pub fn stopped(&self) -> bool {
        self.end == FitEnd::Stopped
    }

    /// What [`Fitter::resume`](crate::Fitter::resume) continues from to reach exactly the
    /// result of one uninterrupted run: the circles of the completed stages as the stages
    /// left them (unpolished, without a cut-short stage's), and the stages done.
    pub fn resume_point(&self) -> (Vec<Circle>, usize) {
        let circles = self.unpolished.as_ref().unwrap_or(&self.circles);
        let whole = circles.len() - self.partial.min(circles.len());
        (circles[..whole].to_vec(), self.stages_done)
    }
}

/// Which part of a fit a [`Progress`] report comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// The stages.
    Stages,
    /// Polishing, after `slot` of `slots` slots.
    Polishing {
        /// Slots searched so far.
        slot: usize,
        /// Slots planned.
        slots: usize,
    },
    /// Joint refinement, after `step` of `steps` gradient steps (reported when the
    /// refined circles are scored exactly; `cost` is the best so far).
    Refining {
        /// Steps run so far.
        step: u32,
        /// Steps planned.
        steps: u32,
    },
}

/// Progress reported to an observer: after each optimizer iteration within a stage (for
/// optimizers that report iterations, as Mayfly does), after each stage, and after each
/// polished slot.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Progress<'a> {
    /// Stages or polishing.
    pub phase: Phase,
    /// The current stage, from 0 (while polishing: the stages run).
    pub stage: usize,
    /// Total stages of the fit, as far as the schedule can tell.
    pub stages: usize,
    /// The stage's record once it has finished; `None` for an update within the stage.
    pub finished: Option<&'a StageRecord>,
    /// Optimizer iterations completed in the current stage.
    pub iteration: u64,
    /// Circles kept so far.
    pub circles_kept: usize,
    /// After a finished stage: the resume point so far — the kept circles of the completed
    /// stages and their count, what [`Fitter::resume`](crate::Fitter::resume) continues
    /// from (a service can save it after every stage). `None` within a stage and while
    /// polishing.
    pub resume_point: Option<(&'a [circlefit_core::Circle], usize)>,
    /// The kept circles as they stand, where the report has them at hand: after a stage,
    /// after each polished group and after each refinement check (polishing and refinement
    /// move circles already kept, which a live view redraws). `None` within a stage.
    pub circles: Option<&'a [circlefit_core::Circle]>,
    /// The cost of the kept canvas (while polishing: after the slots polished so far).
    pub cost: f64,
    /// The best cost seen so far in this stage (the kept cost if nothing better yet).
    pub best_cost: f64,
    /// Evaluations so far, in all stages and polishing.
    pub evaluations: u64,
    /// Time since the fit started.
    pub elapsed: Duration,
}
