//! The HTTP API: JSON everywhere, errors as `{"error": "..."}` with the right status.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{DefaultBodyLimit, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream};

use crate::job::JobSettings;
use crate::state::Shared;

/// An API error.
pub(crate) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({"error": self.1}))).into_response()
    }
}

fn err(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError(status, message.into())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

type App = State<Arc<Shared>>;

/// The router with every route, the limits and the guards.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/api/v1/jobs", post(create).get(list))
        .route("/api/v1/jobs/{id}", get(show).delete(remove))
        .route("/api/v1/jobs/{id}/events", get(events))
        .route("/api/v1/jobs/{id}/cancel", post(cancel))
        .route("/api/v1/jobs/{id}/extend", post(extend))
        .route("/api/v1/jobs/{id}/{file}", get(result))
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), guard))
        .layer(DefaultBodyLimit::max(shared.limits.max_upload_bytes));
    Router::new()
        .route("/", get(page))
        .merge(api)
        .layer(middleware::from_fn(same_origin))
        .with_state(shared)
}

/// Refuses requests from another origin (a browser page elsewhere cannot drive the API).
async fn same_origin(headers: HeaderMap, request: Request, next: Next) -> Response {
    if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        let origin = origin.to_str().unwrap_or("");
        let host = host.to_str().unwrap_or("");
        let origin_host = origin.split("://").nth(1).unwrap_or("");
        if origin_host != host {
            return err(
                StatusCode::FORBIDDEN,
                format!("requests from {origin} are refused"),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// With `--token`, every API request needs `Authorization: Bearer T` (or `?access_token=T`,
/// for the page's event stream and downloads).
async fn guard(State(s): App, headers: HeaderMap, request: Request, next: Next) -> Response {
    if let Some(token) = &s.limits.token {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let query = request.uri().query().unwrap_or("");
        let in_query = query
            .split('&')
            .any(|kv| kv.strip_prefix("access_token=") == Some(token.as_str()));
        if bearer != Some(token.as_str()) && !in_query {
            return err(StatusCode::UNAUTHORIZED, "missing or wrong token").into_response();
        }
    }
    next.run(request).await
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

/// Reads the multipart upload: the image bytes and the settings.
async fn upload(mut form: Multipart) -> Result<(Vec<u8>, JobSettings), ApiError> {
    let (mut image, mut settings) = (None, JobSettings::default());
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| err(e.status(), e.body_text()))?;
        let Some(field) = field else { break };
        match field.name() {
            Some("image") => {
                image = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|e| err(e.status(), e.body_text()))?
                        .to_vec(),
                );
            }
            Some("settings") => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| err(e.status(), e.body_text()))?;
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
fn parse_settings(text: &str) -> Result<JobSettings, ApiError> {
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
                        serde_json::from_value::<JobSettings>(serde_json::json!({ k.as_str(): v }))
                            .is_err()
                    })
                    .map(|(k, _)| k.clone())
            })
            .unwrap_or_else(|| "settings".into());
        err(StatusCode::UNPROCESSABLE_ENTITY, format!("{field}: {e}"))
    })
}

/// Checks an upload's header against the limits, without decoding it.
fn check_image(s: &Shared, bytes: &[u8]) -> Result<(), ApiError> {
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
    crate::job::images(bytes)
        .map_err(|e| err(StatusCode::UNPROCESSABLE_ENTITY, format!("image: {e}")))?;
    Ok(())
}

fn queue_room(s: &Shared) -> Result<(), ApiError> {
    if s.db.queued().map_err(internal)? >= s.limits.queue {
        return Err(err(
            StatusCode::TOO_MANY_REQUESTS,
            format!("the queue is full ({} jobs wait)", s.limits.queue),
        ));
    }
    Ok(())
}

async fn create(
    State(s): App,
    form: Multipart,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let (image, mut settings) = upload(form).await?;
    check_image(&s, &image)?;
    // Stored with the job, so a restart or an extension keeps the edges it was fitted with.
    settings
        .edges
        .get_or_insert_with(|| crate::job::DEFAULT_EDGES.name().into());
    settings
        .seed_scales
        .get_or_insert_with(|| "multi_scale".into());
    settings.climbs.get_or_insert(crate::job::DEFAULT_CLIMBS);
    settings.build(s.limits.max_circles).map_err(|e| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{}: {}", e.field, e.message),
        )
    })?;
    queue_room(&s)?;
    let text = serde_json::to_string(&settings).map_err(internal)?;
    let id = s.db.insert(&image, &text, None).map_err(internal)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"id": id, "status": "queued"})),
    ))
}

