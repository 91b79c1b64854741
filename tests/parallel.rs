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

/// Draws like the built-in renderer until a shared counter runs out, then panics; clones
/// share the counter, so the panic can happen on a helper thread.
#[derive(Debug, Clone)]
struct Fragile {
    inner: CpuRenderer,
    left: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Renderer for Fragile {
    type Error = std::convert::Infallible;
    fn draw(
        &mut self,
        canvas: circlefit::CanvasMut<'_>,
        circles: &[Circle],
    ) -> Result<(), Self::Error> {
        let before = self.left.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        assert!(before > 0, "the fragile renderer broke");
        self.inner.draw(canvas, circles)
    }
}

#[test]
fn a_component_panicking_on_a_helper_thread_panics_the_fit_instead_of_hanging() {
    let reference = test_image(24, 20);
    for budget in [3, 40, 200] {
        let renderer = Fragile {
            inner: CpuRenderer::new(),
            left: std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(budget)),
        };
        // No spans: every evaluation draws, on whichever thread scores it.
        let f = Fitter::new(renderer, Mse, small_mayfly(3)).circles(3);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap()
                .install(|| {
                    let mut f = f;
                    f.fit_parallel_observed(reference.as_ref(), &mut |_| ControlFlow::Continue(()))
                })
        }));
        assert!(
            outcome.is_err(),
            "budget {budget}: the fit should have panicked"
        );
    }
}
