//! The one parallel mechanism of a fit: helper threads that score shares of the
//! optimizer's batches or run whole searches during the stages, and search partner slots
//! or climbs while polishing.
//!
//! A sequential stage's batches are small (about 20 points of 1–2 µs each), so waking a
//! sleeping thread per batch (what a fork-join pool does once its workers idle) costs as
//! much as the work it saves. Each helper here owns a [`HelperWork`] (copies of the fit's
//! renderer and cost, with an evaluator kept in step with the main one) for the whole fit
//! and spins on an atomic flag between tasks (briefly, then parks), so a hand-off costs a
//! few cache-line transfers. Points are handed out one at a time from a shared cursor
//! (their cost varies with the circles' areas, so fixed shares would leave one thread
//! waiting); every copy is exact, so which thread scores a point never changes its value:
//! results are bit-identical for any thread count.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, Scope, ScopedJoinHandle, Thread};
use std::time::Duration;

use std::ops::ControlFlow;
use std::time::Instant;

use circlefit_core::{Bounds, CanvasRef, Circle, CostFunc, Optimizer, Renderer, Result};

use crate::evaluator::Evaluator;
use crate::objective::{ParamObjective, StageContext, decode};
use crate::passes::polish::{SlotJob, SlotOutcome};
use crate::search::{SearchJob, Searched};
use crate::{ColorMode, Progress};

/// What a helper thread does with the tasks it is handed; implemented by [`Worker`].
pub(crate) trait HelperWork: Send {
    /// Scores one point of `bounds.dim()` numbers.
    ///
    /// # Errors
    /// As [`Evaluator::cost_with`].
    fn score(&mut self, bounds: &Bounds, color: ColorMode, x: &[f64]) -> Result<f64>;

    /// Draws `circles` onto this copy's kept canvas.
    ///
    /// # Errors
    /// As [`Evaluator::commit`].
    fn commit(&mut self, circles: &[Circle]) -> Result<()>;

    /// Searches one polishing slot with the hill climber.
    ///
    /// # Errors
    /// As the slot search on the main thread.
    fn polish_slot(&mut self, job: &SlotJob) -> Result<SlotOutcome>;

    /// Runs one whole search of a stage with this copy's optimizer, reporting no
    /// progress; it ends early on the cancel flag or the team's halt.
    ///
    /// # Errors
    /// As the search on the main thread.
    fn search(&mut self, job: &SearchJob) -> Result<Searched>;
}

/// A helper's copy of the fit: an evaluator (owning renderer and cost copies), an
/// optimizer copy and the base canvas, with decoding buffers.
pub(crate) struct Worker<R, C, O> {
    eval: Evaluator<R, C>,
    optimizer: O,
    /// Set by the main thread to end this helper's search early (a stop there).
    halt: Arc<AtomicBool>,
    /// The polishing canvases, kept from one slot job to the next.
    slots: Option<crate::passes::polish::SlotCanvases>,
    base: circlefit_core::Canvas,
    cancel: Option<Arc<AtomicBool>>,
    x: Vec<f64>,
    circles: Vec<Circle>,
}

impl<R: Renderer + Send, C: CostFunc + Send, O: Optimizer + Send> HelperWork for Worker<R, C, O> {
    fn score(&mut self, bounds: &Bounds, color: ColorMode, x: &[f64]) -> Result<f64> {
        decode(
            &mut self.eval,
            bounds,
            color,
            x,
            &mut self.x,
            &mut self.circles,
        )?;
        self.eval.cost_with(&self.circles)
    }

    fn commit(&mut self, circles: &[Circle]) -> Result<()> {
        self.eval.commit(circles).map(|_| ())
    }

    fn polish_slot(&mut self, job: &SlotJob) -> Result<SlotOutcome> {
        let (renderer, cost, reference) = self.eval.parts();
        crate::passes::polish::search_slot_hill_climb(
            &mut self.slots,
            renderer,
            cost,
            reference,
            self.base.as_ref(),
            job,
            self.cancel.as_deref(),
        )
    }

    fn search(&mut self, job: &SearchJob) -> Result<Searched> {
        let mut solo = Team::solo();
        let mut quiet = |_: &Progress<'_>| ControlFlow::Continue(());
        let context = StageContext {
            observer: &mut quiet,
            stage: 0,
            stages: 0,
            circles_kept: 0,
            evaluations_before: 0,
            started: Instant::now(),
        };
        let objective = ParamObjective::new(
            &mut self.eval,
            &job.bounds,
            job.color,
            &mut solo,
            self.cancel.as_deref(),
            context,
        )
        .halted_by(&self.halt);
        job.run(&mut self.optimizer, objective)
    }
}

