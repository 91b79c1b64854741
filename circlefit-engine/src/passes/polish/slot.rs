//! One slot search: re-optimise kept circle `i` within a small box around it, the other
//! circles fixed, each candidate scored exactly over the pixels it or the old circle
//! covers.

use std::sync::atomic::{AtomicBool, Ordering};

use circlefit_core::{Bounds, Canvas, CanvasRef, Circle, CostFunc, Error, Renderer, Result};
use circlefit_core::{Objective, Optimizer, Problem};

use super::canvases::{SlotCanvases, needs_spans};
use super::grouping::{bounding_box, disjoint, reach, union_box};
use crate::hill_climb::HillClimber;
use crate::incremental::IncrementalScorer;
use crate::replica::Replica;

/// What a slot search draws with and scores against.
pub(crate) struct Scene<'a, R, C> {
    pub(crate) renderer: &'a mut R,
    pub(crate) cost: &'a C,
    pub(crate) reference: CanvasRef<'a>,
    pub(crate) base: CanvasRef<'a>,
}

/// Scores replacements of one slot.
struct SlotObjective<'a, R: Renderer, C: CostFunc> {
    renderer: &'a mut R,
    cost: &'a C,
    reference: CanvasRef<'a>,
    under: CanvasRef<'a>,
    scorer: &'a mut IncrementalScorer,
    scratch: &'a mut Canvas,
    old: Circle,
    later: &'a [Circle],
    /// The spans of each later circle: `later_spans[later_ends[k - 1]..later_ends[k]]`.
    later_spans: Vec<circlefit_core::raster::Span>,
    later_ends: Vec<usize>,
    bounds: &'a Bounds,
    /// The renderer's reach beyond a circle's radius ([`SpanRenderer::reach_beyond_radius`]).
    ///
    /// [`SpanRenderer::reach_beyond_radius`]: circlefit_core::SpanRenderer::reach_beyond_radius
    margin: f64,
    x: Vec<f64>,
    best: Option<(f64, Circle)>,
    error: Option<Error>,
    evaluations: u64,
    cancel: Option<&'a AtomicBool>,
}

impl<R: Renderer, C: CostFunc> SlotObjective<'_, R, C> {
    fn decode(&mut self, x: &[f64]) -> Result<Circle> {
        self.x.clear();
        self.x.extend_from_slice(x);
        self.bounds.clamp(&mut self.x);
        // A slot searches the seven numbers; a circle's own edge width goes with it.
        let c = Circle::from_params(&self.x)?;
        match self.old.edge_width() {
            Some(w) => c.with_edge_width(w),
            None => Ok(c),
        }
    }

    fn score(&mut self, x: &[f64]) -> Result<f64> {
        let candidate = self.decode(x)?;
        let (Some(sr), Some(_)) = (self.renderer.as_span_renderer(), self.cost.as_pixel_sum())
        else {
            return Err(needs_spans());
        };
        self.scorer
            .prepare_many(&[self.old, candidate], self.under, self.scratch, sr);
        self.renderer
            .draw(self.scratch.as_mut(), &[candidate])
            .map_err(|e| Error::Renderer(Box::new(e)))?;
        let sr = self.renderer.as_span_renderer().ok_or_else(needs_spans)?;
        // The later circles are redrawn only where the old or the new circle changed
        // pixels: their spans are cached per slot and clipped to those segments. The
        // segments span each row from the leftmost to the rightmost of the two circles'
        // pixels, so a later circle between the two (touching neither) can reach them:
        // the test is against the box holding both.
        let m = self.margin;
        let changed = union_box(bounding_box(&self.old, m), bounding_box(&candidate, m));
        let mut start = 0;
        for (c, &end) in self.later.iter().zip(&self.later_ends) {
            if !disjoint(&bounding_box(c, m), &changed) {
                self.scorer
                    .composite_clipped(c, &self.later_spans[start..end], self.scratch, sr);
            }
            start = end;
        }
        let pc = self.cost.as_pixel_sum().ok_or_else(needs_spans)?;
        let sum = self
            .scorer
            .finish_many(self.scratch.as_ref(), self.reference, pc);
        let f = pc.finish(sum, self.reference.pixel_count());
        if self.best.is_none_or(|(b, _)| f < b) {
            self.best = Some((f, candidate));
        }
        Ok(f)
    }
}

