//! Independent searches per stage and climbs per polished slot: one result on any
//! number of threads, the best of them kept, budgets as documented, stops that reach the
//! helpers.

use std::ops::ControlFlow;

use crate::common::*;

fn settings(strategy: Strategy, searches: usize, climbs: u32) -> FitSettings {
    let mut s = FitSettings::recommended(strategy, 6, 11);
    s.residual_seeds = 2;
    s.restarts = Restarts::runs(1).with_searches(searches);
    s.polish = Some(Polish::passes(2).with_evaluations(24).with_climbs(climbs));
    s
}

fn fit(settings: FitSettings, threads: Option<usize>) -> FitResult {
    let f = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(4)).settings(settings);
    let mut f = match threads {
        None => f,
        Some(n) => f.threads(n),
    };
    f.fit(test_image(40, 30).as_ref()).unwrap()
}

#[test]
fn searches_and_climbs_give_one_result_on_any_thread_count() {
    for strategy in [Strategy::Sequential, Strategy::batch(2), Strategy::Joint] {
        for (searches, climbs) in [(2, 2), (3, 3), (2, 1), (1, 3)] {
            let s = settings(strategy, searches, climbs);
            let serial = fit(s, None);
            assert!(serial.polish_evaluations > 0);
            for threads in [1, 2, 3] {
                let par = fit(s, Some(threads));
                assert_eq!(
                    par, serial,
                    "{strategy} searches {searches} climbs {climbs} threads {threads}"
                );
                assert_eq!(par.cost.to_bits(), serial.cost.to_bits());
            }
        }
    }
}

#[test]
fn more_searches_keep_the_best_and_count_every_evaluation() {
    // One joint stage: search 0 is the one-search stage, so more searches cannot lose.
    let one_stage = |searches: usize| {
        let mut s = FitSettings::new(Strategy::Joint, 4, 5);
        s.restarts = Restarts::runs(1).with_searches(searches);
        fit(s, Some(2))
    };
    let single = one_stage(1);
    let mut improved = false;
    for searches in [2, 3, 4] {
        let more = one_stage(searches);
        assert!(
            more.cost <= single.cost,
            "{searches}: {} > {}",
            more.cost,
            single.cost
        );
        improved |= more.cost < single.cost;
        // Every search is a whole run of the optimizer, plus one rescoring each.
        assert_eq!(more.evaluations, searches as u64 * single.evaluations);
    }
    assert!(improved, "no number of searches found a better stage");
}

#[test]
fn climbs_share_the_slot_budget() {
    for climbs in [1, 2, 3, 5] {
        let mut s = settings(Strategy::Sequential, 1, climbs);
        s.polish = Some(Polish::passes(2).with_evaluations(10).with_climbs(climbs));
        let r = fit(s, Some(2));
        // The hill climber spends exactly its budget: 4 + 3 + 3 for three climbs.
        assert_eq!(
            r.polish_evaluations,
            r.polished_slots as u64 * 10,
            "{climbs}"
        );
        assert_eq!(r.polished_slots, 2 * r.circles.len());
    }
}

#[test]
fn a_stop_in_a_stage_of_parallel_searches_halts_the_helpers_too() {
    let mut s = FitSettings::new(Strategy::Joint, 3, 1);
    s.restarts = Restarts::runs(1).with_searches(2);
    let long = Mayfly::builder()
        .population(10)
        .iterations(1_000_000)
        .build()
        .unwrap();
    let mut f = Fitter::new(CpuRenderer::new(), Mse, long)
        .settings(s)
        .threads(2);
    let mut calls = 0;
    let r = f
        .fit_observed(test_image(24, 20).as_ref(), &mut |p| {
            calls += 1;
            if p.iteration >= 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(r.end, FitEnd::Stopped);
    assert!(calls >= 3);
    // Unhalted, the other search would have run its million iterations.
    assert!(r.evaluations < 1_000_000, "{} evaluations", r.evaluations);
}