/// The flags a helper's searches stop on: the fit's cancel flag and the team's halt.
pub(crate) struct Stops {
    pub(crate) cancel: Option<Arc<AtomicBool>>,
    pub(crate) halt: Arc<AtomicBool>,
}

/// Makes the helper copies of a fit's renderer, cost and optimizer. [`Fitter::threads`]
/// installs the one implementation, [`CloneForker`], where all three can be cloned and
/// sent.
///
/// [`Fitter::threads`]: crate::Fitter::threads
pub(crate) trait Forker<R, C, O> {
    /// A helper's work over `reference` and `base`, with copies of the components.
    ///
    /// # Errors
    /// As [`Evaluator::new`].
    fn fork<'a>(
        &self,
        parts: (&R, &C, &O),
        reference: CanvasRef<'_>,
        base: CanvasRef<'_>,
        stops: Stops,
    ) -> Result<Box<dyn HelperWork + 'a>>
    where
        R: 'a,
        C: 'a,
        O: 'a;
}

/// The [`Forker`] of components that are `Clone + Send`.
pub(crate) struct CloneForker;

impl<R, C, O> Forker<R, C, O> for CloneForker
where
    R: Renderer + Clone + Send,
    C: CostFunc + Clone + Send,
    O: Optimizer + Clone + Send,
{
    fn fork<'a>(
        &self,
        (renderer, cost, optimizer): (&R, &C, &O),
        reference: CanvasRef<'_>,
        base: CanvasRef<'_>,
        Stops { cancel, halt }: Stops,
    ) -> Result<Box<dyn HelperWork + 'a>>
    where
        R: 'a,
        C: 'a,
        O: 'a,
    {
        Ok(Box::new(Worker {
            eval: Evaluator::new(renderer.clone(), cost.clone(), reference, base)?,
            optimizer: optimizer.clone(),
            halt,
            slots: None,
            base: base.to_canvas(),
            cancel,
            x: Vec::new(),
            circles: Vec::new(),
        }))
    }
}

/// Spins before a waiting helper parks.
const SPINS: u32 = 200_000;

const IDLE: u8 = 0;
const POSTED: u8 = 1;
const DONE: u8 = 2;
const EXIT: u8 = 3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Score,
    Commit,
    Slot,
    Search,
}

/// A task and its answer, exchanged under the mutex (never contended: the flag says whose
/// turn it is). Buffers are reused from task to task.
struct Task {
    kind: Kind,
    bounds: Option<Bounds>,
    color: ColorMode,
    xs: Vec<f64>,
    /// The order in which points are taken.
    order: Vec<usize>,
    /// `(index, value)` of each point this helper scored.
    out: Vec<(usize, f64)>,
    circles: Vec<Circle>,
    slot: Option<SlotJob>,
    slot_outcome: Option<Result<SlotOutcome>>,
    search: Option<SearchJob>,
    search_outcome: Option<Result<Searched>>,
    result: Result<()>,
}

/// The hand-off flags and the task. The flags get a cache line of their own: the main
/// thread spins on `state` while the helper writes its answers into the task, and sharing a
/// line made every write a cache miss for the spinner (measured 5 % slower 2-thread fits).
#[repr(C)]
struct Shared {
    flags: Flags,
    task: Mutex<Task>,
}

#[repr(C, align(128))]
struct Flags {
    state: AtomicU8,
    parked: AtomicBool,
}

impl Shared {
    fn task(&self) -> MutexGuard<'_, Task> {
        // A panic on the other side is re-raised when the scope joins; the data is plain.
        self.task.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs one task on the helper's side.
fn perform(work: &mut dyn HelperWork, cursor: &AtomicUsize, task: &mut Task) {
    task.result = match (task.kind, &task.bounds) {
        (Kind::Score, Some(bounds)) => {
            task.out.clear();
            let (color, out) = (task.color, &mut task.out);
            take_points(cursor, bounds.dim(), &task.xs, &task.order, |i, x| {
                out.push((i, work.score(bounds, color, x)?));
                Ok(())
            })
        }
        (Kind::Score, None) => Ok(()),
        (Kind::Commit, _) => work.commit(&task.circles),
        (Kind::Slot, _) => {
            task.slot_outcome = task.slot.as_ref().map(|job| work.polish_slot(job));
            Ok(())
        }
        (Kind::Search, _) => {
            task.search_outcome = task.search.as_ref().map(|job| work.search(job));
            Ok(())
        }
    };
}

/// The main thread's handle on one helper thread (which lives at most as long as `'scope`).
struct Helper<'scope> {
    handle: ScopedJoinHandle<'scope, ()>,
    shared: Arc<Shared>,
    thread: Thread,
    /// Whether a task was posted and not yet collected.
    pending: bool,
}

