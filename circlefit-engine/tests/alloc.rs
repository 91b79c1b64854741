//! Steady-state evaluations make no heap allocation, on the incremental and the full path.

// These tests check exactness: comparing floats bit for bit is the point.
#![allow(clippy::float_cmp)]

use circlefit_benches::CountingAlloc;

#[path = "engine/common.rs"]
mod common;

use common::*;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Allocations of this thread so far (the harness's other threads do not count).
fn allocations() -> u64 {
    CountingAlloc::thread_allocations()
}

fn circles(n: usize, seed: u64) -> Vec<Circle> {
    (0..n)
        .map(|i| {
            let t = (i as f64 + seed as f64 * 0.37) * 1.618;
            Circle::new(
                (t * 37.0) % 64.0,
                (t * 53.0) % 48.0,
                3.0 + (t * 11.0) % 30.0,
                [0.3, 0.6, 0.1],
                0.7,
            )
            .unwrap()
        })
        .collect()
}

fn assert_steady_state_free<R: Renderer, C: CostFunc>(mut eval: Evaluator<R, C>) {
    eval.commit(&circles(20, 1)).unwrap();
    // Warm up with the largest candidate sets.
    for k in [1, 5, 30] {
        for s in 0..5 {
            eval.cost_with(&circles(k, s)).unwrap();
        }
    }
    let sets: Vec<Vec<Circle>> = (0..20).map(|s| circles(1 + s % 5, s as u64)).collect();
    // Steady state: the same kinds of candidate sets have been seen once.
    for set in &sets {
        eval.cost_with(set).unwrap();
    }
    let before = allocations();
    for set in &sets {
        std::hint::black_box(eval.cost_with(set).unwrap());
    }
    assert_eq!(allocations() - before, 0);
    // The closed-form colour too (where the renderer describes its spans).
    if eval.renderer().as_span_renderer().is_some() {
        let shape = circles(1, 7)[0];
        eval.best_color(&shape).unwrap();
        let before = allocations();
        for set in &sets {
            std::hint::black_box(eval.best_color(&set[0]).unwrap());
        }
        assert_eq!(allocations() - before, 0, "closed-form colour");
    }
}

#[test]
fn evaluations_do_not_allocate_once_warm() {
    // The counter sees this thread's allocations (so a zero below means something).
    let before = allocations();
    drop(std::hint::black_box(vec![1u8; 10]));
    assert!(allocations() > before);
    let reference = test_image(64, 48);
    let base = Canvas::white(64, 48).unwrap();
    let fast = Evaluator::new(CpuRenderer::new(), Mse, reference.as_ref(), base.as_ref()).unwrap();
    assert!(fast.is_incremental());
    assert_steady_state_free(fast);
    let smooth = Evaluator::new(
        CpuRenderer::with_edges(Edges::Smooth),
        Mse,
        reference.as_ref(),
        base.as_ref(),
    )
    .unwrap();
    assert!(smooth.is_incremental());
    assert_steady_state_free(smooth);
    // Soft edges: on 512 × 384 their ramps reach 3 px (the circles lie in the top corner).
    let (big_reference, big_base) = (test_image(512, 384), Canvas::white(512, 384).unwrap());
    let soft = Evaluator::new(
        CpuRenderer::with_edges(Edges::Soft),
        Mse,
        big_reference.as_ref(),
        big_base.as_ref(),
    )
    .unwrap();
    assert!(soft.is_incremental());
    assert_steady_state_free(soft);
    let slow = Evaluator::new(
        NoSpans::default(),
        OpaqueMse,
        reference.as_ref(),
        base.as_ref(),
    )
    .unwrap();
    assert!(!slow.is_incremental());
    assert_steady_state_free(slow);
}