async fn list(State(s): App) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        serde_json::to_value(s.db.list().map_err(internal)?).map_err(internal)?,
    ))
}

fn job_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| err(StatusCode::NOT_FOUND, format!("no job {id}")))
}

async fn show(State(s): App, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let id = job_id(&id)?;
    let row =
        s.db.get(id)
            .map_err(internal)?
            .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    Ok(Json(serde_json::to_value(row).map_err(internal)?))
}

async fn result(
    State(s): App,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    let (column, mime) = match file.as_str() {
        "result.png" => ("png", "image/png"),
        "result.svg" => ("svg", "image/svg+xml"),
        "result.json" => ("checkpoint", "application/json"),
        _ => return Err(err(StatusCode::NOT_FOUND, format!("no such file {file:?}"))),
    };
    let row =
        s.db.get(id)
            .map_err(internal)?
            .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    match s.db.result(id, column).map_err(internal)? {
        Some(bytes) if row.status == "done" || row.status == "cancelled" => {
            Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response())
        }
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
    let row =
        s.db.get(id)
            .map_err(internal)?
            .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    if s.db.cancel_queued(id).map_err(internal)? {
        s.send(crate::state::Event {
            id,
            name: "cancelled".into(),
            data: "{}".into(),
        });
    } else if let Some(flag) = s
        .cancels
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&id)
    {
        flag.store(true, Ordering::Relaxed);
    } else if row.status != "running" {
        return Err(err(
            StatusCode::CONFLICT,
            format!("job {id} is {}", row.status),
        ));
    }
    Ok(Json(serde_json::json!({"id": id, "status": "cancelling"})))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Extend {
    circles: usize,
}

async fn extend(
    State(s): App,
    Path(id): Path<String>,
    body: String,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = job_id(&id)?;
    let row =
        s.db.get(id)
            .map_err(internal)?
            .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    let value: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| err(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")))?;
    let Extend { circles } = serde_json::from_value(value)
        .map_err(|e| err(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    if row.status != "done" {
        return Err(err(
            StatusCode::CONFLICT,
            format!(
                "job {id} is {}: only a finished job can be extended",
                row.status
            ),
        ));
    }
    let (image, settings) =
        s.db.source(id)
            .map_err(internal)?
            .ok_or_else(|| err(StatusCode::NOT_FOUND, "gone"))?;
    let mut settings: JobSettings = serde_json::from_str(&settings).map_err(internal)?;
    if settings.mode.as_deref() == Some("joint") {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "mode: a joint fit has one stage and cannot be extended",
        ));
    }
    if circles < settings.circles.unwrap_or(50) {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "circles: an extend asks for at least the circles the job has",
        ));
    }
    settings.circles = Some(circles);
    settings.build(s.limits.max_circles).map_err(|e| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{}: {}", e.field, e.message),
        )
    })?;
    queue_room(&s)?;
    let text = serde_json::to_string(&settings).map_err(internal)?;
    let new = s.db.insert(&image, &text, Some(id)).map_err(internal)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"id": new, "status": "queued", "parent": id})),
    ))
}

async fn remove(State(s): App, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id = job_id(&id)?;
    let row =
        s.db.get(id)
            .map_err(internal)?
            .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    if s.db.delete(id).map_err(internal)? {
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

fn terminal(status: &str) -> bool {
    matches!(status, "done" | "failed" | "cancelled")
}

/// `progress` events per kept stage, then one `done`, `failed` or `cancelled`, then the end.
async fn events(
    State(s): App,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let id = job_id(&id)?;
    // Subscribe before reading the status, so an end in between is not missed.
    let rx = s.events.subscribe();
    let row =
        s.db.get(id)
            .map_err(internal)?
            .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    let first = terminal(&row.status).then(|| {
        SseEvent::default()
            .event(row.status.clone())
            .data(serde_json::to_string(&row).unwrap_or_default())
    });
    let stream = stream::unfold(
        (rx, first, false),
        move |(mut rx, first, ended)| async move {
            if ended {
                return None;
            }
            if let Some(e) = first {
                return Some((Ok(e), (rx, None, true)));
            }
            loop {
                match rx.recv().await {
                    Ok(e) if e.id == id => {
                        let end = terminal(&e.name);
                        let event = SseEvent::default().event(e.name).data(e.data);
                        return Some((Ok(event), (rx, None, end)));
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
