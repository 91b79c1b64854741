//! Views of a job besides its stored result files: its history (JSON and a chart), its
//! current circles for a live page, the reference and error map, an animated GIF of the
//! result and a self-contained report. All are derived on request from what the store
//! holds, through any server.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use circlefit::prelude::*;

use crate::history::{self, HistoryEntry};
use circlefit::animation::MAX_GIF_SIDE;

use crate::live::{Frame, Live};
use crate::model::{JobId, JobRow, JobStatus, ResultFile};
use crate::routes::{ApiError, App, db, ended_result, err, job_id, row};
use crate::state::Shared;

fn internal(e: impl std::fmt::Display) -> ApiError {
    err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Runs `f` on a blocking thread (decoding, drawing, encoding).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(internal)?
        .map_err(internal)
}

/// A job's upload and stored settings, or 404.
async fn source(s: &Arc<Shared>, id: JobId) -> Result<(Vec<u8>, String), ApiError> {
    db(s, move |st| st.source(id))
        .await?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no job {id}")))
}

/// A job's history entries, or 404.
async fn entries(s: &Arc<Shared>, id: JobId) -> Result<Vec<HistoryEntry>, ApiError> {
    let stored = db(s, move |st| st.history(id))
        .await?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    Ok(history::entries(stored.as_deref()))
}

/// `GET …/history`: one entry per kept stage (circles, cost, psnr, evaluations, seconds),
/// and one for the end.
pub(crate) async fn history(
    State(s): App,
    Path(id): Path<String>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    Ok(Json(entries(&s, job_id(&id)?).await?))
}

/// `GET …/history.svg`: the history as a chart.
pub(crate) async fn history_svg(
    State(s): App,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let svg = crate::chart::history_svg(&entries(&s, job_id(&id)?).await?);
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// The query of `GET …/circles`.
#[derive(serde::Deserialize)]
pub(crate) struct Since {
    since: Option<usize>,
}

/// A job's circles now and their frame, or 404.
async fn current(s: &Arc<Shared>, id: JobId) -> Result<Live, ApiError> {
    db(s, move |st| crate::live::load(st, id, None))
        .await?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no job {id}")))
}

/// `GET …/circles?since=K`: the job's circles from index `K` on, as the page draws them,
/// with the frame they sit on and their count (for a page that reconnects).
pub(crate) async fn circles(
    State(s): App,
    Path(id): Path<String>,
    since: Result<Query<Since>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = job_id(&id)?;
    let Query(Since { since }) = since.map_err(|e| err(StatusCode::BAD_REQUEST, e.body_text()))?;
    let since = since.unwrap_or(0);
    let live = current(&s, id).await?;
    let drawn = live.frame.draw(live.circles.get(since..).unwrap_or(&[]));
    Ok(Json(serde_json::json!({
        "id": id,
        "status": live.status,
        "count": live.circles.len(),
        "since": since,
        "frame": live.frame,
        "circles": drawn,
    })))
}

/// The reference as the fit sees it (the upload, decoded), as PNG.
fn ref_png(upload: &[u8]) -> Result<Vec<u8>, String> {
    let (reference, _) = crate::fit::images(upload)?;
    circlefit::io::encode_png(reference.as_ref()).map_err(|e| e.to_string())
}

/// The per-pixel error of `result` (a PNG) against the upload, through viridis on a fixed
/// scale, as the CLI's `--diff` draws it.
fn diff_png(upload: &[u8], result: &[u8]) -> Result<Vec<u8>, String> {
    let (reference, _) = crate::fit::images(upload)?;
    let fitted =
        circlefit::io::decode_image(result, "result.png".as_ref()).map_err(|e| e.to_string())?;
    let map = circlefit::diagnostics::diff_heatmap(fitted.as_ref(), reference.as_ref())
        .map_err(|e| e.to_string())?;
    circlefit::io::encode_png(map.as_ref()).map_err(|e| e.to_string())
}

fn png(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "image/png")], bytes).into_response()
}

/// `GET …/ref.png`: the reference as the fit sees it (any time).
pub(crate) async fn reference(State(s): App, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (upload, _) = source(&s, job_id(&id)?).await?;
    Ok(png(blocking(move || ref_png(&upload)).await?))
}

/// `GET …/diff.png`: the result's error map (once the job has ended; 409 before).
pub(crate) async fn diff(State(s): App, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    let result = ended_result(&s, id, ResultFile::Png).await?;
    let (upload, _) = source(&s, id).await?;
    Ok(png(blocking(move || diff_png(&upload, &result)).await?))
}

/// `GET …/result.gif`: the result forming, at most
/// [`MAX_GIF_FRAMES`](circlefit::animation::MAX_GIF_FRAMES) + 1 frames of at most
/// [`MAX_GIF_SIDE`] px (once the job has ended; 409 before).
pub(crate) async fn gif(State(s): App, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    let live = current(&s, id).await?;
    // Only an ended job has a result: the same 409 as the other result files.
    if !matches!(live.status, JobStatus::Done | JobStatus::Cancelled) {
        let status = live.status;
        return Err(err(
            StatusCode::CONFLICT,
            format!("job {id} is {status}: no result yet"),
        ));
    }
    let bytes = blocking(move || animate(live.frame, &live.circles)).await?;
    Ok(([(header::CONTENT_TYPE, "image/gif")], bytes).into_response())
}

/// The animation of `circles` over their frame's base, each frame drawn on the last (the
/// circles are composited in order, so this is the prefix drawn afresh).
fn animate(frame: Frame, circles: &[Circle]) -> Result<Vec<u8>, String> {
    let [r, g, b] = frame.background;
    let mut canvas =
        Canvas::filled(frame.width, frame.height, [r, g, b, 255]).map_err(|e| e.to_string())?;
    let mut renderer = CpuRenderer::with_edges(frame.edges);
    let mut drawn = 0;
    let long = frame.width.max(frame.height);
    let (w, h) = if long > MAX_GIF_SIDE {
        let scale = |v: u32| (u64::from(v) * u64::from(MAX_GIF_SIDE) / u64::from(long)).max(1);
        (scale(frame.width) as u32, scale(frame.height) as u32)
    } else {
        (frame.width, frame.height)
    };
    circlefit::animation::encode_gif(circles, |shown| -> Result<Canvas, circlefit::Error> {
        let Ok(()) = renderer.draw(canvas.as_mut(), &shown[drawn..]);
        drawn = shown.len();
        if (w, h) == (frame.width, frame.height) {
            return Ok(canvas.clone());
        }
        let img = circlefit::image::RgbaImage::from(canvas.as_ref());
        let filter = circlefit::image::imageops::FilterType::Triangle;
        let small = circlefit::image::imageops::resize(&img, w, h, filter);
        Ok(Canvas::from_vec(w, h, small.into_raw())?)
    })
    .map_err(|e| e.to_string())
}

/// `GET …/report.html`: one self-contained file (reference, result, error map, settings,
/// history) that can be mailed (once the job has ended; 409 before).
pub(crate) async fn report(State(s): App, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    let result = ended_result(&s, id, ResultFile::Png).await?;
    let row: JobRow = row(&s, id).await?;
    let history = entries(&s, id).await?;
    let (upload, _) = source(&s, id).await?;
    let html = blocking(move || {
        let pictures = crate::report::Pictures {
            reference: ref_png(&upload)?,
            diff: diff_png(&upload, &result)?,
            result,
        };
        Ok(crate::report::html(&row, &history, &pictures))
    })
    .await?;
    let disposition = format!("inline; filename=\"circlefit-{id}-report.html\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        html,
    )
        .into_response())
}
