//! [`Strategy`]: the built-in schedules by name, as settings and files store them.

use crate::schedule::{Batch, FitState, Joint, Schedule, Sequential, StagePlan};

/// One of the built-in schedules, by name: what [`FitSettings`](crate::FitSettings) and
/// saved fits record. It is a [`Schedule`] itself (delegating to [`Joint`],
/// [`Sequential`] or [`Batch`]); a schedule of your own goes to
/// [`Fitter::schedule`](crate::Fitter::schedule) instead.
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
        /// Drop each stage's circles that do not help and refill them later (see
        /// [`Batch`]).
        #[cfg_attr(feature = "serde", serde(default))]
        prune: bool,
    },
}

impl Strategy {
    /// Batches of `size` circles, without pruning.
    pub const fn batch(size: usize) -> Self {
        Self::Batch { size, prune: false }
    }
}

impl Schedule for Strategy {
    fn next_stage(&self, state: &FitState) -> Option<StagePlan> {
        match *self {
            Self::Joint => Joint.next_stage(state),
            Self::Sequential => Sequential.next_stage(state),
            Self::Batch { size, prune } => Batch { size, prune }.next_stage(state),
        }
    }

    fn planned_stages(&self, state: &FitState) -> usize {
        match *self {
            Self::Joint => Joint.planned_stages(state),
            Self::Sequential => Sequential.planned_stages(state),
            Self::Batch { size, prune } => Batch { size, prune }.planned_stages(state),
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Joint => f.write_str("joint"),
            Self::Sequential => f.write_str("sequential"),
            Self::Batch { size, prune: false } => write!(f, "batch({size})"),
            Self::Batch { size, prune: true } => write!(f, "batch({size}, pruned)"),
        }
    }
}
