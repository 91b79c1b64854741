//! Joint refinement: after polishing, every kept circle's numbers move together by gradient
//! steps on a floating-point copy of the edge model ([`model`]), with Adam ([`adam`]).
//!
//! Greedy stages place each circle for the canvas of the circles before it, and polishing
//! moves one circle at a time; neither can move two overlapping circles together, which is
//! where the last tenths of a decibel are. The float model is only a guide: every
//! [`Refine::CHECK_EVERY`](crate::Refine::CHECK_EVERY) steps and at the last, the circles
//! are quantised and scored exactly with the fit's renderer and cost, and the best
//! exactly scored set is what the pass keeps — never worse than what it started from.
//!
//! Each step's gradient is summed over fixed bands of rows, each band a job for whoever
//! is free ([`Team::each`](crate::team::Team::each)), in band order: the same numbers on
//! any number of threads.

mod adam;
pub(crate) mod model;

use std::sync::Arc;

use circlefit_core::smooth::{SmoothCircle, soft_width_cap};
use circlefit_core::{Bounds, Circle, CostFunc, Edges, Optimizer, Renderer, Result};
use circlefit_core::{MAX_EDGE_WIDTH, MIN_EDGE_WIDTH};

use adam::Adam;
use model::{BandGradient, NUMBERS, Ramp, Scene};

use crate::pass::{FitContext, Parts, Pass};
use crate::replica::{FitTeam, Replica};
use crate::team::Remote;
use crate::{FitEnd, FitResult, Phase, Progress, render_new};

/// Why refinement asked for did not run ([`FitResult::refine_skipped`]).
const REFINE_NEEDS_EDGES: &str = "refinement needs a renderer that names the edge model it draws (SpanRenderer::edges); this one does not, so it was skipped";

/// Refinement as a pass, after polishing.
pub(crate) struct RefinePass(pub(crate) crate::Refine);

impl<R: Renderer, C: CostFunc, O: Optimizer> Pass<R, C, O> for RefinePass {
    fn run(
        &mut self,
        parts: Parts<'_, R, C, O>,
        fit: &mut FitContext<'_, '_, R, C, O>,
        result: &mut FitResult,
    ) -> Result<()> {
        if result.circles.is_empty() || result.stopped() {
            return Ok(());
        }
        let edges = parts.renderer.as_span_renderer().and_then(|s| s.edges());
        let Some(edges) = edges else {
            result.refine_skipped = Some(REFINE_NEEDS_EDGES.to_owned());
            return Ok(());
        };
        let (w, h) = (fit.reference.width(), fit.reference.height());
        let scene = Arc::new(Scene::new(fit.reference, fit.base, ramp(edges, w, h)));
        let mut run = Refinement::new(&result.circles, (w, h), edges, self.0.steps)?;
        let before = result.circles.clone();
        let steps = self.0.steps;
        for step in 1..=steps {
            if fit.cancelled() {
                result.end = FitEnd::Stopped;
                break;
            }
            let grad = gradient(fit.team, &scene, &run.x);
            run.adam.step(&mut run.x, &grad, &run.lower, &run.upper);
            if step % crate::Refine::CHECK_EVERY != 0 && step != steps {
                continue;
            }
            let circles = run.circles()?;
            let canvas = render_new(parts.renderer, fit.base, &circles)?;
            let cost = crate::checked::cost_of(parts.cost, canvas.as_ref(), fit.reference)?;
            result.evaluations += 1;
            if cost < result.cost {
                result.circles = circles;
                result.cost = cost;
            }
            result.refined_steps = step;
            let phase = Phase::Refining { step, steps };
            let at = (result.stages_done, result.stages_done);
            let kept = result.circles.len();
            let progress = Progress {
                circles: Some(&result.circles),
                ..Progress::at(phase, at, kept, result.cost, result.evaluations)
            };
            if fit.reporter.report(progress).is_break() {
                result.end = FitEnd::Stopped;
                break;
            }
        }
        if result.circles != before && result.unpolished.is_none() {
            result.unpolished = Some(before);
        }
        Ok(())
    }
}

