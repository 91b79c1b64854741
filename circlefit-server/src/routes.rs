//! The HTTP API: JSON everywhere, errors as `{"error": "..."}` with the right status. Every
//! call reaches the job store, so any server of a cluster answers for any job.

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::model::{CancelAsked, ControlAsked, JobId, JobRow, JobStatus, NewJob, ResultFile};
use crate::state::Shared;
use crate::store::{JobStore, StoreError};
use crate::views;
use circlefit::job::FitJob;

/// An API error: a status and a message, answered as `{"error": message}`.
#[derive(Debug)]
pub(crate) struct ApiError(StatusCode, String);

impl ApiError {
    /// An error with `status` and `message`.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self(status, message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({"error": self.1}))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::QueueFull(_) => err(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            e => err(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        }
    }
}

pub(crate) fn err(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError(status, message.into())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

pub(crate) type App = State<Arc<Shared>>;

/// Runs a blocking store call off the async threads.
pub(crate) async fn db<T: Send + 'static>(
    s: &Arc<Shared>,
    f: impl FnOnce(&dyn JobStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let s = Arc::clone(s);
    tokio::task::spawn_blocking(move || f(s.store.as_ref()))
        .await
        .map_err(internal)?
        .map_err(ApiError::from)
}

/// The router with every route, the limits and the guards.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/api/v1/jobs", post(create).get(list))
        .route("/api/v1/jobs/{id}", get(show).delete(remove))
        .route("/api/v1/jobs/{id}/events", get(crate::events::events))
        .route("/api/v1/jobs/{id}/cancel", post(cancel))
        .route("/api/v1/jobs/{id}/pause", post(pause))
        .route("/api/v1/jobs/{id}/resume", post(resume))
        .route("/api/v1/jobs/{id}/extend", post(extend))
        .route("/api/v1/jobs/{id}/history", get(views::history))
        .route("/api/v1/jobs/{id}/history.svg", get(views::history_svg))
        .route("/api/v1/jobs/{id}/circles", get(views::circles))
        .route("/api/v1/jobs/{id}/ref.png", get(views::reference))
        .route("/api/v1/jobs/{id}/diff.png", get(views::diff))
        .route("/api/v1/jobs/{id}/result.gif", get(views::gif))
        .route("/api/v1/jobs/{id}/report.html", get(views::report))
        .route("/api/v1/jobs/{id}/{file}", get(result))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            crate::guard::token,
        ))
        .layer(DefaultBodyLimit::max(shared.limits.max_upload_bytes));
    Router::new()
        .route("/", get(page))
        .route("/jobs/{id}", get(page))
        .route("/app.js", get(script))
        .route("/app.css", get(style))
        .route("/healthz", get(healthz))
        .merge(api)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            crate::guard::same_origin,
        ))
        .layer(middleware::from_fn(crate::guard::json_errors))
        .with_state(shared)
}

/// The page (one for the list and every job's deep link: the script reads the path).
async fn page() -> Html<&'static str> {
    Html(include_str!("page/index.html"))
}

async fn script() -> Response {
    let js = include_str!("page/app.js");
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        js,
    )
        .into_response()
}

async fn style() -> Response {
    let css = include_str!("page/app.css");
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], css).into_response()
}

/// 200 when the store answers, 503 otherwise.
async fn healthz(State(s): App) -> Result<Json<serde_json::Value>, ApiError> {
    db(&s, |st| st.ping()).await?;
    Ok(Json(serde_json::json!({"status": "ok", "server": s.name})))
}

async fn metrics(State(s): App) -> Result<Response, ApiError> {
    let (counts, adoptions) = db(&s, |st| st.counts()).await?;
    let text = s.metrics.render(&counts, adoptions, &s.name);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

fn rejected(status: StatusCode, text: String) -> ApiError {
    err(status, text)
}

/// Reads the multipart upload: the image bytes and the settings.
async fn upload(mut form: Multipart) -> Result<(Vec<u8>, FitJob), ApiError> {
    let (mut image, mut settings) = (None, FitJob::default());
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| rejected(e.status(), e.body_text()))?;
        let Some(field) = field else { break };
        match field.name() {
            Some("image") => {
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| rejected(e.status(), e.body_text()))?;
                image = Some(bytes.to_vec());
            }
            Some("settings") => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| rejected(e.status(), e.body_text()))?;
                settings = parse_settings(&text)?;
            }
            Some(other) => {
                return Err(err(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("unknown form field {other:?}"),
                ));
            }
            None => {}
        }
    }
    let image = image.ok_or_else(|| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the form needs an `image` file",
        )
    })?;
    Ok((image, settings))
}

