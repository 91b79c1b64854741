//! A pass: one step of a fit's pipeline. [`Fitter`](crate::Fitter) runs the stages, then
//! polishing (then any later pass) in order, each on the result the one before left, until
//! one stops the fit.
//!
//! A pass gets the fit's components on the calling thread ([`Parts`]) and the rest of the
//! fit ([`FitContext`]): the images, the settings, the cancel flag, the reporter, and the
//! team of helpers, each holding a [`Replica`](crate::replica::Replica) of the fit, to
//! which it hands jobs with [`Team::each`](crate::team::Team::each) or
//! [`Team::broadcast`](crate::team::Team::broadcast). See ARCHITECTURE.md, "A pass".

use std::sync::atomic::{AtomicBool, Ordering};

use circlefit_core::{CanvasRef, Result};

use crate::replica::FitTeam;
use crate::report::Reporter;
use crate::{FitResult, FitSettings, Schedule};

/// The fit's components, lent to one pass at a time.
pub(crate) struct Parts<'a, R, C, O> {
    pub(crate) renderer: &'a mut R,
    pub(crate) cost: &'a C,
    pub(crate) optimizer: &'a mut O,
}

/// Everything else a pass works with.
pub(crate) struct FitContext<'a, 's, R, C, O> {
    pub(crate) reference: CanvasRef<'a>,
    pub(crate) base: CanvasRef<'a>,
    pub(crate) settings: &'a FitSettings,
    pub(crate) schedule: &'a dyn Schedule,
    pub(crate) cancel: Option<&'a AtomicBool>,
    pub(crate) reporter: Reporter<'a>,
    pub(crate) team: &'a mut FitTeam<'s, R, C, O>,
    /// Set to end the helpers' searches early (a stage's searches use it).
    pub(crate) halt: &'a AtomicBool,
}

impl<R, C, O> FitContext<'_, '_, R, C, O> {
    /// Whether the cancel flag is set.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// One step of the pipeline.
pub(crate) trait Pass<R, C, O> {
    /// Works on `result` (what the passes before left): changes its circles, cost and
    /// counts; a stop sets [`FitEnd::Stopped`](crate::FitEnd::Stopped), which ends the
    /// pipeline after this pass.
    ///
    /// # Errors
    /// A component's error; the pipeline ends with it.
    fn run(
        &mut self,
        parts: Parts<'_, R, C, O>,
        fit: &mut FitContext<'_, '_, R, C, O>,
        result: &mut FitResult,
    ) -> Result<()>;
}

#[cfg(test)]
mod tests {
    //! A pass of one's own that runs on the helpers, as ARCHITECTURE.md's "A pass" shows:
    //! it scores every kept circle nudged one pixel right (each nudge a job for whoever is
    //! free) and keeps the nudges that lower the cost.

    use std::ops::ControlFlow;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use circlefit_core::{Canvas, Circle, CostFunc, Renderer, Result};
    use circlefit_cost::Mse;
    use circlefit_render::CpuRenderer;

    use super::{FitContext, Parts, Pass};
    use crate::replica::{Replica, Stops};
    use crate::report::Reporter;
    use crate::team::{Remote, Team};
    use crate::{FitResult, FitSettings, HillClimber, Strategy, render_new};

    /// The exact cost of `circles` with circle `i` one pixel to the right.
    fn nudged_cost<R: Renderer, C: CostFunc>(
        (renderer, cost): (&mut R, &C),
        (reference, base): (circlefit_core::CanvasRef<'_>, circlefit_core::CanvasRef<'_>),
        circles: &[Circle],
        i: usize,
    ) -> Result<f64> {
        let mut moved = circles.to_vec();
        let mut p = moved[i].to_params();
        p[0] += 1.0;
        moved[i] = Circle::from_params(&p)?;
        let canvas = render_new(renderer, base, &moved)?;
        crate::checked::cost_of(cost, canvas.as_ref(), reference)
    }

    /// Counts the jobs the helpers ran.
    struct Nudges(Arc<AtomicUsize>);

