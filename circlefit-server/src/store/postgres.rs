//! The cluster backend: one PostgreSQL database shared by any number of servers.
//!
//! Claims are `FOR UPDATE SKIP LOCKED` (two servers never take one job), leases are timed by
//! the database's clock (servers' clocks may disagree), every worker write is fenced by the
//! lease generation, and every visible change is announced with `pg_notify` on the
//! `circlefit_jobs` channel, which a listener thread per server turns into [`Wake`]s. Lost
//! connections are dropped and re-opened on the next call (a restarted database costs the
//! calls in flight, not the server).

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use postgres::{Client, Config, NoTls, Transaction};
use tokio::sync::broadcast;

use super::{
    JobStore, ROW_COLUMNS, RawRow, RawSource, RowChange, SOURCE_COLUMNS, StoreError, Wake,
};
use crate::model::{
    CancelAsked, CircleSource, Claimed, ControlAsked, Finished, JobId, JobRow, JobStatus, Lease,
    LiveSaved, NewJob, Renewal, ResultFile, StageSaved, StatusCounts,
};

/// The database's clock in milliseconds since the epoch: every server's leases are timed by
/// the one clock they share.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// The notification channel.
const CHANNEL: &str = "circlefit_jobs";

/// The fenced condition every worker write carries.
const HELD: &str = "id = $1 AND lease = $2 AND status = 'running'";

/// Serialises schema creation and queue-limit checks across servers.
const SCHEMA_LOCK: i64 = 0x0c1c_1e0f_0001;
const QUEUE_LOCK: i64 = 0x0c1c_1e0f_0002;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS circlefit_jobs (
        id BIGSERIAL PRIMARY KEY,
        status TEXT NOT NULL,
        image BYTEA NOT NULL,
        settings TEXT NOT NULL,
        progress TEXT,
        parent BIGINT,
        circles BIGINT NOT NULL DEFAULT 0,
        psnr DOUBLE PRECISION,
        evaluations BIGINT NOT NULL DEFAULT 0,
        error TEXT,
        checkpoint TEXT,
        png BYTEA,
        svg TEXT,
        created BIGINT NOT NULL,
        finished BIGINT,
        lease BIGINT NOT NULL DEFAULT 0,
        lease_until BIGINT NOT NULL DEFAULT 0,
        worker TEXT,
        attempts BIGINT NOT NULL DEFAULT 0,
        adopted BOOLEAN NOT NULL DEFAULT FALSE,
        adoptions BIGINT NOT NULL DEFAULT 0,
        cancel_requested BOOLEAN NOT NULL DEFAULT FALSE
    );
    ALTER TABLE circlefit_jobs ADD COLUMN IF NOT EXISTS pause_requested BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE circlefit_jobs ADD COLUMN IF NOT EXISTS live TEXT;
    ALTER TABLE circlefit_jobs ADD COLUMN IF NOT EXISTS history TEXT;
    CREATE INDEX IF NOT EXISTS circlefit_jobs_status ON circlefit_jobs (status, id);";

/// The most connections one server opens for its calls (the listener has one more).
pub(crate) const MAX_CONNECTIONS: usize = 8;

/// The PostgreSQL store: a bounded pool of connections and a listener thread.
pub(crate) struct PgStore {
    config: Config,
    pool: Mutex<Pool>,
    freed: Condvar,
    wake: broadcast::Sender<Wake>,
}

/// Connections not in use, and how many are open in all.
struct Pool {
    idle: Vec<Client>,
    open: usize,
}

