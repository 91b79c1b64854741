//! Parallel fits give bit-identical results to serial fits, for 1 and 2 threads.
#![cfg(feature = "rayon")]
// These tests check exactness: comparing floats bit for bit is the point.
#![allow(clippy::float_cmp)]

mod common;

use std::ops::ControlFlow;

use circlefit::prelude::*;
use circlefit::{ColorMode, FitResult};
use common::*;

/// Fits `reference` serially (`None`) or on a pool of `threads` threads.
fn run<O: Optimizer + Send>(
    mut f: Fitter<CpuRenderer, Mse, O>,
    reference: &Canvas,
    threads: Option<usize>,
) -> FitResult {
    match threads {
        None => f.fit(reference.as_ref()).unwrap(),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(|| {
                f.fit_parallel_observed(reference.as_ref(), &mut |_| ControlFlow::Continue(()))
                    .unwrap()
            }),
    }
}

fn fit(mode: Strategy, color: ColorMode, seed: u64, threads: Option<usize>) -> FitResult {
    let f = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(6))
        .strategy(mode)
        .color(color)
        .circles(6)
        .residual_seeds(2)
        .seed(seed);
    run(f, &test_image(40, 30), threads)
}

#[test]
fn determinism_matrix_modes_seeds_threads() {
    for mode in [
        Strategy::Joint,
        Strategy::Sequential,
        Strategy::Batch { size: 2 },
    ] {
        for color in [ColorMode::Search, ColorMode::ClosedForm] {
            for seed in [0, 7] {
                let serial = fit(mode, color, seed, None);
                for threads in [1, 2] {
                    let par = fit(mode, color, seed, Some(threads));
                    assert_eq!(
                        par, serial,
                        "{mode} {color:?} seed {seed} threads {threads}"
                    );
                    assert_eq!(par.cost.to_bits(), serial.cost.to_bits());
                }
            }
        }
    }
}

#[test]
fn polishing_in_pairs_gives_the_serial_result_on_any_thread_count() {
    let reference = test_image(48, 40);
    let fit = |threads: Option<usize>| {
        let f = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(4))
            .settings(FitSettings::recommended(Strategy::Sequential, 12, 3));
        run(f, &reference, threads)
    };
    let serial = fit(None);
    assert!(serial.polish_evaluations > 0);
    for threads in [1, 2, 3] {
        let par = fit(Some(threads));
        assert_eq!(par, serial, "threads {threads}");
        assert_eq!(par.cost.to_bits(), serial.cost.to_bits());
    }
}
