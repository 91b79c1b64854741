//! Evaluations per second: sequential (one circle over 50 kept, given and closed-form
//! colour; hard, smooth and soft edges), batch (B = 5 over 50 kept), joint (K = 30 re-rendered), on the incremental path
//! and on the generic full path; joint and batch also on the scene fits really see
//! (`Scene::fit_bounds`: circles from the fit's own bounds).

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
    // The same with anti-aliased edges (edge pixels blended one by one).
    let smooth = || CpuRenderer::with_edges(Edges::Smooth);
    bench_evaluations(c, "smooth", &kept, smooth(), Mse, 1);
    bench_closed_form(c, "smooth", &kept, smooth(), Mse);
    // Soft edges: on 256² the ramps reach 2 px (half the radius, capped).
    let soft = || CpuRenderer::with_edges(Edges::Soft);
    bench_evaluations(c, "soft", &kept, soft(), Mse, 1);
    bench_closed_form(c, "soft", &kept, soft(), Mse);
    let joint = Scene::new(256, 256, 30, 13);
    bench_joint(c, "incremental", &joint, CpuRenderer::new(), Mse);
    bench_joint(c, "full", &joint, FullPath(CpuRenderer::new()), Mse);
    // What joint and batch fits really see: circles from the fit's own bounds (radius up
    // to the image size), over the mean colour.
    let real = Scene::fit_bounds(256, 256, 30, 17);
    bench_joint(c, "fit_bounds", &real, CpuRenderer::new(), Mse);
    let kept = Scene::fit_bounds(256, 256, 50, 19);
    bench_evaluations(c, "fit_bounds", &kept, CpuRenderer::new(), Mse, 5);
}

criterion_group!(benches, strategy);
criterion_main!(benches);