/// Settings JSON: malformed → 400, wrong fields or types → 422 naming the field.
fn parse_settings(text: &str) -> Result<FitJob, ApiError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        err(
            StatusCode::BAD_REQUEST,
            format!("settings: malformed JSON: {e}"),
        )
    })?;
    serde_json::from_value(value.clone()).map_err(|e| {
        // Name the field: the first one that fails on its own.
        let field = value
            .as_object()
            .and_then(|o| {
                o.iter()
                    .find(|(k, v)| {
                        serde_json::from_value::<FitJob>(serde_json::json!({ k.as_str(): v }))
                            .is_err()
                    })
                    .map(|(k, _)| k.clone())
            })
            .unwrap_or_else(|| "settings".into());
        err(StatusCode::UNPROCESSABLE_ENTITY, format!("{field}: {e}"))
    })
}

/// Checks an upload against the limits (its header before decoding); its size.
fn check_image(s: &Shared, bytes: &[u8]) -> Result<(u32, u32), ApiError> {
    let (w, h) = circlefit::io::image_dimensions(bytes, "upload".as_ref())
        .map_err(|e| err(StatusCode::UNPROCESSABLE_ENTITY, format!("image: {e}")))?;
    if u64::from(w) * u64::from(h) > s.limits.max_pixels {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "image: {w}x{h} is more than --max-pixels {}",
                s.limits.max_pixels
            ),
        ));
    }
    // A header can lie: decode now, so a corrupt file is refused here, not in a worker.
    crate::fit::images(bytes)
        .map_err(|e| err(StatusCode::UNPROCESSABLE_ENTITY, format!("image: {e}")))?;
    Ok((w, h))
}

/// The settings as stored: every default written out, checked against the limits.
fn accept(s: &Shared, settings: &FitJob, (w, h): (u32, u32)) -> Result<String, ApiError> {
    let settings = crate::settings::accept(settings, &s.limits.job, w, h)
        .map_err(|e| err(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    serde_json::to_string(&settings).map_err(internal)
}

async fn create(
    State(s): App,
    form: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let form = form.map_err(|e| rejected(e.status(), e.body_text()))?;
    let (image, settings) = upload(form).await?;
    let size = check_image(&s, &image)?;
    // Stored with every default written out, so a restart, another server or an
    // extension runs what was accepted.
    let text = accept(&s, &settings, size)?;
    let id = insert(&s, image, text, None).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"id": id, "status": JobStatus::Queued})),
    ))
}

/// Queues a job (`429` when the queue is full).
async fn insert(
    s: &Arc<Shared>,
    image: Vec<u8>,
    settings: String,
    parent: Option<JobId>,
) -> Result<JobId, ApiError> {
    let queue = s.limits.queue;
    db(s, move |st| {
        let job = NewJob {
            image: &image,
            settings: &settings,
            parent,
        };
        st.insert(job, queue)
    })
    .await
}

async fn list(State(s): App) -> Result<Json<Vec<JobRow>>, ApiError> {
    Ok(Json(db(&s, |st| st.list()).await?))
}

/// A job id from the path (anything else is an unknown job: 404).
pub(crate) fn job_id(id: &str) -> Result<JobId, ApiError> {
    id.parse()
        .map_err(|_| err(StatusCode::NOT_FOUND, format!("no job {id}")))
}

/// A job's row, or 404.
pub(crate) async fn row(s: &Arc<Shared>, id: JobId) -> Result<JobRow, ApiError> {
    db(s, move |st| st.get(id))
        .await?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no job {id}")))
}

async fn show(State(s): App, Path(id): Path<String>) -> Result<Json<JobRow>, ApiError> {
    let id = job_id(&id)?;
    Ok(Json(row(&s, id).await?))
}

async fn result(
    State(s): App,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    let (file, mime) = match file.as_str() {
        "result.png" => (ResultFile::Png, "image/png"),
        "result.svg" => (ResultFile::Svg, "image/svg+xml"),
        "result.json" => (ResultFile::Checkpoint, "application/json"),
        _ => return Err(err(StatusCode::NOT_FOUND, format!("no such file {file:?}"))),
    };
    let bytes = ended_result(&s, id, file).await?;
    Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response())
}

