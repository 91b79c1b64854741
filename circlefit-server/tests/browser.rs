//! The page in a real browser: headless Chromium driven over WebDriver (fantoccini). Needs
//! Debian's `chromium` and `chromium-driver`; `.ci/run` installs them and runs these tests
//! with `--ignored` (the plain test command stays runnable with the Rust toolchain alone).
//! Screenshots land in `target/browser/` (CI keeps them).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;

mod support;

use support::pg::free_port;
use support::{Backend, Server, start, submit_ok, wait};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A token with the characters a URL query must encode (`+`, `/`, `=`).
const TOKEN: &str = "Zm9v+YmFy/cXV4=";

/// The bundled photo, as a file the browser's file picker is given.
fn photo() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/chelsea_256.png");
    std::fs::canonicalize(path)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// A headless Chromium session, and the driver process behind it.
async fn browser() -> (Client, Killed) {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver) must be installed");
    let driver = Killed(driver);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--disable-quic",
                     "--window-size=1280,1000"]
        }),
    );
    let t0 = Instant::now();
    loop {
        let url = format!("http://127.0.0.1:{port}");
        match ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return (c, driver),
            Err(e) if t0.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no WebDriver session: {e}"),
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// Runs `script` in the page and returns its value.
async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Circles drawn in the live picture now.
async fn live_count(c: &Client) -> u64 {
    js(
        c,
        "return document.querySelectorAll('#circles > g').length;",
    )
    .await
    .as_u64()
    .unwrap()
}

/// The page's status line.
async fn status(c: &Client) -> String {
    c.find(Locator::Css("#status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Polls the status line until it starts with `prefix` (within `seconds`).
async fn status_becomes(c: &Client, prefix: &str, seconds: u64) {
    let t0 = Instant::now();
    loop {
        let s = status(c).await;
        if s.starts_with(prefix) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(seconds),
            "status {s:?}, waiting for {prefix:?}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Every circle of an SVG document in order, as numbers and colours: a gradient
/// `[cx, cy, r, colour, opacity, offset]` for a soft edge, else `[cx, cy, r, fill,
/// opacity]` — read the same way from the live picture and from `result.svg`.
const SHAPES: &str = "
    const shapes = root => [...root.querySelectorAll('radialGradient, circle')].flatMap(e => {
        const n = k => Number(e.getAttribute(k));
        if (e.tagName === 'radialGradient') {
            const s = e.querySelector('stop');
            return [[n('cx'), n('cy'), n('r'), s.getAttribute('stop-color'),
                     Number(s.getAttribute('stop-opacity')), Number(s.getAttribute('offset'))]];
        }
        if ((e.getAttribute('fill') || '').startsWith('url(')) return [];
        return [[n('cx'), n('cy'), n('r'), e.getAttribute('fill'), n('fill-opacity')]];
    });";

/// The live picture's circles and `result.svg`'s (fetched by the page, with its token).
async fn live_and_result(c: &Client, id: i64) -> (Value, Value) {
    let live = js(
        c,
        &format!("{SHAPES} return shapes(document.getElementById('live'));"),
    )
    .await;
    let script = format!(
        "{SHAPES} const done = arguments[arguments.length - 1];
         fetch(withToken('/api/v1/jobs/{id}/result.svg')).then(r => r.text())
           .then(t => done(shapes(new DOMParser().parseFromString(t, 'image/svg+xml'))));"
    );
    let exported = c.execute_async(&script, vec![]).await.unwrap();
    (live, exported)
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/browser");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// The job id of the page's URL.
async fn job_of_url(c: &Client) -> i64 {
    let url = c.current_url().await.unwrap();
    url.path().strip_prefix("/jobs/").unwrap().parse().unwrap()
}

#[test]
#[ignore = "needs chromium and chromium-driver (run by .ci/run)"]
fn an_upload_forms_live_and_ends_as_its_svg_with_a_token() {
    let server = start(
        &Backend::sqlite("browser_live"),
        &["--workers", "1", "--token", TOKEN],
    );
    runtime().block_on(async {
        let (c, _driver) = browser().await;
        // The token as a user gave it before (the page keeps it in localStorage): set on a
        // page of the same origin that runs no script, so the page never has to ask.
        c.goto(&format!("{}/healthz", server.base)).await.unwrap();
        js(&c, &format!("localStorage.setItem('circlefit-token', '{TOKEN}'); return 0;")).await;
        c.goto(&server.base).await.unwrap();
        c.find(Locator::Css("#image")).await.unwrap().send_keys(&photo()).await.unwrap();
        let circles = c.find(Locator::Css("#circles")).await.unwrap();
        circles.clear().await.unwrap();
        circles.send_keys("150").await.unwrap();
        let edges = c.find(Locator::Css("#edges")).await.unwrap();
        assert_eq!(edges.prop("value").await.unwrap().as_deref(), Some("free"));
        // From the folded advanced group: more iterations per search, so the stages take
        // a couple of seconds here (about 0.4 s with the recommended ones).
        click(&c, "#advanced summary").await;
        c.find(Locator::Css("#iters")).await.unwrap().send_keys("200").await.unwrap();
        c.find(Locator::Css("#start")).await.unwrap().click().await.unwrap();
        // The job's page opens and the picture grows while the job runs.
        let t0 = Instant::now();
        let (mut counts, mut shot) = (Vec::new(), false);
        loop {
            let s = status(&c).await;
            let n = live_count(&c).await;
            if counts.last() != Some(&n) {
                counts.push(n);
            }
            if !shot && n >= 40 && s.starts_with("running") {
                screenshot(&c, "running.png").await;
                shot = true;
            }
            if s.starts_with("done") {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(120), "{s} {counts:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let id = job_of_url(&c).await;
        let grew = counts.windows(2).filter(|w| w[1] > w[0]).count();
        assert!(grew >= 5, "the live picture grew {grew} times: {counts:?}");
        // The end: as many circles as the result, the same ones as result.svg.
        let path = format!("/api/v1/jobs/{id}?access_token=Zm9v%2BYmFy%2FcXV4%3D");
        let job = support::json(&support::get(&server, &path).1);
        assert_eq!(live_count(&c).await, job["circles"].as_u64().unwrap());
        assert_eq!(job["circles"], 150);
        assert_eq!(job["settings"]["iters"], 200);
        let (live, exported) = live_and_result(&c, id).await;
        assert_eq!(live.as_array().unwrap().len(), 150);
        assert_eq!(live, exported);
        // Every download works through the token (fetched by the page itself).
        for (link, kind) in [("png", "image/png"), ("svg", "image/svg+xml"), ("json", "application/json"), ("gif", "image/gif"), ("html", "text/html")] {
            let href = c.find(Locator::Css(&format!("#download-{link}"))).await.unwrap().attr("href").await.unwrap().unwrap();
            let got = c
                .execute_async(
                    "const done = arguments[arguments.length - 1];
                     fetch(arguments[0]).then(r => done([r.status, r.headers.get('content-type')]));",
                    vec![Value::String(href)],
                )
                .await
                .unwrap();
            assert_eq!(got[0], 200, "{link}");
            assert!(got[1].as_str().unwrap().starts_with(kind), "{link}: {got}");
        }
        // The error map and the comparison load (the reference over the left half).
        click(&c, "input[name=view][value=error]").await;
        let loaded = |img: &str| format!("const i = document.getElementById('{img}'); return i.complete && i.naturalWidth;");
        let t0 = Instant::now();
        while js(&c, &loaded("errormap")).await != 256 {
            assert!(t0.elapsed() < Duration::from_secs(10), "the error map never loaded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        click(&c, "input[name=view][value=compare]").await;
        assert_eq!(js(&c, &loaded("reference")).await, 256);
        let chart = js(&c, &loaded("chart")).await;
        assert!(chart.as_u64() > Some(0), "the chart loaded: {chart}");
        c.set_window_size(1280, 1400).await.unwrap();
        screenshot(&c, "finished.png").await;
        c.set_window_size(390, 844).await.unwrap();
        screenshot(&c, "phone.png").await;
        assert!(shot, "a running screenshot was taken: {counts:?}");
        c.close().await.unwrap();
    });
}

#[test]
#[ignore = "needs chromium and chromium-driver (run by .ci/run)"]
fn a_reload_mid_run_rebuilds_the_picture_and_it_keeps_growing() {
    let server = start(&Backend::sqlite("browser_reload"), &["--workers", "1"]);
    let id = submit_ok(&server, support::CAT, r#"{"circles": 2000, "iters": 60}"#);
    runtime().block_on(async {
        let (c, _driver) = browser().await;
        c.goto(&format!("{}/jobs/{id}", server.base)).await.unwrap();
        let t0 = Instant::now();
        while live_count(&c).await < 30 {
            assert!(t0.elapsed() < Duration::from_secs(60));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        c.refresh().await.unwrap();
        // Rebuilt from the job's circles as soon as the page has read them...
        let t0 = Instant::now();
        let mut n = 0;
        while n < 30 {
            n = live_count(&c).await;
            assert!(t0.elapsed() < Duration::from_secs(10), "rebuilt {n}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // ...and still growing from the stream.
        let t0 = Instant::now();
        while live_count(&c).await <= n + 5 {
            assert!(t0.elapsed() < Duration::from_secs(60));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(status(&c).await.starts_with("running"));
        c.close().await.unwrap();
    });
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits until the list shows job `id` (or, with `present` false, no longer does).
async fn listed(c: &Client, id: i64, present: bool) {
    let t0 = Instant::now();
    let script = format!("return !!document.querySelector('#jobs tr[data-id=\"{id}\"]');");
    while js(c, &script).await != Value::Bool(present) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "job {id} listed: {}",
            !present
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
#[ignore = "needs chromium and chromium-driver (run by .ci/run)"]
fn the_page_pauses_resumes_cancels_extends_and_deletes() {
    let server = start(
        &Backend::sqlite("browser_controls"),
        &["--workers", "1", "--renew-seconds", "0.3"],
    );
    let slow = submit_ok(&server, support::CAT, r#"{"circles": 2000, "iters": 60}"#);
    runtime().block_on(async {
        let (c, _driver) = browser().await;
        c.goto(&format!("{}/jobs/{slow}", server.base))
            .await
            .unwrap();
        status_becomes(&c, "running", 30).await;
        while live_count(&c).await < 5 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Pause: the job stops where it was and keeps its circles.
        click(&c, "#pause").await;
        status_becomes(&c, "paused", 30).await;
        let kept = support::job(&server, slow)["circles"].as_u64().unwrap();
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            support::job(&server, slow)["circles"].as_u64().unwrap(),
            kept
        );
        assert!(live_count(&c).await >= kept.min(5));
        // Resume: it runs on and keeps more circles.
        click(&c, "#resume").await;
        status_becomes(&c, "running", 30).await;
        let t0 = Instant::now();
        while support::job(&server, slow)["circles"].as_u64().unwrap() <= kept {
            assert!(t0.elapsed() < Duration::from_secs(60));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Cancel: the best so far is its result.
        click(&c, "#cancel").await;
        status_becomes(&c, "cancelled", 30).await;
        assert_eq!(support::job(&server, slow)["status"], "cancelled");
        // Extend a finished job from its page: the child's page opens and ends with more.
        let small = submit_ok(
            &server,
            support::TINY,
            r#"{"circles": 6, "iters": 5, "pop": 10, "polish": 1}"#,
        );
        assert_eq!(wait(&server, small)["status"], "done");
        // The list follows jobs started elsewhere (this one through the API), to their end.
        listed(&c, small, true).await;
        let cell = format!("return document.querySelector('#jobs tr[data-id=\"{small}\"] td:nth-child(3)').textContent;");
        let t0 = Instant::now();
        while js(&c, &cell).await != "done" {
            assert!(t0.elapsed() < Duration::from_secs(10), "the list shows job {small} done");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        c.goto(&format!("{}/jobs/{small}", server.base))
            .await
            .unwrap();
        status_becomes(&c, "done", 10).await;
        let field = c.find(Locator::Css("#extend-circles")).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys("12").await.unwrap();
        click(&c, "#extend").await;
        let t0 = Instant::now();
        while job_of_url(&c).await == small {
            assert!(t0.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let child = job_of_url(&c).await;
        status_becomes(&c, "done", 60).await;
        assert_eq!(live_count(&c).await, 12);
        assert_eq!(support::job(&server, child)["parent"], small);
        let family = c
            .find(Locator::Css("#family"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(family.contains(&format!("job {small}")), "{family}");
        // Back and forward move between the two jobs' pages.
        c.back().await.unwrap();
        assert_eq!(job_of_url(&c).await, small);
        status_becomes(&c, "done · 6 circles", 10).await;
        let family = c.find(Locator::Css("#family")).await.unwrap().text().await.unwrap();
        assert!(family.contains(&format!("Extended by job {child}")), "{family}");
        c.forward().await.unwrap();
        assert_eq!(job_of_url(&c).await, child);
        status_becomes(&c, "done · 12 circles", 10).await;
        // Delete (two clicks): gone from the list, back to the start page.
        listed(&c, child, true).await;
        click(&c, "#delete").await;
        click(&c, "#delete").await;
        listed(&c, child, false).await;
        assert_eq!(c.current_url().await.unwrap().path(), "/");
        assert_eq!(
            support::get(&server, &format!("/api/v1/jobs/{child}")).0,
            404
        );
        c.close().await.unwrap();
    });
}

#[test]
#[ignore = "needs chromium and chromium-driver (run by .ci/run)"]
fn the_servers_message_shows_next_to_the_field_it_names() {
    let server: Server = start(&Backend::sqlite("browser_errors"), &["--workers", "0"]);
    runtime().block_on(async {
        let (c, _driver) = browser().await;
        c.goto(&server.base).await.unwrap();
        c.find(Locator::Css("#image"))
            .await
            .unwrap()
            .send_keys(&photo())
            .await
            .unwrap();
        let circles = c.find(Locator::Css("#circles")).await.unwrap();
        circles.clear().await.unwrap();
        circles.send_keys("0").await.unwrap();
        click(&c, "#start").await;
        let t0 = Instant::now();
        let message = loop {
            let text = c
                .find(Locator::Css("#circles-error"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if !text.is_empty() {
                break text;
            }
            assert!(t0.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(30)).await;
        };
        assert!(message.starts_with("circles:"), "{message}");
        let invalid = circles.attr("aria-invalid").await.unwrap();
        assert_eq!(invalid.as_deref(), Some("true"));
        // Nothing else is blamed, and no job was made.
        assert_eq!(
            c.find(Locator::Css("#form-error"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            ""
        );
        assert_eq!(support::get(&server, "/api/v1/jobs").1, b"[]");
        c.close().await.unwrap();
    });
}
