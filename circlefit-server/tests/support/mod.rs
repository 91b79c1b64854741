//! What the server tests share: starting server processes on either backend, a throwaway
//! PostgreSQL cluster (Debian's `postgresql` package, started by the tests themselves), and
//! small HTTP helpers.

#![allow(dead_code, unreachable_pub)]

/// Each test, once per backend (the test file imports `support::*`).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&super::Backend::sqlite(concat!("sqlite_", stringify!($name)))); })*
        }
        mod postgres {
            $(#[test] fn $name() {
                if let Some(b) = super::Backend::postgres(stringify!($name)) { super::$name(&b); }
            })*
        }
    };
}

pub mod netns;
pub mod pg;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TINY: &[u8] = include_bytes!("../../../assets/tiny_50.png");
pub const CAT: &[u8] = include_bytes!("../../../assets/chelsea_256.png");

/// A server process, killed when dropped; its stderr is kept for assertions.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// A handle for another thread: the same address, no process of its own.
    pub fn client(&self) -> Server {
        Server {
            child: Command::new("true").spawn().unwrap(),
            base: self.base.clone(),
            log: Arc::clone(&self.log),
        }
    }

    /// Sends `signal` (`TERM`, `STOP`, `CONT`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success(), "kill -s {signal}");
    }

    /// What the server printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Whether the server prints `needle` within `seconds` (its stderr is read by another
    /// thread, which may lag behind the process).
    pub fn logs_within(&self, needle: &str, seconds: u64) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(seconds) {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

pub fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("server")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Where a test's jobs live: a SQLite file or a database of the shared PostgreSQL cluster.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Backend {
    /// A fresh SQLite file for test `name`.
    pub fn sqlite(name: &str) -> Backend {
        Backend::Sqlite(tmp(name).join("db"))
    }

    /// A fresh database on the shared PostgreSQL cluster for test `name`, or `None` (the
    /// test is skipped, loudly) when PostgreSQL is not installed and
    /// `CIRCLEFIT_REQUIRE_POSTGRES` is not set.
    pub fn postgres(name: &str) -> Option<Backend> {
        pg::shared().map(|c| Backend::Postgres(c.database(name)))
    }

    /// Another fresh store of the same kind.
    pub fn fresh(&self, name: &str) -> Backend {
        match self {
            Backend::Sqlite(_) => Backend::sqlite(name),
            Backend::Postgres(_) => Backend::postgres(name).expect("postgres"),
        }
    }

    /// The `--db` value.
    pub fn arg(&self) -> String {
        match self {
            Backend::Sqlite(p) => p.to_str().unwrap().to_owned(),
            Backend::Postgres(url) => url.clone(),
        }
    }
}

/// Starts a server on `db` on a free loopback port with `args`, and waits until it listens.
pub fn start(db: &Backend, args: &[&str]) -> Server {
    start_with(&[], "127.0.0.1", &db.arg(), args)
}

/// Starts a server on `db` inside `ns` (a test host across a real network), on its
/// address there.
pub fn start_in(ns: &netns::Netns, db: &str, args: &[&str]) -> Server {
    start_with(&ns.exec(), &ns.guest, db, args)
}

fn start_with(prefix: &[String], host: &str, db: &str, args: &[&str]) -> Server {
    let server = env!("CARGO_BIN_EXE_circlefit-server").to_owned();
    let (program, first) = match prefix.split_first() {
        Some((p, rest)) => (p.clone(), rest.iter().cloned().chain([server]).collect()),
        None => (server, Vec::new()),
    };
    let mut child = Command::new(program)
        .args(first)
        .args(["--bind", &format!("{host}:0"), "--db", db])
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    err.read_line(&mut line).unwrap();
    let log = Arc::new(Mutex::new(line.clone()));
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for l in err.lines() {
            let Ok(l) = l else { break };
            sink.lock().unwrap().push_str(&l);
            sink.lock().unwrap().push('\n');
        }
    });
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("the server did not start: {line}"))
        .to_owned();
    Server {
        child,
        base: format!("http://{addr}"),
        log,
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// `(status, body)` of a request.
pub fn call(req: ureq::http::Response<ureq::Body>) -> (u16, Vec<u8>) {
    let status = req.status().as_u16();
    let mut body = Vec::new();
    req.into_body()
        .into_reader()
        .read_to_end(&mut body)
        .unwrap();
    (status, body)
}

pub fn get(s: &Server, path: &str) -> (u16, Vec<u8>) {
    call(agent().get(format!("{}{path}", s.base)).call().unwrap())
}

pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

/// A multipart body with the `image` file and optional `settings` JSON.
pub fn form(image: &[u8], settings: Option<&str>) -> (String, Vec<u8>) {
    let b = "circlefit-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{b}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    body.extend_from_slice(image);
    body.extend_from_slice(b"\r\n");
    if let Some(s) = settings {
        body.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"settings\"\r\n\r\n{s}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

pub fn submit(s: &Server, image: &[u8], settings: &str) -> (u16, serde_json::Value) {
    let (ct, body) = form(image, Some(settings));
    let (status, body) = call(
        agent()
            .post(format!("{}/api/v1/jobs", s.base))
            .header("Content-Type", &ct)
            .send(&body[..])
            .unwrap(),
    );
    (status, json(&body))
}

/// Submits and returns the new job's id (asserting 201).
pub fn submit_ok(s: &Server, image: &[u8], settings: &str) -> i64 {
    let (status, body) = submit(s, image, settings);
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

pub fn post(s: &Server, path: &str, body: &str) -> (u16, Vec<u8>) {
    call(
        agent()
            .post(format!("{}{path}", s.base))
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap(),
    )
}

/// A job's record.
pub fn job(s: &Server, id: i64) -> serde_json::Value {
    let (status, body) = get(s, &format!("/api/v1/jobs/{id}"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    json(&body)
}

/// Polls a job until it ends; its final record.
pub fn wait(s: &Server, id: i64) -> serde_json::Value {
    let t0 = Instant::now();
    loop {
        let job = job(s, id);
        if matches!(
            job["status"].as_str(),
            Some("done" | "failed" | "cancelled")
        ) {
            return job;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "job {id} never ended: {job}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls until `f` holds for the job's record (within 60 s).
pub fn wait_until(s: &Server, id: i64, what: &str, f: impl Fn(&serde_json::Value) -> bool) {
    let t0 = Instant::now();
    loop {
        let job = job(s, id);
        if f(&job) {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{what}: {job}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The circles of a job's result.
pub fn circles_of(s: &Server, id: i64) -> serde_json::Value {
    json(&get(s, &format!("/api/v1/jobs/{id}/result.json")).1)["circles"].clone()
}
