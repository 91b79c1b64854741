//! The HTTP listener: axum's router on hyper's HTTP/1 connections, with the timeouts a public
//! server needs that `axum::serve` does not expose — a slow client's headers (a connection
//! that never finishes them is closed) and request bodies — and a bounded graceful end.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// How long a client may take.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    /// To send a request's headers (from the connection's start or the previous request).
    pub(crate) header: Duration,
    /// Between two pieces of a request's body.
    pub(crate) body: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests end for
/// at most five seconds (event streams are cut then).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let service = ServiceBuilder::new()
        .layer(RequestBodyTimeoutLayer::new(timeouts.body))
        .service(app);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let socket = match accepted {
                    Ok((socket, _)) => socket,
                    Err(e) => {
                        // Out of file descriptors, say: wait instead of spinning.
                        crate::log!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(timeouts.header)
                    .serve_connection(TokioIo::new(socket), TowerToHyperService::new(service.clone()));
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(5)) => {}
    }
}