impl<'scope> Helper<'scope> {
    /// Starts a helper thread in `scope` that owns `work` and takes points from `cursor`.
    fn spawn<'env>(
        scope: &'scope Scope<'scope, 'env>,
        mut work: Box<dyn HelperWork + 'scope>,
        cursor: Arc<AtomicUsize>,
    ) -> Self {
        let shared = Arc::new(Shared {
            flags: Flags {
                state: AtomicU8::new(IDLE),
                parked: AtomicBool::new(false),
            },
            task: Mutex::new(Task {
                kind: Kind::Score,
                bounds: None,
                color: ColorMode::Search,
                xs: Vec::new(),
                order: Vec::new(),
                out: Vec::new(),
                circles: Vec::new(),
                slot: None,
                slot_outcome: None,
                search: None,
                search_outcome: None,
                result: Ok(()),
            }),
        });
        let theirs = Arc::clone(&shared);
        let handle = scope.spawn(move || {
            loop {
                if wait_while(&theirs, |s| s == IDLE || s == DONE) == EXIT {
                    return;
                }
                perform(&mut *work, &cursor, &mut theirs.task());
                theirs.flags.state.store(DONE, Ordering::SeqCst);
            }
        });
        Self {
            thread: handle.thread().clone(),
            handle,
            shared,
            pending: false,
        }
    }

    /// Fills the task under the lock and hands it over.
    fn post(&mut self, fill: impl FnOnce(&mut Task)) {
        fill(&mut self.shared.task());
        self.pending = true;
        self.shared.flags.state.store(POSTED, Ordering::SeqCst);
        if self.shared.flags.parked.load(Ordering::SeqCst) {
            self.thread.unpark();
        }
    }

    /// Whether the posted task has been answered (collecting it would not wait).
    fn is_done(&self) -> bool {
        self.pending && self.shared.flags.state.load(Ordering::SeqCst) == DONE
    }

    /// Waits for the posted task and reads its answer (nothing if none was posted).
    fn collect<T>(&mut self, read: impl FnOnce(&mut Task) -> T) -> Option<T> {
        if !self.pending {
            return None;
        }
        self.pending = false;
        wait_for_done(&self.shared, &self.handle);
        let value = read(&mut self.shared.task());
        self.shared.flags.state.store(IDLE, Ordering::SeqCst);
        Some(value)
    }
}

