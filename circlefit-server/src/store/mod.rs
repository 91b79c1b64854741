//! The job store: one trait the routes and the workers use, with two backends — SQLite, the
//! embedded default for one machine (several processes on one file share it through the same
//! leases), and PostgreSQL for several servers on several machines.
//!
//! Every worker write names its [`Lease`] and does nothing when the lease is no longer the
//! job's (a fencing token); claims take queued jobs and jobs whose lease has expired, so a
//! lost server's jobs move to a live one without any start-up re-queue.

mod postgres;
mod sqlite;

use std::time::Duration;

use tokio::sync::broadcast;

use crate::model::{
    CancelAsked, CircleSource, Claimed, ControlAsked, Finished, JobId, JobRow, JobStatus, Lease,
    LiveSaved, NewJob, Renewal, ResultFile, StageSaved, StatusCounts,
};

pub(crate) use postgres::PgStore;
pub(crate) use sqlite::SqliteStore;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The worker's lease is no longer the job's: another worker adopted it, or it ended.
    #[error("the lease on job {0} was lost")]
    LeaseLost(JobId),
    /// The queue already holds its maximum of waiting jobs.
    #[error("the queue is full ({0} jobs wait)")]
    QueueFull(i64),
    /// SQLite said no.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no (or could not be reached).
    #[error("postgres: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// A stored value the server cannot read.
    #[error("stored data: {0}")]
    Corrupt(String),
}

/// A change to a job's row, announced to every event stream of every server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// This job changed.
    Job(JobId),
    /// Anything may have changed (the store reconnected and may have missed announcements).
    All,
}

impl Wake {
    /// Whether a subscriber to `id` should re-read its row.
    pub(crate) fn concerns(self, id: JobId) -> bool {
        match self {
            Wake::Job(j) => j == id,
            Wake::All => true,
        }
    }
}

/// The job store. Blocking calls: the HTTP handlers run them off the async threads.
pub(crate) trait JobStore: Send + Sync {
    /// Adds a queued job, unless `queue_limit` jobs already wait (checked and inserted
    /// atomically: [`StoreError::QueueFull`]).
    fn insert(&self, job: NewJob<'_>, queue_limit: i64) -> Result<JobId, StoreError>;

    /// Takes the oldest job that is queued or whose lease has expired, for `worker`, with a
    /// lease of `lease` from now and a new generation.
    fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Claimed>, StoreError>;

    /// Extends a lease by `lease` from now, and reads the job's cancel flag.
    fn renew(&self, lease: Lease, length: Duration) -> Result<Renewal, StoreError>;

    /// Writes a stage checkpoint (fenced).
    fn save_stage(&self, lease: Lease, saved: &StageSaved<'_>) -> Result<(), StoreError>;

    /// Writes the circles as they stand while polishing or refining, and the figures with
    /// them (fenced); the next stage checkpoint or the end clears them.
    fn save_live(&self, lease: Lease, live: &LiveSaved<'_>) -> Result<(), StoreError>;

    /// Ends a job with its results (fenced).
    fn finish(&self, lease: Lease, finished: &Finished<'_>) -> Result<(), StoreError>;

    /// Ends a job as failed with `message` (fenced).
    fn fail(&self, lease: Lease, message: &str) -> Result<(), StoreError>;

    /// Gives a running job back to the queue, its checkpoint kept (fenced): a graceful stop.
    fn release(&self, lease: Lease) -> Result<(), StoreError>;

    /// Pauses a running job whose worker was asked to (fenced): back to `paused` with its
    /// stage checkpoint, the attempt not counted against the job.
    fn pause(&self, lease: Lease) -> Result<(), StoreError>;

    /// Asks a job to pause: a queued one is paused at once, a running one flagged for its
    /// worker. `None` if there is no such job.
    fn request_pause(&self, id: JobId) -> Result<Option<ControlAsked>, StoreError>;

    /// Resumes a paused job (queued again, in its old place by id), or withdraws a pause
    /// its worker has not acted on yet. `None` if there is no such job.
    fn request_resume(&self, id: JobId) -> Result<Option<ControlAsked>, StoreError>;

    /// Asks a job to stop: a queued one is cancelled at once, a running one flagged for its
    /// worker, wherever it runs. `None` if there is no such job.
    fn request_cancel(&self, id: JobId) -> Result<Option<CancelAsked>, StoreError>;

    /// One job.
    fn get(&self, id: JobId) -> Result<Option<JobRow>, StoreError>;

    /// All jobs, newest first.
    fn list(&self) -> Result<Vec<JobRow>, StoreError>;

    /// A job's result file, if it has one.
    fn result(&self, id: JobId, file: ResultFile) -> Result<Option<Vec<u8>>, StoreError>;

    /// Where a job's current circles are (one read, so they agree with its status).
    fn circles(&self, id: JobId) -> Result<Option<CircleSource>, StoreError>;

    /// A job's history (a JSON array; `None` inside when none was written yet).
    fn history(&self, id: JobId) -> Result<Option<Option<String>>, StoreError>;

    /// A job's upload and stored settings (for an extend).
    fn source(&self, id: JobId) -> Result<Option<(Vec<u8>, String)>, StoreError>;

    /// Deletes an ended job; `false` if there is none or it has not ended.
    fn delete(&self, id: JobId) -> Result<bool, StoreError>;

    /// Jobs per status, and lease adoptions over all jobs.
    fn counts(&self) -> Result<(StatusCounts, i64), StoreError>;

    /// Whether the store answers.
    fn ping(&self) -> Result<(), StoreError>;

    /// Announcements of row changes (from any server, where the backend can tell).
    fn subscribe(&self) -> broadcast::Receiver<Wake>;
}

/// The columns every backend reads a [`JobRow`] from, in [`RawRow`]'s order.
const ROW_COLUMNS: &str = "id, status, circles, psnr, evaluations, settings, error, created, finished, parent, worker, attempts";

/// A row as both backends read it, before its strings are typed.
struct RawRow {
    id: i64,
    status: String,
    circles: i64,
    psnr: Option<f64>,
    evaluations: i64,
    settings: String,
    error: Option<String>,
    created: i64,
    finished: Option<i64>,
    parent: Option<i64>,
    worker: Option<String>,
    attempts: i64,
}

impl RawRow {
    fn typed(self) -> Result<JobRow, StoreError> {
        Ok(JobRow {
            id: JobId(self.id),
            status: self.status.parse().map_err(StoreError::Corrupt)?,
            circles: self.circles,
            psnr: self.psnr,
            evaluations: self.evaluations,
            settings: serde_json::from_str(&self.settings).unwrap_or(serde_json::Value::Null),
            error: self.error,
            created: self.created,
            finished: self.finished,
            parent: self.parent.map(JobId),
            worker: self.worker,
            attempts: self.attempts,
        })
    }
}

/// Opens the store a `--db` value names: a `postgres://` or `postgresql://` URL, else a
/// SQLite file path.
///
/// # Errors
///
/// The backend's error when it cannot be opened or its schema created.
pub(crate) fn open(db: &str) -> Result<Box<dyn JobStore>, StoreError> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        Ok(Box::new(PgStore::connect(db)?))
    } else {
        Ok(Box::new(SqliteStore::open(db)?))
    }
}

/// The name a `--db` value is shown with (a URL without its password).
pub(crate) fn display_name(db: &str) -> String {
    match db.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) => {
                let user = user.split(':').next().unwrap_or("");
                format!("{scheme}://{user}@{host}")
            }
            None => db.to_owned(),
        },
        None => db.to_owned(),
    }
}

