//! [`CountingAlloc`]: an allocator you install to count heap allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A global allocator that forwards to the system allocator and counts allocations and
/// bytes, process-wide (every thread) and per thread.
///
/// Linking this crate installs nothing: a bench or test binary opts in with
///
/// ```ignore
/// #[global_allocator]
/// static ALLOC: circlefit_benches::CountingAlloc = circlefit_benches::CountingAlloc;
/// ```
///
/// [`bench_op`](crate::bench_op) then reports allocations per operation beside the time
/// (and says `n/a` when the allocator is not installed). Per-thread counts
/// ([`CountingAlloc::thread_allocations`]) let a test assert that its own code does not
/// allocate while the test harness's other threads do.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    // `const` initialisation of a type without `Drop` makes the first access
    // allocation-free, so the allocator may use it.
    static THREAD_ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
    INSTALLED.store(true, Ordering::Relaxed);
    // During thread teardown the slot may be gone; such allocations count process-wide.
    let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
}

impl CountingAlloc {
    /// Allocations (including reallocations) and bytes requested so far, on every thread.
    pub fn snapshot() -> (u64, u64) {
        (
            ALLOCS.load(Ordering::Relaxed),
            BYTES.load(Ordering::Relaxed),
        )
    }

    /// Allocations (including reallocations) made so far by the calling thread.
    pub fn thread_allocations() -> u64 {
        THREAD_ALLOCS.with(Cell::get)
    }

    /// Whether this allocator is the global one (it has counted an allocation).
    pub fn installed() -> bool {
        INSTALLED.load(Ordering::Relaxed)
    }
}

// SAFETY: every method forwards to the system allocator with the caller's arguments; the
// counting touches only atomics and a const-initialised thread-local.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
