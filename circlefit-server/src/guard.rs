//! The request guards: the Host header must name this server (DNS rebinding), a browser's
//! Origin must be that host (cross-site requests), the token when one is set, and every
//! error answered as `{"error": …}` JSON whatever produced it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::routes::{ApiError, err};
use crate::state::Shared;

/// Whether `host` (a Host header value) is one this server answers to: an IP address (a
/// rebinding page cannot make a browser send one for its own name), `localhost`, or one of
/// `public` (a name matches any port; `name:port` just that one).
pub(crate) fn host_allowed(host: &str, public: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => {
            return v6
                .split(']')
                .next()
                .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok());
        }
        None => host.rsplit_once(':').map_or(host, |(n, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                n
            } else {
                host
            }
        }),
    };
    let name = name.to_ascii_lowercase();
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || public.iter().any(|p| {
            let p = p.to_ascii_lowercase();
            p == name || p == host.to_ascii_lowercase()
        })
}

/// Refuses a Host the server does not serve, and requests from another origin.
pub(crate) async fn same_origin(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let host = headers
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or("\u{fffd}"));
    if let Some(host) = host
        && !host_allowed(host, &s.limits.public_hosts)
    {
        return err(
            StatusCode::MISDIRECTED_REQUEST,
            format!("this server does not serve the host {host:?} (see --public-host)"),
        )
        .into_response();
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let origin_host = origin.split("://").nth(1).unwrap_or("");
        if Some(origin_host) != host {
            return err(
                StatusCode::FORBIDDEN,
                format!("requests from {origin} are refused"),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// With `--token`, every API request needs `Authorization: Bearer T` or, for the page's
/// event stream and downloads, `?access_token=T` (percent-encoded, as a browser writes it).
pub(crate) async fn token(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = &s.limits.token {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let query = request.uri().query().unwrap_or("");
        let in_query = form_urlencoded::parse(query.as_bytes())
            .any(|(k, v)| k == "access_token" && v == token.as_str());
        if bearer != Some(token.as_str()) && !in_query {
            return err(StatusCode::UNAUTHORIZED, "missing or wrong token").into_response();
        }
    }
    next.run(request).await
}

/// The largest error body rewritten as JSON (axum's own rejections are short).
const ERROR_BODY_LIMIT: usize = 64 << 10;

/// Turns any error response that is not JSON (an extractor's rejection, a body over the
/// limit, an unknown route) into `{"error": …}` with the same status.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), ERROR_BODY_LIMIT)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    ApiError::new(status, message).into_response()
}
