//! A team of helper threads that knows nothing of the work it runs (after rayon-core's
//! `scope` and `broadcast`): each helper owns a state of its own — for a fit, a replica of
//! the fit's components, the engine's `Replica` — and runs the tasks it is
//! handed on it.
//!
//! Three ways to hand out work: [`broadcast`](Team::broadcast) one task to every helper
//! while the calling thread does its part (keeping replicas in step; scoring a shared
//! [`Batch`]), and [`each`](Team::each), each of a list of jobs to whoever is free (a
//! stage's searches, a slot group's or a slot's climbs, any future pass's jobs).
//!
//! Helpers wait for work by spinning, then parking ([`handoff`]); a broadcast task is an
//! `Arc` posted again and again, so the hot path (a batch of ~20 points every few tens of
//! microseconds) allocates nothing.

mod batch;
mod handoff;

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;
use std::thread::Scope;

pub(crate) use batch::Batch;
pub(crate) use handoff::SharedTask;
use handoff::{Helper, Job};

/// A job handed to whichever helper is free: `remote(state, job)`.
pub(crate) type Remote<'s, W, J, T> = Arc<dyn Fn(&mut W, J) -> T + Send + Sync + 's>;

/// The helper threads of one piece of work (a fit), living as long as `'s` (their
/// scope); empty for a one-thread fit.
pub(crate) struct Team<'s, W> {
    helpers: Vec<Helper<'s, W>>,
    /// The helpers' states live in the scope (this makes `W: 's` implied wherever a team
    /// is named).
    scope: PhantomData<&'s W>,
}

impl<'s, W> Team<'s, W> {
    /// A team of no helpers: everything runs on the calling thread.
    pub(crate) fn solo() -> Self {
        Self {
            helpers: Vec::new(),
            scope: PhantomData,
        }
    }

    /// A team with one thread in `scope` per state in `states`. Dropping the team tells
    /// the threads to end (the scope then joins them).
    pub(crate) fn spawn(scope: &'s Scope<'s, '_>, states: Vec<W>) -> Self
    where
        W: Send + 's,
    {
        Self {
            helpers: states
                .into_iter()
                .map(|s| Helper::spawn(scope, s))
                .collect(),
            scope: PhantomData,
        }
    }

    /// Whether there are helpers.
    pub(crate) fn is_empty(&self) -> bool {
        self.helpers.is_empty()
    }

    /// Runs `task` on every helper while `here` runs on the calling thread, and waits for
    /// all of them: `here`'s value.
    pub(crate) fn broadcast<T>(&mut self, task: &SharedTask<'s, W>, here: impl FnOnce() -> T) -> T {
        for h in &mut self.helpers {
            h.post(Job::Shared(Arc::clone(task)));
        }
        let value = here();
        for h in &mut self.helpers {
            h.collect();
        }
        value
    }

    /// Runs `jobs`, each on whoever is free: a free helper with `remote`, else the calling
    /// thread with `here` (which always takes the last job: it would only wait otherwise).
    /// Values in job order; once `stop` holds for a value of the calling thread's, no
    /// further job starts (those running finish) and the jobs not run are `None`.
    ///
    /// Which thread runs a job must not change its value: the jobs are independent.
    pub(crate) fn each<J, T>(
        &mut self,
        jobs: Vec<J>,
        remote: &Remote<'s, W, J, T>,
        here: &mut dyn FnMut(J) -> T,
        stop: &dyn Fn(&T) -> bool,
    ) -> Vec<Option<T>>
    where
        J: Send + 's,
        T: Send + 'static,
    {
        let mut out: Vec<Option<T>> = (0..jobs.len()).map(|_| None).collect();
        let mut running: Vec<Option<usize>> = vec![None; self.helpers.len()];
        let mut jobs = jobs.into_iter().enumerate();
        loop {
            for (h, r) in self.helpers.iter_mut().zip(&mut running) {
                if h.is_free() && jobs.len() > 1 {
                    let (i, job) = jobs.next().expect("more than one job left");
                    let f = Arc::clone(remote);
                    h.post(Job::Once(Box::new(move |w: &mut W| {
                        Box::new(f(w, job)) as Box<dyn Any + Send>
                    })));
                    *r = Some(i);
                }
            }
            let Some((i, job)) = jobs.next() else { break };
            let mine = here(job);
            let stopped = stop(&mine);
            out[i] = Some(mine);
            for (h, r) in self.helpers.iter_mut().zip(&mut running) {
                if h.is_done() {
                    out[r.take().expect("a posted job")] = answer(h);
                }
            }
            if stopped {
                break;
            }
        }
        for (h, r) in self.helpers.iter_mut().zip(&mut running) {
            if let Some(i) = r.take() {
                out[i] = answer(h);
            }
        }
        out
    }
}

/// Waits for a helper's job and takes its answer as a `T`.
fn answer<W, T: 'static>(h: &mut Helper<'_, W>) -> Option<T> {
    h.collect().and_then(|a| a.downcast::<T>().ok()).map(|b| *b)
}
