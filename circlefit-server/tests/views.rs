//! What a live page reads besides the results: progress events that carry the circles,
//! the job's current circles, its history, the GIF and the report — and pause/resume —
//! each run once per backend.

#[macro_use]
mod support;

use std::io::{BufRead, BufReader};
use std::time::Instant;

use support::*;

/// Applies an event's `draw` to the circles drawn so far: set each index, keep `count`.
/// Returns whether a circle drawn before was changed.
fn apply(drawn: &mut Vec<serde_json::Value>, draw: &serde_json::Value) -> bool {
    let mut moved = false;
    for change in draw["changes"].as_array().unwrap() {
        let i = change[0].as_u64().unwrap() as usize;
        if i < drawn.len() {
            moved = true;
            drawn[i] = change[1].clone();
        } else {
            assert_eq!(i, drawn.len(), "changes arrive in index order: {draw}");
            drawn.push(change[1].clone());
        }
    }
    drawn.truncate(draw["count"].as_u64().unwrap() as usize);
    moved
}

/// The numbers of an SVG element's attribute `name`.
fn attr(line: &str, name: &str) -> String {
    let at = line
        .find(&format!(" {name}=\""))
        .unwrap_or_else(|| panic!("{name} in {line}"));
    let rest = &line[at + name.len() + 3..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn num(text: &str) -> f64 {
    text.parse().unwrap()
}

fn rgb(text: &str) -> Vec<f64> {
    let inner = text.trim_start_matches("rgb(").trim_end_matches(')');
    inner.split(',').map(num).collect()
}

/// Every circle of an exported SVG as numbers: plain `[x, y, r, R, G, B, a]`, soft
/// `[x, y, outer, R, G, B, a, inner]`.
fn svg_circles(svg: &str) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    for line in svg.lines() {
        if line.starts_with("<radialGradient") {
            let stop = &line[line.find("<stop").unwrap()..];
            let mut v = vec![
                num(&attr(line, "cx")),
                num(&attr(line, "cy")),
                num(&attr(line, "r")),
            ];
            v.extend(rgb(&attr(stop, "stop-color")));
            v.push(num(&attr(stop, "stop-opacity")));
            v.push(num(&attr(stop, "offset")));
            out.push(v);
        } else if line.starts_with("<circle") {
            let mut v = vec![
                num(&attr(line, "cx")),
                num(&attr(line, "cy")),
                num(&attr(line, "r")),
            ];
            v.extend(rgb(&attr(line, "fill")));
            v.push(num(&attr(line, "fill-opacity")));
            out.push(v);
        }
    }
    out
}

/// A drawn circle as [`svg_circles`] reads it back.
fn as_svg(drawn: &serde_json::Value) -> Vec<f64> {
    let d: Vec<f64> = drawn
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    match d.len() {
        7 => d,
        9 => vec![d[0], d[1], d[7], d[3], d[4], d[5], d[6], d[8]],
        n => panic!("a drawn circle has 7 or 9 numbers, not {n}"),
    }
}

/// Follows a job's event stream to its end, drawing as a page does: the circles drawn,
/// how many events added circles, and whether any event moved a circle drawn before.
fn follow(s: &Server, id: i64) -> (Vec<serde_json::Value>, usize, bool) {
    let resp = agent()
        .get(format!("{}/api/v1/jobs/{id}/events", s.base))
        .call()
        .unwrap();
    let (mut drawn, mut grew, mut moved, mut name) = (Vec::new(), 0, false, String::new());
    for line in BufReader::new(resp.into_body().into_reader()).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_owned();
        } else if let Some(data) = line.strip_prefix("data: ") {
            let data = json(data.as_bytes());
            if name == "status" {
                continue;
            }
            let before = drawn.len();
            moved |= apply(&mut drawn, &data["draw"]);
            grew += usize::from(drawn.len() > before);
        }
    }
    (drawn, grew, moved)
}