/// The change a client's control request makes to a job's row; each backend writes it in
/// its own SQL, in the transaction that read the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RowChange {
    /// Nothing to write.
    Nothing,
    /// A new status (stamped `finished` when it ends the job).
    Status(JobStatus),
    /// A request for the job's worker: this column (`cancel_requested` or
    /// `pause_requested`) set to this value.
    Flag(&'static str, bool),
}

/// What a cancel does to a job in `status`.
pub(crate) fn cancel_change(status: JobStatus) -> (RowChange, CancelAsked) {
    match status {
        JobStatus::Queued | JobStatus::Paused => (
            RowChange::Status(JobStatus::Cancelled),
            CancelAsked::Cancelled,
        ),
        JobStatus::Running => (
            RowChange::Flag("cancel_requested", true),
            CancelAsked::Flagged,
        ),
        ended => (RowChange::Nothing, CancelAsked::Ended(ended)),
    }
}

/// What a pause does to a job in `status`.
pub(crate) fn pause_change(status: JobStatus) -> (RowChange, ControlAsked) {
    match status {
        JobStatus::Queued => (
            RowChange::Status(JobStatus::Paused),
            ControlAsked::Now(JobStatus::Paused),
        ),
        JobStatus::Running => (
            RowChange::Flag("pause_requested", true),
            ControlAsked::Flagged,
        ),
        JobStatus::Paused => (RowChange::Nothing, ControlAsked::Now(status)),
        ended => (RowChange::Nothing, ControlAsked::Refused(ended)),
    }
}

/// What a resume does to a job in `status` (a pause not acted on yet is withdrawn).
pub(crate) fn resume_change(status: JobStatus) -> (RowChange, ControlAsked) {
    match status {
        JobStatus::Paused => (
            RowChange::Status(JobStatus::Queued),
            ControlAsked::Now(JobStatus::Queued),
        ),
        JobStatus::Running | JobStatus::Queued => (
            RowChange::Flag("pause_requested", false),
            ControlAsked::Now(status),
        ),
        ended => (RowChange::Nothing, ControlAsked::Refused(ended)),
    }
}

/// Where a job's circles are, as both backends read it, before its status is typed.
struct RawSource {
    status: String,
    live: Option<String>,
    progress: Option<String>,
    checkpoint: Option<String>,
}

/// The columns a [`RawSource`] is read from, in its order.
const SOURCE_COLUMNS: &str = "status, live, progress, checkpoint";

impl RawSource {
    fn typed(self) -> Result<CircleSource, StoreError> {
        Ok(CircleSource {
            status: self.status.parse().map_err(StoreError::Corrupt)?,
            live: self.live,
            progress: self.progress,
            checkpoint: self.checkpoint,
        })
    }
}

/// Status counts as read (`status`, count), typed, with every status present.
fn typed_counts(raw: Vec<(String, i64)>) -> Result<StatusCounts, StoreError> {
    let mut counts: StatusCounts = crate::model::JobStatus::ALL
        .into_iter()
        .map(|s| (s, 0))
        .collect();
    for (status, n) in raw {
        let status: crate::model::JobStatus = status.parse().map_err(StoreError::Corrupt)?;
        if let Some(c) = counts.iter_mut().find(|(s, _)| *s == status) {
            c.1 += n;
        }
    }
    Ok(counts)
}
