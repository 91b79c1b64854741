//! Helper threads that score shares of the optimizer's batches, with a spinning hand-off.
//!
//! A sequential stage's batches are small (about 20 points of 1–2 µs each), so waking a
//! sleeping thread per batch (what a fork-join pool does once its workers idle) costs as
//! much as the work it saves. Each helper here owns an evaluator copy for the whole fit
//! and spins on an atomic flag between batches (briefly, then parks), so a hand-off costs
//! a few cache-line transfers. Points are handed out one at a time from a shared cursor
//! (their cost varies with the circles' areas, so fixed shares would leave one thread
//! waiting); every evaluator copy is exact, so which thread scores a point never changes
//! its value: results are bit-identical for any thread count.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, Scope, ScopedJoinHandle, Thread};
use std::time::Duration;

use crate::ColorMode;
use crate::objective::PointScorer;
use circlefit_core::Result;
use circlefit_core::{Bounds, Circle};

/// Spins before a waiting helper parks.
const SPINS: u32 = 200_000;

const IDLE: u8 = 0;
const POSTED: u8 = 1;
const DONE: u8 = 2;
const EXIT: u8 = 3;

/// A job and its answer, exchanged under the mutex (never contended: the flag says whose
/// turn it is).
struct Job {
    kind: Kind,
    bounds: Option<Bounds>,
    color: ColorMode,
    xs: Vec<f64>,
    /// The order in which points are taken.
    order: Vec<usize>,
    /// `(index, value)` of each point this helper scored.
    out: Vec<(usize, f64)>,
    circles: Vec<Circle>,
    result: Result<()>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Score,
    Commit,
}

struct Shared {
    state: AtomicU8,
    parked: AtomicBool,
    job: Mutex<Job>,
}

