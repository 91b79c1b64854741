//! Cost time and allocations: full MSE and SSIM.

use circlefit::prelude::*;
use circlefit_benches::{Scene, bench_cost};
use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static ALLOC: circlefit_benches::CountingAlloc = circlefit_benches::CountingAlloc;

fn cost(c: &mut Criterion) {
    for size in [256, 512] {
        let scene = Scene::new(size, size, 0, 7);
        bench_cost(c, "mse", &scene, Mse);
    }
    bench_cost(c, "ssim", &Scene::new(256, 256, 0, 7), Ssim);
}

criterion_group!(benches, cost);
criterion_main!(benches);
