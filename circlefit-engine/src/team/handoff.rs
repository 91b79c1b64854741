//! The hand-off between the calling thread and one helper: an atomic flag the two spin on
//! (briefly, then the helper parks) and a slot holding the task and its answer.
//!
//! A sequential stage's batches are small (about 20 points of 1–2 µs each), so waking a
//! sleeping thread per batch (what a fork-join pool does once its workers idle) costs as
//! much as the work it saves; spinning makes a hand-off cost a few cache-line transfers.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, Scope, Thread};
use std::time::Duration;

/// A task run once on a helper's state; its answer comes back boxed.
pub(crate) type OnceTask<'s, W> = Box<dyn FnOnce(&mut W) -> Box<dyn Any + Send> + Send + 's>;

/// A task posted again and again (to every helper, batch after batch) without allocating:
/// its answers go where its captures say.
pub(crate) type SharedTask<'s, W> = Arc<dyn Fn(&mut W) + Send + Sync + 's>;

/// What a helper is handed.
pub(crate) enum Job<'s, W> {
    Once(OnceTask<'s, W>),
    Shared(SharedTask<'s, W>),
}

/// Spins before a waiting helper parks.
const SPINS: u32 = 200_000;

const IDLE: u8 = 0;
const POSTED: u8 = 1;
const DONE: u8 = 2;
const EXIT: u8 = 3;

/// The job and its answer, exchanged under the mutex (never contended: the flag says
/// whose turn it is).
struct Slot<'s, W> {
    job: Option<Job<'s, W>>,
    answer: Option<Box<dyn Any + Send>>,
}

/// The hand-off flags and the slot. The flags get a cache line of their own: the main
/// thread spins on `state` while the helper writes its answers, and sharing a line made
/// every write a cache miss for the spinner (measured 5 % slower 2-thread fits).
#[repr(C)]
struct Shared<'s, W> {
    flags: Flags,
    slot: Mutex<Slot<'s, W>>,
}

#[repr(C, align(128))]
struct Flags {
    state: AtomicU8,
    parked: AtomicBool,
    /// Set when the helper's thread ends, also by a panic there.
    finished: AtomicBool,
}

impl<'s, W> Shared<'s, W> {
    fn slot(&self) -> MutexGuard<'_, Slot<'s, W>> {
        // A panic on the other side is re-raised when the scope joins; the data is plain.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Marks the helper finished when its thread ends, unwinding included.
struct FinishedOnDrop<'a>(&'a AtomicBool);

impl Drop for FinishedOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The calling thread's handle on one helper thread.
pub(crate) struct Helper<'s, W> {
    shared: Arc<Shared<'s, W>>,
    thread: Thread,
    /// Whether a job was posted and not yet collected.
    pending: bool,
}

impl<'s, W> Helper<'s, W> {
    /// Starts a helper thread in `scope` that owns `state` and runs the jobs posted to it.
    pub(crate) fn spawn(scope: &'s Scope<'s, '_>, mut state: W) -> Self
    where
        W: Send + 's,
    {
        let shared = Arc::new(Shared {
            flags: Flags {
                state: AtomicU8::new(IDLE),
                parked: AtomicBool::new(false),
                finished: AtomicBool::new(false),
            },
            slot: Mutex::new(Slot {
                job: None,
                answer: None,
            }),
        });
        let theirs = Arc::clone(&shared);
        let handle = scope.spawn(move || {
            let _finished = FinishedOnDrop(&theirs.flags.finished);
            while wait_while_idle(&theirs) != EXIT {
                let job = theirs.slot().job.take();
                let answer = match job {
                    Some(Job::Once(task)) => Some(task(&mut state)),
                    Some(Job::Shared(task)) => {
                        task(&mut state);
                        None
                    }
                    None => None,
                };
                theirs.slot().answer = answer;
                theirs.flags.state.store(DONE, Ordering::SeqCst);
            }
        });
        Self {
            thread: handle.thread().clone(),
            shared,
            pending: false,
        }
    }

    /// Hands `job` over.
    pub(crate) fn post(&mut self, job: Job<'s, W>) {
        self.shared.slot().job = Some(job);
        self.pending = true;
        self.shared.flags.state.store(POSTED, Ordering::SeqCst);
        if self.shared.flags.parked.load(Ordering::SeqCst) {
            self.thread.unpark();
        }
    }

    /// Whether no job is posted and uncollected.
    pub(crate) fn is_free(&self) -> bool {
        !self.pending
    }

    /// Whether the posted job has been answered (collecting it would not wait).
    pub(crate) fn is_done(&self) -> bool {
        self.pending && self.shared.flags.state.load(Ordering::SeqCst) == DONE
    }

    /// Waits for the posted job and takes its answer (`None` if none was posted or the
    /// job was a shared one).
    pub(crate) fn collect(&mut self) -> Option<Box<dyn Any + Send>> {
        if !self.pending {
            return None;
        }
        self.pending = false;
        wait_for_done(&self.shared);
        let answer = self.shared.slot().answer.take();
        self.shared.flags.state.store(IDLE, Ordering::SeqCst);
        answer
    }
}

impl<W> Drop for Helper<'_, W> {
    fn drop(&mut self) {
        // A job still running would overwrite the exit request with its answer: let it
        // finish first (or the thread end, if a task panicked there).
        let flags = &self.shared.flags;
        while self.pending
            && flags.state.load(Ordering::SeqCst) != DONE
            && !flags.finished.load(Ordering::SeqCst)
        {
            thread::yield_now();
        }
        flags.state.store(EXIT, Ordering::SeqCst);
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

/// The calling thread waits for its helper: spinning only (it has nothing else to do, and
/// the helper is running). A helper that died (a task panicked on its thread) would never
/// answer, so its end turns into a panic here; the scope then re-raises the original one.
fn wait_for_done<W>(shared: &Shared<'_, W>) {
    let mut spins = 0u32;
    while shared.flags.state.load(Ordering::SeqCst) != DONE {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(4096) && shared.flags.finished.load(Ordering::SeqCst) {
            panic!("a helper thread of the team stopped (a task panicked there)");
        }
        pause(spins);
    }
}

/// A helper waits while it has nothing to do: spins, then parks until posted (with a
/// timeout as a safety net). Returns the state that ended the wait.
fn wait_while_idle<W>(shared: &Shared<'_, W>) -> u8 {
    let idle = |s: u8| s == IDLE || s == DONE;
    for spins in 0..SPINS {
        let s = shared.flags.state.load(Ordering::SeqCst);
        if !idle(s) {
            return s;
        }
        pause(spins);
    }
    // Idle for a while (the calling thread is between stages): stop spinning.
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
