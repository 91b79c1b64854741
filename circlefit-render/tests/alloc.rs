//! Steady-state rendering makes no heap allocation (counted by a global allocator).

// A global allocator cannot be written without `unsafe`; it only forwards and counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use circlefit_core::{Canvas, Circle, Renderer};
use circlefit_render::CpuRenderer;

struct Counting;

thread_local! {
    // Per thread, so the test harness's own threads do not count. `const` initialisation
    // of a type without `Drop` makes the first access allocation-free.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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