impl PgStore {
    /// Connects to `url`, creates the schema if missing and starts the listener.
    pub(crate) fn connect(url: &str) -> Result<Self, StoreError> {
        let mut config: Config = url.parse()?;
        // A silent network loss (a partition, a dead host) fails a call within about ten
        // seconds instead of TCP's minutes, so renewals notice and the pool reconnects.
        config
            .connect_timeout(Duration::from_secs(5))
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(2))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(10))
            // A server paused (SIGSTOP, a frozen VM) inside one of its short transactions
            // would hold its job's row lock, and claims skip locked rows: the database ends
            // such a session after 5 s so the job can be adopted. Our statements never wait
            // long on a lock or run long.
            .options("-c idle_in_transaction_session_timeout=5000 -c lock_timeout=5000 -c statement_timeout=30000")
            .application_name("circlefit-server");
        let mut client = config.connect(NoTls)?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
        tx.batch_execute(SCHEMA)?;
        tx.commit()?;
        let (wake, _) = broadcast::channel(1024);
        let listener = (config.clone(), wake.clone());
        std::thread::Builder::new()
            .name("pg-listen".into())
            .spawn(move || listen(&listener.0, &listener.1))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the listener: {e}")))?;
        Ok(Self {
            config,
            pool: Mutex::new(Pool {
                idle: vec![client],
                open: 1,
            }),
            freed: Condvar::new(),
            wake,
        })
    }

    /// Reads job `id`'s status (locking its row), and writes the change `decide` makes of
    /// it in the same transaction (announced); `decide`'s answer.
    fn control<T>(
        &self,
        id: JobId,
        decide: fn(JobStatus) -> (RowChange, T),
    ) -> Result<Option<T>, StoreError> {
        // `with` retries a call once on a fresh connection when it found one closed.
        self.with(|c| {
            let mut tx = c.transaction()?;
            let row = tx.query_opt(
                "SELECT status FROM circlefit_jobs WHERE id = $1 FOR UPDATE",
                &[&id.0],
            )?;
            let Some(row) = row else { return Ok(None) };
            let status: String = row.try_get(0)?;
            let (change, answer) = decide(status.parse().map_err(StoreError::Corrupt)?);
            match change {
                RowChange::Nothing => {}
                RowChange::Status(new) => {
                    tx.execute(
                        &format!(
                            "UPDATE circlefit_jobs SET status = $2,
                                 finished = CASE WHEN $3 THEN {NOW_MS} ELSE finished END
                             WHERE id = $1"
                        ),
                        &[&id.0, &new.as_str(), &new.is_terminal()],
                    )?;
                }
                RowChange::Flag(column, value) => {
                    let sql = format!("UPDATE circlefit_jobs SET {column} = $2 WHERE id = $1");
                    tx.execute(&sql, &[&id.0, &value])?;
                }
            }
            notify(&mut tx, id)?;
            tx.commit()?;
            Ok(Some(answer))
        })
    }

    /// An idle connection (`true`: it was used before), a new one while fewer than
    /// [`MAX_CONNECTIONS`] are open, else waits for one to be freed.
    fn acquire(&self) -> Result<(Client, bool), StoreError> {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(c) = pool.idle.pop() {
                return Ok((c, true));
            }
            if pool.open < MAX_CONNECTIONS {
                pool.open += 1;
                drop(pool);
                return self.config.connect(NoTls).map(|c| (c, false)).map_err(|e| {
                    self.closed();
                    e.into()
                });
            }
            pool = self
                .freed
                .wait(pool)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Gives a connection back (a broken one is dropped).
    fn give_back(&self, client: Client) {
        if client.is_closed() {
            self.closed();
        } else {
            let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
            pool.idle.push(client);
            self.freed.notify_one();
        }
    }

    fn closed(&self) {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        pool.open -= 1;
        self.freed.notify_one();
    }

    /// Runs `f` on a pooled connection. A connection found broken is dropped; when a reused
    /// one fails that way (the database restarted since), `f` runs once more on a new one.
    fn with<T>(
        &self,
        mut f: impl FnMut(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let (mut client, reused) = self.acquire()?;
        let mut result = f(&mut client);
        if result.is_err() && client.is_closed() && reused {
            self.give_back(client);
            (client, _) = self.acquire()?;
            result = f(&mut client);
        }
        self.give_back(client);
        result
    }

    /// A fenced update in a transaction, announced on success.
    fn fenced(
        &self,
        lease: Lease,
        sql: &str,
        extra: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<(), StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let mut values: Vec<&(dyn postgres::types::ToSql + Sync)> =
                vec![&lease.job.0, &lease.generation];
            values.extend_from_slice(extra);
            if tx.execute(sql, &values)? != 1 {
                return Err(StoreError::LeaseLost(lease.job));
            }
            notify(&mut tx, lease.job)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn raw(r: &postgres::Row) -> Result<RawRow, postgres::Error> {
        Ok(RawRow {
            id: r.try_get(0)?,
            status: r.try_get(1)?,
            circles: r.try_get(2)?,
            psnr: r.try_get(3)?,
            evaluations: r.try_get(4)?,
            settings: r.try_get(5)?,
            error: r.try_get(6)?,
            created: r.try_get(7)?,
            finished: r.try_get(8)?,
            parent: r.try_get(9)?,
            worker: r.try_get(10)?,
            attempts: r.try_get(11)?,
        })
    }
}

fn notify(tx: &mut Transaction<'_>, id: JobId) -> Result<(), postgres::Error> {
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &id.to_string()])
        .map(drop)
}

