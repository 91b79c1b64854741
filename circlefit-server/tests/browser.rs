//! The page in a real browser: headless Chromium driven over WebDriver (fantoccini). Needs
//! Debian's `chromium` and `chromium-driver`; `.ci/run` installs them and runs this test
//! with `--ignored` (the plain test command stays runnable with the Rust toolchain alone).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};

mod support;

use support::pg::free_port;
use support::{Backend, start};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A token with the characters a URL query must encode (`+`, `/`, `=`).
const TOKEN: &str = "Zm9v+YmFy/cXV4=";

#[test]
#[ignore = "needs chromium and chromium-driver (run by .ci/run)"]
fn the_page_uploads_shows_progress_and_the_picture_and_offers_the_svg() {
    let server = start(
        &Backend::sqlite("browser"),
        &["--workers", "1", "--token", TOKEN],
    );
    let base = server.base.clone();
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver) must be installed");
    let _driver = Killed(driver);
    let image = std::fs::canonicalize(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/chelsea_256.png"
    ))
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--no-first-run", "--disable-quic"]
            }),
        );
        let t0 = Instant::now();
        let client = loop {
            match ClientBuilder::native().capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
                Ok(c) => break c,
                Err(e) if t0.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session: {e}"),
            }
        };
        // The token as a user gave it before (the page keeps it in localStorage): set on a
        // page of the same origin that runs no script, so the page never has to ask.
        client.goto(&format!("{base}/healthz")).await.unwrap();
        client
            .execute(&format!("localStorage.setItem('circlefit-token', '{TOKEN}')"), vec![])
            .await
            .unwrap();
        client.goto(&base).await.unwrap();
        client.find(Locator::Css("#image")).await.unwrap().send_keys(image.to_str().unwrap()).await.unwrap();
        let circles = client.find(Locator::Css("#circles")).await.unwrap();
        circles.clear().await.unwrap();
        circles.send_keys("10").await.unwrap();
        // Free edges are the page's default; this job asks for hard ones.
        let edges = client.find(Locator::Css("#edges")).await.unwrap();
        assert_eq!(edges.prop("value").await.unwrap().as_deref(), Some("free"));
        edges.select_by_value("hard").await.unwrap();
        client.find(Locator::Css("#start")).await.unwrap().click().await.unwrap();
        // The status moves through the job's life and ends done.
        let mut seen = Vec::new();
        let t0 = Instant::now();
        loop {
            let text = client.find(Locator::Css("#status")).await.unwrap().text().await.unwrap();
            if seen.last() != Some(&text) {
                seen.push(text.clone());
            }
            if text.ends_with("done") {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "{seen:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(seen.len() >= 2, "the progress changed: {seen:?}");
        // The final picture appears.
        let t0 = Instant::now();
        loop {
            let loaded = client
                .execute("const i = document.getElementById('picture'); return i.complete && i.naturalWidth;", vec![])
                .await
                .unwrap();
            if loaded.as_u64() == Some(256) {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "the picture never loaded: {loaded}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The SVG download link serves the SVG (fetched by the page itself).
        let href = client.find(Locator::Css("#download-svg")).await.unwrap().attr("href").await.unwrap().unwrap();
        let svg = client
            .execute_async(
                "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.text()).then(done);",
                vec![serde_json::Value::String(href)],
            )
            .await
            .unwrap();
        assert!(svg.as_str().unwrap().starts_with("<svg"), "{svg}");
        // The checkpoint says which edges the page asked for.
        let href = client.find(Locator::Css("#download-json")).await.unwrap().attr("href").await.unwrap().unwrap();
        let json = client
            .execute_async(
                "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.json()).then(j => done(j.edges));",
                vec![serde_json::Value::String(href)],
            )
            .await
            .unwrap();
        assert_eq!(json.as_str(), Some("hard"), "{json}");
        client.close().await.unwrap();
    });
}
