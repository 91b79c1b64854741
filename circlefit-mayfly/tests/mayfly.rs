//! Behaviour of the Mayfly optimizer on plain functions.

// These tests check exactness: comparing floats bit for bit is the point.
#![allow(clippy::float_cmp)]

use std::ops::ControlFlow;

use circlefit_core::{Bounds, Optimizer, Problem, StopReason};
use circlefit_mayfly::{Crossover, Distance, Mayfly, MayflyError, Variant};

fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter()
            .map(|v| v * v - 10.0 * (std::f64::consts::TAU * v).cos())
            .sum::<f64>()
}

#[test]
fn evaluations_are_exactly_40_plus_61_t() {
    for t in [1u64, 7, 50] {
        let mut m = Mayfly::builder().iterations(t).build().unwrap();
        let b = Bounds::uniform(5, -10.0, 10.0).unwrap();
        let mut calls = 0u64;
        let mut f = |x: &[f64]| {
            calls += 1;
            sphere(x)
        };
        let r = m.minimize(&mut f, &Problem::new(&b, 3)).unwrap();
        assert_eq!(r.evaluations, 40 + 61 * t);
        assert_eq!(calls, r.evaluations);
        assert_eq!(r.iterations, t);
        assert_eq!(r.stop, StopReason::Iterations);
        assert_eq!(m.config().total_evaluations(), 40 + 61 * t);
    }
}

#[test]
fn budget_is_never_exceeded() {
    let mut m = Mayfly::builder().iterations(100).build().unwrap();
    let b = Bounds::uniform(4, -1.0, 1.0).unwrap();
    for budget in [1u64, 39, 40, 41, 60, 61, 100, 101, 1234] {
        let mut calls = 0u64;
        let mut f = |x: &[f64]| {
            calls += 1;
            sphere(x)
        };
        let p = Problem::new(&b, 1).with_max_evaluations(budget);
        let r = m.minimize(&mut f, &p).unwrap();
        assert_eq!(calls, budget, "budget {budget}");
        assert_eq!(r.evaluations, budget);
        assert_eq!(r.stop, StopReason::Budget);
        assert!(r.best_f.is_finite());
    }
    let p = Problem::new(&b, 1).with_max_evaluations(0);
    assert_eq!(m.minimize(&mut sphere, &p), Err(MayflyError::ZeroBudget));
}

#[test]
fn same_seed_same_result_different_seed_different_result() {
    let m = Mayfly::builder().iterations(30).build().unwrap();
    let b = Bounds::uniform(6, -5.12, 5.12).unwrap();
    let run = |seed| {
        m.clone()
            .minimize(&mut rastrigin, &Problem::new(&b, seed))
            .unwrap()
    };
    let (a, a2, c) = (run(9), run(9), run(10));
    assert_eq!(a, a2);
    assert_eq!(a.best_f.to_bits(), a2.best_f.to_bits());
    assert_ne!(a.best_x, c.best_x);
}

#[test]
fn converges_on_sphere() {
    let mut m = Mayfly::builder().iterations(500).build().unwrap();
    let b = Bounds::uniform(30, -100.0, 100.0).unwrap();
    let r = m.minimize(&mut sphere, &Problem::new(&b, 0)).unwrap();
    assert!(r.best_f < 1e-6, "{}", r.best_f);
    assert!(b.contains(&r.best_x));
    assert!((sphere(&r.best_x) - r.best_f).abs() <= f64::EPSILON * r.best_f.max(1.0));
}

#[test]
fn variants_of_the_operators_also_work() {
    let b = Bounds::uniform(10, -100.0, 100.0).unwrap();
    for (d, c) in [
        (Distance::Cartesian, Crossover::Reference),
        (Distance::PerDimension, Crossover::Blend { gamma: 0.4 }),
    ] {
        let mut m = Mayfly::builder()
            .iterations(300)
            .distance(d)
            .crossover(c)
            .build()
            .unwrap();
        let r = m.minimize(&mut sphere, &Problem::new(&b, 5)).unwrap();
        assert!(r.best_f < 1.0, "{d:?} {c:?}: {}", r.best_f);
    }
}

