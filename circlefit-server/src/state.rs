//! What the handlers and the workers share.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::db::Db;

/// A server-sent event for one job.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) data: String,
}

/// The server's limits.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) max_upload_bytes: usize,
    pub(crate) max_pixels: u64,
    pub(crate) max_circles: usize,
    pub(crate) queue: i64,
    pub(crate) token: Option<String>,
}

/// The shared state.
pub(crate) struct Shared {
    pub(crate) db: Db,
    pub(crate) limits: Limits,
    pub(crate) events: tokio::sync::broadcast::Sender<Event>,
    pub(crate) cancels: Mutex<HashMap<i64, Arc<AtomicBool>>>,
}

impl Shared {
    /// Sends an event to every listener (none listening is fine).
    pub(crate) fn send(&self, e: Event) {
        let _ = self.events.send(e);
    }
}