fn a_live_page_sees_every_circle_and_the_end_matches_the_result(b: &Backend) {
    let s = start(b, &["--workers", "1"]);
    // Slow enough (about 2 s of stages) for a stream's reads to see it grow.
    let settings = r#"{"circles": 200, "iters": 200, "seed": 3}"#;
    let t0 = Instant::now();
    let id = submit_ok(&s, CAT, settings);
    // Before the end: no GIF, no report.
    for file in ["result.gif", "report.html"] {
        assert_eq!(
            get(&s, &format!("/api/v1/jobs/{id}/{file}")).0,
            409,
            "{file}"
        );
    }
    let (drawn, grew, moved) = follow(&s, id);
    let job = job(&s, id);
    assert_eq!(job["status"], "done");
    assert!(grew >= 5, "the picture grew {grew} times");
    assert!(
        moved,
        "polishing and refinement move circles the page has drawn"
    );
    // The page's picture is the result's.
    assert_eq!(drawn.len() as i64, job["circles"].as_i64().unwrap());
    let svg = String::from_utf8(get(&s, &format!("/api/v1/jobs/{id}/result.svg")).1).unwrap();
    let from_svg = svg_circles(&svg);
    assert_eq!(drawn.iter().map(as_svg).collect::<Vec<_>>(), from_svg);
    // A page that reconnects reads the circles it lacks.
    let all = json(&get(&s, &format!("/api/v1/jobs/{id}/circles")).1);
    assert_eq!(all["count"].as_u64().unwrap() as usize, drawn.len());
    assert_eq!(all["circles"].as_array().unwrap(), &drawn);
    assert_eq!(all["frame"]["width"], 256);
    let tail = json(&get(&s, &format!("/api/v1/jobs/{id}/circles?since=50")).1);
    assert_eq!(tail["circles"].as_array().unwrap(), &drawn[50..]);
    assert_eq!(
        get(&s, &format!("/api/v1/jobs/{id}/circles?since=-1")).0,
        400
    );
    assert_eq!(get(&s, "/api/v1/jobs/99999/circles").0, 404);
    // The history: one entry per kept stage, then the end, in order.
    let history = json(&get(&s, &format!("/api/v1/jobs/{id}/history")).1);
    let h = history.as_array().unwrap();
    assert!(h.len() >= 3, "{history}");
    assert!(
        h.windows(2)
            .all(|w| w[0]["circles"].as_u64() <= w[1]["circles"].as_u64()
                && w[0]["seconds"].as_f64() <= w[1]["seconds"].as_f64()
                && w[0]["evaluations"].as_u64() <= w[1]["evaluations"].as_u64())
    );
    let end = h.last().unwrap();
    assert_eq!(end["phase"], "end");
    assert_eq!(end["circles"], job["circles"]);
    assert_eq!(end["evaluations"], job["evaluations"]);
    assert!(
        end["seconds"].as_f64().unwrap() <= t0.elapsed().as_secs_f64(),
        "{end}"
    );
    assert!(h[..h.len() - 1].iter().all(|e| e["phase"] == "stage"));
    let (status, chart) = get(&s, &format!("/api/v1/jobs/{id}/history.svg"));
    assert!(status == 200 && chart.starts_with(b"<svg"));
    // The GIF: the base, then circles a step at a time up to all of them, held.
    let (status, gif) = get(&s, &format!("/api/v1/jobs/{id}/result.gif"));
    assert_eq!(status, 200);
    use circlefit::image::AnimationDecoder as _;
    let frames = circlefit::image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&gif))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(
        frames.len(),
        circlefit::animation::gif_steps(drawn.len()).len()
    );
    let png = get(&s, &format!("/api/v1/jobs/{id}/result.png")).1;
    let result = circlefit::io::decode_image(&png, "r.png".as_ref()).unwrap();
    let last = frames.last().unwrap().buffer();
    // GIF has 256 colours: the last frame is the result within its palette's error.
    let err: f64 = last
        .as_raw()
        .iter()
        .zip(result.as_bytes())
        .map(|(a, b)| f64::from(a.abs_diff(*b)))
        .sum::<f64>()
        / last.as_raw().len() as f64;
    assert!(err < 4.0, "mean difference {err}");
    // The report: self-contained.
    let (status, report) = get(&s, &format!("/api/v1/jobs/{id}/report.html"));
    assert_eq!(status, 200);
    let report = String::from_utf8(report).unwrap();
    assert_eq!(report.matches("src=\"data:image/png;base64,").count(), 3);
    assert!(!report.contains("src=\"http") && !report.contains("href=\"http"));
    assert!(report.contains(&format!("circlefit job {id}")) && report.contains("<polyline"));
}