#[test]
fn points_stay_inside_bounds() {
    let lower = vec![-1.0, 10.0, 0.0];
    let upper = vec![1.0, 20.0, 0.0];
    let b = Bounds::new(lower, upper).unwrap();
    let mut m = Mayfly::builder().iterations(40).build().unwrap();
    let mut f = |x: &[f64]| {
        assert!(b.contains(x), "{x:?}");
        // Optimum outside the box: pushes against the bounds.
        (x[0] - 5.0).powi(2) + (x[1] + 3.0).powi(2)
    };
    let r = m.minimize(&mut f, &Problem::new(&b, 2)).unwrap();
    assert!((r.best_x[0] - 1.0).abs() < 1e-3 && (r.best_x[1] - 10.0).abs() < 1e-3);
}

#[test]
fn nan_never_becomes_the_best() {
    let b = Bounds::uniform(3, -1.0, 1.0).unwrap();
    let mut m = Mayfly::builder().iterations(20).build().unwrap();
    let mut f = |x: &[f64]| if x[0] > 0.0 { f64::NAN } else { sphere(x) };
    let r = m.minimize(&mut f, &Problem::new(&b, 4)).unwrap();
    assert!(r.best_f.is_finite());
    assert!(r.best_x[0] <= 0.0);
    // All-NaN: the report says so with an infinite best.
    let r = m
        .minimize(&mut |_: &[f64]| f64::NAN, &Problem::new(&b, 4))
        .unwrap();
    assert_eq!(r.best_f, f64::INFINITY);
}

#[test]
fn stops_on_target_stagnation_and_observer() {
    let b = Bounds::uniform(2, -10.0, 10.0).unwrap();
    let mut m = Mayfly::builder()
        .iterations(1000)
        .target_cost(1e-3)
        .build()
        .unwrap();
    let r = m.minimize(&mut sphere, &Problem::new(&b, 1)).unwrap();
    assert_eq!(r.stop, StopReason::TargetCost);
    assert!(r.best_f <= 1e-3 && r.iterations < 1000);

    let mut m = Mayfly::builder()
        .iterations(1000)
        .stagnation(5, 1.0)
        .build()
        .unwrap();
    let r = m
        .minimize(&mut |_: &[f64]| 1.0, &Problem::new(&b, 1))
        .unwrap();
    assert_eq!(r.stop, StopReason::Stagnation);
    assert_eq!(r.iterations, 5);

    let m = Mayfly::builder().iterations(1000).build().unwrap();
    let mut seen = Vec::new();
    let r = m
        .minimize_observed(&mut sphere, &Problem::new(&b, 1), &mut |it| {
            seen.push((it.iteration, it.evaluations, it.best_cost));
            if it.iteration == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(r.stop, StopReason::Observer);
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].1, 40 + 3 * 61);
    assert!(seen.windows(2).all(|w| w[1].2 <= w[0].2));
}

#[test]
fn initial_candidates_are_used_and_checked() {
    let b = Bounds::uniform(3, -10.0, 10.0).unwrap();
    let mut m = Mayfly::builder().iterations(1).build().unwrap();
    let init = vec![vec![0.0, 0.0, 0.0]];
    let r = m
        .minimize(&mut sphere, &Problem::new(&b, 1).with_initial(&init))
        .unwrap();
    assert_eq!(r.best_f, 0.0);
    let bad = vec![vec![0.0, 0.0]];
    assert!(matches!(
        m.minimize(&mut sphere, &Problem::new(&b, 1).with_initial(&bad)),
        Err(MayflyError::InitialLength {
            index: 0,
            expected: 3,
            actual: 2
        })
    ));
    let bad = vec![vec![0.0, f64::NAN, 0.0]];
    assert!(matches!(
        m.minimize(&mut sphere, &Problem::new(&b, 1).with_initial(&bad)),
        Err(MayflyError::InitialNonFinite { dim: 1, .. })
    ));
}