/// The listener: `LISTEN` on a connection of its own, each notification a [`Wake`]; on a
/// lost connection it reconnects (backing off to 2 s) and announces [`Wake::All`], since
/// announcements may have been missed meanwhile.
fn listen(config: &Config, wake: &broadcast::Sender<Wake>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut client = match config.connect(NoTls) {
            Ok(c) => c,
            Err(_) => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        if client.batch_execute(&format!("LISTEN {CHANNEL}")).is_err() {
            continue;
        }
        backoff = Duration::from_millis(100);
        let _ = wake.send(Wake::All);
        loop {
            if !forward(&mut client, wake) {
                break;
            }
            // Quiet for a while: check the connection is alive (a silent network loss).
            if client.is_valid(Duration::from_secs(2)).is_err() {
                break;
            }
        }
    }
}

/// Forwards notifications until two quiet seconds pass; `false` if the connection failed.
fn forward(client: &mut Client, wake: &broadcast::Sender<Wake>) -> bool {
    use postgres::fallible_iterator::FallibleIterator;
    let mut notes = client.notifications();
    let mut iter = notes.timeout_iter(Duration::from_secs(2));
    loop {
        match iter.next() {
            Ok(Some(n)) => {
                let _ = wake.send(n.payload().parse().map_or(Wake::All, Wake::Job));
            }
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

impl JobStore for PgStore {
    fn insert(&self, job: NewJob<'_>, queue_limit: i64) -> Result<JobId, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&QUEUE_LOCK])?;
            let queued: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM circlefit_jobs WHERE status = 'queued'",
                    &[],
                )?
                .try_get(0)?;
            if queued >= queue_limit {
                return Err(StoreError::QueueFull(queue_limit));
            }
            let id: i64 = tx
                .query_one(
                    &format!("INSERT INTO circlefit_jobs (status, image, settings, parent, created) VALUES ('queued', $1, $2, $3, {NOW_MS}) RETURNING id"),
                    &[&job.image, &job.settings, &job.parent.map(|p| p.0)],
                )?
                .try_get(0)?;
            notify(&mut tx, JobId(id))?;
            tx.commit()?;
            Ok(JobId(id))
        })
    }

    fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Claimed>, StoreError> {
        let length = lease.as_millis() as i64;
        self.with(|c| {
            let mut tx = c.transaction()?;
            let row = tx.query_opt(
                &format!(
                    "UPDATE circlefit_jobs j SET status = 'running', lease = j.lease + 1,
                         lease_until = {NOW_MS} + $2, worker = $1, attempts = j.attempts + 1,
                         adopted = (j.status = 'running'),
                         adoptions = j.adoptions + CASE WHEN j.status = 'running' THEN 1 ELSE 0 END
                     WHERE j.id = (SELECT id FROM circlefit_jobs WHERE status = 'queued'
                                   OR (status = 'running' AND lease_until < {NOW_MS})
                                   ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
                     RETURNING j.id, j.lease, j.attempts, j.adopted"
                ),
                &[&worker, &length],
            )?;
            let Some(row) = row else { return Ok(None) };
            let (id, generation, attempts, adopted): (i64, i64, i64, bool) = (
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
            );
            let details = tx.query_one(
                "SELECT j.image, j.settings, j.progress, p.checkpoint, j.history FROM circlefit_jobs j
                 LEFT JOIN circlefit_jobs p ON p.id = j.parent WHERE j.id = $1",
                &[&id],
            )?;
            notify(&mut tx, JobId(id))?;
            let claimed = Claimed {
                lease: Lease {
                    job: JobId(id),
                    generation,
                },
                image: details.try_get(0)?,
                settings: details.try_get(1)?,
                progress: details.try_get(2)?,
                parent_checkpoint: details.try_get(3)?,
                history: details.try_get(4)?,
                attempts,
                adopted,
            };
            tx.commit()?;
            Ok(Some(claimed))
        })
    }

    fn renew(&self, lease: Lease, length: Duration) -> Result<Renewal, StoreError> {
        let length = length.as_millis() as i64;
        self.with(|c| {
            let row = c.query_opt(
                &format!("UPDATE circlefit_jobs SET lease_until = {NOW_MS} + $3 WHERE {HELD} RETURNING cancel_requested, pause_requested"),
                &[&lease.job.0, &lease.generation, &length],
            )?;
            Ok(match row {
                Some(r) => Renewal::Held {
                    cancel: r.try_get(0)?,
                    pause: r.try_get(1)?,
                },
                None => Renewal::Lost,
            })
        })
    }

    fn save_stage(&self, lease: Lease, s: &StageSaved<'_>) -> Result<(), StoreError> {
        let psnr = s.psnr.is_finite().then_some(s.psnr);
        self.fenced(
            lease,
            &format!("UPDATE circlefit_jobs SET progress = $3, circles = $4, psnr = $5, evaluations = $6, history = $7, live = NULL WHERE {HELD}"),
            &[&s.progress, &(s.circles as i64), &psnr, &(s.evaluations as i64), &s.history],
        )
    }

    fn save_live(&self, lease: Lease, s: &LiveSaved<'_>) -> Result<(), StoreError> {
        let psnr = s.psnr.is_finite().then_some(s.psnr);
        self.fenced(
            lease,
            &format!(
                "UPDATE circlefit_jobs SET live = $3, psnr = $4, evaluations = $5 WHERE {HELD}"
            ),
            &[&s.circles, &psnr, &(s.evaluations as i64)],
        )
    }

    fn finish(&self, lease: Lease, f: &Finished<'_>) -> Result<(), StoreError> {
        self.fenced(
            lease,
            &format!(
                "UPDATE circlefit_jobs SET status = $3, checkpoint = $4, png = $5, svg = $6,
                     circles = $7, psnr = $8, evaluations = $9, error = NULL, finished = {NOW_MS},
                     history = $10, live = NULL
                 WHERE {HELD}"
            ),
            &[
                &f.outcome.status().as_str(),
                &f.checkpoint,
                &f.png,
                &f.svg,
                &(f.circles as i64),
                &f.psnr,
                &(f.evaluations as i64),
                &f.history,
            ],
        )
    }

    fn fail(&self, lease: Lease, message: &str) -> Result<(), StoreError> {
        self.fenced(
            lease,
            &format!("UPDATE circlefit_jobs SET status = 'failed', error = $3, finished = {NOW_MS} WHERE {HELD}"),
            &[&message],
        )
    }

    fn release(&self, lease: Lease) -> Result<(), StoreError> {
        self.fenced(
            lease,
            &format!("UPDATE circlefit_jobs SET status = 'queued', lease_until = 0 WHERE {HELD}"),
            &[],
        )
    }

    fn pause(&self, lease: Lease) -> Result<(), StoreError> {
        self.fenced(
            lease,
            &format!(
                "UPDATE circlefit_jobs SET status = 'paused', lease_until = 0,
                     pause_requested = FALSE, attempts = attempts - 1, live = NULL WHERE {HELD}"
            ),
            &[],
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

    fn circles(&self, id: JobId) -> Result<Option<CircleSource>, StoreError> {
        let raw = self.with(|c| {
            let row = c.query_opt(
                &format!("SELECT {SOURCE_COLUMNS} FROM circlefit_jobs WHERE id = $1"),
                &[&id.0],
            )?;
            Ok(match row {
                Some(r) => Some(RawSource {
                    status: r.try_get(0)?,
                    live: r.try_get(1)?,
                    progress: r.try_get(2)?,
                    checkpoint: r.try_get(3)?,
                }),
                None => None,
            })
        })?;
        raw.map(RawSource::typed).transpose()
    }

    fn history(&self, id: JobId) -> Result<Option<Option<String>>, StoreError> {
        self.with(|c| {
            let row = c.query_opt("SELECT history FROM circlefit_jobs WHERE id = $1", &[&id.0])?;
            Ok(match row {
                Some(r) => Some(r.try_get(0)?),
                None => None,
            })
        })
    }

    fn get(&self, id: JobId) -> Result<Option<JobRow>, StoreError> {
        let raw = self.with(|c| {
            let row = c.query_opt(
                &format!("SELECT {ROW_COLUMNS} FROM circlefit_jobs WHERE id = $1"),
                &[&id.0],
            )?;
            Ok(row.as_ref().map(Self::raw).transpose()?)
        })?;
        raw.map(RawRow::typed).transpose()
    }

    fn list(&self) -> Result<Vec<JobRow>, StoreError> {
        let raws = self.with(|c| {
            let rows = c.query(
                &format!("SELECT {ROW_COLUMNS} FROM circlefit_jobs ORDER BY id DESC"),
                &[],
            )?;
            Ok(rows.iter().map(Self::raw).collect::<Result<Vec<_>, _>>()?)
        })?;
        raws.into_iter().map(RawRow::typed).collect()
    }

    fn result(&self, id: JobId, file: ResultFile) -> Result<Option<Vec<u8>>, StoreError> {
        let column = match file {
            ResultFile::Png => "png",
            ResultFile::Svg => "convert_to(svg, 'UTF8')",
            ResultFile::Checkpoint => "convert_to(checkpoint, 'UTF8')",
        };
        self.with(|c| {
            let row = c.query_opt(
                &format!("SELECT {column} FROM circlefit_jobs WHERE id = $1"),
                &[&id.0],
            )?;
            Ok(match row {
                Some(r) => r.try_get::<_, Option<Vec<u8>>>(0)?,
                None => None,
            })
        })
    }

    fn source(&self, id: JobId) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        self.with(|c| {
            let row = c.query_opt(
                "SELECT image, settings FROM circlefit_jobs WHERE id = $1",
                &[&id.0],
            )?;
            Ok(match row {
                Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
                None => None,
            })
        })
    }

    fn delete(&self, id: JobId) -> Result<bool, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "DELETE FROM circlefit_jobs WHERE id = $1 AND status IN ('done', 'failed', 'cancelled')",
                &[&id.0],
            )?;
            notify(&mut tx, id)?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn counts(&self) -> Result<(StatusCounts, i64), StoreError> {
        let (raw, adoptions) = self.with(|c| {
            let rows = c.query(
                "SELECT status, COUNT(*)::bigint FROM circlefit_jobs GROUP BY status",
                &[],
            )?;
            let raw = rows
                .iter()
                .map(|r| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, i64>(1)?)))
                .collect::<Result<Vec<_>, postgres::Error>>()?;
            let adoptions: i64 = c
                .query_one(
                    "SELECT COALESCE(SUM(adoptions), 0)::bigint FROM circlefit_jobs",
                    &[],
                )?
                .try_get(0)?;
            Ok((raw, adoptions))
        })?;
        Ok((super::typed_counts(raw)?, adoptions))
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| Ok(c.simple_query("SELECT 1").map(drop)?))
    }

    fn subscribe(&self) -> broadcast::Receiver<Wake> {
        self.wake.subscribe()
    }
}
