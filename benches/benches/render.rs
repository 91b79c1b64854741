//! Render time and allocations: CpuRenderer at 256² and 512², K = 1, 30, 100.

use circlefit::prelude::*;
use circlefit_benches::{Scene, bench_render};
use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static ALLOC: circlefit_benches::CountingAlloc = circlefit_benches::CountingAlloc;

fn render(c: &mut Criterion) {
    for size in [256, 512] {
        for k in [1, 30, 100] {
            let scene = Scene::new(size, size, k, 7);
            bench_render(c, "cpu", &scene, CpuRenderer::new());
        }
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