impl Shared {
    fn job(&self) -> MutexGuard<'_, Job> {
        // A panic on the other side is re-raised when the scope joins; the data is plain.
        self.job.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The main thread's handle on one helper thread (which lives at most as long as `'scope`).
pub(crate) struct Helper<'scope> {
    handle: ScopedJoinHandle<'scope, ()>,
    shared: Arc<Shared>,
    thread: Thread,
    /// Whether a batch was posted and not yet collected.
    pending: bool,
}

impl<'scope> Helper<'scope> {
    /// Starts a helper thread in `scope` that owns `scorer` and takes points from
    /// `cursor`.
    pub(crate) fn spawn<'env>(
        scope: &'scope Scope<'scope, 'env>,
        mut scorer: Box<dyn PointScorer + 'scope>,
        cursor: Arc<AtomicUsize>,
    ) -> Self {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(IDLE),
            parked: AtomicBool::new(false),
            job: Mutex::new(Job {
                kind: Kind::Score,
                bounds: None,
                color: ColorMode::Search,
                xs: Vec::new(),
                order: Vec::new(),
                out: Vec::new(),
                circles: Vec::new(),
                result: Ok(()),
            }),
        });
        let theirs = Arc::clone(&shared);
        let handle = scope.spawn(move || {
            loop {
                match wait_while(&theirs, |s| s == IDLE || s == DONE) {
                    EXIT => return,
                    _ => {
                        let mut job = theirs.job();
                        let job = &mut *job;
                        job.result = match (job.kind, &job.bounds) {
                            (Kind::Score, Some(bounds)) => {
                                job.out.clear();
                                take_points(&cursor, bounds.dim(), &job.xs, &job.order, |i, x| {
                                    let mut v = [0.0];
                                    scorer.score_points(bounds, job.color, x, &mut v)?;
                                    job.out.push((i, v[0]));
                                    Ok(())
                                })
                            }
                            (Kind::Score, None) => Ok(()),
                            (Kind::Commit, _) => scorer.commit(&job.circles),
                        };
                    }
                }
                theirs.state.store(DONE, Ordering::SeqCst);
            }
        });
        Self {
            thread: handle.thread().clone(),
            handle,
            shared,
            pending: false,
        }
    }

    fn post(&mut self) {
        self.shared.state.store(POSTED, Ordering::SeqCst);
        if self.shared.parked.load(Ordering::SeqCst) {
            self.thread.unpark();
        }
    }

    /// Hands the batch `xs` (points of `bounds.dim()` numbers) to the helper; it starts
    /// taking points from the cursor at once.
    fn start(&mut self, bounds: &Bounds, color: ColorMode, xs: &[f64], order: &[usize]) {
        {
            let mut job = self.shared.job();
            job.kind = Kind::Score;
            if job.bounds.as_ref() != Some(bounds) {
                job.bounds = Some(bounds.clone());
            }
            job.color = color;
            job.xs.clear();
            job.xs.extend_from_slice(xs);
            job.order.clear();
            job.order.extend_from_slice(order);
        }
        self.pending = true;
        self.post();
    }

    /// Waits for the helper's points and writes their values into `out`.
    fn finish(&mut self, out: &mut [f64]) -> Result<()> {
        if !self.pending {
            return Ok(());
        }
        self.pending = false;
        wait_for_done(&self.shared, &self.handle);
        let mut job = self.shared.job();
        for &(i, v) in &job.out {
            out[i] = v;
        }
        self.shared.state.store(IDLE, Ordering::SeqCst);
        std::mem::replace(&mut job.result, Ok(()))
    }

    /// Starts drawing `circles` onto the helper's kept canvas.
    fn start_commit(&mut self, circles: &[Circle]) {
        {
            let mut job = self.shared.job();
            job.kind = Kind::Commit;
            job.circles.clear();
            job.circles.extend_from_slice(circles);
        }
        self.pending = true;
        self.post();
    }

    /// Waits for the commit started by [`start_commit`](Self::start_commit).
    fn finish_commit(&mut self) -> Result<()> {
        self.pending = false;
        wait_for_done(&self.shared, &self.handle);
        let result = std::mem::replace(&mut self.shared.job().result, Ok(()));
        self.shared.state.store(IDLE, Ordering::SeqCst);
        result
    }
}

impl Drop for Helper<'_> {
    fn drop(&mut self) {
        self.shared.state.store(EXIT, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// One wait step: a spin hint, and every 64th time a yield, so that when there are more
/// threads than cores the one being waited for gets to run (pure spinning there made a
/// fit 60 times slower); with a core each, a yield returns at once.
#[inline]
fn pause(spins: u32) {
    if spins.is_multiple_of(64) {
        thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

/// The main thread waits for its helper: spinning only (it has nothing else to do, and the
/// helper is running). A helper that died (a component panicked on its thread) would never
/// answer, so its end turns into a panic here; the scope then re-raises the original one.
fn wait_for_done(shared: &Shared, handle: &ScopedJoinHandle<'_, ()>) {
    let mut spins = 0u32;
    while shared.state.load(Ordering::SeqCst) != DONE {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(4096) && handle.is_finished() {
            panic!("a helper thread of the parallel fit stopped (a component panicked there)");
        }
        pause(spins);
    }
}

/// A helper waits while `idle(state)`: spins, then parks until posted (with a timeout as
/// a safety net). Returns the state that ended the wait.
fn wait_while(shared: &Shared, idle: impl Fn(u8) -> bool) -> u8 {
    for spins in 0..SPINS {
        let s = shared.state.load(Ordering::SeqCst);
        if !idle(s) {
            return s;
        }
        pause(spins);
    }
    // Idle for a while (the main thread is between stages or polishing): stop spinning.
    loop {
        shared.parked.store(true, Ordering::SeqCst);
        // Re-check after announcing the park, so a post in between is not missed.
        let s = shared.state.load(Ordering::SeqCst);
        if !idle(s) {
            shared.parked.store(false, Ordering::SeqCst);
            return s;
        }
        thread::park_timeout(Duration::from_millis(1));
        shared.parked.store(false, Ordering::SeqCst);
        let s = shared.state.load(Ordering::SeqCst);
        if !idle(s) {
            return s;
        }
    }
}

/// Scores points taken one at a time from `cursor` until the batch is used up (the first
/// error stops this thread's share; the others finish theirs).
fn take_points(
    cursor: &AtomicUsize,
    dim: usize,
    xs: &[f64],
    order: &[usize],
    mut score: impl FnMut(usize, &[f64]) -> Result<()>,
) -> Result<()> {
    loop {
        let Some(&i) = order.get(cursor.fetch_add(1, Ordering::Relaxed)) else {
            return Ok(());
        };
        score(i, &xs[i * dim..(i + 1) * dim])?;
    }
}

/// The helper threads of a parallel fit and their shared cursor.
pub(crate) struct Team<'scope> {
    helpers: Vec<Helper<'scope>>,
    cursor: Arc<AtomicUsize>,
}

impl<'scope> Team<'scope> {
    /// A team of `helpers` scorers, each on its own thread in `scope`.
    pub(crate) fn new<'env>(
        scope: &'scope Scope<'scope, 'env>,
        scorers: Vec<Box<dyn PointScorer + 'scope>>,
    ) -> Self {
        let cursor = Arc::new(AtomicUsize::new(0));
        Self {
            helpers: scorers
                .into_iter()
                .map(|s| Helper::spawn(scope, s, Arc::clone(&cursor)))
                .collect(),
            cursor,
        }
    }

    /// No helpers: everything runs on the calling thread.
    pub(crate) fn none() -> Self {
        Self {
            helpers: Vec::new(),
            cursor: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Whether there are helpers.
    pub(crate) fn is_empty(&self) -> bool {
        self.helpers.is_empty()
    }

    /// Scores the batch `xs` into `out`, the calling thread (with `score`) and the helpers
    /// taking points from one cursor in the order `order` (a permutation of the points:
    /// costliest first keeps the threads' last points short).
    ///
    /// # Errors
    /// The first error (by thread: the caller's, then the helpers' in order); every
    /// helper is collected first, so none is left mid-batch.
    pub(crate) fn score(
        &mut self,
        bounds: &Bounds,
        color: ColorMode,
        xs: &[f64],
        order: &[usize],
        out: &mut [f64],
        mut score: impl FnMut(&[f64]) -> Result<f64>,
    ) -> Result<()> {
        self.cursor.store(0, Ordering::Relaxed);
        for h in &mut self.helpers {
            h.start(bounds, color, xs, order);
        }
        let mut first = take_points(&self.cursor, bounds.dim(), xs, order, |i, x| {
            out[i] = score(x)?;
            Ok(())
        });
        for h in &mut self.helpers {
            let r = h.finish(out);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Draws `circles` onto every helper's kept canvas while `main` (the caller's own
    /// commit) runs.
    ///
    /// # Errors
    /// `main`'s error, else the first helper's (every helper is waited for).
    pub(crate) fn commit<T>(
        &mut self,
        circles: &[Circle],
        main: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        for h in &mut self.helpers {
            h.start_commit(circles);
        }
        let mine = main();
        let mut theirs = Ok(());
        for h in &mut self.helpers {
            let r = h.finish_commit();
            if theirs.is_ok() {
                theirs = r;
            }
        }
        let value = mine?;
        theirs.map(|()| value)
    }
}
