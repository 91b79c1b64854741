//! The job store: one SQLite file holding every job, its image, settings, checkpoints and
//! results, so nothing is lost when the process stops.

use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

/// A job's row, as the API shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct JobRow {
    pub(crate) id: i64,
    pub(crate) status: String,
    pub(crate) circles: i64,
    pub(crate) psnr: Option<f64>,
    pub(crate) evaluations: i64,
    pub(crate) settings: serde_json::Value,
    pub(crate) error: Option<String>,
    pub(crate) created: i64,
    pub(crate) finished: Option<i64>,
    pub(crate) parent: Option<i64>,
}

/// What a worker needs to run a job.
pub(crate) struct JobWork {
    pub(crate) id: i64,
    pub(crate) image: Vec<u8>,
    pub(crate) settings: String,
    /// The last stage checkpoint: `{"stages_done": n, "exact": [...]}`.
    pub(crate) progress: Option<String>,
    /// A finished parent's checkpoint (an extend job continues it).
    pub(crate) parent_checkpoint: Option<String>,
}

/// The store, shared by the handlers and the workers.
pub(crate) struct Db {
    conn: Mutex<Connection>,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Db {
    /// Opens (or creates) the store at `path`.
    pub(crate) fn open(path: &str) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
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
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Jobs a killed server left running go back to the queue (they resume from their last
    /// checkpoint). Returns how many.
    pub(crate) fn requeue_running(&self) -> rusqlite::Result<usize> {
        self.conn().execute(
            "UPDATE jobs SET status = 'queued' WHERE status = 'running'",
            [],
        )
    }

    /// Jobs waiting.
    pub(crate) fn queued(&self) -> rusqlite::Result<i64> {
        self.conn().query_row(
            "SELECT COUNT(*) FROM jobs WHERE status = 'queued'",
            [],
            |r| r.get(0),
        )
    }

    /// A new queued job.
    pub(crate) fn insert(
        &self,
        image: &[u8],
        settings: &str,
        parent: Option<i64>,
    ) -> rusqlite::Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO jobs (status, image, settings, parent, created) VALUES ('queued', ?1, ?2, ?3, ?4)",
            params![image, settings, parent, now()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Takes the oldest queued job and marks it running (atomically: no job runs twice).
    pub(crate) fn claim(&self) -> rusqlite::Result<Option<JobWork>> {
        let conn = self.conn();
        let id: Option<i64> = conn
            .query_row(
                "UPDATE jobs SET status = 'running' WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1) RETURNING id",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else { return Ok(None) };
        conn.query_row(
            "SELECT j.image, j.settings, j.progress, p.checkpoint FROM jobs j LEFT JOIN jobs p ON p.id = j.parent WHERE j.id = ?1",
            [id],
            |r| {
                Ok(JobWork {
                    id,
                    image: r.get(0)?,
                    settings: r.get(1)?,
                    progress: r.get(2)?,
                    parent_checkpoint: r.get(3)?,
                })
            },
        )
        .map(Some)
    }

    /// Commits a stage checkpoint and the figures so far.
    pub(crate) fn save_progress(
        &self,
        id: i64,
        progress: &str,
        circles: usize,
        psnr: f64,
        evaluations: u64,
    ) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE jobs SET progress = ?2, circles = ?3, psnr = ?4, evaluations = ?5 WHERE id = ?1",
            params![id, progress, circles as i64, psnr.is_finite().then_some(psnr), evaluations as i64],
        )?;
        Ok(())
    }

    /// Stores a job's end: its status, result files and figures.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish(
        &self,
        id: i64,
        status: &str,
        checkpoint: Option<&str>,
        png: Option<&[u8]>,
        svg: Option<&str>,
        circles: usize,
        psnr: Option<f64>,
        evaluations: u64,
        error: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE jobs SET status = ?2, checkpoint = ?3, png = ?4, svg = ?5, circles = ?6, psnr = ?7, evaluations = ?8, error = ?9, finished = ?10 WHERE id = ?1",
            params![id, status, checkpoint, png, svg, circles as i64, psnr, evaluations as i64, error, now()],
        )?;
        Ok(())
    }

    /// Marks a queued job cancelled; `false` if it was not queued.
    pub(crate) fn cancel_queued(&self, id: i64) -> rusqlite::Result<bool> {
        Ok(self.conn().execute(
            "UPDATE jobs SET status = 'cancelled', finished = ?2 WHERE id = ?1 AND status = 'queued'",
            params![id, now()],
        )? == 1)
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
        let settings: String = r.get(5)?;
        Ok(JobRow {
            id: r.get(0)?,
            status: r.get(1)?,
            circles: r.get(2)?,
            psnr: r.get(3)?,
            evaluations: r.get(4)?,
            settings: serde_json::from_str(&settings).unwrap_or(serde_json::Value::Null),
            error: r.get(6)?,
            created: r.get(7)?,
            finished: r.get(8)?,
            parent: r.get(9)?,
        })
    }

    const COLUMNS: &'static str =
        "id, status, circles, psnr, evaluations, settings, error, created, finished, parent";

    /// One job.
    pub(crate) fn get(&self, id: i64) -> rusqlite::Result<Option<JobRow>> {
        self.conn()
            .query_row(
                &format!("SELECT {} FROM jobs WHERE id = ?1", Self::COLUMNS),
                [id],
                Self::row,
            )
            .optional()
    }

    /// All jobs, newest first.
    pub(crate) fn list(&self) -> rusqlite::Result<Vec<JobRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM jobs ORDER BY id DESC",
            Self::COLUMNS
        ))?;
        let rows = stmt.query_map([], Self::row)?;
        rows.collect()
    }

    /// A finished job's result file: `png`, `svg` or `checkpoint`.
    pub(crate) fn result(&self, id: i64, column: &str) -> rusqlite::Result<Option<Vec<u8>>> {
        let column = match column {
            "png" => "png",
            "svg" => "CAST(svg AS BLOB)",
            _ => "CAST(checkpoint AS BLOB)",
        };
        self.conn()
            .query_row(
                &format!("SELECT {column} FROM jobs WHERE id = ?1"),
                [id],
                |r| r.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()
            .map(Option::flatten)
    }

    /// The image and settings of a job (for an extend).
    pub(crate) fn source(&self, id: i64) -> rusqlite::Result<Option<(Vec<u8>, String)>> {
        self.conn()
            .query_row(
                "SELECT image, settings FROM jobs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
    }

    /// Deletes a finished job; `false` if it does not exist or is not finished.
    pub(crate) fn delete(&self, id: i64) -> rusqlite::Result<bool> {
        Ok(self.conn().execute(
            "DELETE FROM jobs WHERE id = ?1 AND status IN ('done', 'failed', 'cancelled')",
            [id],
        )? == 1)
    }
}
