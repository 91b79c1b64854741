//! The server, run as a process and driven over HTTP: the API, bad input, limits, the token,
//! the event stream, cancel and extend, durability across SIGKILL, and a load test — each
//! run once per backend (SQLite, and PostgreSQL on a throwaway cluster when installed).

#[macro_use]
mod support;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use support::*;

const QUICK: &str = r#"{"circles": 8, "iters": 5, "pop": 10, "polish": 1}"#;

fn a_job_runs_and_its_results_download(b: &Backend) {
    let s = start(b, &["--workers", "1"]);
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
    // Free edges unless asked otherwise, saved with the job and its checkpoint (each circle
    // with its own width); the PNG is the free render of the saved circles (hard edges
    // would draw another; on this 50 px image soft ones may not: their ramps are 1 px).
    assert_eq!(cp["edges"], "free");
    assert_eq!(job["settings"]["edges"], "free", "{job}");
    assert_eq!(job["settings"]["refine"], 300, "{job}");
    assert!(cp["circles"][0]["edge"].as_f64().is_some(), "{cp}");
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
    assert_eq!(draw(circlefit::Edges::Free), png);
    assert_ne!(draw(circlefit::Edges::Hard), png);
    // The reference as the fit saw it, and the error map of the result against it (the
    // CLI's `--diff`).
    let decode = |bytes: &[u8]| circlefit::io::decode_image(bytes, "x.png".as_ref()).unwrap();
    let reference = decode(TINY);
    let (status, ref_png) = get(&s, &format!("/api/v1/jobs/{id}/ref.png"));
    assert_eq!(status, 200);
    assert_eq!(decode(&ref_png).as_bytes(), reference.as_bytes());
    let (status, diff) = get(&s, &format!("/api/v1/jobs/{id}/diff.png"));
    assert_eq!(status, 200);
    let want =
        circlefit::diagnostics::diff_heatmap(decode(&png).as_ref(), reference.as_ref()).unwrap();
    assert_eq!(decode(&diff).as_bytes(), want.as_bytes());
    assert_eq!(get(&s, "/api/v1/jobs/999999/ref.png").0, 404);
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

fn results_are_409_before_done_and_cancel_keeps_the_best_so_far(b: &Backend) {
    let s = start(b, &["--workers", "1"]);
    let (_, body) = submit(&s, CAT, r#"{"circles": 2000, "iters": 40, "pop": 20}"#);
    let id = body["id"].as_i64().unwrap();
    assert_eq!(get(&s, &format!("/api/v1/jobs/{id}/result.png")).0, 409);
    // The reference is there from the start; the error map once the job has ended.
    assert_eq!(get(&s, &format!("/api/v1/jobs/{id}/ref.png")).0, 200);
    assert_eq!(get(&s, &format!("/api/v1/jobs/{id}/diff.png")).0, 409);
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

fn bad_input_gets_the_right_status_and_the_server_keeps_serving(b: &Backend) {
    let s = start(
        b,
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

fn a_token_and_the_origin_close_the_api(b: &Backend) {
    let s = start(b, &["--workers", "1", "--token", "s3cret"]);
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

fn the_event_stream_reports_stages_then_one_end(b: &Backend) {
    let s = start(b, &["--workers", "1"]);
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
    let ends = ["done", "failed", "cancelled"];
    assert_eq!(
        names.iter().filter(|n| ends.contains(&n.as_str())).count(),
        1
    );
    // Besides progress, only `status` events for a change of state (queued, running).
    assert!(
        names
            .iter()
            .all(|n| ends.contains(&n.as_str()) || n == "progress" || n == "status")
    );
    assert!(
        names.iter().filter(|n| *n == "status").count() <= 2,
        "{names:?}"
    );
    // A finished job's stream: just its end.
    let resp = agent()
        .get(format!("{}/api/v1/jobs/{id}/events", s.base))
        .call()
        .unwrap();
    let text = std::io::read_to_string(resp.into_body().into_reader()).unwrap();
    assert!(text.starts_with("event: done"), "{text}");
}

fn the_queue_is_bounded(b: &Backend) {
    let s = start(b, &["--workers", "1", "--queue", "2"]);
    let slow = r#"{"circles": 2000, "iters": 40, "pop": 20}"#;
    let codes: Vec<u16> = (0..6).map(|_| submit(&s, CAT, slow).0).collect();
    assert!(codes.contains(&429), "{codes:?}");
    assert!(codes.iter().all(|c| *c == 201 || *c == 429), "{codes:?}");
}

/// One worker whose jobs move after 2 s when its server is lost.
const ONE_WORKER_SHORT_LEASE: [&str; 6] = [
    "--workers",
    "1",
    "--lease-seconds",
    "2",
    "--renew-seconds",
    "0.5",
];

fn a_job_survives_sigkill_and_ends_as_an_uninterrupted_run(b: &Backend) {
    let settings = r#"{"circles": 40, "iters": 20, "pop": 10, "seed": 7}"#;
    let s = start(b, &ONE_WORKER_SHORT_LEASE);
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
    // SIGKILL: no chance to clean up. The restarted server adopts the job when its lease
    // expires (no start-up re-queue) and continues from its last stage checkpoint.
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let s = start(b, &ONE_WORKER_SHORT_LEASE);
    let job = wait(&s, id);
    assert_eq!(job["status"], "done");
    assert_eq!(job["attempts"], 2, "{job}");
    // The same job uninterrupted, on a fresh database.
    let fresh = start(&b.fresh("sigkill_fresh"), &["--workers", "1"]);
    let (_, other) = submit(&fresh, CAT, settings);
    let other = other["id"].as_i64().unwrap();
    let uninterrupted = wait(&fresh, other);
    assert_eq!(circles_of(&s, id), circles_of(&fresh, other));
    // Every evaluation counted, the killed attempt's up to its checkpoint included.
    assert_eq!(job["evaluations"], uninterrupted["evaluations"]);
    // No job was lost or run twice.
    let list = json(&get(&s, "/api/v1/jobs").1);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

fn extend_continues_a_finished_fit_exactly(b: &Backend) {
    let s = start(b, &["--workers", "1"]);
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

fn fifty_jobs_from_ten_clients_all_end_and_memory_stays_bounded(b: &Backend) {
    let s = start(b, &["--workers", "2", "--queue", "64"]);
    let clients: Vec<_> = (0..10)
        .map(|_| {
            let base = s.client();
            std::thread::spawn(move || {
                let s = base;
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

fn event_stream_clients_that_disconnect_leak_nothing(b: &Backend) {
    let s = start(b, &["--workers", "1"]);
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
    // A hung-up stream is noticed at its next write (the next kept stage, or a keep-alive),
    // so allow a few seconds on a busy machine; a PostgreSQL server may also open a few more
    // pooled connections (at most 8 in all).
    let t0 = Instant::now();
    let mut after = fds();
    while after > before + 8 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
        after = fds();
    }
    assert!(after <= before + 8, "file descriptors {before} -> {after}");
    assert_eq!(post(&s, &format!("/api/v1/jobs/{id}/cancel"), "").0, 200);
    assert_eq!(wait(&s, id)["status"], "cancelled");
}

#[cfg(unix)]
fn a_graceful_stop_gives_the_job_back_and_it_ends_as_uninterrupted(b: &Backend) {
    let settings = r#"{"circles": 40, "iters": 20, "pop": 10, "seed": 3}"#;
    let mut s = start(b, &["--workers", "1"]);
    let id = submit_ok(&s, CAT, settings);
    wait_until(&s, id, "a few circles kept", |j| {
        j["circles"].as_i64() >= Some(3)
    });
    s.signal("TERM");
    let t0 = Instant::now();
    let code = s.child.wait().unwrap();
    assert!(code.success(), "SIGTERM: {code:?}\n{}", s.log());
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    assert!(s.logs_within("released", 5), "{}", s.log());
    // Given back at once: the next server takes it without waiting for a lease (10 s).
    let s = start(b, &["--workers", "1"]);
    let t0 = Instant::now();
    wait_until(&s, id, "claimed again", |j| j["attempts"] == 2);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let job = wait(&s, id);
    assert_eq!(job["status"], "done");
    let fresh = start(&b.fresh("graceful_fresh"), &["--workers", "1"]);
    let other = submit_ok(&fresh, CAT, settings);
    let uninterrupted = wait(&fresh, other);
    assert_eq!(circles_of(&s, id), circles_of(&fresh, other));
    assert_eq!(job["evaluations"], uninterrupted["evaluations"]);
}

/// The hostile probe's findings, each refused with a JSON error.
fn hostile_requests_are_refused_with_json_errors(b: &Backend) {
    let s = start(
        b,
        &[
            "--workers",
            "0",
            "--token",
            "Zm9v+YmFy/cXV4=",
            "--public-host",
            "circles.example",
            "--header-timeout-seconds",
            "1",
            "--max-upload-bytes",
            "100000",
        ],
    );
    let auth = "Bearer Zm9v+YmFy/cXV4=";
    let send = |req: ureq::RequestBuilder<ureq::typestate::WithoutBody>| call(req.call().unwrap());
    // A page's percent-encoded query token works (the page's event stream and downloads).
    assert_eq!(
        get(&s, "/api/v1/jobs?access_token=Zm9v%2BYmFy%2FcXV4%3D").0,
        200
    );
    assert_eq!(get(&s, "/api/v1/jobs?access_token=Zm9v+YmFy/cXV4=").0, 401);
    // DNS rebinding: a name the server does not serve, even with a matching Origin.
    let (status, body) = send(
        agent()
            .get(format!("{}/api/v1/jobs", s.base))
            .header("Authorization", auth)
            .header("Host", "attacker.example:8080")
            .header("Origin", "http://attacker.example:8080"),
    );
    assert_eq!(status, 421, "{}", String::from_utf8_lossy(&body));
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("attacker.example")
    );
    // A name given with --public-host is served.
    let (status, _) = send(
        agent()
            .get(format!("{}/api/v1/jobs", s.base))
            .header("Authorization", auth)
            .header("Host", "circles.example:8080")
            .header("Origin", "http://circles.example:8080"),
    );
    assert_eq!(status, 200);
    // Per-job memory is bounded before acceptance (this used to grow the server to 4.6 GB).
    let upload = |settings: &str| {
        let (ct, body) = form(TINY, Some(settings));
        let (status, body) = call(
            agent()
                .post(format!("{}/api/v1/jobs", s.base))
                .header("Authorization", auth)
                .header("Content-Type", &ct)
                .send(&body[..])
                .unwrap(),
        );
        (status, json(&body))
    };
    let (status, body) = upload(r#"{"circles": 2000, "mode": "joint", "pop": 10000}"#);
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("pop"), "{body}");
    let (status, body) = upload(r#"{"circles": 2000, "mode": "joint", "pop": 400}"#);
    assert_eq!(status, 201, "{body}");
    // Errors are JSON whatever produced them: a multipart body without a boundary, a body
    // over the limit on another route, an unknown route.
    let cases = [
        ("/api/v1/jobs", "multipart/form-data", vec![b'x'; 10], 400),
        (
            "/api/v1/jobs/1/extend",
            "application/json",
            vec![b' '; 200_000],
            413,
        ),
        ("/api/v1/nothing", "application/json", b"{}".to_vec(), 404),
    ];
    for (path, ct, body, want) in cases {
        let (status, body) = call(
            agent()
                .post(format!("{}{path}", s.base))
                .header("Authorization", auth)
                .header("Content-Type", ct)
                .send(&body[..])
                .unwrap(),
        );
        assert_eq!(status, want, "{path}: {}", String::from_utf8_lossy(&body));
        assert!(json(&body)["error"].is_string(), "{path}");
    }
    slow_headers_are_cut_off(&s);
}

/// 50 connections that send half a request's headers and stall are closed by the server
/// (after `--header-timeout-seconds 1`), not held open.
fn slow_headers_are_cut_off(s: &Server) {
    use std::io::{Read, Write};
    let addr = s.base.trim_start_matches("http://").to_owned();
    let t0 = Instant::now();
    let mut conns: Vec<std::net::TcpStream> = (0..50)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(&addr).unwrap();
            c.write_all(b"GET /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            c
        })
        .collect();
    for c in &mut conns {
        let mut buf = Vec::new();
        // The server closes it (perhaps after a 408): the read ends instead of timing out.
        let n = c.read_to_end(&mut buf);
        assert!(n.is_ok(), "a stalled connection stayed open: {n:?}");
    }
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

/// An extend job stores exactly what it runs: a parent of 3 circles in batch mode ran
/// batches of 3, and so does its extension (not the default 5), so a server that adopts it
/// after a restart runs the same.
fn an_extend_job_stores_exactly_what_it_runs(b: &Backend) {
    let s = start(b, &["--workers", "1"]);
    let parent_settings = r#"{"circles": 3, "mode": "batch", "polish": 0, "iters": 5, "pop": 10}"#;
    let a = submit_ok(&s, TINY, parent_settings);
    assert_eq!(job(&s, a)["settings"]["batch_size"], 3);
    wait(&s, a);
    let (status, ext) = post(
        &s,
        &format!("/api/v1/jobs/{a}/extend"),
        r#"{"circles": 10}"#,
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&ext));
    let ext = json(&ext)["id"].as_i64().unwrap();
    let child = wait(&s, ext);
    assert_eq!(child["settings"]["batch_size"], 3, "{child}");
    let cp = json(&get(&s, &format!("/api/v1/jobs/{ext}/result.json")).1);
    assert_eq!(cp["settings"]["strategy"]["batch"]["size"], 3, "{cp}");
    // The child's stored settings, submitted as a new job, give the same circles from scratch.
    let whole = submit_ok(&s, TINY, &child["settings"].to_string());
    wait(&s, whole);
    assert_eq!(circles_of(&s, ext), circles_of(&s, whole));
}

/// The queue limit holds when many uploads arrive at once (checked and inserted in one
/// transaction): an API-only server, 16 concurrent uploads, a queue of 3.
fn the_queue_limit_holds_under_concurrent_uploads(b: &Backend) {
    let s = start(b, &["--workers", "0", "--queue", "3"]);
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let c = s.client();
            std::thread::spawn(move || submit(&c, TINY, QUICK).0)
        })
        .collect();
    let codes: Vec<u16> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert_eq!(codes.iter().filter(|&&c| c == 201).count(), 3, "{codes:?}");
    assert_eq!(codes.iter().filter(|&&c| c == 429).count(), 13, "{codes:?}");
    let list = json(&get(&s, "/api/v1/jobs").1);
    assert_eq!(list.as_array().unwrap().len(), 3);
}

fn health_and_metrics_report_the_store(b: &Backend) {
    let s = start(b, &["--workers", "1", "--name", "alpha"]);
    let (status, body) = get(&s, "/healthz");
    assert_eq!(
        (status, json(&body)["server"].as_str()),
        (200, Some("alpha"))
    );
    let id = submit_ok(&s, TINY, QUICK);
    let done = wait(&s, id);
    assert_eq!(done["worker"], "alpha");
    let (status, text) = get(&s, "/metrics");
    let text = String::from_utf8(text).unwrap();
    assert_eq!(status, 200);
    for line in [
        "circlefit_jobs{status=\"done\"} 1",
        "circlefit_jobs{status=\"queued\"} 0",
        "circlefit_fits_total{server=\"alpha\",outcome=\"done\"} 1",
        "circlefit_fit_seconds_count{server=\"alpha\"} 1",
        "circlefit_lease_adoptions_total 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
}

on_both_backends!(
    a_job_runs_and_its_results_download,
    results_are_409_before_done_and_cancel_keeps_the_best_so_far,
    bad_input_gets_the_right_status_and_the_server_keeps_serving,
    a_token_and_the_origin_close_the_api,
    the_event_stream_reports_stages_then_one_end,
    the_queue_is_bounded,
    a_job_survives_sigkill_and_ends_as_an_uninterrupted_run,
    extend_continues_a_finished_fit_exactly,
    fifty_jobs_from_ten_clients_all_end_and_memory_stays_bounded,
    event_stream_clients_that_disconnect_leak_nothing,
    a_graceful_stop_gives_the_job_back_and_it_ends_as_uninterrupted,
    hostile_requests_are_refused_with_json_errors,
    an_extend_job_stores_exactly_what_it_runs,
    the_queue_limit_holds_under_concurrent_uploads,
    health_and_metrics_report_the_store,
);

/// The checkpoint of `settings` fitted on `image` by the library's fit job, the path the CLI
/// takes too (its own test checks the CLI against the same path): as JSON, without what
/// only one application records.
fn fit_job_checkpoint(image: &[u8], settings: &str) -> serde_json::Value {
    use circlefit::job::FitJob;
    use circlefit::prelude::*;
    let job: FitJob = serde_json::from_str(settings).unwrap();
    let plan = job.plan().unwrap();
    let reference = circlefit::io::decode_image(image, "image".as_ref()).unwrap();
    let [r, g, b, _] = reference.mean_color();
    let base = Canvas::filled(reference.width(), reference.height(), [r, g, b, 255]).unwrap();
    let mut fitter = plan.fitter(base.clone()).unwrap();
    let result = fitter.fit(reference.as_ref()).unwrap();
    let ran = (&result, *fitter.current_settings());
    let cp = plan.checkpoint(ran, "mean", reference.as_ref(), base.as_ref());
    comparable(json(cp.to_json().unwrap().as_bytes()))
}

/// A checkpoint without the files, input and timing that differ between applications.
fn comparable(mut cp: serde_json::Value) -> serde_json::Value {
    let o = cp.as_object_mut().unwrap();
    for key in ["files", "input", "input_hash"] {
        o.remove(key);
    }
    cp
}

/// The server's result is the fit job's own: same circles, settings, Mayfly settings,
/// edges, costs and history as the library's `FitJob` path that the CLI also takes.
#[test]
fn the_servers_checkpoint_is_the_fit_jobs_own() {
    let s = start(&Backend::sqlite("fit_job_checkpoint"), &["--workers", "1"]);
    let id = submit_ok(&s, TINY, QUICK);
    assert_eq!(wait(&s, id)["status"], "done");
    let served = json(&get(&s, &format!("/api/v1/jobs/{id}/result.json")).1);
    let served = comparable(served);
    assert!(served["circles"].as_array().is_some_and(|c| !c.is_empty()));
    assert_eq!(served, fit_job_checkpoint(TINY, QUICK));
}