impl<R: Renderer, C: CostFunc> Objective for SlotObjective<'_, R, C> {
    fn evaluate(&mut self, x: &[f64]) -> f64 {
        if self.error.is_some() {
            return f64::INFINITY;
        }
        self.evaluations += 1;
        let scored = self.score(x);
        crate::objective::value_or_record(scored, &mut self.error)
    }

    fn interrupted(&self) -> bool {
        self.error.is_some() || self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// One search of a slot: replace `circles[i]` within `local`, with this seed and budget
/// (`None`: the search's own).
#[derive(Clone, Debug)]
pub(crate) struct SlotSearch {
    pub(crate) i: usize,
    pub(crate) local: Bounds,
    pub(crate) seed: u64,
    pub(crate) budget: Option<u64>,
}

/// A slot search as handed to a helper thread: the task and the circles it is over.
#[derive(Clone, Debug)]
pub(crate) struct SlotJob {
    pub(crate) circles: std::sync::Arc<[Circle]>,
    pub(crate) task: SlotSearch,
}

/// What a slot search found: the replacement and its cost if it lowers the total cost,
/// and the evaluations used.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SlotOutcome {
    pub(crate) better: Option<(f64, Circle)>,
    pub(crate) evaluations: u64,
    /// The total cost the search started from (what `better` lowers).
    pub(crate) before: f64,
}

impl SlotOutcome {
    /// The outcome of a slot's climbs together: the best replacement of all (the first
    /// of equals; each already lowers the same total cost), all their evaluations.
    pub(super) fn best_of(climbs: &[SlotOutcome]) -> SlotOutcome {
        SlotOutcome {
            better: crate::best::first_lowest(climbs.iter().filter_map(|c| c.better), |b| {
                Some(b.0)
            }),
            evaluations: climbs.iter().map(|c| c.evaluations).sum(),
            before: climbs.last().map_or(0.0, |c| c.before),
        }
    }
}