impl Drop for Helper<'_> {
    fn drop(&mut self) {
        // A task still running would overwrite the exit request with its answer: let it
        // finish first (or the thread end, if a component panicked there).
        while self.pending
            && self.shared.flags.state.load(Ordering::SeqCst) != DONE
            && !self.handle.is_finished()
        {
            thread::yield_now();
        }
        self.shared.flags.state.store(EXIT, Ordering::SeqCst);
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
    while shared.flags.state.load(Ordering::SeqCst) != DONE {
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
        let s = shared.flags.state.load(Ordering::SeqCst);
        if !idle(s) {
            return s;
        }
        pause(spins);
    }
    // Idle for a while (the main thread is between stages): stop spinning.
    loop {
        shared.flags.parked.store(true, Ordering::SeqCst);
        // Re-check after announcing the park, so a post in between is not missed.
        let s = shared.flags.state.load(Ordering::SeqCst);
        if !idle(s) {
            shared.flags.parked.store(false, Ordering::SeqCst);
            return s;
        }
        thread::park_timeout(Duration::from_millis(1));
        shared.flags.parked.store(false, Ordering::SeqCst);
        let s = shared.flags.state.load(Ordering::SeqCst);
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

/// The helper threads of a fit, their shared cursor and the halt flag their searches
/// stop on; empty for a one-thread fit.
pub(crate) struct Team<'scope> {
    helpers: Vec<Helper<'scope>>,
    cursor: Arc<AtomicUsize>,
    halt: Arc<AtomicBool>,
}

impl<'scope> Team<'scope> {
    /// A team with one thread in `scope` per piece of `work`, whose searches stop on
    /// `halt` (the flag the work was forked with).
    pub(crate) fn new<'env>(
        scope: &'scope Scope<'scope, 'env>,
        work: Vec<Box<dyn HelperWork + 'scope>>,
        halt: Arc<AtomicBool>,
    ) -> Self {
        let cursor = Arc::new(AtomicUsize::new(0));
        Self {
            helpers: work
                .into_iter()
                .map(|w| Helper::spawn(scope, w, Arc::clone(&cursor)))
                .collect(),
            cursor,
            halt,
        }
    }

    /// A team of no helpers: everything runs on the calling thread.
    pub(crate) fn solo() -> Self {
        Self {
            helpers: Vec::new(),
            cursor: Arc::new(AtomicUsize::new(0)),
            halt: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Runs a stage's independent searches, each helper taking one whenever it is free
    /// and the calling thread (with `here`) the others: the results of those that ran, in
    /// `jobs` order. A search of this thread's that stops (or fails) halts the helpers'
    /// searches in flight, and the searches not yet started are not run.
    pub(crate) fn searches(
        &mut self,
        jobs: &[SearchJob],
        here: &mut dyn FnMut(&SearchJob) -> Result<Searched>,
    ) -> Vec<Result<Searched>> {
        let mut out: Vec<Option<Result<Searched>>> = (0..jobs.len()).map(|_| None).collect();
        let mut running: Vec<Option<usize>> = vec![None; self.helpers.len()];
        self.halt.store(false, Ordering::SeqCst);
        let mut next = 0;
        while next < jobs.len() && !self.halt.load(Ordering::SeqCst) {
            for (h, r) in self.helpers.iter_mut().zip(&mut running) {
                // The last search is left to this thread, which would only wait otherwise.
                if r.is_none() && next + 1 < jobs.len() {
                    h.post(|t| {
                        t.kind = Kind::Search;
                        t.search = Some(jobs[next].clone());
                    });
                    *r = Some(next);
                    next += 1;
                }
            }
            let mine = here(&jobs[next]);
            if mine.as_ref().map_or(true, |s| s.stopped) {
                self.halt.store(true, Ordering::SeqCst);
            }
            out[next] = Some(mine);
            next += 1;
            for (h, r) in self.helpers.iter_mut().zip(&mut running) {
                if r.is_some() && h.is_done() {
                    out[r.take().expect("checked")] =
                        h.collect(|t| t.search_outcome.take()).flatten();
                }
            }
        }
        for (h, r) in self.helpers.iter_mut().zip(&mut running) {
            if let Some(i) = r.take() {
                out[i] = h.collect(|t| t.search_outcome.take()).flatten();
            }
        }
        self.halt.store(false, Ordering::SeqCst);
        out.into_iter().flatten().collect()
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
            h.post(|t| {
                t.kind = Kind::Score;
                if t.bounds.as_ref() != Some(bounds) {
                    t.bounds = Some(bounds.clone());
                }
                t.color = color;
                t.xs.clear();
                t.xs.extend_from_slice(xs);
                t.order.clear();
                t.order.extend_from_slice(order);
            });
        }
        let mut first = take_points(&self.cursor, bounds.dim(), xs, order, |i, x| {
            out[i] = score(x)?;
            Ok(())
        });
        for h in &mut self.helpers {
            let r = h
                .collect(|t| {
                    for &(i, v) in &t.out {
                        out[i] = v;
                    }
                    std::mem::replace(&mut t.result, Ok(()))
                })
                .unwrap_or(Ok(()));
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
            h.post(|t| {
                t.kind = Kind::Commit;
                t.circles.clear();
                t.circles.extend_from_slice(circles);
            });
        }
        let mine = main();
        let mut theirs = Ok(());
        for h in &mut self.helpers {
            let r = h
                .collect(|t| std::mem::replace(&mut t.result, Ok(())))
                .unwrap_or(Ok(()));
            if theirs.is_ok() {
                theirs = r;
            }
        }
        let value = mine?;
        theirs.map(|()| value)
    }

    /// Hands the slot search `job` to the first helper, or gives it back when there is
    /// none (the caller then searches it itself).
    pub(crate) fn post_slot(&mut self, job: SlotJob) -> Option<SlotJob> {
        let Some(h) = self.helpers.first_mut() else {
            return Some(job);
        };
        h.post(|t| {
            t.kind = Kind::Slot;
            t.slot = Some(job);
        });
        None
    }

    /// Whether the slot search handed over by [`post_slot`](Self::post_slot) is finished.
    pub(crate) fn slot_ready(&self) -> bool {
        self.helpers.first().is_some_and(Helper::is_done)
    }

    /// Waits for the slot search handed over by [`post_slot`](Self::post_slot).
    ///
    /// # Errors
    /// The helper's.
    pub(crate) fn collect_slot(&mut self) -> Result<SlotOutcome> {
        self.helpers
            .first_mut()
            .and_then(|h| h.collect(|t| t.slot_outcome.take()))
            .flatten()
            .unwrap_or(Ok(SlotOutcome::default()))
    }
}
