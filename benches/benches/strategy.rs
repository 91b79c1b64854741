//! Evaluations per second: sequential (one circle over 50 kept, given and closed-form
//! colour), batch (B = 5 over 50 kept), joint (K = 30 re-rendered), on the incremental path
//! and on the generic full path.

use circlefit::prelude::*;
use circlefit_benches::{FullPath, Scene, bench_closed_form, bench_evaluations, bench_joint};
use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static ALLOC: circlefit_benches::CountingAlloc = circlefit_benches::CountingAlloc;

fn strategy(c: &mut Criterion) {
    let kept = Scene::new(256, 256, 50, 11);
    for b in [1, 5] {
        bench_evaluations(c, "incremental", &kept, CpuRenderer::new(), Mse, b);
        bench_evaluations(c, "full", &kept, FullPath(CpuRenderer::new()), Mse, b);
    }
    bench_closed_form(c, "incremental", &kept, CpuRenderer::new(), Mse);
    let joint = Scene::new(256, 256, 30, 13);
    bench_joint(c, "incremental", &joint, CpuRenderer::new(), Mse);
    bench_joint(c, "full", &joint, FullPath(CpuRenderer::new()), Mse);
}

criterion_group!(benches, strategy);
criterion_main!(benches);
