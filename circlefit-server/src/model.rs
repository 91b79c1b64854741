//! The job store's vocabulary: typed ids, statuses, outcomes, leases and rows, so no status
//! string is spelled anywhere but here.

use std::fmt;
use std::str::FromStr;

/// A job's id (the store's primary key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct JobId(pub(crate) i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for JobId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(JobId)
    }
}

impl serde::Serialize for JobId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// Held by a worker's lease (or left by one whose lease has expired).
    Running,
    /// Finished: every planned stage ran.
    Done,
    /// Ended with an error.
    Failed,
    /// Stopped by a cancel; its best so far is stored.
    Cancelled,
    /// Held back by a client: keeps its stage checkpoint and its place in the queue, and is
    /// claimed again only once resumed.
    Paused,
}

impl JobStatus {
    /// Every status, in the order the metrics list them.
    pub(crate) const ALL: [JobStatus; 6] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Done,
        JobStatus::Failed,
        JobStatus::Cancelled,
        JobStatus::Paused,
    ];

    /// The name stored and shown.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Paused => "paused",
        }
    }

    /// Whether the job has ended (nothing will change it again).
    pub(crate) fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Done | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown job status {s:?}"))
    }
}

impl serde::Serialize for JobStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How a fit that ran ended (a failure is stored with [`JobStore::fail`](crate::store::JobStore::fail)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every stage ran.
    Done,
    /// Stopped by a cancel, its best so far kept.
    Cancelled,
}

impl Outcome {
    /// The status the job ends in.
    pub(crate) fn status(self) -> JobStatus {
        match self {
            Outcome::Done => JobStatus::Done,
            Outcome::Cancelled => JobStatus::Cancelled,
        }
    }
}

/// A worker's hold on a running job. Every write the worker makes names the lease's
/// generation, which each claim raises: a worker whose lease was taken over (it was paused,
/// cut off or presumed dead) can no longer write — a fencing token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lease {
    /// The job held.
    pub(crate) job: JobId,
    /// The claim's generation.
    pub(crate) generation: i64,
}

/// What a lease renewal found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Renewal {
    /// Still ours, extended; `cancel` if a client asked the job to stop.
    Held {
        /// A cancel was requested (through any server).
        cancel: bool,
        /// A pause was requested (through any server).
        pause: bool,
    },
    /// Another worker holds the job now, or it ended: stop and write nothing.
    Lost,
}

/// A job's row, as the API shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct JobRow {
    pub(crate) id: JobId,
    pub(crate) status: JobStatus,
    pub(crate) circles: i64,
    pub(crate) psnr: Option<f64>,
    pub(crate) evaluations: i64,
    pub(crate) settings: serde_json::Value,
    pub(crate) error: Option<String>,
    pub(crate) created: i64,
    pub(crate) finished: Option<i64>,
    pub(crate) parent: Option<JobId>,
    /// The server whose worker holds (or last held) the job.
    pub(crate) worker: Option<String>,
    /// Claims so far (more than one: the job was adopted after its server was lost, or
    /// released by a graceful stop).
    pub(crate) attempts: i64,
}

/// What a worker needs to run a claimed job.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) lease: Lease,
    pub(crate) image: Vec<u8>,
    pub(crate) settings: String,
    /// The last stage checkpoint (see `job::StageCheckpoint`).
    pub(crate) progress: Option<String>,
    /// A finished parent's checkpoint (an extend job continues it).
    pub(crate) parent_checkpoint: Option<String>,
    /// The history so far (a JSON array of [`HistoryEntry`](crate::history::HistoryEntry)),
    /// which an earlier attempt wrote.
    pub(crate) history: Option<String>,
    /// Claims of this job so far, this one included.
    pub(crate) attempts: i64,
    /// The job was running under an expired lease when claimed (its server was lost).
    pub(crate) adopted: bool,
}

/// A stage checkpoint and the figures so far, written after every kept stage.
#[derive(Debug)]
pub(crate) struct StageSaved<'a> {
    pub(crate) progress: &'a str,
    /// The history with this stage's entry (a JSON array).
    pub(crate) history: &'a str,
    pub(crate) circles: usize,
    pub(crate) psnr: f64,
    pub(crate) evaluations: u64,
}

/// A job's results, written once with its end.
#[derive(Debug)]
pub(crate) struct Finished<'a> {
    pub(crate) outcome: Outcome,
    pub(crate) checkpoint: &'a str,
    pub(crate) png: &'a [u8],
    pub(crate) svg: &'a str,
    /// The whole history (a JSON array).
    pub(crate) history: &'a str,
    pub(crate) circles: usize,
    pub(crate) psnr: Option<f64>,
    pub(crate) evaluations: u64,
}

/// The circles as they stand while polishing or refining (between stage checkpoints), and
/// the figures with them: what a live view draws. Not a resume point.
#[derive(Debug)]
pub(crate) struct LiveSaved<'a> {
    /// The circles, as [`circlefit::checkpoint::exact_bits`] writes them (a JSON array).
    pub(crate) circles: &'a str,
    pub(crate) psnr: f64,
    pub(crate) evaluations: u64,
}

/// Where a job's current circles are stored, as read in one go.
#[derive(Debug)]
pub(crate) struct CircleSource {
    pub(crate) status: JobStatus,
    /// Circles written while polishing or refining ([`LiveSaved::circles`]).
    pub(crate) live: Option<String>,
    /// The last stage checkpoint (`fit::StageCheckpoint`).
    pub(crate) progress: Option<String>,
    /// The result checkpoint of an ended job.
    pub(crate) checkpoint: Option<String>,
}

/// A new job.
#[derive(Debug)]
pub(crate) struct NewJob<'a> {
    pub(crate) image: &'a [u8],
    pub(crate) settings: &'a str,
    pub(crate) parent: Option<JobId>,
}

/// A finished job's downloadable files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResultFile {
    Png,
    Svg,
    Checkpoint,
}

/// What a cancel request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CancelAsked {
    /// It was queued: now cancelled.
    Cancelled,
    /// It is running: the flag is set; its worker stops at its next lease renewal.
    Flagged,
    /// It had already ended (or does not exist: `None` from the store).
    Ended(JobStatus),
}

/// What a pause or resume request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ControlAsked {
    /// Done at once: the job's status is now this one.
    Now(JobStatus),
    /// The job runs: the flag is set; its worker acts at its next lease renewal.
    Flagged,
    /// Not possible in the job's status (it has ended).
    Refused(JobStatus),
}

/// Jobs per status, over the whole store.
pub(crate) type StatusCounts = Vec<(JobStatus, i64)>;

/// Milliseconds since the Unix epoch, on this machine's clock.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
