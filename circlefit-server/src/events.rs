//! `GET /api/v1/jobs/{id}/events`: server-sent events built from the job's row, re-read
//! when the store announces a change to it (from any server; at most every 100 ms) and at
//! least once a second.
//! A subscriber that falls behind skips intermediate figures but never the end: the last
//! event is always the row's terminal status.
//!
//! Every `progress` and terminal event carries `draw`: the circles that changed since the
//! stream's last event (new ones, and ones polishing or refinement moved), as
//! `{"count": N, "changes": [[index, circle], ...]}` with each circle as the SVG export
//! draws it ([`Drawn`]); a client sets each index and keeps the first `count`. A stream's
//! first such event carries every circle, so a page that reloads or reconnects rebuilds
//! its picture from it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast;

use crate::live::{Drawn, Frame};
use crate::model::{JobId, JobRow, JobStatus};
use crate::routes::{ApiError, App, db, job_id, row};
use crate::state::Shared;
use crate::store::Wake;

/// How often a stream re-reads its row without an announcement (a job another process on
/// the same SQLite file runs; an announcement lost while the store reconnected).
const POLL: Duration = Duration::from_secs(1);

/// The least time between two reads of one stream: a busy job changes every few
/// milliseconds, and a hundred streams on it must not read the store for every change; ten
/// reads a second still show a fast fit's picture growing a few circles at a time.
const MIN_GAP: Duration = Duration::from_millis(100);

struct Follow {
    shared: Arc<Shared>,
    id: JobId,
    wake: broadcast::Receiver<Wake>,
    /// The row read but not yet turned into an event.
    pending: Option<JobRow>,
    /// The figures of the last progress event sent.
    sent: Option<(i64, i64)>,
    /// The status of the last event sent.
    status: Option<JobStatus>,
    /// What the circles sit on (read with the first circles).
    frame: Option<Frame>,
    /// The circles as the client has drawn them from this stream's events.
    drawn: Vec<Drawn>,
    /// When the row was last read.
    read_at: tokio::time::Instant,
    ended: bool,
}

/// `progress` events per kept stage, then one `done`, `failed` or `cancelled`, then the end.
pub(crate) async fn events(
    State(s): App,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = job_id(&id)?;
    // Subscribe before reading the row, so a change in between is not missed.
    let wake = s.store.subscribe();
    let first = row(&s, id).await?;
    let follow = Follow {
        shared: s,
        id,
        wake,
        pending: Some(first),
        sent: None,
        status: None,
        frame: None,
        drawn: Vec::new(),
        read_at: tokio::time::Instant::now(),
        ended: false,
    };
    let stream = stream::unfold(follow, |mut f| async move {
        let event = next_event(&mut f).await?;
        Some((Ok(event), f))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The next event to send, or `None` when the stream ends (after the terminal event, or
/// when the job was deleted).
async fn next_event(f: &mut Follow) -> Option<Event> {
    if f.ended {
        return None;
    }
    loop {
        let row = match f.pending.take() {
            Some(row) => row,
            None => {
                wait_for_change(f).await;
                tokio::time::sleep_until(f.read_at + MIN_GAP).await;
                f.read_at = tokio::time::Instant::now();
                let id = f.id;
                match db(&f.shared, move |st| st.get(id)).await {
                    Ok(Some(row)) => row,
                    Ok(None) => return None,
                    // The store is unreachable for now: keep waiting.
                    Err(_) => continue,
                }
            }
        };
        if row.status.is_terminal() {
            f.ended = true;
            let mut data = serde_json::to_value(&row).unwrap_or_default();
            data["draw"] = draw(f).await;
            return Some(
                Event::default()
                    .event(row.status.as_str())
                    .data(data.to_string()),
            );
        }
        let figures = (row.circles, row.evaluations);
        if row.status == JobStatus::Running && row.evaluations > 0 && f.sent != Some(figures) {
            f.sent = Some(figures);
            f.status = Some(row.status);
            let data = serde_json::json!({
                "circles": row.circles,
                "psnr": row.psnr,
                "evaluations": row.evaluations,
                "worker": row.worker,
                "draw": draw(f).await,
            });
            return Some(Event::default().event("progress").data(data.to_string()));
        }
        if f.status != Some(row.status) {
            // Queued, paused, or running before its first stage: a `status` event.
            f.status = Some(row.status);
            let data = serde_json::to_string(&row).unwrap_or_default();
            return Some(Event::default().event("status").data(data));
        }
    }
}

/// The circles changed since the stream's last `draw` (see the module's notes). A read
/// that fails sends no changes; the next event catches up.
async fn draw(f: &mut Follow) -> serde_json::Value {
    let drawn = match current(f).await {
        Ok(drawn) => drawn,
        Err(e) => {
            crate::log!("job {}: the live circles could not be read: {e}", f.id);
            return serde_json::json!({"count": f.drawn.len(), "changes": []});
        }
    };
    let changes = crate::live::changes(&f.drawn, &drawn);
    let value = serde_json::json!({"count": drawn.len(), "changes": changes});
    f.drawn = drawn;
    value
}

/// The job's circles now, as drawn (the frame read once per stream).
async fn current(f: &mut Follow) -> Result<Vec<Drawn>, String> {
    let (id, frame) = (f.id, f.frame);
    let live = db(&f.shared, move |st| crate::live::load(st, id, frame))
        .await
        .map_err(|e| format!("{e:?}"))?
        .ok_or("the job is gone")?;
    f.frame = Some(live.frame);
    Ok(live.frame.draw(&live.circles))
}

/// Waits for an announcement about this job, or [`POLL`].
async fn wait_for_change(f: &mut Follow) {
    let id = f.id;
    let wake = &mut f.wake;
    let _ = tokio::time::timeout(POLL, async {
        loop {
            match wake.recv().await {
                Ok(w) if w.concerns(id) => return,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    })
    .await;
}
