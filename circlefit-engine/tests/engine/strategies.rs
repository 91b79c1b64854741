//! The three strategies end to end, with built-in and custom components.

use std::ops::ControlFlow;

use crate::common::*;
use proptest::prelude::{
    Just, ProptestConfig, any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use proptest::strategy::Strategy as _;

const MODES: [Strategy; 3] = [Strategy::Joint, Strategy::Sequential, Strategy::batch(3)];

#[test]
fn every_strategy_beats_the_blank_canvas() {
    let reference = test_image(32, 24);
    for mode in MODES {
        let mut f = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(20))
            .strategy(mode)
            .circles(6)
            .seed(3);
        let r = f.fit(reference.as_ref()).unwrap();
        assert!(
            r.cost < 0.8 * r.initial_cost,
            "{mode}: {} vs {}",
            r.cost,
            r.initial_cost
        );
        assert!(!r.circles.is_empty());
        // The reported cost is the true cost of rendering the kept circles.
        let canvas = crate::common::render_new(
            &mut CpuRenderer::new(),
            Canvas::white(32, 24).unwrap().as_ref(),
            &r.circles,
        )
        .unwrap();
        assert_eq!(
            Mse.cost(canvas.as_ref(), reference.as_ref()).unwrap(),
            r.cost
        );
        let evals: u64 = r.stages.iter().map(|s| s.evaluations).sum();
        assert_eq!(evals, r.evaluations);
        let stages = match mode {
            Strategy::Joint => 1,
            Strategy::Sequential => 6,
            _ => 2,
        };
        assert_eq!(r.stages.len(), stages);
        // Costs never increase from stage to stage; rejected stages keep the cost.
        for s in &r.stages {
            assert!(s.cost_after <= s.cost_before);
            assert_eq!(s.kept, s.cost_after < s.cost_before);
        }
    }
}

#[test]
fn same_seed_gives_identical_results() {
    let reference = test_image(20, 20);
    for mode in MODES {
        let run = |seed| {
            Fitter::new(CpuRenderer::new(), Mse, small_mayfly(8))
                .strategy(mode)
                .circles(4)
                .seed(seed)
                .fit(reference.as_ref())
                .unwrap()
        };
        let (a, b, c) = (run(11), run(11), run(12));
        assert_eq!(a, b, "{mode}");
        assert_eq!(a.cost.to_bits(), b.cost.to_bits());
        assert_ne!(a.circles, c.circles, "{mode}");
    }
}

#[test]
fn incremental_path_follows_the_same_trajectory_as_the_full_path() {
    let reference = test_image(24, 16);
    let base = Canvas::filled(24, 16, [30, 90, 160, 255]).unwrap();
    for (mode, edges) in MODES
        .into_iter()
        .flat_map(|m| [(m, Edges::Hard), (m, Edges::Smooth)])
    {
        let fast = Fitter::new(CpuRenderer::with_edges(edges), Mse, small_mayfly(6))
            .strategy(mode)
            .circles(5)
            .seed(5)
            .base(base.clone())
            .fit(reference.as_ref())
            .unwrap();
        let mut slow = Fitter::new(
            NoSpans(CpuRenderer::with_edges(edges)),
            OpaqueMse,
            small_mayfly(6),
        )
        .strategy(mode)
        .circles(5)
        .seed(5)
        .base(base.clone())
        .fit(reference.as_ref())
        .unwrap();
        // The fit says which path it took; everything else is the same.
        assert_eq!(
            (fast.path, slow.path),
            (EvalPath::Incremental, EvalPath::Full)
        );
        slow.path = fast.path;
        assert_eq!(fast, slow, "{mode} {edges}");
    }
}

#[test]
fn custom_base_canvas_is_used_and_checked() {
    let reference = test_image(16, 16);
    let base = Canvas::filled(16, 16, [120, 120, 120, 255]).unwrap();
    let r = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(5))
        .circles(2)
        .base(base.clone())
        .fit(reference.as_ref())
        .unwrap();
    assert_eq!(
        r.initial_cost,
        Mse.cost(base.as_ref(), reference.as_ref()).unwrap()
    );
    let wrong = Canvas::white(16, 15).unwrap();
    let e = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(5))
        .base(wrong)
        .fit(reference.as_ref())
        .unwrap_err();
    assert!(matches!(e, Error::SizeMismatch { actual_h: 15, .. }), "{e}");
    assert!(e.to_string().contains("base canvas"));
}

