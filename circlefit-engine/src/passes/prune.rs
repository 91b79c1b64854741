//! Batch pruning: drop circles of a batch that do not help, so later stages refill them.
//!
//! A batch's circles are optimised together, but a closed-form colour is solved for each
//! against the kept canvas alone and a searched one may settle under a batch-mate, so a
//! circle can end up adding nothing, or even hurting. Leave-one-out costs are scored on the
//! incremental path (the batch lies on top of the kept canvas), exactly.

use crate::evaluator::Evaluator;
use circlefit_core::Circle;
use circlefit_core::CostFunc;
use circlefit_core::Renderer;
use circlefit_core::Result;

/// Removes, one at a time, the circle of `circles` whose removal lowers `cost` (the cost of
/// the kept canvas with all of `circles` drawn) the most, while some removal does not raise
/// it. Returns `(circles removed, evaluations used)`; `cost` is updated.
///
/// # Errors
/// As [`Evaluator::cost_with`].
pub(crate) fn prune<R: Renderer, C: CostFunc>(
    eval: &mut Evaluator<R, C>,
    circles: &mut Vec<Circle>,
    cost: &mut f64,
) -> Result<(usize, u64)> {
    let (mut removed, mut evaluations) = (0, 0u64);
    let mut trial = Vec::with_capacity(circles.len());
    while circles.len() > 1 {
        let mut best: Option<(f64, usize)> = None;
        for j in 0..circles.len() {
            trial.clear();
            trial.extend(
                circles
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i != j)
                    .map(|(_, c)| *c),
            );
            let without = eval.cost_with(&trial)?;
            evaluations += 1;
            if best.is_none_or(|(b, _)| without < b) {
                best = Some((without, j));
            }
        }
        match best {
            Some((without, j)) if without <= *cost => {
                circles.remove(j);
                *cost = without;
                removed += 1;
            }
            _ => break,
        }
    }
    Ok((removed, evaluations))
}
