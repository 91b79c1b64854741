//! Steady-state rendering makes no heap allocation (counted by the bench library's `CountingAlloc`).

use circlefit_benches::CountingAlloc;

use circlefit_core::{Canvas, Circle, Renderer};
use circlefit_render::CpuRenderer;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Allocations of this thread so far (the harness's other threads do not count).
fn allocations() -> u64 {
    CountingAlloc::thread_allocations()
}

#[test]
fn render_and_draw_do_not_allocate_once_warm() {
    let base = Canvas::white(128, 96).unwrap();
    let circles: Vec<Circle> = (0..40)
        .map(|i| {
            let t = f64::from(i);
            Circle::new(
                t * 3.1 % 128.0,
                t * 7.3 % 96.0,
                4.0 + t * 1.7 % 60.0,
                [0.2, 0.5, 0.9],
                0.6,
            )
            .unwrap()
        })
        .collect();
    let mut r = CpuRenderer::new();
    let mut out = base.clone();
    r.render(base.as_ref(), &circles).unwrap();
    r.render_into(base.as_ref(), &circles, &mut out).unwrap();
    let before = allocations();
    for _ in 0..50 {
        r.render(base.as_ref(), &circles).unwrap();
        r.render_into(base.as_ref(), &circles, &mut out).unwrap();
        r.draw(out.as_mut(), &circles[..3]).unwrap();
    }
    assert_eq!(allocations() - before, 0);
}
