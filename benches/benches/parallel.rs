//! Whole fits on 1 and 2 threads: the parallel speed-up of sequential and joint fits, as
//! evaluations per second (criterion's throughput). Results are bit-identical for any
//! thread count; Mayfly's males move together (`synchronous_males`, as the `fit` example
//! does) so that every evaluation of an iteration is in a batch the helpers share.

use circlefit::ColorMode;
use circlefit::prelude::*;
use circlefit_benches::bench_fit;
use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static ALLOC: circlefit_benches::CountingAlloc = circlefit_benches::CountingAlloc;

fn fitter(
    strategy: Strategy,
    circles: usize,
    color: ColorMode,
) -> Fitter<CpuRenderer, Mse, Mayfly> {
    let mayfly = Mayfly::builder()
        .population(20)
        .iterations(40)
        .synchronous_males(true)
        .build()
        .expect("settings");
    Fitter::new(CpuRenderer::new(), Mse, mayfly)
        .strategy(strategy)
        .circles(circles)
        .color(color)
        .residual_seeds(if strategy == Strategy::Joint { 0 } else { 10 })
        .seed(1)
}

fn parallel(c: &mut Criterion) {
    let reference = circlefit::io::decode_image(
        include_bytes!("../../assets/chelsea_256.png"),
        "chelsea_256.png".as_ref(),
    )
    .expect("bundled image");
    let cases = [
        (
            "sequential_20c",
            Strategy::Sequential,
            20,
            ColorMode::ClosedForm,
        ),
        ("joint_30c", Strategy::Joint, 30, ColorMode::Search),
    ];
    for (name, strategy, circles, color) in cases {
        for threads in [1, 2] {
            let mut f = fitter(strategy, circles, color).threads(threads);
            bench_fit(c, &format!("{name}/threads{threads}"), &reference, &mut f);
        }
    }
}

criterion_group!(benches, parallel);
criterion_main!(benches);