fn pause_keeps_the_checkpoint_and_the_place(b: &Backend) {
    let s = start(b, &["--workers", "1", "--renew-seconds", "0.3"]);
    let slow = r#"{"circles": 40, "iters": 20, "pop": 10, "seed": 7}"#;
    let a = submit_ok(&s, CAT, slow);
    wait_until(&s, a, "a few circles", |j| j["circles"].as_i64() >= Some(5));
    let quick = r#"{"circles": 8, "iters": 5, "pop": 10, "polish": 1}"#;
    let b_id = submit_ok(&s, TINY, quick);
    // A queued job pauses at once; a running one at its worker's next renewal.
    let (status, body) = post(&s, &format!("/api/v1/jobs/{b_id}/pause"), "");
    assert_eq!(
        (status, json(&body)["status"].clone()),
        (200, "paused".into())
    );
    let (status, body) = post(&s, &format!("/api/v1/jobs/{a}/pause"), "");
    assert_eq!(
        (status, json(&body)["status"].clone()),
        (200, "pausing".into())
    );
    wait_until(&s, a, "paused", |j| j["status"] == "paused");
    let kept = job(&s, a)["circles"].clone();
    // Paused jobs are not claimed; a job queued after them runs.
    let c = submit_ok(&s, TINY, quick);
    assert_eq!(wait(&s, c)["status"], "done");
    assert_eq!(job(&s, a)["status"], "paused");
    assert_eq!(job(&s, a)["circles"], kept);
    assert_eq!(job(&s, b_id)["status"], "paused");
    // Resumed, each keeps its place: A (older) runs before B.
    for id in [b_id, a] {
        let (status, body) = post(&s, &format!("/api/v1/jobs/{id}/resume"), "");
        assert_eq!(
            (status, json(&body)["status"].clone()),
            (200, "queued".into())
        );
    }
    let done_a = wait(&s, a);
    let done_b = wait(&s, b_id);
    assert_eq!(done_a["status"], "done");
    assert!(
        done_a["finished"].as_i64() < done_b["finished"].as_i64(),
        "{done_a} {done_b}"
    );
    // A pause costs no attempt, and the job ends as an uninterrupted run.
    assert_eq!(done_a["attempts"], 1, "{done_a}");
    let fresh = start(&b.fresh("pause_fresh"), &["--workers", "1"]);
    let other = submit_ok(&fresh, CAT, slow);
    let uninterrupted = wait(&fresh, other);
    assert_eq!(circles_of(&s, a), circles_of(&fresh, other));
    assert_eq!(done_a["evaluations"], uninterrupted["evaluations"]);
    // Ended jobs cannot be paused or resumed; unknown ones are 404; a paused job cancels.
    assert_eq!(post(&s, &format!("/api/v1/jobs/{a}/pause"), "").0, 409);
    assert_eq!(post(&s, &format!("/api/v1/jobs/{a}/resume"), "").0, 409);
    assert_eq!(post(&s, "/api/v1/jobs/99999/pause", "").0, 404);
    let d = submit_ok(&s, CAT, slow);
    post(&s, &format!("/api/v1/jobs/{d}/pause"), "");
    wait_until(&s, d, "paused", |j| j["status"] == "paused");
    assert_eq!(post(&s, &format!("/api/v1/jobs/{d}/cancel"), "").0, 200);
    assert_eq!(job(&s, d)["status"], "cancelled");
}

on_both_backends!(
    a_live_page_sees_every_circle_and_the_end_matches_the_result,
    pause_keeps_the_checkpoint_and_the_place,
);