/// A result file of job `id`, which must have ended (409 before).
pub(crate) async fn ended_result(
    s: &Arc<Shared>,
    id: JobId,
    file: ResultFile,
) -> Result<Vec<u8>, ApiError> {
    let row = row(s, id).await?;
    let ended = matches!(row.status, JobStatus::Done | JobStatus::Cancelled);
    match db(s, move |st| st.result(id, file)).await? {
        Some(bytes) if ended => Ok(bytes),
        _ => Err(err(
            StatusCode::CONFLICT,
            format!("job {id} is {}: no result yet", row.status),
        )),
    }
}

async fn cancel(
    State(s): App,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = job_id(&id)?;
    match db(&s, move |st| st.request_cancel(id)).await? {
        None => Err(err(StatusCode::NOT_FOUND, format!("no job {id}"))),
        Some(CancelAsked::Cancelled) => Ok(Json(
            serde_json::json!({"id": id, "status": JobStatus::Cancelled}),
        )),
        Some(CancelAsked::Flagged) => {
            Ok(Json(serde_json::json!({"id": id, "status": "cancelling"})))
        }
        Some(CancelAsked::Ended(status)) => {
            Err(err(StatusCode::CONFLICT, format!("job {id} is {status}")))
        }
    }
}

/// `POST …/pause`: a queued job is paused at once (it keeps its place), a running one at
/// its worker's next lease renewal (it keeps its last stage checkpoint).
async fn pause(State(s): App, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let id = job_id(&id)?;
    control(id, db(&s, move |st| st.request_pause(id)).await?, "pausing")
}

/// `POST …/resume`: a paused job is queued again in its old place (a pause not yet acted
/// on is withdrawn).
async fn resume(
    State(s): App,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = job_id(&id)?;
    control(
        id,
        db(&s, move |st| st.request_resume(id)).await?,
        "running",
    )
}

/// The answer to a pause or resume: the status now (`flagged` when a worker acts on it).
fn control(
    id: JobId,
    asked: Option<ControlAsked>,
    flagged: &str,
) -> Result<Json<serde_json::Value>, ApiError> {
    match asked {
        None => Err(err(StatusCode::NOT_FOUND, format!("no job {id}"))),
        Some(ControlAsked::Now(status)) => {
            Ok(Json(serde_json::json!({"id": id, "status": status})))
        }
        Some(ControlAsked::Flagged) => Ok(Json(serde_json::json!({"id": id, "status": flagged}))),
        Some(ControlAsked::Refused(status)) => {
            Err(err(StatusCode::CONFLICT, format!("job {id} is {status}")))
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Extend {
    circles: usize,
}

async fn extend(
    State(s): App,
    Path(id): Path<String>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = job_id(&id)?;
    let body = body.map_err(|e| rejected(e.status(), e.body_text()))?;
    let parent = row(&s, id).await?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| err(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")))?;
    let Extend { circles } = serde_json::from_value(value)
        .map_err(|e| err(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    if parent.status != JobStatus::Done {
        return Err(err(
            StatusCode::CONFLICT,
            format!(
                "job {id} is {}: only a finished job can be extended",
                parent.status
            ),
        ));
    }
    let (image, settings) = db(&s, move |st| st.source(id))
        .await?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    let stored: FitJob = serde_json::from_str(&settings).map_err(internal)?;
    let settings = crate::settings::with_legacy_defaults(stored);
    if settings.mode == Some(circlefit::job::Mode::Joint) {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "mode: a joint fit has one stage and cannot be extended",
        ));
    }
    // The upload was checked when the parent was accepted: its declared size is enough.
    let size = circlefit::io::image_dimensions(&image, "upload".as_ref()).map_err(internal)?;
    // The parent's settings as it ran them (older jobs stored only what the client gave:
    // a batch size that defaulted to its circle count must stay that size here).
    let ran: FitJob = serde_json::from_str(&accept(&s, &settings, size)?).map_err(internal)?;
    if circles < ran.circles.unwrap_or(0) {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "circles: an extend asks for at least the circles the job has",
        ));
    }
    let child = FitJob {
        circles: Some(circles),
        ..ran
    };
    let text = accept(&s, &child, size)?;
    let new = insert(&s, image, text, Some(id)).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"id": new, "status": JobStatus::Queued, "parent": id})),
    ))
}

async fn remove(State(s): App, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id = job_id(&id)?;
    let row = row(&s, id).await?;
    if db(&s, move |st| st.delete(id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(err(
            StatusCode::CONFLICT,
            format!(
                "job {id} is {}: only a finished job can be deleted",
                row.status
            ),
        ))
    }
}