    impl<R: Renderer, C: CostFunc, O> Pass<R, C, O> for Nudges {
        fn run(
            &mut self,
            parts: Parts<'_, R, C, O>,
            fit: &mut FitContext<'_, '_, R, C, O>,
            result: &mut FitResult,
        ) -> Result<()> {
            let circles: Arc<[Circle]> = result.circles.as_slice().into();
            let jobs: Vec<usize> = (0..circles.len()).collect();
            let (theirs, ran) = (Arc::clone(&circles), Arc::clone(&self.0));
            let remote: Remote<'_, Replica<R, C, O>, usize, Result<f64>> =
                Arc::new(move |w: &mut Replica<R, C, O>, i: usize| {
                    ran.fetch_add(1, Ordering::SeqCst);
                    let (renderer, cost, reference) = w.eval.parts();
                    nudged_cost((renderer, cost), (reference, w.base.as_ref()), &theirs, i)
                });
            let scene = (fit.reference, fit.base);
            let (renderer, cost) = (parts.renderer, parts.cost);
            let mut here = |i: usize| nudged_cost((&mut *renderer, cost), scene, &circles, i);
            let costs = fit.team.each(jobs, &remote, &mut here, &|_| false);
            for (i, c) in costs.into_iter().enumerate() {
                let c = c.expect("no job is skipped without a stop")?;
                if c < result.cost {
                    let mut p = result.circles[i].to_params();
                    p[0] += 1.0;
                    result.circles[i] = Circle::from_params(&p)?;
                    result.cost = c;
                }
            }
            Ok(())
        }
    }

    /// The starting circles and cost, and the pass's result and helper jobs.
    fn nudge_on(helpers: usize) -> (f64, FitResult, usize) {
        let reference = Canvas::filled(32, 24, [200, 40, 40, 255]).unwrap();
        let base = Canvas::white(32, 24).unwrap();
        let circle = |x, r| Circle::new(x, 12.0, r, [0.8, 0.2, 0.2], 0.9).unwrap();
        // The middle circle, nudged right, covers more white: the only nudge that helps.
        let circles = vec![circle(3.0, 5.0), circle(14.0, 7.0), circle(31.0, 3.0)];
        let canvas = render_new(&mut CpuRenderer::new(), base.as_ref(), &circles).unwrap();
        let cost = Mse.cost(canvas.as_ref(), reference.as_ref()).unwrap();
        let mut result = FitResult::starting(circles, 0, cost, crate::EvalPath::Full);
        let settings = FitSettings::new(Strategy::Sequential, 3, 1);
        let halt = AtomicBool::new(false);
        let mut quiet = |_: &crate::Progress<'_>| ControlFlow::Continue(());
        let stops = Stops {
            cancel: None,
            halt: Arc::new(AtomicBool::new(false)),
        };
        let replica = || {
            let parts = (CpuRenderer::new(), Mse, HillClimber::default());
            Replica::new(parts, reference.as_ref(), base.as_ref(), stops.clone()).unwrap()
        };
        let ran = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|scope| {
            let mut team = Team::spawn(scope, (0..helpers).map(|_| replica()).collect());
            let mut fit = FitContext {
                reference: reference.as_ref(),
                base: base.as_ref(),
                settings: &settings,
                schedule: &settings.strategy,
                cancel: None,
                reporter: Reporter::new(&mut quiet),
                team: &mut team,
                halt: &halt,
            };
            let parts = Parts {
                renderer: &mut CpuRenderer::new(),
                cost: &Mse,
                optimizer: &mut HillClimber::default(),
            };
            let mut pass = Nudges(Arc::clone(&ran));
            pass.run(parts, &mut fit, &mut result).unwrap();
        });
        (cost, result, ran.load(Ordering::SeqCst))
    }

    #[test]
    fn a_pass_of_ones_own_runs_on_the_helpers_with_the_same_result() {
        let (before, alone, none) = nudge_on(0);
        assert_eq!(none, 0);
        assert!(alone.cost < before, "a nudge lowered the cost");
        for helpers in [1, 2, 3] {
            let (_, r, ran) = nudge_on(helpers);
            // The calling thread always takes the last job; a free helper one of the others.
            assert!((1..=2).contains(&ran), "{helpers} helpers ran {ran} jobs");
            assert_eq!(r.circles, alone.circles, "{helpers} helpers");
            assert_eq!(r.cost.to_bits(), alone.cost.to_bits(), "{helpers} helpers");
        }
    }
}
