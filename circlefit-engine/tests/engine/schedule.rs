//! Schedules: the built-in ones plan what they promise, a user's own runs without touching
//! the engine, and invalid plans are errors.

use std::ops::ControlFlow;

use crate::common::*;

/// Large circles for the first half of the fit, small ones after.
#[derive(Debug)]
struct CoarseToFine;

impl Schedule for CoarseToFine {
    fn next_stage(&self, s: &FitState) -> Option<StagePlan> {
        if s.stage >= s.circles {
            return None;
        }
        let side = f64::from(s.width.max(s.height));
        let radius = if s.stage < s.circles / 2 {
            side / 4.0..=side
        } else {
            1.0..=side / 8.0
        };
        Some(StagePlan::new(1).with_radius(radius).with_budget(150))
    }

    fn planned_stages(&self, s: &FitState) -> usize {
        s.circles
    }
}

#[test]
fn a_custom_schedule_plans_every_stage_of_a_fit() {
    let reference = test_image(48, 32);
    let mut fitter = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(20))
        .schedule(CoarseToFine)
        .circles(8)
        .seed(3);
    let mut planned = Vec::new();
    let r = fitter
        .fit_observed(reference.as_ref(), &mut |p| {
            if let Some(s) = p.finished {
                planned.push((s.index, p.stages));
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(r.stages.len(), 8);
    assert_eq!(planned, (0..8).map(|i| (i, 8)).collect::<Vec<_>>());
    // The stage budget of the plan caps each stage (plus the engine's own re-score).
    assert!(
        r.stages.iter().all(|s| s.evaluations <= 151),
        "{:?}",
        r.stages
    );
    // Every kept circle lies in its stage's radius range.
    let mut kept = r.circles.iter();
    for s in r.stages.iter().filter(|s| s.kept) {
        let c = kept.next().unwrap();
        if s.index < 4 {
            assert!(
                (12.0..=48.0).contains(&c.radius()),
                "stage {}: {c:?}",
                s.index
            );
        } else {
            assert!(
                (1.0..=6.0).contains(&c.radius()),
                "stage {}: {c:?}",
                s.index
            );
        }
    }
    assert!(r.cost < r.initial_cost);
    // Same seed, same result; and on two threads.
    assert_eq!(r, fitter.fit(reference.as_ref()).unwrap());
    let mut two = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(20))
        .schedule(CoarseToFine)
        .circles(8)
        .seed(3)
        .threads(2);
    assert_eq!(r, two.fit(reference.as_ref()).unwrap());
}

/// Plans a radius range outside the image from stage `from` on.
#[derive(Debug)]
struct TooLarge {
    from: usize,
}

impl Schedule for TooLarge {
    fn next_stage(&self, s: &FitState) -> Option<StagePlan> {
        let plan = StagePlan::new(1);
        (s.stage < s.circles).then(|| {
            if s.stage >= self.from {
                plan.with_radius(1.0..=1e9)
            } else {
                plan
            }
        })
    }
    fn planned_stages(&self, s: &FitState) -> usize {
        s.circles
    }
}

#[test]
fn an_invalid_first_stage_is_refused_before_any_work_and_a_later_one_when_planned() {
    let reference = test_image(16, 16);
    let mut calls = 0;
    let e = Fitter::new(CpuRenderer::new(), Mse, Counting::new(&mut calls))
        .schedule(TooLarge { from: 0 })
        .circles(3)
        .fit(reference.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidSetting {
                field: "stage radius",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(calls, 0, "no optimizer run before the error");
    let e = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(2))
        .schedule(TooLarge { from: 2 })
        .circles(3)
        .fit(reference.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidSetting {
                field: "stage radius",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn the_built_in_schedules_plan_the_documented_stages() {
    let s = FitState::new(7, 30, 20);
    let sizes = |sched: &dyn Schedule, kept: &dyn Fn(usize) -> usize| -> Vec<usize> {
        (0..)
            .map_while(|i| sched.next_stage(&s.at(i, kept(i))).map(|p| p.circles))
            .collect()
    };
    assert_eq!(sizes(&Joint, &|_| 0), [7]);
    assert_eq!(sizes(&Sequential, &|_| 0), [1; 7]);
    assert_eq!(
        sizes(
            &Batch {
                size: 3,
                prune: false
            },
            &|_| 0
        ),
        [3, 3, 1]
    );
    // Pruned batches refill until enough are kept, within twice the usual stages.
    assert_eq!(
        sizes(
            &Batch {
                size: 3,
                prune: true
            },
            &|i| 2 * i
        ),
        [3, 3, 3, 1]
    );
    assert_eq!(
        sizes(
            &Batch {
                size: 3,
                prune: true
            },
            &|_| 0
        )
        .len(),
        6
    );
    assert!(
        Batch {
            size: 3,
            prune: true
        }
        .next_stage(&s)
        .unwrap()
        .prune
    );
    // `Strategy` is each of them by name.
    for (strategy, schedule) in [
        (Strategy::Joint, &Joint as &dyn Schedule),
        (Strategy::Sequential, &Sequential),
        (
            Strategy::batch(3),
            &Batch {
                size: 3,
                prune: false,
            },
        ),
    ] {
        assert_eq!(sizes(&strategy, &|_| 0), sizes(schedule, &|_| 0));
        assert_eq!(strategy.planned_stages(&s), schedule.planned_stages(&s));
    }
}

/// An optimizer that counts its runs and tries the box's centre.
struct Counting<'a> {
    calls: &'a mut usize,
}

impl<'a> Counting<'a> {
    fn new(calls: &'a mut usize) -> Self {
        Self { calls }
    }
}

impl Optimizer for Counting<'_> {
    type Error = std::convert::Infallible;
    fn minimize(
        &mut self,
        f: &mut dyn Objective,
        p: &Problem<'_>,
    ) -> Result<OptimizeReport, Self::Error> {
        *self.calls += 1;
        let x: Vec<f64> = p
            .bounds
            .lower()
            .iter()
            .zip(p.bounds.upper())
            .map(|(l, h)| (l + h) / 2.0)
            .collect();
        let v = f.evaluate(&x);
        Ok(OptimizeReport::new(
            x,
            v,
            1,
            1,
            StopReason::Iterations,
            p.seed,
        ))
    }
}

/// A fit made with an optimizer that counts into the given counter.
type FitWith = dyn Fn(&mut usize) -> Result<FitResult>;

#[test]
fn combinations_that_cannot_run_are_refused_before_the_first_stage_and_polishing_is_skipped_on_the_full_path()
 {
    let reference = test_image(16, 16);
    let cases: [(&str, Box<FitWith>); 2] = [
        (
            "color",
            Box::new(|calls: &mut usize| {
                Fitter::new(NoSpans::default(), Mse, Counting::new(calls))
                    .circles(3)
                    .color(ColorMode::ClosedForm)
                    .fit(test_image(16, 16).as_ref())
            }),
        ),
        (
            "require incremental",
            Box::new(|calls: &mut usize| {
                Fitter::new(CpuRenderer::new(), OpaqueMse, Counting::new(calls))
                    .circles(3)
                    .require_incremental(true)
                    .fit(test_image(16, 16).as_ref())
            }),
        ),
    ];
    for (field, fit) in cases {
        let mut calls = 0;
        let e = fit(&mut calls).unwrap_err();
        assert!(
            matches!(e, Error::InvalidSetting { field: f, .. } if f == field),
            "{e}"
        );
        assert_eq!(calls, 0, "{field}: refused before any optimizer run");
    }
    // Polishing on the full path (a renderer without spans; the recommended settings with
    // a cost that is no pixel sum) is skipped, and the result says why: the fit runs.
    let skipped = Fitter::new(NoSpans::default(), Mse, small_mayfly(3))
        .circles(3)
        .polish(Polish::passes(1))
        .fit(reference.as_ref())
        .unwrap();
    assert_eq!((skipped.path, skipped.polished_slots), (EvalPath::Full, 0));
    assert!(
        skipped
            .polish_skipped
            .as_deref()
            .is_some_and(|r| r.contains("pixel-sum cost"))
    );
    let recommended = Fitter::new(CpuRenderer::new(), OpaqueMse, small_mayfly(3))
        .settings(FitSettings::recommended(Strategy::Sequential, 5, 0))
        .fit(reference.as_ref())
        .unwrap();
    assert!(recommended.polish_skipped.is_some() && !recommended.circles.is_empty());
    assert!(recommended.cost < recommended.initial_cost);
    // With the built-in components polishing runs, and nothing is said.
    let polished = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(3))
        .settings(FitSettings::recommended(Strategy::Sequential, 5, 0))
        .fit(reference.as_ref())
        .unwrap();
    assert!(polished.polish_skipped.is_none() && polished.polished_slots > 0);
    // And the fitter says which path a fit would take.
    let f = Fitter::new(CpuRenderer::new(), OpaqueMse, small_mayfly(1));
    assert_eq!(f.evaluation_path(), EvalPath::Full);
    let f = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(1));
    assert_eq!(f.evaluation_path(), EvalPath::Incremental);
}

#[test]
fn reports_carry_the_circles_as_they_stand_and_the_last_ones_are_the_result() {
    let reference = test_image(40, 30);
    let mut fitter = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(4))
        .settings(FitSettings::recommended(Strategy::Sequential, 6, 1));
    let (mut after_stages, mut polished, mut last) = (None, Vec::new(), None);
    let full = fitter
        .fit_observed(reference.as_ref(), &mut |p| {
            if let Some(circles) = p.circles {
                match p.phase {
                    Phase::Stages => after_stages = Some(circles.to_vec()),
                    Phase::Polishing { .. } => polished.push(circles.to_vec()),
                    _ => {}
                }
                last = Some(circles.to_vec());
            } else {
                assert_eq!(p.phase, Phase::Stages, "every later report has its circles");
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    let after_stages = after_stages.unwrap();
    assert_eq!(after_stages, full.unpolished.clone().unwrap());
    // Polishing moved circles, and the reports showed them moving.
    assert!(polished.iter().any(|c| *c != after_stages));
    assert_eq!(last.as_ref(), Some(&full.circles));
}

#[test]
fn polishing_reports_progress_scales_to_the_kept_circles_and_stops_on_request() {
    let reference = test_image(40, 30);
    let fitter =
        || {
            Fitter::new(CpuRenderer::new(), Mse, small_mayfly(4))
                .settings(FitSettings::recommended(Strategy::Sequential, 6, 1))
        };
    let mut slots_seen = Vec::new();
    let full = fitter()
        .fit_observed(reference.as_ref(), &mut |p| {
            if let Phase::Polishing { slot, slots } = p.phase {
                slots_seen.push((slot, slots));
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    let slots = 8 * full.circles.len();
    assert_eq!(full.polished_slots, slots);
    assert_eq!(slots_seen.last(), Some(&(slots, slots)));
    assert!(slots_seen.windows(2).all(|w| w[0].0 < w[1].0));
    // A stop while polishing ends it after the slot in flight; the stages' circles remain
    // the resume point.
    let stopped = fitter()
        .fit_observed(reference.as_ref(), &mut |p| match p.phase {
            Phase::Polishing { slot, .. } if slot >= 5 => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        })
        .unwrap();
    assert_eq!(stopped.end, FitEnd::Stopped);
    assert!(stopped.polished_slots >= 5 && stopped.polished_slots < slots);
    assert_eq!(stopped.resume_point(), full.resume_point());
    // The cancel flag stops polishing too.
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = Arc::new(AtomicBool::new(false));
    let cancelled = fitter()
        .cancel_on(Arc::clone(&flag))
        .fit_observed(reference.as_ref(), &mut |p| {
            if matches!(p.phase, Phase::Polishing { slot: 3, .. }) {
                flag.store(true, Ordering::Relaxed);
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(cancelled.end, FitEnd::Stopped);
    assert!(cancelled.polished_slots < slots);
    // A fit stopped by its target polishes only the circles it kept.
    let target = full.stages[2].cost_after;
    let short = fitter()
        .target_cost(target)
        .fit(reference.as_ref())
        .unwrap();
    assert_eq!(short.end, FitEnd::ReachedTarget);
    assert_eq!(short.polished_slots, 8 * short.circles.len());
    assert!(short.circles.len() < full.circles.len());
}

#[test]
fn joint_fits_can_be_polished() {
    let reference = test_image(32, 24);
    let fit = |polish: Option<Polish>| {
        let mut f = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(5))
            .strategy(Strategy::Joint)
            .circles(4)
            .seed(2);
        f.settings_mut().polish = polish;
        f.fit(reference.as_ref()).unwrap()
    };
    let plain = fit(None);
    let polished = fit(Some(Polish::passes(2)));
    assert_eq!(polished.polished_slots, 2 * polished.circles.len());
    assert!(polished.cost <= plain.cost);
    assert_eq!(polished.resume_point().0.len(), plain.circles.len());
}

#[test]
fn inconsistent_resume_points_are_refused() {
    let reference = test_image(16, 16);
    let circles = |n: usize| -> Vec<Circle> {
        (0..n)
            .map(|i| Circle::new(2.0 + i as f64, 3.0, 2.0, [0.5; 3], 0.5).unwrap())
            .collect()
    };
    let resume = |strategy: Strategy, total: usize, kept: usize, done: usize| {
        Fitter::new(CpuRenderer::new(), Mse, small_mayfly(2))
            .strategy(strategy)
            .circles(total)
            .resume(circles(kept), done)
            .fit(reference.as_ref())
    };
    for (strategy, total, kept, done) in [
        // No stage done, yet circles kept.
        (Strategy::Sequential, 12, 6, 0),
        (Strategy::Sequential, 3, 2, 0),
        // More circles than the stages done can hold.
        (Strategy::Sequential, 10, 4, 3),
        (Strategy::batch(2), 10, 5, 2),
        // Longer than the fit.
        (Strategy::Sequential, 2, 0, 5),
        (Strategy::Sequential, 3, 4, 3),
    ] {
        let e = resume(strategy, total, kept, done).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidSetting {
                    field: "resume",
                    ..
                }
            ),
            "{strategy} {kept} after {done}: {e}"
        );
    }
    // Consistent points are accepted and end with the asked number of circles at most.
    let r = resume(Strategy::batch(2), 6, 3, 2).unwrap();
    assert!(r.circles.len() <= 6);
    let r = resume(Strategy::Sequential, 5, 2, 3).unwrap();
    assert!(r.circles.len() <= 5 && r.stages.len() == 2);
}

/// A cost that returns `value` for everything but the base.
#[derive(Debug)]
struct Broken {
    value: f64,
}

impl CostFunc for Broken {
    type Error = std::convert::Infallible;
    fn cost(&self, a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<f64, Self::Error> {
        let Ok(mse) = Mse.cost(a, b).map_err(|_| ()) else {
            return Ok(f64::NAN);
        };
        // The base itself scores normally, so the error comes from a candidate.
        Ok(if a.as_bytes().iter().all(|&v| v == 255) {
            mse
        } else {
            self.value
        })
    }
}

#[test]
fn a_cost_that_returns_nan_or_a_negative_value_is_an_error_naming_it() {
    let reference = test_image(16, 16);
    for value in [f64::NAN, -1.0, f64::INFINITY] {
        let e = Fitter::new(CpuRenderer::new(), Broken { value }, small_mayfly(2))
            .circles(2)
            .fit(reference.as_ref())
            .unwrap_err();
        assert!(matches!(e, Error::Cost(_)), "{value}: {e}");
        let text = e.to_string();
        assert!(
            text.contains("cost function") && text.contains("finite"),
            "{text}"
        );
    }
}
