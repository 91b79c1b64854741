//! The workers: each claims a job from the store, holds its lease (renewed by a small thread
//! beside the fit, which also reads the job's cancel flag), runs it, and acts on how it ended.
//! A graceful stop stops claiming and asks every running fit to stop and give its job back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::fit::{RunEnd, RunError, Stop, StopReason};
use crate::metrics::Metrics;
use crate::model::{Claimed, JobId, Renewal};
use crate::store::JobStore;

/// How workers hold their jobs.
#[derive(Clone, Debug)]
pub(crate) struct LeaseSettings {
    /// This server's name, recorded with the jobs it runs.
    pub(crate) name: String,
    /// A lease's length: a server silent for this long loses its jobs to the others.
    pub(crate) length: Duration,
    /// How often a running job's lease is renewed (and its cancel flag read).
    pub(crate) renew: Duration,
    /// A job claimed more often than this fails instead of running again (it crashed or
    /// lost its server every time).
    pub(crate) max_attempts: i64,
}

/// The running fits of this server, and whether it is stopping.
#[derive(Debug, Default)]
pub(crate) struct Running {
    stopping: AtomicBool,
    fits: Mutex<HashMap<JobId, Arc<Stop>>>,
}

impl Running {
    /// Stops claiming, and asks every running fit to stop and give its job back.
    pub(crate) fn stop_all(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for stop in self.fits().values() {
            stop.stop(StopReason::Release);
        }
    }

    fn fits(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Arc<Stop>>> {
        self.fits.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fits running now.
    pub(crate) fn count(&self) -> usize {
        self.fits().len()
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// One worker thread's loop: claims and runs jobs until the server stops.
pub(crate) fn work(
    store: &dyn JobStore,
    lease: &LeaseSettings,
    running: &Running,
    metrics: &Metrics,
) {
    while !running.stopping() {
        match store.claim(&lease.name, lease.length) {
            Ok(Some(job)) => handle(store, lease, running, metrics, job),
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => {
                crate::log!("worker: claiming failed: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

fn handle(
    store: &dyn JobStore,
    lease: &LeaseSettings,
    running: &Running,
    metrics: &Metrics,
    job: Claimed,
) {
    let id = job.lease.job;
    if job.adopted {
        metrics.adopted();
        crate::log!("job {id}: adopted (attempt {})", job.attempts);
    }
    if job.attempts > lease.max_attempts {
        let message = format!(
            "gave up after {} attempts: the job's server was lost (or crashed) every time",
            job.attempts - 1
        );
        if let Err(e) = store.fail(job.lease, &message) {
            crate::log!("job {id}: {e}");
        }
        return;
    }
    let stop = Arc::new(Stop::default());
    running.fits().insert(id, Arc::clone(&stop));
    if running.stopping() {
        stop.stop(StopReason::Release);
    }
    let t0 = Instant::now();
    let (tx, rx) = mpsc::channel::<()>();
    let (job_ref, stop_ref) = (&job, &*stop);
    let end = std::thread::scope(|scope| {
        scope.spawn(move || renew_while_running(store, lease, job_ref, stop_ref, &rx));
        let end = crate::fit::run(store, job_ref, stop_ref);
        drop(tx);
        end
    });
    running.fits().remove(&id);
    match end {
        Ok(RunEnd::Stored(outcome)) => metrics.finished(outcome, t0.elapsed()),
        Ok(RunEnd::Release) => match store.release(job.lease) {
            Ok(()) => crate::log!("job {id}: released for another server"),
            Err(e) => crate::log!("job {id}: release failed ({e}); its lease will expire"),
        },
        Ok(RunEnd::Pause) => match store.pause(job.lease) {
            Ok(()) => crate::log!("job {id}: paused"),
            Err(e) => crate::log!("job {id}: pausing failed ({e}); its lease will expire"),
        },
        Ok(RunEnd::LeaseLost) => crate::log!("job {id}: lease lost; another server has it"),
        Err(RunError::Job(message)) => {
            metrics.failed();
            if let Err(e) = store.fail(job.lease, &message) {
                crate::log!("job {id}: failed ({message}) and could not store it: {e}");
            }
        }
        Err(RunError::Store(e)) => {
            metrics.store_error();
            crate::log!(
                "job {id}: the store failed ({e}); the job runs again when its lease expires"
            );
        }
    }
}

/// Renews the lease every `renew` until `done` closes; stops the fit on a cancel, on a lost
/// lease, or when renewals have failed for a whole lease length (another server may hold it).
fn renew_while_running(
    store: &dyn JobStore,
    lease: &LeaseSettings,
    job: &Claimed,
    stop: &Stop,
    done: &mpsc::Receiver<()>,
) {
    let mut last_held = Instant::now();
    loop {
        match done.recv_timeout(lease.renew) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        match store.renew(job.lease, lease.length) {
            Ok(Renewal::Held { cancel, pause }) => {
                last_held = Instant::now();
                if cancel {
                    stop.stop(StopReason::Cancel);
                } else if pause {
                    stop.stop(StopReason::Pause);
                }
            }
            Ok(Renewal::Lost) => {
                stop.stop(StopReason::LeaseLost);
                return;
            }
            Err(e) => {
                crate::log!("job {}: lease renewal failed: {e}", job.lease.job);
                if last_held.elapsed() >= lease.length {
                    stop.stop(StopReason::LeaseLost);
                    return;
                }
            }
        }
    }
}
