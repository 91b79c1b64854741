//! Parallel fits give bit-identical results to serial fits, for 1 and 2 threads.

use crate::common::*;

/// Fits `reference` with the fitter's default (`None`: no helper threads) or on
/// `threads` threads.
fn run<O: Optimizer + Clone + Send>(
    f: Fitter<CpuRenderer, Mse, O>,
    reference: &Canvas,
    threads: Option<usize>,
) -> FitResult {
    let mut f = match threads {
        None => f,
        Some(n) => f.threads(n),
    };
    f.fit(reference.as_ref()).unwrap()
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
    for mode in [Strategy::Joint, Strategy::Sequential, Strategy::batch(2)] {
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
        canvas: crate::common::CanvasMut<'_>,
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
        let mut f = Fitter::new(renderer, Mse, small_mayfly(3))
            .circles(3)
            .threads(2);
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.fit(reference.as_ref())));
        assert!(
            outcome.is_err(),
            "budget {budget}: the fit should have panicked"
        );
    }
}
