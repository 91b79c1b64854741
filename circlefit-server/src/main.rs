//! `circlefit-server`: fit jobs over HTTP, durable in SQLite, with a live web page.
//!
//! ```text
//! cargo run --release -p circlefit-server -- [--bind 127.0.0.1:8080] [--db PATH] [--workers N]
//!     [--token T] [--max-upload-bytes B] [--max-pixels P] [--max-circles K] [--queue Q]
//! ```

mod db;
mod job;
mod routes;
mod state;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;

/// Fit jobs over HTTP: upload an image, watch the circles arrive, download PNG, SVG or the
/// resumable JSON. State lives in SQLite; a killed server resumes its jobs on restart.
#[derive(Debug, Parser)]
#[command(name = "circlefit-server", version)]
struct Args {
    /// Address to listen on (loopback by default: closed to the network).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// The SQLite database file.
    #[arg(long, default_value = "circlefit.db")]
    db: String,
    /// Fits that run at once (default: the cores).
    #[arg(long)]
    workers: Option<usize>,
    /// Require `Authorization: Bearer TOKEN` on every API request.
    #[arg(long)]
    token: Option<String>,
    /// The largest request body.
    #[arg(long, default_value_t = 16 << 20)]
    max_upload_bytes: usize,
    /// The most pixels an uploaded image may declare (checked before decoding).
    #[arg(long, default_value_t = 1 << 20)]
    max_pixels: u64,
    /// The most circles a job may ask for.
    #[arg(long, default_value_t = 2000)]
    max_circles: usize,
    /// Jobs that may wait; beyond that, 429.
    #[arg(long, default_value_t = 64)]
    queue: i64,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match serve(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn serve(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let db = db::Db::open(&args.db)?;
    let requeued = db.requeue_running()?;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    let (events, _) = tokio::sync::broadcast::channel(1024);
    let shared = Arc::new(state::Shared {
        db,
        limits: state::Limits {
            max_upload_bytes: args.max_upload_bytes,
            max_pixels: args.max_pixels,
            max_circles: args.max_circles,
            queue: args.queue,
            token: args.token.clone(),
        },
        events,
        cancels: Mutex::new(Default::default()),
    });
    for _ in 0..workers {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || worker(&shared));
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.bind).await?;
        eprintln!(
            "circlefit-server on http://{} (db {}, {workers} workers, queue {}, max {} bytes / {} pixels / {} circles per job{}{})",
            listener.local_addr()?,
            args.db,
            args.queue,
            args.max_upload_bytes,
            args.max_pixels,
            args.max_circles,
            if args.token.is_some() { ", token required" } else { "" },
            if requeued > 0 { format!(", {requeued} interrupted jobs resumed") } else { String::new() },
        );
        axum::serve(listener, routes::router(shared))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

/// A worker: runs queued jobs one at a time, forever.
fn worker(shared: &state::Shared) {
    loop {
        match shared.db.claim() {
            Ok(Some(work)) => job::run(shared, work),
            Ok(None) => std::thread::sleep(Duration::from_millis(25)),
            Err(e) => {
                eprintln!("worker: {e}");
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }
}