#[test]
fn invalid_settings_are_typed_errors() {
    let reference = test_image(8, 8);
    let fit = |s: Strategy, n: usize| {
        Fitter::new(CpuRenderer::new(), Mse, small_mayfly(1))
            .strategy(s)
            .circles(n)
            .fit(reference.as_ref())
    };
    for (s, n, field) in [
        (Strategy::Sequential, 0, "circles"),
        (Strategy::Joint, 100_001, "circles"),
        (Strategy::batch(0), 3, "batch size"),
        (Strategy::batch(4), 3, "batch size"),
    ] {
        match fit(s, n) {
            Err(Error::InvalidSetting { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{s} {n}: {other:?}"),
        }
    }
}

#[test]
fn the_observer_sees_every_stage_and_can_stop() {
    let reference = test_image(16, 16);
    let mut seen = Vec::new();
    let r = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(3))
        .circles(10)
        .fit_observed(reference.as_ref(), &mut |p| {
            if let Some(done) = p.finished {
                assert_eq!(done.index, p.stage);
                seen.push((p.stage, p.evaluations, p.cost));
            } else {
                // Within a stage: Mayfly reports each iteration.
                assert!(p.iteration >= 1 && p.best_cost <= p.cost);
            }
            if p.stage == 3 && p.finished.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(seen.len(), 4);
    // A stop between stages: the stage it follows is complete.
    assert_eq!(r.end, FitEnd::Stopped);
    assert_eq!((r.stages.len(), r.stages_done, r.partial), (4, 4, 0));
    assert!(r.stages.iter().all(|s| s.complete));
    assert_eq!(seen.last().unwrap().1, r.evaluations);
}

#[test]
fn an_observer_can_stop_within_a_stage() {
    let reference = test_image(16, 16);
    let mut updates = 0;
    let r = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(50))
        .circles(4)
        .fit_observed(reference.as_ref(), &mut |p| {
            if p.finished.is_none() {
                updates += 1;
            }
            if p.iteration == 5 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(updates, 5);
    assert_eq!(r.stages.len(), 1);
    assert_eq!(r.stages[0].stop, StopReason::Observer);
    // A stop within a stage: its best is kept if it helps, but it does not count as done.
    assert_eq!(r.end, FitEnd::Stopped);
    assert!(!r.stages[0].complete);
    assert_eq!((r.stages_done, r.partial), (0, r.circles.len()));
    assert_eq!(r.resume_point(), (Vec::new(), 0));
    // Fewer evaluations than a full 50-iteration stage (20 + 5·31 + the re-score).
    assert_eq!(r.evaluations, 20 + 5 * 31 + 1);
}

#[test]
fn a_cancellation_flag_from_another_thread_stops_the_fit_with_the_best_so_far() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let reference = test_image(24, 24);
    let flag = Arc::new(AtomicBool::new(false));
    let setter = Arc::clone(&flag);
    let r = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(10_000))
        .circles(100)
        .cancel_on(Arc::clone(&flag))
        .fit_observed(reference.as_ref(), &mut |p| {
            if p.stage == 2 && p.iteration == 3 {
                // As a signal handler would, from another thread.
                let s = Arc::clone(&setter);
                std::thread::spawn(move || s.store(true, Ordering::Relaxed))
                    .join()
                    .unwrap();
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(r.stopped() && r.stopped_early());
    assert_eq!(r.stages.len(), 3);
    assert_eq!(r.stages[2].stop, StopReason::Interrupted);
    assert!(!r.stages[2].complete && r.stages[..2].iter().all(|s| s.complete));
    assert_eq!(r.stages_done, 2);
    let (whole, done) = r.resume_point();
    assert_eq!(whole[..], r.circles[..r.circles.len() - r.partial]);
    assert_eq!(done, 2);
    assert!(r.stages[2].evaluations < 20 + 10 * 31);
    assert!(r.cost < r.initial_cost);
}

#[test]
fn a_stale_cancel_flag_is_reported_and_a_resume_point_serves_one_fit() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let reference = test_image(24, 24);
    let fitter = || {
        Fitter::new(CpuRenderer::new(), Mse, small_mayfly(4))
            .circles(6)
            .polish(Polish::passes(1))
            .seed(5)
    };
    let whole = fitter().fit(reference.as_ref()).unwrap();
    // Stop after three stages, as a Ctrl-C would.
    let flag = Arc::new(AtomicBool::new(false));
    let stopped = fitter()
        .cancel_on(Arc::clone(&flag))
        .fit_observed(reference.as_ref(), &mut |p| {
            if p.finished.is_some() && p.stage == 2 {
                flag.store(true, Ordering::Relaxed);
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(stopped.stopped());
    // Resumed with the flag still set: reported, not a second stop with a worse result.
    let (circles, done) = stopped.resume_point();
    let mut resumed = fitter()
        .resume(circles.clone(), done)
        .cancel_on(Arc::clone(&flag));
    let e = resumed.fit(reference.as_ref()).unwrap_err();
    assert!(e.to_string().contains("cancel flag"), "{e}");
    // Cleared, the resume reaches the uninterrupted result...
    flag.store(false, Ordering::Relaxed);
    let mut resumed = fitter().resume(circles, done).cancel_on(Arc::clone(&flag));
    let first = resumed.fit(reference.as_ref()).unwrap();
    assert_eq!(first.circles, whole.circles);
    // ... and a second fit on the same fitter starts from the base: the resume point
    // served one fit.
    let second = resumed.fit(reference.as_ref()).unwrap();
    assert_eq!(second.circles, whole.circles);
    assert_eq!(second.stages.len(), whole.stages.len());
    assert_eq!(second.evaluations, whole.evaluations);
}

// ---- custom components -------------------------------------------------------------

/// Opaque axis-aligned squares.
#[derive(Debug)]
struct Squares;

impl Renderer for Squares {
    type Error = std::convert::Infallible;
    fn draw(&mut self, mut canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
        let (w, h) = (f64::from(canvas.width()), f64::from(canvas.height()));
        for c in circles {
            let rgb = c.color().map(|v| (v * 255.0).round() as u8);
            let x0 = (c.x() - c.radius()).clamp(0.0, w) as u32;
            let x1 = (c.x() + c.radius()).clamp(0.0, w) as u32;
            let y0 = (c.y() - c.radius()).clamp(0.0, h) as u32;
            let y1 = (c.y() + c.radius()).clamp(0.0, h) as u32;
            for y in y0..y1 {
                for px in canvas.row_segment_mut(y, x0, x1).chunks_exact_mut(4) {
                    px[..3].copy_from_slice(&rgb);
                }
            }
        }
        Ok(())
    }
}

/// Sum of absolute differences.
#[derive(Debug)]
struct Sad;

impl CostFunc for Sad {
    type Error = std::convert::Infallible;
    fn cost(&self, a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<f64, Self::Error> {
        Ok(a.as_bytes()
            .chunks(4)
            .zip(b.as_bytes().chunks(4))
            .map(|(p, q)| (0..3).map(|k| f64::from(p[k].abs_diff(q[k]))).sum::<f64>())
            .sum())
    }
}

/// A (1+1) hill climber with a fixed step schedule.
#[derive(Debug)]
struct HillClimber {
    steps: u64,
}

impl Optimizer for HillClimber {
    type Error = std::convert::Infallible;
    fn minimize(
        &mut self,
        f: &mut dyn Objective,
        p: &Problem<'_>,
    ) -> Result<OptimizeReport, Self::Error> {
        let (lo, hi) = (p.bounds.lower(), p.bounds.upper());
        let mut state = p.seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut x: Vec<f64> = lo
            .iter()
            .zip(hi)
            .map(|(l, h)| l + (h - l) * next())
            .collect();
        let mut fx = f.evaluate(&x);
        let mut y = x.clone();
        for _ in 1..self.steps {
            for ((v, l), h) in y.iter_mut().zip(lo).zip(hi) {
                *v = (*v + (h - l) * 0.1 * (next() - 0.5)).clamp(*l, *h);
            }
            let fy = f.evaluate(&y);
            if fy < fx {
                fx = fy;
                x.copy_from_slice(&y);
            } else {
                y.copy_from_slice(&x);
            }
        }
        Ok(OptimizeReport::new(
            x,
            fx,
            self.steps,
            self.steps,
            StopReason::Iterations,
            p.seed,
        ))
    }
}

#[test]
fn custom_renderer_cost_and_optimizer_work_in_every_strategy() {
    let reference = test_image(20, 20);
    for mode in MODES {
        // Each custom component alone, and all three together.
        let r1 = Fitter::new(Squares, Mse, small_mayfly(5))
            .strategy(mode)
            .circles(3)
            .fit(reference.as_ref())
            .unwrap();
        let r2 = Fitter::new(CpuRenderer::new(), Sad, small_mayfly(5))
            .strategy(mode)
            .circles(3)
            .fit(reference.as_ref())
            .unwrap();
        let r3 = Fitter::new(CpuRenderer::new(), Mse, HillClimber { steps: 200 })
            .strategy(mode)
            .circles(3)
            .fit(reference.as_ref())
            .unwrap();
        let r4 = Fitter::new(Squares, Sad, HillClimber { steps: 200 })
            .strategy(mode)
            .circles(3)
            .fit(reference.as_ref())
            .unwrap();
        for (name, r) in [
            ("renderer", &r1),
            ("cost", &r2),
            ("optimizer", &r3),
            ("all", &r4),
        ] {
            assert!(r.cost < r.initial_cost, "{mode} custom {name}");
        }
        assert_eq!(
            r3.evaluations,
            r3.stages.iter().map(|s| s.evaluations).sum::<u64>()
        );
        // Boxed trait objects and &mut references work too.
        let mut renderer: Box<dyn Renderer<Error = std::convert::Infallible>> = Box::new(Squares);
        let mut opt = HillClimber { steps: 50 };
        let r5 = Fitter::new(&mut renderer, Box::new(Sad), &mut opt)
            .strategy(mode)
            .circles(3)
            .fit(reference.as_ref())
            .unwrap();
        assert!(r5.cost < r5.initial_cost);
    }
}

/// A renderer that fails, an optimizer that answers with the wrong dimension.
#[derive(Debug)]
struct Broken;

#[derive(Debug, thiserror::Error)]
#[error("out of ink")]
struct OutOfInk;

impl Renderer for Broken {
    type Error = OutOfInk;
    fn draw(&mut self, _: CanvasMut<'_>, _: &[Circle]) -> Result<(), OutOfInk> {
        Err(OutOfInk)
    }
}

#[derive(Debug)]
struct WrongDim;

impl Optimizer for WrongDim {
    type Error = std::convert::Infallible;
    fn minimize(
        &mut self,
        _: &mut dyn Objective,
        p: &Problem<'_>,
    ) -> Result<OptimizeReport, Self::Error> {
        Ok(OptimizeReport::new(
            vec![0.0; 3],
            0.0,
            0,
            0,
            StopReason::Iterations,
            p.seed,
        ))
    }
}

#[test]
fn component_failures_are_reported_not_panicked() {
    let reference = test_image(8, 8);
    let e = Fitter::new(Broken, Mse, small_mayfly(2))
        .circles(1)
        .fit(reference.as_ref())
        .unwrap_err();
    assert!(
        matches!(e, Error::Renderer(_)) && e.to_string().contains("out of ink"),
        "{e}"
    );
    let e = Fitter::new(CpuRenderer::new(), Mse, WrongDim)
        .circles(1)
        .fit(reference.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::OptimizerDimension {
                expected: 7,
                actual: 3
            }
        ),
        "{e}"
    );
}

// ---- incremental == full, on random scenes --------------------------------------------

pub(crate) fn arb_circle(w: u32, h: u32) -> impl proptest::strategy::Strategy<Value = Circle> {
    let (w, h) = (f64::from(w), f64::from(h));
    (
        -w..2.0 * w,
        -h..2.0 * h,
        prop_oneof![0.0..3.0, 0.0..w.max(h) * 1.5],
        prop::array::uniform3(0.0..=1.0f64),
        prop_oneof![
            Just(crate::common::MIN_ALPHA),
            Just(1.0),
            crate::common::MIN_ALPHA..=1.0
        ],
    )
        .prop_map(|(x, y, r, c, a)| Circle::new(x, y, r, c, a).unwrap())
}

pub(crate) fn arb_case()
-> impl proptest::strategy::Strategy<Value = (Canvas, Canvas, Vec<Vec<Circle>>, Vec<Circle>)> {
    (1u32..28, 1u32..28).prop_flat_map(|(w, h)| {
        let n = (w * h * 4) as usize;
        (
            prop::collection::vec(any::<u8>(), n),
            prop::collection::vec(any::<u8>(), n),
            prop::collection::vec(prop::collection::vec(arb_circle(w, h), 1..4), 0..4),
            prop::collection::vec(arb_circle(w, h), 1..6),
        )
            .prop_map(move |(r, b, kept, cand)| {
                (
                    Canvas::from_vec(w, h, r).unwrap(),
                    Canvas::from_vec(w, h, b).unwrap(),
                    kept,
                    cand,
                )
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn incremental_cost_equals_full_render_plus_full_mse(
        (reference, base, kept, cand) in arb_case(),
        uniform in any::<bool>(),
    ) {
        // A uniform base (as in joint fits over white or the mean colour) takes the
        // renderer's runs kernel until something is kept.
        let base = if uniform {
            let b = base.as_bytes();
            Canvas::filled(base.width(), base.height(), [b[0], b[1], b[2], b[3]]).unwrap()
        } else {
            base
        };
        let mut fast = Evaluator::new(CpuRenderer::new(), Mse, reference.as_ref(), base.as_ref()).unwrap();
        let mut slow = Evaluator::new(NoSpans::default(), OpaqueMse, reference.as_ref(), base.as_ref()).unwrap();
        prop_assert!(fast.is_incremental() && !slow.is_incremental());
        for stage in &kept {
            let a = fast.commit(stage).unwrap();
            let b = slow.commit(stage).unwrap();
            prop_assert_eq!(a.to_bits(), b.to_bits());
        }
        for k in 1..=cand.len() {
            let a = fast.cost_with(&cand[..k]).unwrap();
            let b = slow.cost_with(&cand[..k]).unwrap();
            // And against an independent full render of everything from the base.
            let mut all: Vec<Circle> = kept.iter().flatten().copied().collect();
            all.extend_from_slice(&cand[..k]);
            let full = crate::common::render_new(&mut CpuRenderer::new(), base.as_ref(), &all).unwrap();
            let c = Mse.cost(full.as_ref(), reference.as_ref()).unwrap();
            prop_assert_eq!(a.to_bits(), b.to_bits());
            prop_assert_eq!(a.to_bits(), c.to_bits());
        }
        prop_assert_eq!(fast.kept(), slow.kept());
    }
}

// ---- closed-form colour ----------------------------------------------------------------

#[test]
fn closed_form_colour_works_in_every_strategy_and_needs_spans() {
    let reference = test_image(32, 24);
    for mode in MODES {
        let r = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(10))
            .strategy(mode)
            .color(crate::common::ColorMode::ClosedForm)
            .circles(6)
            .seed(3)
            .fit(reference.as_ref())
            .unwrap();
        assert!(r.cost < 0.8 * r.initial_cost, "{mode}");
        let canvas = crate::common::render_new(
            &mut CpuRenderer::new(),
            Canvas::white(32, 24).unwrap().as_ref(),
            &r.circles,
        )
        .unwrap();
        assert_eq!(
            Mse.cost(canvas.as_ref(), reference.as_ref()).unwrap(),
            r.cost
        );
    }
    let e = Fitter::new(NoSpans::default(), Mse, small_mayfly(2))
        .color(crate::common::ColorMode::ClosedForm)
        .circles(1)
        .fit(reference.as_ref())
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidSetting { field: "color", .. }),
        "{e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The incremental path's colour (two prefix-table lookups per span, spans reused for
    /// the score) equals the colour summed pixel by pixel over the renderer's spans.
    #[test]
    fn closed_form_colour_from_tables_equals_summing_the_pixels(
        (reference, base, kept, cand) in arb_case(),
    ) {
        let mut fast = Evaluator::new(CpuRenderer::new(), Mse, reference.as_ref(), base.as_ref()).unwrap();
        let mut slow = Evaluator::new(CpuRenderer::new(), OpaqueMse, reference.as_ref(), base.as_ref()).unwrap();
        prop_assert!(fast.is_incremental() && !slow.is_incremental());
        for stage in &kept {
            fast.commit(stage).unwrap();
            slow.commit(stage).unwrap();
        }
        for shape in &cand {
            let a = fast.best_color(shape).unwrap();
            let b = slow.best_color(shape).unwrap();
            prop_assert_eq!(a, b);
            let circle = shape.with_color(a).unwrap();
            let (x, y) = (fast.cost_with(&[circle]).unwrap(), slow.cost_with(&[circle]).unwrap());
            prop_assert_eq!(x.to_bits(), y.to_bits());
        }
    }

    #[test]
    fn closed_form_colour_beats_other_colours(
        (reference, base, _, cand) in arb_case(),
        others in prop::collection::vec(prop::array::uniform3(0.0..=1.0f64), 8),
    ) {
        let mut eval = Evaluator::new(CpuRenderer::new(), Mse, reference.as_ref(), base.as_ref()).unwrap();
        let shape = cand[0];
        let best = shape.with_color(eval.best_color(&shape).unwrap()).unwrap();
        let best_cost = eval.cost_with(&[best]).unwrap();
        for c in others {
            let other = eval.cost_with(&[shape.with_color(c).unwrap()]).unwrap();
            // The least-squares optimum is found for the unrounded blend; the 8-bit rounding
            // of colour, alpha and result can cost it a little on tiny covered areas.
            prop_assert!(best_cost <= other * 1.01 + 1e-9, "{best_cost} vs {other}");
        }
    }
}

/// Evaluates only the starting candidates it is given (or the lower corner of the box).
#[derive(Debug)]
struct InitialOnly;

impl Optimizer for InitialOnly {
    type Error = std::convert::Infallible;
    fn minimize(
        &mut self,
        f: &mut dyn Objective,
        p: &Problem<'_>,
    ) -> Result<OptimizeReport, Self::Error> {
        let mut best = (f64::INFINITY, p.bounds.lower().to_vec());
        for x in p.initial {
            let fx = f.evaluate(x);
            if fx < best.0 {
                best = (fx, x.clone());
            }
        }
        let n = p.initial.len() as u64;
        Ok(OptimizeReport::new(
            best.1,
            best.0,
            n,
            1,
            StopReason::Iterations,
            p.seed,
        ))
    }
}

#[test]
fn residual_seeds_reach_the_optimizer_and_land_on_the_error() {
    let reference = test_image(48, 32);
    for color in [
        crate::common::ColorMode::Search,
        crate::common::ColorMode::ClosedForm,
    ] {
        for mode in [Strategy::Sequential, Strategy::batch(2)] {
            let without = Fitter::new(CpuRenderer::new(), Mse, InitialOnly)
                .strategy(mode)
                .color(color)
                .circles(4)
                .fit(reference.as_ref())
                .unwrap();
            let with = Fitter::new(CpuRenderer::new(), Mse, InitialOnly)
                .strategy(mode)
                .color(color)
                .circles(4)
                .residual_seeds(3)
                .fit(reference.as_ref())
                .unwrap();
            // Without seeds this optimizer only tries the box corner (invisible circles);
            // the seeds alone must already improve the picture.
            assert!(
                with.cost < 0.9 * without.cost,
                "{mode} {color:?}: {} vs {}",
                with.cost,
                without.cost
            );
            assert!(with.stages.iter().all(|s| s.evaluations <= 3 + 1));
        }
    }
}

/// Records the starting candidates of every run, then behaves as `InitialOnly`.
#[derive(Debug, Default)]
struct Recorder {
    runs: Vec<(u64, Vec<Vec<f64>>, Vec<f64>)>,
}

impl Optimizer for Recorder {
    type Error = std::convert::Infallible;
    fn minimize(
        &mut self,
        f: &mut dyn Objective,
        p: &Problem<'_>,
    ) -> Result<OptimizeReport, Self::Error> {
        // One random-ish point from the seed, so runs differ.
        let (lo, hi) = (p.bounds.lower(), p.bounds.upper());
        let t = (p.seed % 1000) as f64 / 1000.0;
        let probe: Vec<f64> = lo.iter().zip(hi).map(|(l, h)| l + t * (h - l)).collect();
        let mut best = (f.evaluate(&probe), probe);
        for x in p.initial {
            let fx = f.evaluate(x);
            if fx < best.0 {
                best = (fx, x.clone());
            }
        }
        self.runs.push((p.seed, p.initial.to_vec(), best.1.clone()));
        Ok(OptimizeReport::new(
            best.1,
            best.0,
            1 + p.initial.len() as u64,
            1,
            StopReason::Iterations,
            p.seed,
        ))
    }
}

#[test]
fn restarts_start_from_the_best_with_fresh_seeds() {
    let reference = test_image(32, 24);
    let mut rec = Recorder::default();
    let r = Fitter::new(CpuRenderer::new(), Mse, &mut rec)
        .circles(2)
        .restarts(Restarts::runs(3))
        .residual_seeds(2)
        .fit(reference.as_ref())
        .unwrap();
    assert_eq!(rec.runs.len(), 2 * 3);
    for stage in rec.runs.chunks(3) {
        assert_eq!(stage[0].1.len(), 2, "first run: the residual seeds");
        for k in 1..3 {
            assert_ne!(stage[k - 1].0, stage[k].0, "each epoch has its own seed");
            assert_eq!(stage[k].1.len(), 3, "later runs: best so far + the seeds");
            assert_eq!(&stage[k].1[1..], &stage[0].1[..], "the same residual seeds");
            // The first starting point is the best of an earlier run of this stage.
            assert!(stage[..k].iter().any(|run| run.2 == stage[k].1[0]));
        }
    }
    assert_eq!(r.stages.len(), 2);
    let mut plain = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(4))
        .circles(2)
        .restarts(Restarts::runs(3));
    let e = plain.fit(reference.as_ref()).unwrap();
    assert!(
        e.stages
            .iter()
            .all(|s| s.evaluations == 3 * (20 + 4 * 31) + 1)
    );
    let bad = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(1))
        .restarts(Restarts::runs(0))
        .fit(reference.as_ref());
    assert!(matches!(
        bad,
        Err(Error::InvalidSetting {
            field: "runs per stage",
            ..
        })
    ));
}

#[test]
fn the_convergence_rule_stops_a_fit_that_no_longer_improves() {
    let reference = Canvas::filled(16, 16, [255, 255, 255, 255]).unwrap();
    // Nothing to improve on a white reference over a white base: every stage is stale.
    let r = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(2))
        .circles(20)
        .convergence(Convergence::new(3, 0.001))
        .fit(reference.as_ref())
        .unwrap();
    assert!(r.end == FitEnd::Converged && r.stopped_early());
    assert_eq!(r.stages.len(), 3);
    // A fit that keeps improving runs to the end.
    let r = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(5))
        .circles(4)
        .convergence(Convergence::new(3, 1e-9))
        .fit(test_image(24, 24).as_ref())
        .unwrap();
    assert!(r.end == FitEnd::Completed && r.stages.len() == 4);
    let bad = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(1))
        .convergence(Convergence::new(0, 0.1))
        .fit(test_image(8, 8).as_ref());
    assert!(matches!(
        bad,
        Err(Error::InvalidSetting {
            field: "convergence patience",
            ..
        })
    ));
}

/// Evaluates its starting candidates and a few fixed points, recording every value.
#[derive(Debug, Default)]
struct Probe {
    calls: Vec<Vec<(Vec<f64>, f64)>>,
}

impl Optimizer for Probe {
    type Error = std::convert::Infallible;
    fn minimize(
        &mut self,
        f: &mut dyn Objective,
        p: &Problem<'_>,
    ) -> Result<OptimizeReport, Self::Error> {
        let (lo, hi) = (p.bounds.lower(), p.bounds.upper());
        let mut points: Vec<Vec<f64>> = p.initial.to_vec();
        for t in [0.3, 0.45, 0.6] {
            let u = (t + (p.seed % 97) as f64 / 400.0).fract();
            points.push(
                lo.iter()
                    .zip(hi)
                    .enumerate()
                    .map(|(j, (l, h))| l + (h - l) * ((u + j as f64 * 0.37).fract()))
                    .collect(),
            );
        }
        let mut log = Vec::new();
        let mut best = (f64::INFINITY, lo.to_vec());
        for x in points {
            let fx = f.evaluate(&x);
            log.push((x.clone(), fx));
            if fx < best.0 {
                best = (fx, x);
            }
        }
        self.calls.push(log);
        let n = self.calls.last().map_or(0, Vec::len) as u64;
        Ok(OptimizeReport::new(
            best.1,
            best.0,
            n,
            1,
            StopReason::Iterations,
            p.seed,
        ))
    }
}

#[test]
fn polishing_scores_exactly_and_only_keeps_improvements() {
    let reference = test_image(40, 30);
    let white = Canvas::white(40, 30).unwrap();
    let bounds = crate::common::Bounds::for_circles(1, 40, 30).unwrap();
    let fit = |passes: u32, probe: &mut Probe| {
        let mut f = Fitter::new(CpuRenderer::new(), Mse, probe)
            .circles(4)
            .seed(9);
        f.settings_mut().polish =
            (passes > 0).then(|| Polish::passes(passes).with_search(PolishSearch::Optimizer));
        f.fit(reference.as_ref()).unwrap()
    };
    let before = fit(0, &mut Probe::default());
    let mut probe = Probe::default();
    let after = fit(1, &mut probe);
    assert_eq!(after.polished_slots, before.circles.len());
    let stages = probe.calls.len() - before.circles.len();
    assert_eq!(stages, 4);
    // Replay the polish: every value the optimizer saw is the exact cost of rendering the
    // whole list with that slot replaced.
    let mut list = before.circles.clone();
    let mse_of = |l: &[Circle]| {
        let c = crate::common::render_new(&mut CpuRenderer::new(), white.as_ref(), l).unwrap();
        Mse.cost(c.as_ref(), reference.as_ref()).unwrap()
    };
    for (i, call) in probe.calls[stages..].iter().enumerate() {
        let current = mse_of(&list);
        let mut best: Option<(f64, Circle)> = None;
        for (x, f) in call {
            let mut x = x.clone();
            bounds.clamp(&mut x);
            let candidate = Circle::from_params(&x).unwrap();
            let mut replaced = list.clone();
            replaced[i] = candidate;
            assert_eq!(mse_of(&replaced), *f, "slot {i}");
            if best.is_none_or(|(b, _)| *f < b) {
                best = Some((*f, candidate));
            }
        }
        if let Some((f, c)) = best
            && f < current
        {
            list[i] = c;
        }
    }
    assert_eq!(after.circles, list);
    assert_eq!(after.cost, mse_of(&list));
    assert!(after.cost <= before.cost);
    assert!(after.polish_evaluations > 0);
}

#[test]
fn polish_budget_caps_each_slot() {
    let reference = test_image(24, 24);
    let fit = |search, budget: Option<u64>| {
        let mut polish = Polish::passes(2).with_search(search);
        polish.evaluations = budget;
        let r = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(30))
            .circles(3)
            .polish(polish)
            .fit(reference.as_ref())
            .unwrap();
        // The slots scale with the circles kept.
        assert_eq!(r.polished_slots, 2 * r.circles.len());
        r
    };
    let optimizer = fit(PolishSearch::Optimizer, None);
    let capped = fit(PolishSearch::Optimizer, Some(50));
    let slots = |r: &FitResult| r.polished_slots as u64;
    assert_eq!(
        optimizer.polish_evaluations,
        slots(&optimizer) * (20 + 30 * 31)
    );
    assert_eq!(capped.polish_evaluations, slots(&capped) * 50);
    assert!(capped.cost <= capped.stages.last().unwrap().cost_after);
    // The hill climber: 150 per slot unless capped.
    let climbed = fit(PolishSearch::HillClimb, None);
    let climbed_capped = fit(PolishSearch::HillClimb, Some(40));
    assert_eq!(climbed.polish_evaluations, slots(&climbed) * 150);
    assert_eq!(
        climbed_capped.polish_evaluations,
        slots(&climbed_capped) * 40
    );
}

#[test]
fn hill_climb_polishing_is_exact_deterministic_and_never_worse() {
    let reference = test_image(40, 30);
    let white = Canvas::white(40, 30).unwrap();
    let fit = |passes: u32| {
        let mut f = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(10))
            .circles(6)
            .seed(3);
        f.settings_mut().polish = (passes > 0).then(|| Polish::passes(passes));
        f.fit(reference.as_ref()).unwrap()
    };
    let before = fit(0);
    let after = fit(2);
    assert_eq!(after, fit(2));
    let canvas =
        crate::common::render_new(&mut CpuRenderer::new(), white.as_ref(), &after.circles).unwrap();
    assert_eq!(
        after.cost,
        Mse.cost(canvas.as_ref(), reference.as_ref()).unwrap()
    );
    assert!(
        after.cost < before.cost,
        "{} vs {}",
        after.cost,
        before.cost
    );
}

// ---- batch pruning and refill -------------------------------------------------------------

/// Proposes a fixed batch: a red disc hidden under an opaque disc of the reference's
/// colour (useless), then that disc; later stages get small grey discs.
#[derive(Debug, Default)]
struct HiddenFirst {
    calls: usize,
}

impl Optimizer for HiddenFirst {
    type Error = std::convert::Infallible;
    fn minimize(
        &mut self,
        f: &mut dyn Objective,
        p: &Problem<'_>,
    ) -> Result<OptimizeReport, Self::Error> {
        self.calls += 1;
        let n = p.dim() / 7;
        let mut x = Vec::with_capacity(p.dim());
        for k in 0..n {
            let c = if self.calls == 1 && k == 0 {
                Circle::new(10.0, 10.0, 4.0, [1.0, 0.0, 0.0], 1.0)
            } else if self.calls == 1 {
                Circle::new(10.0, 10.0, 8.0, [0.2, 0.4, 0.6], 1.0)
            } else {
                Circle::new(3.0 + 6.0 * k as f64, 24.0, 2.0, [0.2, 0.4, 0.6], 0.5)
            };
            x.extend_from_slice(&c.unwrap().to_params());
        }
        let v = f.evaluate(&x);
        Ok(OptimizeReport::new(
            x,
            v,
            1,
            0,
            StopReason::Iterations,
            p.seed,
        ))
    }
}

#[test]
fn pruning_drops_a_useless_batch_circle_and_refills_it() {
    let reference = Canvas::filled(32, 32, [51, 102, 153, 255]).unwrap();
    let fit = |prune: bool| {
        Fitter::new(CpuRenderer::new(), Mse, HiddenFirst::default())
            .strategy(Strategy::Batch { size: 2, prune })
            .circles(4)
            .fit(reference.as_ref())
            .unwrap()
    };
    let plain = fit(false);
    let pruned = fit(true);
    // Without pruning the hidden red disc is kept; with it, it is dropped and refilled.
    assert_eq!(plain.stages.len(), 2);
    assert!(plain.circles.iter().any(|c| c.color() == [1.0, 0.0, 0.0]));
    assert_eq!(pruned.stages[0].pruned, 1);
    assert!(pruned.circles.iter().all(|c| c.color() != [1.0, 0.0, 0.0]));
    assert_eq!(pruned.circles.len(), 4);
    assert_eq!(pruned.stages.len(), 3);
    assert!(pruned.cost <= plain.cost);
    // The reported cost is the full render's.
    let white = Canvas::white(32, 32).unwrap();
    let canvas =
        crate::common::render_new(&mut CpuRenderer::new(), white.as_ref(), &pruned.circles)
            .unwrap();
    assert_eq!(
        pruned.cost,
        Mse.cost(canvas.as_ref(), reference.as_ref()).unwrap()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// With pruning, batch fits never end worse than they would keep without it at the same
    /// stage, keep every stage's pruned circles out, and stay deterministic.
    #[test]
    fn pruning_never_raises_a_stage_cost(seed in 0u64..1000, size in 2usize..5) {
        let reference = test_image(36, 28);
        let fit = || {
            Fitter::new(CpuRenderer::new(), Mse, small_mayfly(4))
                .strategy(Strategy::Batch { size, prune: true })
                .circles(8)
                .seed(seed)
                .fit(reference.as_ref())
                .unwrap()
        };
        let r = fit();
        prop_assert_eq!(&r, &fit());
        for s in &r.stages {
            prop_assert!(s.cost_after <= s.cost_before);
            prop_assert!(s.pruned < s.circles);
        }
        prop_assert!(r.stages.len() <= 2 * 8usize.div_ceil(size));
        let kept: usize = r.stages.iter().filter(|s| s.kept).map(|s| s.circles - s.pruned).sum();
        prop_assert_eq!(kept, r.circles.len());
    }
}

#[test]
fn recommended_settings_are_valid_and_fit_in_every_mode() {
    let reference = test_image(30, 24);
    for mode in MODES {
        let s = FitSettings::recommended(mode, 6, 2);
        s.validate().unwrap();
        assert_eq!(s.polish.is_some(), mode != Strategy::Joint);
        assert_eq!(
            matches!(s.strategy, Strategy::Batch { prune: true, .. }),
            matches!(mode, Strategy::Batch { .. })
        );
        let r = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(4))
            .settings(s)
            .fit(reference.as_ref())
            .unwrap();
        assert!(r.cost < r.initial_cost, "{mode}");
    }
}

#[test]
fn a_target_cost_stops_the_stages_once_reached() {
    let reference = test_image(40, 30);
    let fit = |target: Option<f64>| {
        let mut f = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(6))
            .circles(12)
            .seed(5);
        f.settings_mut().target_cost = target;
        f.fit(reference.as_ref()).unwrap()
    };
    let all = fit(None);
    // Aim at the cost the full fit had after its fourth stage.
    let target = all.stages[3].cost_after;
    let stopped = fit(Some(target));
    assert!(stopped.end == FitEnd::ReachedTarget && stopped.stopped_early());
    assert_eq!(stopped.stages.len(), 4);
    assert_eq!(stopped.circles[..], all.circles[..stopped.circles.len()]);
    assert!(stopped.cost <= target);
    assert_ne!(fit(Some(0.0)).end, FitEnd::ReachedTarget);
    let e = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(2))
        .target_cost(f64::NAN)
        .fit(reference.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidSetting {
                field: "target cost",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_stage_budget_caps_every_stage_over_all_its_restarts() {
    let reference = test_image(40, 30);
    let mayfly = Mayfly::builder()
        .population(10)
        .iterations(30)
        .stagnation(2, 0.0)
        .build()
        .unwrap();
    let r = Fitter::new(CpuRenderer::new(), Mse, mayfly)
        .circles(5)
        .seed(2)
        .restarts(Restarts::runs(50).with_stage_budget(300))
        .fit(reference.as_ref())
        .unwrap();
    for s in &r.stages {
        // The budget, plus the strategy's own re-scoring of the answer.
        assert!(s.evaluations <= 301, "{}", s.evaluations);
        // Stagnating runs restart until the budget is nearly spent.
        assert!(s.evaluations > 200, "{}", s.evaluations);
    }
    let e = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(2))
        .restarts(Restarts::runs(1).with_stage_budget(0))
        .fit(reference.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidSetting {
                field: "stage budget",
                ..
            }
        ),
        "{e}"
    );
}