#[test]
fn invalid_settings_are_typed_errors() {
    let cases: Vec<(&str, Result<Mayfly, MayflyError>)> = vec![
        ("males", Mayfly::builder().population(1).build()),
        ("iterations", Mayfly::builder().iterations(0).build()),
        (
            "inertia",
            Mayfly::builder()
                .configure(|c| c.inertia = f64::NAN)
                .build(),
        ),
        (
            "dance_damping",
            Mayfly::builder()
                .configure(|c| c.dance_damping = 1.5)
                .build(),
        ),
        (
            "offspring",
            Mayfly::builder().configure(|c| c.offspring = 3).build(),
        ),
        (
            "crossover.gamma",
            Mayfly::builder()
                .crossover(Crossover::Blend { gamma: -1.0 })
                .build(),
        ),
        (
            "stagnation_iterations",
            Mayfly::builder().stagnation(0, 0.0).build(),
        ),
        (
            "target_cost",
            Mayfly::builder().target_cost(f64::NAN).build(),
        ),
    ];
    for (field, r) in cases {
        match r {
            Err(MayflyError::InvalidSetting { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[test]
fn a_run_does_not_change_the_configuration() {
    let mut m = Mayfly::builder().iterations(10).build().unwrap();
    let before = m.config().clone();
    let b = Bounds::uniform(2, -1.0, 1.0).unwrap();
    m.minimize(&mut sphere, &Problem::new(&b, 1)).unwrap();
    assert_eq!(m.config(), &before);
}

#[test]
fn beats_random_search_at_equal_budget() {
    let b = Bounds::uniform(10, -5.12, 5.12).unwrap();
    let mut m = Mayfly::builder().iterations(100).build().unwrap();
    let mut wins = 0;
    for seed in 0..5u64 {
        let r = m.minimize(&mut rastrigin, &Problem::new(&b, seed)).unwrap();
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut best = f64::INFINITY;
        let mut x = vec![0.0; 10];
        for _ in 0..r.evaluations {
            for v in &mut x {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *v = -5.12 + 10.24 * ((state >> 11) as f64 / (1u64 << 53) as f64);
            }
            best = best.min(rastrigin(&x));
        }
        if r.best_f < best {
            wins += 1;
        }
    }
    assert_eq!(wins, 5);
}

fn variants() -> [Variant; 3] {
    [Variant::Standard, Variant::desma(), Variant::olce()]
}

#[test]
fn each_variant_counts_its_evaluations_exactly() {
    for v in variants() {
        for sync in [false, true] {
            let mut m = Mayfly::builder()
                .iterations(9)
                .variant(v)
                .synchronous_males(sync)
                .build()
                .unwrap();
            let b = Bounds::uniform(4, -3.0, 3.0).unwrap();
            let mut calls = 0u64;
            let mut f = |x: &[f64]| {
                calls += 1;
                sphere(x)
            };
            let r = m.minimize(&mut f, &Problem::new(&b, 8)).unwrap();
            let per_iter = match v {
                Variant::Standard => 61,
                Variant::Desma { .. } => 66,
                _ => 81,
            };
            assert_eq!(m.config().evaluations_per_iteration(), per_iter);
            assert_eq!(r.evaluations, 40 + per_iter * 9, "{v:?} sync={sync}");
            assert_eq!(calls, r.evaluations);
            // Budget cuts a variant's extra phase too.
            let r = m
                .minimize(
                    &mut sphere,
                    &Problem::new(&b, 8).with_max_evaluations(40 + per_iter + 3),
                )
                .unwrap();
            assert_eq!(r.evaluations, 40 + per_iter + 3);
            assert_eq!(r.stop, StopReason::Budget);
        }
    }
}

#[test]
fn variants_are_deterministic_and_beat_random_search_on_three_functions() {
    use circlefit_mayfly::functions::ALL;
    let picked = [ALL[0], ALL[2], ALL[4]]; // sphere, rastrigin, griewank
    for v in variants() {
        let mut m = Mayfly::builder().iterations(60).variant(v).build().unwrap();
        for tf in picked {
            let (name, f, half) = (tf.name, tf.f, tf.half_width);
            let b = Bounds::uniform(10, -half, half).unwrap();
            let r = m
                .minimize(&mut |x: &[f64]| f(x), &Problem::new(&b, 21))
                .unwrap();
            let again = m
                .minimize(&mut |x: &[f64]| f(x), &Problem::new(&b, 21))
                .unwrap();
            assert_eq!(r, again, "{v:?} {name}");
            let mut state = 0x1234_5678_9ABC_DEF1u64;
            let mut best = f64::INFINITY;
            let mut x = vec![0.0; 10];
            for _ in 0..r.evaluations {
                for xi in &mut x {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    *xi = -half + 2.0 * half * ((state >> 11) as f64 / (1u64 << 53) as f64);
                }
                best = best.min(f(&x));
            }
            assert!(
                r.best_f < best,
                "{v:?} {name}: {} vs random {best}",
                r.best_f
            );
        }
    }
}

#[test]
fn synchronous_males_is_a_different_trajectory_that_still_converges() {
    let b = Bounds::uniform(10, -100.0, 100.0).unwrap();
    let mut serial = Mayfly::builder().iterations(300).build().unwrap();
    let mut sync = Mayfly::builder()
        .iterations(300)
        .synchronous_males(true)
        .build()
        .unwrap();
    let a = serial.minimize(&mut sphere, &Problem::new(&b, 3)).unwrap();
    let c = sync.minimize(&mut sphere, &Problem::new(&b, 3)).unwrap();
    assert_ne!(a.best_x, c.best_x);
    assert_eq!(a.evaluations, c.evaluations);
    assert!(c.best_f < 1e-2, "{}", c.best_f);
}

#[test]
fn variant_settings_are_validated() {
    let cases = [
        (
            Variant::Desma {
                elites: 0,
                initial_range: 0.1,
                enlarge: 1.05,
                reduce: 0.95,
            },
            "desma.elites",
        ),
        (
            Variant::Desma {
                elites: 5,
                initial_range: 0.1,
                enlarge: 0.5,
                reduce: 0.95,
            },
            "desma.enlarge",
        ),
        (
            Variant::Olce {
                elite_fraction: 0.0,
                orthogonal_factor: 0.3,
                chaos_radius: 0.1,
            },
            "olce.elite_fraction",
        ),
        (
            Variant::Olce {
                elite_fraction: 0.2,
                orthogonal_factor: 0.3,
                chaos_radius: f64::NAN,
            },
            "olce.chaos_radius",
        ),
    ];
    for (v, field) in cases {
        match Mayfly::builder().variant(v).build() {
            Err(MayflyError::InvalidSetting { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// The optimizer contract for every variant and setting: every evaluated point lies in
    /// the bounds and is finite. (DESMA with `enlarge: 1.5` once grew its radius to
    /// infinity and evaluated NaN.)
    #[test]
    fn every_variant_evaluates_only_finite_points_inside_the_bounds(
        which in 0u8..3,
        elites in 1usize..8,
        range in 0.01f64..1.0,
        enlarge in 1.0f64..2.0,
        reduce in 0.5f64..1.0,
        fraction in 0.05f64..1.0,
        factor in 0.0f64..1.0,
        seed in 0u64..1000,
    ) {
        let variant = match which {
            0 => Variant::Standard,
            1 => Variant::Desma { elites, initial_range: range, enlarge, reduce },
            _ => Variant::Olce { elite_fraction: fraction, orthogonal_factor: factor, chaos_radius: range },
        };
        let Ok(mut m) = Mayfly::builder().iterations(3000).variant(variant).build() else {
            return Ok(());
        };
        let mut lo = vec![-3.0, 0.0, 5.0, -1e6];
        let mut hi = vec![3.0, 1.0, 5.0, 1e6];
        lo.resize(12, -100.0);
        hi.resize(12, 100.0);
        let b = Bounds::new(lo, hi).unwrap();
        let mut bad = 0u64;
        let mut f = |x: &[f64]| {
            if !(b.contains(x) && x.iter().all(|v| v.is_finite())) {
                bad += 1;
            }
            sphere(x)
        };
        m.minimize(&mut f, &Problem::new(&b, seed)).unwrap();
        proptest::prop_assert_eq!(bad, 0, "{:?}", variant);
    }
}

#[test]
fn desma_with_a_large_enlarge_factor_stays_in_the_box() {
    // The probe's case: 30-D sphere, enlarge 1.5, 3000 iterations (5,965 bad points before).
    let b = Bounds::uniform(30, -100.0, 100.0).unwrap();
    let variant = Variant::Desma {
        elites: 5,
        initial_range: 0.1,
        enlarge: 1.5,
        reduce: 0.95,
    };
    let mut m = Mayfly::builder()
        .iterations(3000)
        .variant(variant)
        .build()
        .unwrap();
    let mut bad = 0u64;
    let mut f = |x: &[f64]| {
        if !(b.contains(x) && x.iter().all(|v| v.is_finite())) {
            bad += 1;
        }
        sphere(x)
    };
    let r = m.minimize(&mut f, &Problem::new(&b, 0)).unwrap();
    assert_eq!(bad, 0);
    assert!(r.best_f.is_finite());
}
