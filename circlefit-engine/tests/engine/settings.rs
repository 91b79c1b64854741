//! Settings: every documented maximum is checked before any work, random valid settings
//! fit without panicking, random invalid ones are typed errors.

use proptest::prelude::{ProptestConfig, any, prop_assert, proptest};

use crate::common::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_valid_settings_never_panic_and_never_worsen(
        w in 1u32..14, h in 1u32..14,
        mode in 0u8..3, circles in 1usize..5, batch in 1usize..5,
        closed in any::<bool>(), pop in 2usize..6, iters in 1u64..3, seed in any::<u64>(),
    ) {
        let strategy = match mode {
            0 => Strategy::Joint,
            1 => Strategy::Sequential,
            _ => Strategy::batch(batch.min(circles)),
        };
        let color = if closed { ColorMode::ClosedForm } else { ColorMode::Search };
        let reference = test_image(w, h);
        let mayfly = Mayfly::builder().population(pop).iterations(iters).build().unwrap();
        let r = Fitter::new(CpuRenderer::new(), Mse, mayfly)
            .strategy(strategy)
            .color(color)
            .circles(circles)
            .seed(seed)
            .fit(reference.as_ref())
            .unwrap();
        prop_assert!(r.cost >= 0.0 && r.cost <= r.initial_cost);
        prop_assert!(r.circles.len() <= circles);
        for s in r.stages.windows(2) {
            prop_assert!(s[1].cost_before <= s[0].cost_before);
        }
    }

    #[test]
    fn random_invalid_settings_always_error(
        which in 0u8..6, n in any::<usize>(), seed in any::<u64>(),
    ) {
        let reference = test_image(8, 8);
        let ok_mayfly = || Mayfly::builder().population(4).iterations(1).build().unwrap();
        let outcome: Result<(), String> = match which {
            0 => Fitter::new(CpuRenderer::new(), Mse, ok_mayfly()).circles(0).seed(seed)
                .fit(reference.as_ref()).map(|_| ()).map_err(|e| e.to_string()),
            1 => Fitter::new(CpuRenderer::new(), Mse, ok_mayfly()).circles(MAX_CIRCLES + 1 + n % 1000)
                .fit(reference.as_ref()).map(|_| ()).map_err(|e| e.to_string()),
            2 => Fitter::new(CpuRenderer::new(), Mse, ok_mayfly()).circles(3)
                .strategy(Strategy::batch(if n % 2 == 0 { 0 } else { 4 + n % 100 }))
                .fit(reference.as_ref()).map(|_| ()).map_err(|e| e.to_string()),
            3 => Mayfly::builder().population(n % 2).build().map(|_| ()).map_err(|e| e.to_string()),
            4 => Mayfly::builder().iterations(0).build().map(|_| ()).map_err(|e| e.to_string()),
            _ => Fitter::new(CpuRenderer::new(), Mse, ok_mayfly())
                .base(Canvas::white(8, 1 + (n % 7) as u32).unwrap())
                .fit(reference.as_ref()).map(|_| ()).map_err(|e| e.to_string()),
        };
        let msg = outcome.unwrap_err();
        prop_assert!(!msg.is_empty());
    }
}

#[test]
fn every_documented_maximum_is_refused() {
    let mut too_many_seeds = FitSettings::new(Strategy::Sequential, 5, 0);
    too_many_seeds.residual_seeds = MAX_RESIDUAL_SEEDS + 1;
    let mut runs = FitSettings::new(Strategy::Sequential, 5, 0);
    runs.restarts = Restarts::runs(MAX_RUNS + 1);
    let mut no_runs = runs;
    no_runs.restarts = Restarts::runs(0);
    let mut passes = FitSettings::new(Strategy::Sequential, 5, 0);
    passes.polish = Some(Polish::passes(MAX_POLISH_PASSES + 1));
    let mut no_passes = passes;
    no_passes.polish = Some(Polish::passes(0));
    let mut evals = passes;
    evals.polish = Some(Polish::passes(1).with_evaluations(MAX_POLISH_EVALUATIONS + 1));
    let mut no_evals = passes;
    no_evals.polish = Some(Polish::passes(1).with_evaluations(0));
    let mut gain = FitSettings::new(Strategy::Sequential, 5, 0);
    gain.convergence = Some(Convergence::new(2, 1.5));
    let mut searches = FitSettings::new(Strategy::Sequential, 5, 0);
    searches.restarts = Restarts::runs(1).with_searches(MAX_SEARCHES + 1);
    let mut no_searches = searches;
    no_searches.restarts = Restarts::runs(1).with_searches(0);
    let mut climbs = passes;
    climbs.polish = Some(Polish::passes(1).with_climbs(MAX_POLISH_CLIMBS + 1));
    let mut no_climbs = passes;
    no_climbs.polish = Some(Polish::passes(1).with_climbs(0));
    // Each climb needs an evaluation of the slot's budget.
    let mut starved = passes;
    starved.polish = Some(Polish::passes(1).with_evaluations(3).with_climbs(4));
    let cases = [
        (searches, "searches per stage"),
        (no_searches, "searches per stage"),
        (climbs, "polish climbs"),
        (no_climbs, "polish climbs"),
        (starved, "polish climbs"),
        (too_many_seeds, "residual seeds"),
        (runs, "runs per stage"),
        (no_runs, "runs per stage"),
        (passes, "polish passes"),
        (no_passes, "polish passes"),
        (evals, "polish evaluations"),
        (no_evals, "polish evaluations"),
        (gain, "convergence minimum gain"),
        (
            FitSettings::new(Strategy::Sequential, MAX_CIRCLES + 1, 0),
            "circles",
        ),
        (FitSettings::new(Strategy::batch(6), 5, 0), "batch size"),
    ];
    for (settings, field) in cases {
        let e = settings.validate().unwrap_err();
        assert!(
            matches!(e, Error::InvalidSetting { field: f, .. } if f == field),
            "{field}: {e}"
        );
        let e = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(1))
            .settings(settings)
            .fit(test_image(8, 8).as_ref())
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidSetting { field: f, .. } if f == field),
            "{field}: {e}"
        );
    }
    // The largest allowed values pass.
    let mut max = FitSettings::new(Strategy::Sequential, MAX_CIRCLES, 0);
    max.residual_seeds = MAX_RESIDUAL_SEEDS;
    max.restarts = Restarts::runs(MAX_RUNS).with_searches(MAX_SEARCHES);
    max.polish = Some(
        Polish::passes(MAX_POLISH_PASSES)
            .with_evaluations(MAX_POLISH_EVALUATIONS)
            .with_climbs(MAX_POLISH_CLIMBS),
    );
    max.validate().unwrap();
    let mut fed = passes;
    fed.polish = Some(Polish::passes(1).with_evaluations(4).with_climbs(4));
    fed.validate().unwrap();
}
