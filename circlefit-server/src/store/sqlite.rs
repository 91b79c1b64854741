//! The embedded backend: one SQLite file (WAL, synchronous writes). Several processes on one
//! file share it safely: every write takes SQLite's write lock first (`BEGIN IMMEDIATE`), and
//! claims go through the same leases as on PostgreSQL. Row changes are announced in-process
//! only; a server's event streams also re-read their job every second, which covers a job
//! another process on the same file runs.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::broadcast;

use super::{
    JobStore, ROW_COLUMNS, RawRow, RawSource, RowChange, SOURCE_COLUMNS, StoreError, Wake,
};
use crate::model::{
    CancelAsked, CircleSource, Claimed, ControlAsked, Finished, JobId, JobRow, JobStatus, Lease,
    LiveSaved, NewJob, Renewal, ResultFile, StageSaved, StatusCounts, now_ms,
};

/// The SQLite store.
pub(crate) struct SqliteStore {
    conn: Mutex<Connection>,
    wake: broadcast::Sender<Wake>,
}

/// Columns added since the first schema, with their definitions (added to older files).
const ADDED_COLUMNS: &[(&str, &str)] = &[
    ("lease", "INTEGER NOT NULL DEFAULT 0"),
    ("lease_until", "INTEGER NOT NULL DEFAULT 0"),
    ("worker", "TEXT"),
    ("attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("adopted", "INTEGER NOT NULL DEFAULT 0"),
    ("adoptions", "INTEGER NOT NULL DEFAULT 0"),
    ("cancel_requested", "INTEGER NOT NULL DEFAULT 0"),
    ("pause_requested", "INTEGER NOT NULL DEFAULT 0"),
    ("live", "TEXT"),
    ("history", "TEXT"),
];

impl SqliteStore {
    /// Opens (or creates) the store at `path`.
    pub(crate) fn open(path: &str) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS jobs (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 status TEXT NOT NULL,
                 image BLOB NOT NULL,
                 settings TEXT NOT NULL,
                 progress TEXT,
                 parent INTEGER,
                 circles INTEGER NOT NULL DEFAULT 0,
                 psnr REAL,
                 evaluations INTEGER NOT NULL DEFAULT 0,
                 error TEXT,
                 checkpoint TEXT,
                 png BLOB,
                 svg TEXT,
                 created INTEGER NOT NULL,
                 finished INTEGER
             );",
        )?;
        let have: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('jobs')")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for (name, definition) in ADDED_COLUMNS {
            if !have.iter().any(|h| h == name) {
                conn.execute_batch(&format!("ALTER TABLE jobs ADD COLUMN {name} {definition}"))?;
            }
        }
        conn.execute_batch("CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, id)")?;
        let (wake, _) = broadcast::channel(1024);
        Ok(Self {
            conn: Mutex::new(conn),
            wake,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in a write transaction (the file's write lock taken first, so two processes
    /// never act on the same snapshot), then announces `id`'s change.
    fn write<T>(
        &self,
        id: Option<JobId>,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        if let Some(id) = id {
            let _ = self.wake.send(Wake::Job(id));
        }
        Ok(value)
    }

    /// A fenced update: `sql` with `?1` = the job, `?2` = the lease generation.
    fn fenced(
        &self,
        lease: Lease,
        sql: &str,
        extra: &[&dyn rusqlite::ToSql],
    ) -> Result<(), StoreError> {
        self.write(Some(lease.job), |tx| {
            let mut values: Vec<&dyn rusqlite::ToSql> = vec![&lease.job.0, &lease.generation];
            values.extend_from_slice(extra);
            let changed = tx.execute(sql, values.as_slice())?;
            if changed == 1 {
                Ok(())
            } else {
                Err(StoreError::LeaseLost(lease.job))
            }
        })
    }

    /// Reads job `id`'s status, and writes the change `decide` makes of it in the same
    /// write transaction (announced); `decide`'s answer.
    fn control<T>(
        &self,
        id: JobId,
        decide: fn(JobStatus) -> (RowChange, T),
    ) -> Result<Option<T>, StoreError> {
        self.write(Some(id), |tx| {
            let status: Option<String> = tx
                .query_row("SELECT status FROM jobs WHERE id = ?1", [id.0], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(status) = status else {
                return Ok(None);
            };
            let (change, answer) = decide(status.parse().map_err(StoreError::Corrupt)?);
            match change {
                RowChange::Nothing => {}
                RowChange::Status(new) => {
                    let finished = new.is_terminal().then(now_ms);
                    tx.execute(
                        "UPDATE jobs SET status = ?2, finished = COALESCE(?3, finished) WHERE id = ?1",
                        params![id.0, new.as_str(), finished],
                    )?;
                }
                RowChange::Flag(column, value) => {
                    let sql = format!("UPDATE jobs SET {column} = ?2 WHERE id = ?1");
                    tx.execute(&sql, params![id.0, value])?;
                }
            }
            Ok(Some(answer))
        })
    }

    fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
        Ok(RawRow {
            id: r.get(0)?,
            status: r.get(1)?,
            circles: r.get(2)?,
            psnr: r.get(3)?,
            evaluations: r.get(4)?,
            settings: r.get(5)?,
            error: r.get(6)?,
            created: r.get(7)?,
            finished: r.get(8)?,
            parent: r.get(9)?,
            worker: r.get(10)?,
            attempts: r.get(11)?,
        })
    }
}

/// The fenced condition every worker write carries.
const HELD: &str = "id = ?1 AND lease = ?2 AND status = 'running'";

impl JobStore for SqliteStore {
    fn insert(&self, job: NewJob<'_>, queue_limit: i64) -> Result<JobId, StoreError> {
        let id = self.write(None, |tx| {
            let queued: i64 = tx.query_row(
                "SELECT COUNT(*) FROM jobs WHERE status = 'queued'",
                [],
                |r| r.get(0),
            )?;
            if queued >= queue_limit {
                return Err(StoreError::QueueFull(queue_limit));
            }
            tx.execute(
                "INSERT INTO jobs (status, image, settings, parent, created) VALUES ('queued', ?1, ?2, ?3, ?4)",
                params![job.image, job.settings, job.parent.map(|p| p.0), now_ms()],
            )?;
            Ok(JobId(tx.last_insert_rowid()))
        })?;
        let _ = self.wake.send(Wake::Job(id));
        Ok(id)
    }

    fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Claimed>, StoreError> {
        let now = now_ms();
        let until = now.saturating_add(lease.as_millis() as i64);
        let claimed = self.write(None, |tx| {
            let row: Option<(i64, i64, i64, bool)> = tx
                .query_row(
                    "UPDATE jobs SET status = 'running', lease = lease + 1, lease_until = ?2,
                         worker = ?3, attempts = attempts + 1, adopted = (status = 'running'),
                         adoptions = adoptions + (status = 'running')
                     WHERE id = (SELECT id FROM jobs WHERE status = 'queued'
                                 OR (status = 'running' AND lease_until < ?1) ORDER BY id LIMIT 1)
                     RETURNING id, lease, attempts, adopted",
                    params![now, until, worker],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((id, generation, attempts, adopted)) = row else {
                return Ok(None);
            };
            let claimed = tx.query_row(
                "SELECT j.image, j.settings, j.progress, p.checkpoint, j.history FROM jobs j LEFT JOIN jobs p ON p.id = j.parent WHERE j.id = ?1",
                [id],
                |r| {
                    Ok(Claimed {
                        lease: Lease { job: JobId(id), generation },
                        image: r.get(0)?,
                        settings: r.get(1)?,
                        progress: r.get(2)?,
                        parent_checkpoint: r.get(3)?,
                        history: r.get(4)?,
                        attempts,
                        adopted,
                    })
                },
            )?;
            Ok(Some(claimed))
        })?;
        if let Some(c) = &claimed {
            let _ = self.wake.send(Wake::Job(c.lease.job));
        }
        Ok(claimed)
    }

    fn renew(&self, lease: Lease, length: Duration) -> Result<Renewal, StoreError> {
        let until = now_ms().saturating_add(length.as_millis() as i64);
        // Not announced: a renewal changes nothing a client sees.
        let flags: Option<(bool, bool)> = self.write(None, |tx| {
            Ok(tx
                .query_row(
                    &format!(
                        "UPDATE jobs SET lease_until = ?3 WHERE {HELD} RETURNING cancel_requested, pause_requested"
                    ),
                    params![lease.job.0, lease.generation, until],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })?;
        Ok(
            flags.map_or(Renewal::Lost, |(cancel, pause)| Renewal::Held {
                cancel,
                pause,
            }),
        )
    }

    fn save_stage(&self, lease: Lease, s: &StageSaved<'_>) -> Result<(), StoreError> {
        self.fenced(
            lease,
            &format!("UPDATE jobs SET progress = ?3, circles = ?4, psnr = ?5, evaluations = ?6, history = ?7, live = NULL WHERE {HELD}"),
            params![s.progress, s.circles as i64, s.psnr.is_finite().then_some(s.psnr), s.evaluations as i64, s.history],
        )
    }

    fn save_live(&self, lease: Lease, s: &LiveSaved<'_>) -> Result<(), StoreError> {
        self.fenced(
            lease,
            &format!("UPDATE jobs SET live = ?3, psnr = ?4, evaluations = ?5 WHERE {HELD}"),
            params![
                s.circles,
                s.psnr.is_finite().then_some(s.psnr),
                s.evaluations as i64
            ],
        )
    }

    fn finish(&self, lease: Lease, f: &Finished<'_>) -> Result<(), StoreError> {
        self.fenced(
            lease,
            &format!(
                "UPDATE jobs SET status = ?3, checkpoint = ?4, png = ?5, svg = ?6, circles = ?7,
                     psnr = ?8, evaluations = ?9, error = NULL, finished = ?10, history = ?11,
                     live = NULL WHERE {HELD}"
            ),
            params![
                f.outcome.status().as_str(),
                f.checkpoint,
                f.png,
                f.svg,
                f.circles as i64,
                f.psnr,
                f.evaluations as i64,
                now_ms(),
                f.history
            ],
        )
    }

    fn fail(&self, lease: Lease, message: &str) -> Result<(), StoreError> {
        self.fenced(
            lease,
            &format!("UPDATE jobs SET status = 'failed', error = ?3, finished = ?4 WHERE {HELD}"),
            params![message, now_ms()],
        )
    }

    fn release(&self, lease: Lease) -> Result<(), StoreError> {
        self.fenced(
            lease,
            &format!("UPDATE jobs SET status = 'queued', lease_until = 0 WHERE {HELD}"),
            params![],
        )
    }

    fn pause(&self, lease: Lease) -> Result<(), StoreError> {
        self.fenced(
            lease,
            &format!(
                "UPDATE jobs SET status = 'paused', lease_until = 0, pause_requested = 0,
                     attempts = attempts - 1, live = NULL WHERE {HELD}"
            ),
            params![],
        )
    }

    fn request_pause(&self, id: JobId) -> Result<Option<ControlAsked>, StoreError> {
        self.control(id, super::pause_change)
    }

    fn request_resume(&self, id: JobId) -> Result<Option<ControlAsked>, StoreError> {
        self.control(id, super::resume_change)
    }

    fn request_cancel(&self, id: JobId) -> Result<Option<CancelAsked>, StoreError> {
        self.control(id, super::cancel_change)
    }

    fn get(&self, id: JobId) -> Result<Option<JobRow>, StoreError> {
        let raw = self
            .conn()
            .query_row(
                &format!("SELECT {ROW_COLUMNS} FROM jobs WHERE id = ?1"),
                [id.0],
                Self::raw,
            )
            .optional()?;
        raw.map(RawRow::typed).transpose()
    }

    fn list(&self) -> Result<Vec<JobRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {ROW_COLUMNS} FROM jobs ORDER BY id DESC"))?;
        let raws = stmt
            .query_map([], Self::raw)?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(RawRow::typed).collect()
    }

    fn result(&self, id: JobId, file: ResultFile) -> Result<Option<Vec<u8>>, StoreError> {
        let column = match file {
            ResultFile::Png => "png",
            ResultFile::Svg => "CAST(svg AS BLOB)",
            ResultFile::Checkpoint => "CAST(checkpoint AS BLOB)",
        };
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {column} FROM jobs WHERE id = ?1"),
                [id.0],
                |r| r.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()?
            .flatten())
    }

    fn circles(&self, id: JobId) -> Result<Option<CircleSource>, StoreError> {
        let raw = self
            .conn()
            .query_row(
                &format!("SELECT {SOURCE_COLUMNS} FROM jobs WHERE id = ?1"),
                [id.0],
                |r| {
                    Ok(RawSource {
                        status: r.get(0)?,
                        live: r.get(1)?,
                        progress: r.get(2)?,
                        checkpoint: r.get(3)?,
                    })
                },
            )
            .optional()?;
        raw.map(RawSource::typed).transpose()
    }

    fn history(&self, id: JobId) -> Result<Option<Option<String>>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT history FROM jobs WHERE id = ?1", [id.0], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn source(&self, id: JobId) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT image, settings FROM jobs WHERE id = ?1",
                [id.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn delete(&self, id: JobId) -> Result<bool, StoreError> {
        self.write(Some(id), |tx| {
            Ok(tx.execute(
                "DELETE FROM jobs WHERE id = ?1 AND status IN ('done', 'failed', 'cancelled')",
                [id.0],
            )? == 1)
        })
    }

    fn counts(&self) -> Result<(StatusCounts, i64), StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT status, COUNT(*) FROM jobs GROUP BY status")?;
        let raw = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let adoptions: i64 =
            conn.query_row("SELECT COALESCE(SUM(adoptions), 0) FROM jobs", [], |r| {
                r.get(0)
            })?;
        Ok((super::typed_counts(raw)?, adoptions))
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Wake> {
        self.wake.subscribe()
    }
}
