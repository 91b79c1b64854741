//! The server, run as a process and driven over HTTP: the API, bad input, limits, the token,
//! the event stream, cancel and extend, durability across SIGKILL, and a load test.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TINY: &[u8] = include_bytes!("../../assets/tiny_50.png");
const CAT: &[u8] = include_bytes!("../../assets/chelsea_256.png");

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("server")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts the server on a free loopback port with `args`, and waits until it listens.
fn start(db: &Path, args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_circlefit-server"))
        .args(["--bind", "127.0.0.1:0", "--db", db.to_str().unwrap()])
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    err.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect(&line)
        .to_owned();
    Server {
        child,
        base: format!("http://{addr}"),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// `(status, body)` of a request.
fn call(req: ureq::http::Response<ureq::Body>) -> (u16, Vec<u8>) {
    let status = req.status().as_u16();
    let mut body = Vec::new();
    req.into_body()
        .into_reader()
        .read_to_end(&mut body)
        .unwrap();
    (status, body)
}

fn get(s: &Server, path: &str) -> (u16, Vec<u8>) {
    call(agent().get(format!("{}{path}", s.base)).call().unwrap())
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

/// A multipart body with the `image` file and optional `settings` JSON.
fn form(image: &[u8], settings: Option<&str>) -> (String, Vec<u8>) {
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

fn submit(s: &Server, image: &[u8], settings: &str) -> (u16, serde_json::Value) {
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

fn post(s: &Server, path: &str, body: &str) -> (u16, Vec<u8>) {
    call(
        agent()
            .post(format!("{}{path}", s.base))
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap(),
    )
}

/// Polls a job until it ends; its final record.
fn wait(s: &Server, id: i64) -> serde_json::Value {
    let t0 = Instant::now();
    loop {
        let (status, body) = get(s, &format!("/api/v1/jobs/{id}"));
        assert_eq!(status, 200);
        let job = json(&body);
        if matches!(
            job["status"].as_str(),
            Some("done" | "failed" | "cancelled")
        ) {
            return job;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "job {id} never ended: {job}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const QUICK: &str = r#"{"circles": 8, "iters": 5, "pop": 10, "polish": 1}"#;

#[test]
fn a_job_runs_and_its_results_download() {
    let d = tmp("api");
    let s = start(&d.join("db"), &["--workers", "1"]);
    let (status, body) = submit(&s, TINY, QUICK);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "queued");
    let id = body["id"].as_i64().unwrap();
    let job = wait(&s, id);
    assert_eq!(job["status"], "done", "{job}");
    assert!(job["circles"].as_i64().unwrap() > 0 && job["psnr"].as_f64().is_some());
    let (status, png) = get(&s, &format!("/api/v1/jobs/{id}/result.png"));
    assert_eq!((status, &png[1..4]), (200, &b"PNG"[..]));
    let (status, svg) = get(&s, &format!("/api/v1/jobs/{id}/result.svg"));
    assert!(status == 200 && svg.starts_with(b"<svg"));
    let (status, cp) = get(&s, &format!("/api/v1/jobs/{id}/result.json"));
    let cp = json(&cp);
    assert_eq!(
        (status, cp["format"].as_str()),
        (200, Some("circlefit-checkpoint"))
    );
    assert_eq!(
        cp["circles"].as_array().unwrap().len() as i64,
        job["circles"].as_i64().unwrap()
    );
    // Soft edges unless asked otherwise, saved with the job and its checkpoint; the PNG
    // is the soft render of the saved circles (hard edges would draw another).
    assert_eq!(cp["edges"], "soft");
    assert_eq!(job["settings"]["edges"], "soft", "{job}");
    assert_eq!(job["settings"]["seed_scales"], "multi_scale", "{job}");
    assert_eq!(cp["settings"]["seed_scales"], "multi_scale", "{cp}");
    // Two climbs per polished slot, stored with the job (older jobs without it had one).
    assert_eq!(job["settings"]["climbs"], 2, "{job}");
    assert_eq!(cp["settings"]["polish"]["climbs"], 2, "{cp}");
    let saved =
        circlefit::checkpoint::Checkpoint::from_json(&serde_json::to_string(&cp).unwrap()).unwrap();
    let [r, g, b] = saved.base_color.unwrap();
    let draw = |edges| {
        use circlefit::Renderer as _;
        let mut c = circlefit::Canvas::filled(saved.width, saved.height, [r, g, b, 255]).unwrap();
        circlefit::render::CpuRenderer::with_edges(edges)
            .draw(c.as_mut(), &saved.circles)
            .unwrap();
        circlefit::io::encode_png(c.as_ref()).unwrap()
    };
    assert_eq!(draw(circlefit::Edges::Soft), png);
    assert_ne!(draw(circlefit::Edges::Hard), png);
    // A second job: the list is newest first.
    let (_, second) = submit(&s, TINY, QUICK);
    let (_, list) = get(&s, "/api/v1/jobs");
    let list = json(&list);
    assert_eq!(list[0]["id"], second["id"]);
    wait(&s, second["id"].as_i64().unwrap());
    // Delete: gone afterwards.
    let r = call(
        agent()
            .delete(format!("{}/api/v1/jobs/{id}", s.base))
            .call()
            .unwrap(),
    );
    assert_eq!(r.0, 204);
    assert_eq!(get(&s, &format!("/api/v1/jobs/{id}")).0, 404);
    assert_eq!(get(&s, "/").0, 200);
}

#[test]
fn results_are_409_before_done_and_cancel_keeps_the_best_so_far() {
    let d = tmp("cancel");
    let s = start(&d.join("db"), &["--workers", "1"]);
    let (_, body) = submit(&s, CAT, r#"{"circles": 2000, "iters": 40, "pop": 20}"#);
    let id = body["id"].as_i64().unwrap();
    assert_eq!(get(&s, &format!("/api/v1/jobs/{id}/result.png")).0, 409);
    // Let it keep a few circles, then cancel.
    let t0 = Instant::now();
    while json(&get(&s, &format!("/api/v1/jobs/{id}")).1)["circles"]
        .as_i64()
        .unwrap()
        < 3
    {
        assert!(t0.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(post(&s, &format!("/api/v1/jobs/{id}/cancel"), "").0, 200);
    let job = wait(&s, id);
    assert_eq!(job["status"], "cancelled");
    assert!(job["circles"].as_i64().unwrap() >= 3);
    assert_eq!(get(&s, &format!("/api/v1/jobs/{id}/result.png")).0, 200);
}

#[test]
fn bad_input_gets_the_right_status_and_the_server_keeps_serving() {
    let d = tmp("bad");
    let s = start(
        &d.join("db"),
        &[
            "--workers",
            "1",
            "--max-upload-bytes",
            "200000",
            "--max-circles",
            "100",
        ],
    );
    let cases: &[(&[u8], &str, u16, &str)] = &[
        (b"not an image", QUICK, 422, "image"),
        (&TINY[..TINY.len() / 2], QUICK, 422, "image"),
        (TINY, r#"{"circles": 0}"#, 422, "circles"),
        (TINY, r#"{"circles": 101}"#, 422, "circles"),
        (TINY, r#"{"mode": "sideways"}"#, 422, "mode"),
        (TINY, r#"{"pop": 1}"#, 422, "males"),
        (TINY, r#"{"colour": "red"}"#, 422, "colour"),
        (TINY, r#"{"edges": "round"}"#, 422, "edges"),
        (TINY, r#"{"seed_scales": "huge"}"#, 422, "seed_scales"),
        (TINY, r#"{"searches": 65}"#, 422, "searches per stage"),
        (TINY, r#"{"climbs": 0}"#, 422, "polish climbs"),
        (TINY, r#"{"circles": "many"}"#, 422, "circles"),
        (TINY, r#"{"circles": "#, 400, "malformed"),
    ];
    for &(image, settings, want, names) in cases {
        let (status, body) = submit(&s, image, settings);
        assert_eq!(status, want, "{settings}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(names),
            "{settings}: {body}"
        );
    }
    // Too large a body.
    let (status, _) = submit(&s, &vec![0u8; 300_000], QUICK);
    assert_eq!(status, 413);
    // A header declaring 100000 × 100000: refused in milliseconds, without decoding.
    let mut png = TINY.to_vec();
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let t0 = Instant::now();
    let (status, body) = submit(&s, &png, QUICK);
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("max-pixels"),
        "{body}"
    );
    assert!(t0.elapsed() < Duration::from_millis(500));
    assert_eq!(get(&s, "/api/v1/jobs/12345").0, 404);
    assert_eq!(get(&s, "/api/v1/jobs/abc").0, 404);
    assert_eq!(post(&s, "/api/v1/jobs/1/extend", "{oops").0, 404);
    // Still serving.
    let (status, body) = submit(&s, TINY, QUICK);
    assert_eq!(status, 201);
    assert_eq!(wait(&s, body["id"].as_i64().unwrap())["status"], "done");
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn a_token_and_the_origin_close_the_api() {
    let d = tmp("token");
    let s = start(&d.join("db"), &["--workers", "1", "--token", "s3cret"]);
    assert_eq!(get(&s, "/api/v1/jobs").0, 401);
    let with = |auth: &str| {
        call(
            agent()
                .get(format!("{}/api/v1/jobs", s.base))
                .header("Authorization", auth)
                .call()
                .unwrap(),
        )
        .0
    };
    assert_eq!(with("Bearer wrong"), 401);
    assert_eq!(with("Bearer s3cret"), 200);
    assert_eq!(get(&s, "/api/v1/jobs?access_token=s3cret").0, 200);
    // The page itself is public (it asks for the token).
    assert_eq!(get(&s, "/").0, 200);
    let foreign = call(
        agent()
            .get(format!("{}/api/v1/jobs", s.base))
            .header("Authorization", "Bearer s3cret")
            .header("Origin", "http://elsewhere.example")
            .call()
            .unwrap(),
    );
    assert_eq!(foreign.0, 403);
}

#[test]
fn the_event_stream_reports_stages_then_one_end() {
    let d = tmp("events");
    let s = start(&d.join("db"), &["--workers", "1"]);
    let (_, body) = submit(&s, TINY, r#"{"circles": 12, "iters": 10, "pop": 10}"#);
    let id = body["id"].as_i64().unwrap();
    let resp = agent()
        .get(format!("{}/api/v1/jobs/{id}/events", s.base))
        .call()
        .unwrap();
    let mut names = Vec::new();
    for line in BufReader::new(resp.into_body().into_reader()).lines() {
        let line = line.unwrap();
        if let Some(name) = line.strip_prefix("event: ") {
            names.push(name.to_owned());
        }
    }
    // The stream ended by itself, after exactly one terminal event.
    assert_eq!(names.last().map(String::as_str), Some("done"), "{names:?}");
    assert_eq!(names.iter().filter(|n| *n != "progress").count(), 1);
    // A finished job's stream: just its end.
    let resp = agent()
        .get(format!("{}/api/v1/jobs/{id}/events", s.base))
        .call()
        .unwrap();
    let text = std::io::read_to_string(resp.into_body().into_reader()).unwrap();
    assert!(text.starts_with("event: done"), "{text}");
}

#[test]
fn the_queue_is_bounded() {
    let d = tmp("queue");
    let s = start(&d.join("db"), &["--workers", "1", "--queue", "2"]);
    let slow = r#"{"circles": 2000, "iters": 40, "pop": 20}"#;
    let codes: Vec<u16> = (0..6).map(|_| submit(&s, CAT, slow).0).collect();
    assert!(codes.contains(&429), "{codes:?}");
    assert!(codes.iter().all(|c| *c == 201 || *c == 429), "{codes:?}");
}

/// The circles of a job's result.
fn circles_of(s: &Server, id: i64) -> serde_json::Value {
    json(&get(s, &format!("/api/v1/jobs/{id}/result.json")).1)["circles"].clone()
}

#[cfg(unix)]
#[test]
fn a_job_survives_sigkill_and_ends_as_an_uninterrupted_run() {
    let d = tmp("sigkill");
    let settings = r#"{"circles": 40, "iters": 20, "pop": 10, "seed": 7}"#;
    let s = start(&d.join("db"), &["--workers", "1"]);
    let (_, body) = submit(&s, CAT, settings);
    let id = body["id"].as_i64().unwrap();
    let t0 = Instant::now();
    while json(&get(&s, &format!("/api/v1/jobs/{id}")).1)["circles"]
        .as_i64()
        .unwrap()
        < 5
    {
        assert!(t0.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(10));
    }
    // SIGKILL: no chance to clean up.
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let s = start(&d.join("db"), &["--workers", "1"]);
    let job = wait(&s, id);
    assert_eq!(job["status"], "done");
    // The same job uninterrupted, on a fresh database.
    let fresh = start(&tmp("sigkill-fresh").join("db"), &["--workers", "1"]);
    let (_, other) = submit(&fresh, CAT, settings);
    let other = other["id"].as_i64().unwrap();
    wait(&fresh, other);
    assert_eq!(circles_of(&s, id), circles_of(&fresh, other));
    // No job was lost or run twice.
    let list = json(&get(&s, "/api/v1/jobs").1);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn extend_continues_a_finished_fit_exactly() {
    let d = tmp("extend");
    let s = start(&d.join("db"), &["--workers", "1"]);
    let (_, a) = submit(
        &s,
        TINY,
        r#"{"circles": 5, "mode": "batch", "batch_size": 2, "iters": 5, "pop": 10}"#,
    );
    let a = a["id"].as_i64().unwrap();
    wait(&s, a);
    let (status, ext) = post(
        &s,
        &format!("/api/v1/jobs/{a}/extend"),
        r#"{"circles": 10}"#,
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&ext));
    let ext = json(&ext)["id"].as_i64().unwrap();
    assert_eq!(wait(&s, ext)["status"], "done");
    let (_, whole) = submit(
        &s,
        TINY,
        r#"{"circles": 10, "mode": "batch", "batch_size": 2, "iters": 5, "pop": 10}"#,
    );
    let whole = whole["id"].as_i64().unwrap();
    wait(&s, whole);
    assert_eq!(circles_of(&s, ext), circles_of(&s, whole));
    assert_eq!(
        post(&s, "/api/v1/jobs/999/extend", r#"{"circles": 10}"#).0,
        404
    );
    assert_eq!(
        post(&s, &format!("/api/v1/jobs/{a}/extend"), "{oops").0,
        400
    );
}

#[cfg(target_os = "linux")]
#[test]
fn fifty_jobs_from_ten_clients_all_end_and_memory_stays_bounded() {
    let d = tmp("load");
    let s = start(&d.join("db"), &["--workers", "2", "--queue", "64"]);
    let base = s.base.clone();
    let clients: Vec<_> = (0..10)
        .map(|_| {
            let base = base.clone();
            std::thread::spawn(move || {
                let s = Server {
                    child: Command::new("true").spawn().unwrap(),
                    base,
                };
                let ids: Vec<Option<i64>> = (0..5)
                    .map(|_| {
                        let (status, body) = submit(
                            &s,
                            TINY,
                            r#"{"circles": 6, "iters": 4, "pop": 8, "polish": 1}"#,
                        );
                        match status {
                            201 => body["id"].as_i64(),
                            429 => None,
                            other => panic!("{other}: {body}"),
                        }
                    })
                    .collect();
                ids
            })
        })
        .collect();
    let ids: Vec<i64> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .flatten()
        .collect();
    for &id in &ids {
        assert_eq!(wait(&s, id)["status"], "done");
    }
    let list = json(&get(&s, "/api/v1/jobs").1);
    assert_eq!(
        list.as_array().unwrap().len(),
        ids.len(),
        "none lost, none doubled"
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
    let hwm: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap();
    eprintln!(
        "load: {} jobs accepted of 50, peak RSS {} MiB",
        ids.len(),
        hwm / 1024
    );
    assert!(hwm < 200 * 1024, "peak RSS {hwm} kB");
}

#[cfg(target_os = "linux")]
#[test]
fn event_stream_clients_that_disconnect_leak_nothing() {
    let d = tmp("sse_leak");
    let s = start(&d.join("db"), &["--workers", "1"]);
    let (_, body) = submit(&s, CAT, r#"{"circles": 2000, "iters": 40, "pop": 20}"#);
    let id = body["id"].as_i64().unwrap();
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", s.child.id()))
            .unwrap()
            .count()
    };
    let open_and_drop = || {
        let resp = agent()
            .get(format!("{}/api/v1/jobs/{id}/events", s.base))
            .call()
            .unwrap();
        let mut reader = BufReader::new(resp.into_body().into_reader());
        let mut line = String::new();
        // Wait for the first event (a kept stage), then hang up.
        while !line.starts_with("event:") {
            line.clear();
            reader.read_line(&mut line).unwrap();
        }
    };
    for _ in 0..5 {
        open_and_drop();
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = fds();
    for _ in 0..100 {
        open_and_drop();
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = fds();
    assert!(after <= before + 2, "file descriptors {before} -> {after}");
    assert_eq!(post(&s, &format!("/api/v1/jobs/{id}/cancel"), "").0, 200);
    assert_eq!(wait(&s, id)["status"], "cancelled");
}
