//! Fixed workloads for instruction counting under `valgrind --tool=callgrind`.
//!
//! `icount WORKLOAD REPEATS` runs one workload `REPEATS` times after a warm-up. `.ci/icount`
//! runs each workload twice with different repeat counts and divides the difference of the
//! two instruction totals by the difference of the repeats, which cancels start-up work and
//! leaves instructions per operation: a figure that does not drift with machine load, so CI
//! can gate on it.

use std::hint::black_box;

use circlefit::engine::Evaluator;
use circlefit::prelude::*;
use circlefit_benches::{FullPath, Scene};

#[global_allocator]
static ALLOC: circlefit_benches::CountingAlloc = circlefit_benches::CountingAlloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_default();
    let repeats: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(1);
    eprintln!("avx2 kernels: {}", circlefit::render::uses_avx2());
    let scene = Scene::new(256, 256, 50, 11);
    let joint = Scene::new(256, 256, 30, 13);
    let candidates = scene.candidates(64, 5);
    match workload.as_str() {
        "render30" => {
            let mut r = CpuRenderer::new();
            let mut out = joint.base.clone();
            for _ in 0..=repeats {
                r.render_into(joint.base.as_ref(), black_box(&joint.circles), &mut out)
                    .unwrap();
            }
        }
        "mse" => {
            for _ in 0..=repeats {
                black_box(
                    Mse.cost(black_box(scene.base.as_ref()), scene.reference.as_ref())
                        .unwrap(),
                );
            }
        }
        "seq_eval"
        | "seq_eval_closed_form"
        | "batch5_eval"
        | "seq_eval_smooth"
        | "seq_eval_soft" => {
            let edges = match workload.as_str() {
                "seq_eval_smooth" => Edges::Smooth,
                // 256²: ramps up to 2 px.
                "seq_eval_soft" => Edges::Soft,
                _ => Edges::Hard,
            };
            let mut eval = Evaluator::new(
                CpuRenderer::with_edges(edges),
                Mse,
                scene.reference.as_ref(),
                scene.base.as_ref(),
            )
            .unwrap();
            eval.commit(&scene.circles).unwrap();
            let batch = if workload == "batch5_eval" { 5 } else { 1 };
            for i in 0..=repeats * 64 {
                let k = i % 60;
                let set = &candidates[k..k + batch];
                if workload == "seq_eval_closed_form" {
                    let color = eval.best_color(&set[0]).unwrap();
                    black_box(
                        eval.cost_with(&[set[0].with_color(color).unwrap()])
                            .unwrap(),
                    );
                } else {
                    black_box(eval.cost_with(black_box(set)).unwrap());
                }
            }
        }
        "seq_eval_full" => {
            let mut eval = Evaluator::new(
                FullPath(CpuRenderer::new()),
                Mse,
                scene.reference.as_ref(),
                scene.base.as_ref(),
            )
            .unwrap();
            eval.commit(&scene.circles).unwrap();
            for i in 0..=repeats * 64 {
                black_box(
                    eval.cost_with(black_box(&candidates[i % 64..i % 64 + 1]))
                        .unwrap(),
                );
            }
        }
        "joint30_eval" => {
            let mut eval = Evaluator::new(
                CpuRenderer::new(),
                Mse,
                joint.reference.as_ref(),
                joint.base.as_ref(),
            )
            .unwrap();
            for _ in 0..=repeats {
                black_box(eval.cost_with(black_box(&joint.circles)).unwrap());
            }
        }
        "joint30_fit_bounds_eval" => {
            // The seed workload's scene: circles from the fit's bounds over the mean
            // colour (the runs kernel).
            let real = Scene::fit_bounds(256, 256, 30, 17);
            let mut eval = Evaluator::new(
                CpuRenderer::new(),
                Mse,
                real.reference.as_ref(),
                real.base.as_ref(),
            )
            .unwrap();
            for _ in 0..=repeats {
                black_box(eval.cost_with(black_box(&real.circles)).unwrap());
            }
        }
        other => {
            eprintln!(
                "unknown workload '{other}': render30, mse, seq_eval, seq_eval_closed_form, seq_eval_full, batch5_eval, joint30_eval, joint30_fit_bounds_eval, seq_eval_smooth, seq_eval_soft"
            );
            std::process::exit(2);
        }
    }
}