/// The float model's ramp for `edges` on a `w` × `h` canvas.
fn ramp(edges: Edges, w: u32, h: u32) -> Ramp {
    match edges {
        Edges::Hard | Edges::Smooth => Ramp::Fixed(1.0),
        Edges::Soft => Ramp::Soft {
            cap: (soft_width_cap(w.min(h)) / 256) as f32,
        },
        Edges::Free => Ramp::Free {
            min: MIN_EDGE_WIDTH as f32,
            max: MAX_EDGE_WIDTH as f32,
        },
    }
}

/// The refinement under way: the numbers, their box and Adam's moments.
struct Refinement {
    /// Whether each circle's edge width is one of the numbers refined.
    free: bool,
    x: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    adam: Adam,
}

impl Refinement {
    /// Starts from `circles` drawn with `edges` on a `w` × `h` canvas, each number kept
    /// within the fit's box of one circle (or where it already lies beyond it: a resumed
    /// fit's circles may); the edge width, with free edges, within its own limits.
    fn new(circles: &[Circle], (w, h): (u32, u32), edges: Edges, steps: u32) -> Result<Self> {
        let one = Bounds::for_circles(1, w, h)?;
        let free = edges == Edges::Free;
        let mut x = Vec::with_capacity(circles.len() * NUMBERS);
        let (mut lower, mut upper) = (x.clone(), x.clone());
        for c in circles {
            let p = c.to_params();
            x.extend_from_slice(&p);
            for ((v, lo), hi) in p.iter().zip(one.lower()).zip(one.upper()) {
                lower.push(lo.min(*v));
                upper.push(hi.max(*v));
            }
            if free {
                let ramp = SmoothCircle::free(c, w, h).ramp_width();
                x.push(ramp as f64 / 256.0);
                lower.push(MIN_EDGE_WIDTH);
                upper.push(MAX_EDGE_WIDTH);
            } else {
                // Not refined: the width follows the model's rule.
                x.push(1.0);
                lower.push(1.0);
                upper.push(1.0);
            }
        }
        let adam = Adam::new(x.len(), steps);
        Ok(Self {
            free,
            x,
            lower,
            upper,
            adam,
        })
    }

    /// The circles the numbers describe now.
    fn circles(&self) -> Result<Vec<Circle>> {
        self.x
            .chunks_exact(NUMBERS)
            .map(|p| {
                let c = Circle::from_params(&p[..NUMBERS - 1])?;
                if self.free {
                    c.with_edge_width(p[NUMBERS - 1])
                } else {
                    Ok(c)
                }
            })
            .collect()
    }
}

/// One band's job.
struct BandJob {
    scene: Arc<Scene>,
    x: Arc<[f64]>,
    band: (u32, u32),
}

/// The gradient of the float model's loss at `x`, summed over the bands in order, each
/// band a job for whoever is free.
fn gradient<'s, R, C, O>(
    team: &mut FitTeam<'s, R, C, O>,
    scene: &Arc<Scene>,
    x: &[f64],
) -> Vec<f64> {
    let shared: Arc<[f64]> = x.into();
    let jobs = scene
        .bands()
        .into_iter()
        .map(|band| BandJob {
            scene: Arc::clone(scene),
            x: Arc::clone(&shared),
            band,
        })
        .collect();
    let remote: Remote<'s, Replica<R, C, O>, BandJob, BandGradient> =
        Arc::new(|_: &mut Replica<R, C, O>, job: BandJob| {
            job.scene.band_gradient(&job.x, job.band)
        });
    let mut here = |job: BandJob| job.scene.band_gradient(&job.x, job.band);
    let parts = team.each(jobs, &remote, &mut here, &|_| false);
    let mut grad = vec![0.0; x.len()];
    for part in parts.into_iter().flatten() {
        grad.iter_mut().zip(&part.grad).for_each(|(g, p)| *g += p);
    }
    grad
}
