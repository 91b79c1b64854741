//! What the handlers and the workers share.

use crate::metrics::Metrics;
use crate::settings::JobLimits;
use crate::store::JobStore;
use crate::worker::Running;

/// The server's limits and access rules.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) max_upload_bytes: usize,
    pub(crate) max_pixels: u64,
    pub(crate) job: JobLimits,
    pub(crate) queue: i64,
    pub(crate) token: Option<String>,
    /// Host names (optionally with a port) the server answers to besides IP addresses and
    /// `localhost`: what a DNS-rebinding page cannot forge.
    pub(crate) public_hosts: Vec<String>,
}

/// The shared state.
pub(crate) struct Shared {
    pub(crate) store: Box<dyn JobStore>,
    pub(crate) limits: Limits,
    pub(crate) running: Running,
    pub(crate) metrics: Metrics,
    /// This server's name (`--name`).
    pub(crate) name: String,
}
