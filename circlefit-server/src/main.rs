//! `circlefit-server`: fit jobs over HTTP with a live web page; one server on an embedded
//! SQLite file, or any number of servers sharing one PostgreSQL database.
//!
//! ```text
//! cargo run --release -p circlefit-server -- [--bind 127.0.0.1:8080] [--db PATH | --db postgres://…]
//!     [--name N] [--workers N] [--token T] [--public-host NAME]… [--lease-seconds S] …
//! ```

/// A line on stderr; a closed stderr (a supervisor that stopped reading) is not an error.
#[macro_export]
macro_rules! log {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

mod chart;
mod events;
mod fit;
mod guard;
mod history;
mod http;
mod live;
mod metrics;
mod model;
mod report;
mod routes;
mod settings;
mod state;
mod store;
mod views;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

/// Fit jobs over HTTP: upload an image, watch the circles arrive, download PNG, SVG or the
/// resumable JSON. Jobs live in SQLite (one machine) or PostgreSQL (a cluster: start any
/// number of servers on one database); a server that dies loses nothing — its jobs move to a
/// live server when their lease expires and continue from their last stage checkpoint.
#[derive(Debug, Parser)]
#[command(name = "circlefit-server", version)]
struct Args {
    /// Address to listen on (loopback by default: closed to the network).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// The job store: a SQLite file, or a `postgres://user@host:port/dbname` URL.
    #[arg(long, default_value = "circlefit.db")]
    db: String,
    /// This server's name, recorded with the jobs it runs (default: host name and process id).
    #[arg(long)]
    name: Option<String>,
    /// Fits that run at once (default: the cores; 0: serve the API only).
    #[arg(long)]
    workers: Option<usize>,
    /// Require `Authorization: Bearer TOKEN` on every API request.
    #[arg(long)]
    token: Option<String>,
    /// A host name (optionally `name:port`) clients reach this server by, besides IP
    /// addresses and localhost (repeatable; needed behind a proxy or a DNS name).
    #[arg(long = "public-host")]
    public_hosts: Vec<String>,
    /// The largest request body.
    #[arg(long, default_value_t = 16 << 20)]
    max_upload_bytes: usize,
    /// The most pixels an uploaded image may declare (checked before decoding).
    #[arg(long, default_value_t = 1 << 20)]
    max_pixels: u64,
    /// The most circles a job may ask for.
    #[arg(long, default_value_t = 2000)]
    max_circles: usize,
    /// The largest Mayfly population (per sex) a job may ask for.
    #[arg(long, default_value_t = 500)]
    max_pop: usize,
    /// The most Mayfly iterations per search a job may ask for.
    #[arg(long, default_value_t = 10_000)]
    max_iters: u64,
    /// The most working memory one job's fit may need, in MiB (estimated before it is
    /// accepted: image buffers plus Mayfly's population).
    #[arg(long, default_value_t = 1024)]
    max_job_memory_mib: u64,
    /// Jobs that may wait (over every server of the store); beyond that, 429.
    #[arg(long, default_value_t = 64)]
    queue: i64,
    /// A job's lease: a server silent this long loses its running jobs to the others.
    #[arg(long, default_value_t = 10.0)]
    lease_seconds: f64,
    /// How often a running job's lease is renewed (and a cancel noticed).
    #[arg(long, default_value_t = 1.0)]
    renew_seconds: f64,
    /// A job claimed more often than this fails instead (it lost its server every time).
    #[arg(long, default_value_t = 5)]
    max_attempts: i64,
    /// Seconds a client may take to send a request's headers.
    #[arg(long, default_value_t = 10.0)]
    header_timeout_seconds: f64,
    /// Seconds a client may pause while sending a request's body.
    #[arg(long, default_value_t = 30.0)]
    body_timeout_seconds: f64,
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

fn seconds(flag: &str, s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("--{flag} {s}: must be a positive number of seconds"))
}

fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "server".into());
    format!("{host}-{}", std::process::id())
}

fn serve(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let lease = worker::LeaseSettings {
        name: args.name.clone().unwrap_or_else(default_name),
        length: seconds("lease-seconds", args.lease_seconds)?,
        renew: seconds("renew-seconds", args.renew_seconds)?,
        max_attempts: args.max_attempts.max(1),
    };
    if lease.renew >= lease.length {
        return Err("--renew-seconds must be shorter than --lease-seconds".into());
    }
    let timeouts = http::Timeouts {
        header: seconds("header-timeout-seconds", args.header_timeout_seconds)?,
        body: seconds("body-timeout-seconds", args.body_timeout_seconds)?,
    };
    let store = store::open(&args.db)?;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let shared = Arc::new(state::Shared {
        store,
        limits: state::Limits {
            max_upload_bytes: args.max_upload_bytes,
            max_pixels: args.max_pixels,
            job: settings::JobLimits {
                max_circles: args.max_circles,
                max_pop: args.max_pop,
                max_iters: args.max_iters,
                max_job_memory: args.max_job_memory_mib.saturating_mul(1 << 20),
            },
            queue: args.queue,
            token: args.token.clone(),
            public_hosts: args.public_hosts.clone(),
        },
        running: worker::Running::default(),
        metrics: metrics::Metrics::default(),
        name: lease.name.clone(),
    });
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let (shared, lease) = (Arc::clone(&shared), lease.clone());
            std::thread::spawn(move || {
                worker::work(
                    shared.store.as_ref(),
                    &lease,
                    &shared.running,
                    &shared.metrics,
                );
            })
        })
        .collect();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.bind).await?;
        log!(
            "circlefit-server on http://{} (name {}, db {}, {workers} workers, lease {:?}, queue {}, max {} bytes / {} pixels / {} circles per job{})",
            listener.local_addr()?,
            lease.name,
            store::display_name(&args.db),
            lease.length,
            args.queue,
            args.max_upload_bytes,
            args.max_pixels,
            args.max_circles,
            if args.token.is_some() { ", token required" } else { "" },
        );
        let app = routes::router(Arc::clone(&shared));
        // On the signal the fits are told at once to stop and give their jobs back; the
        // HTTP side then lets open requests end (up to five seconds) meanwhile.
        let running = Arc::clone(&shared);
        let stop = async move {
            stop_signal().await;
            running.running.stop_all();
        };
        http::serve(listener, app, timeouts, stop).await;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    // A graceful stop: no more claims; running fits stop at their next check and give
    // their jobs back (with their last stage checkpoint) for another server to continue.
    log!(
        "stopping: {} fits still giving their jobs back",
        shared.running.count()
    );
    shared.running.stop_all();
    for t in threads {
        let _ = t.join();
    }
    log!("stopped");
    Ok(())
}

/// SIGTERM (what service managers and container runtimes send) or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
