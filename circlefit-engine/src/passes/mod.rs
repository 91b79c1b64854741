//! The passes of a fit around the optimizer: residual seeding before a stage, pruning
//! after a batch, polishing after the stages, joint refinement after polishing. Each is its own unit with its own tests.

pub(crate) mod polish;
pub(crate) mod prune;
pub(crate) mod refine;
pub(crate) mod seeding;