/// One slot search: the replacement of `circles[task.i]` within `task.local` if it
/// lowers the total cost. `minimize` runs the search; `cancel` ends it early.
pub(crate) fn search_slot<R: Renderer, C: CostFunc>(
    scene: Scene<'_, R, C>,
    canvases: &mut Option<SlotCanvases>,
    circles: &[Circle],
    task: &SlotSearch,
    minimize: &mut dyn FnMut(&mut dyn Objective, &Problem<'_>) -> Result<()>,
    cancel: Option<&AtomicBool>,
) -> Result<SlotOutcome> {
    let Scene {
        renderer,
        cost,
        reference,
        base,
    } = scene;
    let (i, local) = (task.i, &task.local);
    let (w, h) = (reference.width(), reference.height());
    let pc = cost.as_pixel_sum().ok_or_else(needs_spans)?;
    let state = SlotCanvases::sync(canvases, renderer, pc, reference, base, circles, i)?;
    let current = crate::checked::usable(pc.finish(state.scorer.total(), reference.pixel_count()))?;
    let old = circles[i];
    let sr = renderer.as_span_renderer().ok_or_else(needs_spans)?;
    let margin = sr.reach_beyond_radius(w, h);
    // Only later circles that can reach a pixel a candidate in `local` changes matter.
    let reach = reach(local, margin);
    let later: Vec<Circle> = circles[i + 1..]
        .iter()
        .filter(|c| !disjoint(&bounding_box(c, margin), &reach))
        .copied()
        .collect();
    let (mut later_spans, mut later_ends) = (Vec::new(), Vec::with_capacity(later.len()));
    for c in &later {
        sr.spans(c, w, h, &mut later_spans);
        later_ends.push(later_spans.len());
    }
    let mut objective = SlotObjective {
        renderer: &mut *renderer,
        cost,
        reference,
        under: state.under.as_ref(),
        scorer: &mut state.scorer,
        scratch: &mut state.scratch,
        old,
        later: &later,
        later_spans,
        later_ends,
        bounds: local,
        margin,
        x: Vec::new(),
        best: None,
        error: None,
        evaluations: 0,
        cancel,
    };
    let initial = [old.to_params().to_vec()];
    let mut problem = Problem::new(local, task.seed).with_initial(&initial);
    if let Some(b) = task.budget {
        problem = problem.with_max_evaluations(b);
    }
    minimize(&mut objective, &problem)?;
    if let Some(e) = objective.error.take() {
        return Err(e);
    }
    Ok(SlotOutcome {
        better: objective.best.filter(|&(f, _)| f < current),
        evaluations: objective.evaluations,
        before: current,
    })
}

/// A slot job on a helper's replica: the hill climber over the replica's own canvases.
///
/// # Errors
/// As the renderer and cost report them.
pub(crate) fn search_on_replica<R: Renderer, C: CostFunc, O>(
    w: &mut Replica<R, C, O>,
    job: &SlotJob,
) -> Result<SlotOutcome> {
    let (renderer, cost, reference) = w.eval.parts();
    let scene = Scene {
        renderer,
        cost,
        reference,
        base: w.base.as_ref(),
    };
    let cancel = w.stops.cancel.as_deref();
    search_slot(
        scene,
        &mut w.slots,
        &job.circles,
        &job.task,
        &mut hill_climb,
        cancel,
    )
}

/// Runs the hill climber on a slot's objective.
///
/// # Errors
/// None of its own (the objective records its errors).
pub(crate) fn hill_climb(objective: &mut dyn Objective, problem: &Problem<'_>) -> Result<()> {
    let Ok(_) = HillClimber::default().minimize(objective, problem);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::polish::grouping::local_box;
    use circlefit_cost::Mse;
    use circlefit_render::CpuRenderer;

    fn cost_of(circles: &[Circle], base: &Canvas, reference: &Canvas) -> f64 {
        cost_with(CpuRenderer::new(), circles, base, reference)
    }

    fn cost_with(mut r: CpuRenderer, circles: &[Circle], base: &Canvas, reference: &Canvas) -> f64 {
        let mut canvas = base.clone();
        r.draw(canvas.as_mut(), circles).unwrap();
        Mse.cost(canvas.as_ref(), reference.as_ref()).unwrap()
    }

    /// Scores `params` for slot `i` of `circles` with the soft renderer, reusing `canvases`.
    fn soft_score(
        canvases: &mut Option<SlotCanvases>,
        circles: &[Circle],
        i: usize,
        params: [f64; 7],
        scene: (&Canvas, &Canvas),
    ) -> Vec<f64> {
        score_with(
            circlefit_core::Edges::Soft,
            canvases,
            circles,
            i,
            params,
            scene,
        )
    }

    /// Scores `params` for slot `i` of `circles` with `edges`, reusing `canvases`.
    fn score_with(
        edges: circlefit_core::Edges,
        canvases: &mut Option<SlotCanvases>,
        circles: &[Circle],
        i: usize,
        params: [f64; 7],
        (reference, base): (&Canvas, &Canvas),
    ) -> Vec<f64> {
        let bounds = Bounds::for_circles(1, reference.width(), reference.height()).unwrap();
        let local = local_box(&bounds, &circles[i]).unwrap();
        let mut seen = Vec::new();
        let mut minimize = |o: &mut dyn Objective, _: &Problem<'_>| {
            seen.push(o.evaluate(&params));
            Ok(())
        };
        let task = SlotSearch {
            i,
            local,
            seed: 1,
            budget: None,
        };
        let mut r = CpuRenderer::with_edges(edges);
        let scene = Scene {
            renderer: &mut r,
            cost: &Mse,
            reference: reference.as_ref(),
            base: base.as_ref(),
        };
        search_slot(scene, canvases, circles, &task, &mut minimize, None).unwrap();
        seen
    }

    /// Soft edges reach up to 2 px past the radius on 512²: a later circle whose box
    /// (radius + 1 px) misses a slot's circle but whose ramp reaches its rows must still be
    /// drawn over the slot's candidates, and redrawn when the slot's circle is replaced.
    #[test]
    fn slot_scores_are_exact_with_soft_edges_reaching_past_a_pixel() {
        let (w, h) = (512, 512);
        let reference = Canvas::filled(w, h, [10, 200, 30, 255]).unwrap();
        let base = Canvas::white(w, h).unwrap();
        let c = |x, y, r, rgb| Circle::new(x, y, r, rgb, 0.8).unwrap();
        // The small circle covers rows up to 103; the large one's box (radius + 1 px) starts
        // at row 104.25, its 4 px ramp above row 103.5, that row's pixel centres.
        // A third circle far from both.
        let circles = [
            c(100.0, 100.0, 3.0, [1.0, 0.0, 0.0]),
            c(100.0, 149.25, 44.0, [0.0, 0.0, 1.0]),
            c(400.0, 400.0, 5.0, [0.3, 0.3, 0.0]),
        ];
        let scene = (&reference, &base);
        let mut canvases = None;
        let mut moved = circles[0].to_params();
        moved[0] += 1.5;
        let seen = soft_score(&mut canvases, &circles, 0, moved, scene);
        let mut replaced = circles;
        replaced[0] = Circle::from_params(&moved).unwrap();
        let soft = || CpuRenderer::with_edges(circlefit_core::Edges::Soft);
        assert_eq!(seen, [cost_with(soft(), &replaced, &base, &reference)]);
        // The slot's circle replaced: the kept canvases follow (redrawing the large circle's
        // ramp on the rows the small one touched), and a slot search of the far circle
        // sees the exact cost of its own (unchanged) place.
        let seen = soft_score(&mut canvases, &replaced, 2, replaced[2].to_params(), scene);
        assert_eq!(seen, [cost_with(soft(), &replaced, &base, &reference)]);
    }

    /// Free edges: a later circle's own 30 px ramp reaches a slot's rows where the soft
    /// rule's ramp of its radius (4 px on 512²) would not, and it is drawn over the slot's
    /// candidates all the same.
    #[test]
    fn slot_scores_are_exact_with_a_later_circles_own_wide_edge() {
        let (w, h) = (512, 512);
        let reference = Canvas::filled(w, h, [10, 200, 30, 255]).unwrap();
        let base = Canvas::white(w, h).unwrap();
        let c = |x, y, r, rgb| Circle::new(x, y, r, rgb, 0.8).unwrap();
        // The small circle covers rows up to 103; the wide one's disc plus 3 px starts at
        // row 111, its 30 px ramp reaches up to row 99.
        let circles = [
            c(100.0, 100.0, 3.0, [1.0, 0.0, 0.0]),
            c(100.0, 134.0, 20.0, [0.0, 0.0, 1.0])
                .with_edge_width(30.0)
                .unwrap(),
        ];
        let mut moved = circles[0].to_params();
        moved[0] += 1.5;
        let free = circlefit_core::Edges::Free;
        let scene = (&reference, &base);
        let seen = score_with(free, &mut None, &circles, 0, moved, scene);
        let mut replaced = circles;
        replaced[0] = Circle::from_params(&moved).unwrap();
        let want = cost_with(CpuRenderer::with_edges(free), &replaced, &base, &reference);
        assert_eq!(seen, [want]);
    }

    /// A slot's candidate moved off its old place, with a later circle in the gap
    /// between the two on their shared rows (overlapping neither's box): every score the
    /// search sees is still the exact cost of rendering the whole modified list.
    #[test]
    fn slot_scores_are_exact_with_a_later_circle_between_old_and_new() {
        let (w, h) = (400, 60);
        let reference = Canvas::filled(w, h, [10, 200, 30, 255]).unwrap();
        let base = Canvas::white(w, h).unwrap();
        let c = |x, r, rgb| Circle::new(x, 30.0, r, rgb, 0.8).unwrap();
        let circles = [
            c(200.0, 150.0, [0.5, 0.5, 0.5]),
            c(100.0, 2.0, [1.0, 0.0, 0.0]),
            c(120.0, 3.0, [0.0, 0.0, 1.0]),
        ];
        let bounds = Bounds::for_circles(1, w, h).unwrap();
        let local = local_box(&bounds, &circles[1]).unwrap();
        let mut moved = circles[1].to_params();
        moved[0] = 138.0;
        let mut seen = Vec::new();
        let mut minimize = |o: &mut dyn Objective, _: &Problem<'_>| {
            seen.push(o.evaluate(&moved));
            Ok(())
        };
        let scene = Scene {
            renderer: &mut CpuRenderer::new(),
            cost: &Mse,
            reference: reference.as_ref(),
            base: base.as_ref(),
        };
        search_slot(
            scene,
            &mut None,
            &circles,
            &SlotSearch {
                i: 1,
                local,
                seed: 1,
                budget: None,
            },
            &mut minimize,
            None,
        )
        .unwrap();
        let mut replaced = circles;
        replaced[1] = Circle::from_params(&moved).unwrap();
        assert_eq!(seen, [cost_of(&replaced, &base, &reference)]);
    }
}
