//! The `circlefit` binary, run as a user would: exit codes, messages, every output format,
//! resizing, several inputs, resume, render, score and Ctrl-C.

use std::path::Path;
use std::process::{Command, Stdio};

mod support;

use support::*;

#[test]
fn help_and_version_succeed() {
    for flag in ["--help", "-h", "--version"] {
        let out = bin().arg(flag).output().unwrap();
        assert!(out.status.success(), "{flag}: {:?}", out.status);
        assert!(!out.stdout.is_empty());
    }
    let help = text(&bin().arg("--help").output().unwrap().stdout);
    for needle in [
        "-o, --output",
        "-n, --circles",
        "-j, --threads",
        "-r, --resize",
        "-s, --size",
        "render",
        "score",
        "Quality:",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    let d = dir("bad");
    std::fs::write(d.join("corrupt.png"), b"not an image").unwrap();
    photo(&d.join("small.png"), 20, 20);
    std::fs::create_dir_all(d.join("adir.png")).unwrap();
    let cases: &[&[&str]] = &[
        &["missing.png"],
        &["corrupt.png"],
        &["-n", "0"],
        &["-n", "abc"],
        &["-n", "100001"],
        &["--mode", "batch", "--batch-size", "0"],
        &["--mode", "nonsense"],
        // A flag's value never swallows the next flag.
        &["--mode", "--out", "x"],
        &["--background", "--seed", "3"],
        &["--pop", "1"],
        &["--iters", "0"],
        &["--seeds", "18446744073709551615"],
        &["--seeds", "1000000000"],
        &["--polish", "18446744073709551615"],
        &["--polish", "100000"],
        &["--polish-evals", "0"],
        &["--threads", "5000"],
        &["-o", "out.bmp"],
        &["-o", ".png"],
        &["-o", "adir.png"],
        &["--out", ""],
        &["--background", "missing.png"],
        &["small.png", "--background", "corrupt.png"],
        &["--target-psnr", "-3"],
        &["--resume", "missing.json"],
        &["--resume", "corrupt.png"],
        &["-s", "0"],
    ];
    for case in cases {
        let mut args = case.to_vec();
        args.extend_from_slice(&["--iters", "2", "--pop", "4"]);
        if case.contains(&"--iters") || case.contains(&"--pop") {
            args.truncate(case.len());
        }
        let out = run(&args, &d);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{case:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{case:?}: {err}");
        assert!(err.starts_with("error"), "{case:?}: {err}");
        assert!(out.stdout.is_empty(), "{case:?}");
    }
    // Nothing was written for them (the folder holds only what the test made).
    let mut names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["adir.png", "corrupt.png", "small.png"]);
}

#[test]
fn every_output_format_is_written_and_decodes() {
    let d = dir("formats");
    let mut args = QUICK.to_vec();
    args.extend_from_slice(&[
        "-o", "f.png", "-o", "f.jpg", "-o", "f.svg", "-o", "f.json", "-o", "f.gif",
    ]);
    let out = run(&args, &d);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert!(line.starts_with("circles=6 cost="), "{line}");
    let png = image::open(d.join("f.png")).unwrap();
    assert_eq!((png.width(), png.height()), (256, 256));
    let jpg = image::open(d.join("f.jpg")).unwrap();
    assert_eq!((jpg.width(), jpg.height()), (256, 256));
    let svg = std::fs::read_to_string(d.join("f.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let circles = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    let cp = json(&d.join("f.json"));
    assert_eq!(cp["format"], "circlefit-checkpoint");
    assert_eq!(cp["circles"].as_array().unwrap().len(), circles);
    assert!(cp["ssim"].as_f64().is_some() && cp["psnr"].as_f64().is_some());
    for key in [
        "cost",
        "settings",
        "seed",
        "background",
        "history",
        "mayfly",
    ] {
        assert!(!cp[key].is_null(), "{key}");
    }
    use image::AnimationDecoder;
    let gif = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
        std::fs::File::open(d.join("f.gif")).unwrap(),
    ))
    .unwrap();
    // The JSON names the content hash of every picture written with it.
    for f in ["f.png", "f.jpg", "f.svg", "f.gif"] {
        let bytes = std::fs::read(d.join(f)).unwrap();
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for &b in &bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        assert_eq!(cp["files"][f], format!("{h:016x}"), "{f}");
    }
    // One frame per circle plus the bare base.
    assert_eq!(gif.into_frames().count(), circles + 1);
    // The PNG at the fit's own size is the fit's raster: scoring it gives the JSON's cost.
    let score = run(&["score", "f.json", "f.png"], &d);
    assert!(
        text(&score.stdout).starts_with("mse=0.0000"),
        "{}",
        text(&score.stdout)
    );
}

#[test]
fn resize_fits_small_and_size_sets_the_outputs() {
    let d = dir("sizes");
    photo(&d.join("wide.png"), 600, 400);
    let mut args = vec!["wide.png", "-r", "120", "-o", "default.png", "-o", "w.json"];
    args.extend_from_slice(QUICK);
    let out = run(&args, &d);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cp = json(&d.join("w.json"));
    assert_eq!(
        (cp["width"].as_u64(), cp["height"].as_u64()),
        (Some(120), Some(80))
    );
    // Raster outputs default to the input's size.
    let png = image::open(d.join("default.png")).unwrap();
    assert_eq!((png.width(), png.height()), (600, 400));
    let mut args = vec![
        "wide.png", "-r", "120", "-s", "300", "-o", "s.png", "-o", "s.gif",
    ];
    args.extend_from_slice(QUICK);
    assert!(run(&args, &d).status.success());
    let png = image::open(d.join("s.png")).unwrap();
    assert_eq!((png.width(), png.height()), (300, 200));
    // render redraws at any size, anti-aliased.
    let out = run(&["render", "w.json", "-o", "big.png", "-s", "900"], &d);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let big = image::open(d.join("big.png")).unwrap();
    assert_eq!((big.width(), big.height()), (900, 600));
    // score resizes the full-size reference to the fit's size, as the fit did.
    let score = run(&["score", "w.json", "wide.png"], &d);
    let line = text(&score.stdout);
    let mse: f64 = line.split(['=', ' ']).nth(1).unwrap().parse().unwrap();
    assert!((mse - cp["cost"].as_f64().unwrap()).abs() < 1e-4, "{line}");
}

#[test]
fn several_inputs_are_fitted_in_turn_and_a_bad_one_is_reported() {
    let d = dir("several");
    photo(&d.join("a.png"), 40, 30);
    photo(&d.join("b.png"), 30, 40);
    let mut args = vec![
        "a.png",
        "missing.png",
        "b.png",
        "-o",
        "out/{name}.svg",
        "-o",
        "out/{name}.json",
    ];
    args.extend_from_slice(QUICK);
    let out = run(&args, &d);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("missing.png"), "{err}");
    assert_eq!(text(&out.stdout).lines().count(), 2);
    for f in ["out/a.svg", "out/a.json", "out/b.svg", "out/b.json"] {
        assert!(d.join(f).is_file(), "{f}");
    }
}

#[test]
fn a_resumed_fit_equals_the_uninterrupted_one_and_refuses_changed_settings() {
    let d = dir("resume");
    let fit = |n: &str, out: &str| {
        let args = [
            "-n", n, "--iters", "4", "--pop", "10", "--polish", "2", "--out", out,
        ];
        let o = run(&args, &d);
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    fit("8", "whole");
    fit("4", "half");
    let o = run(&["--resume", "half.json", "-n", "8", "--out", "rest"], &d);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (a, b) = (json(&d.join("whole.json")), json(&d.join("rest.json")));
    assert_eq!(a["circles"], b["circles"]);
    assert_eq!(a["cost"], b["cost"]);
    for conflict in [
        &["--mode", "batch"][..],
        &["--seed", "9"],
        &["--iters", "7"],
        &["--color", "search"],
    ] {
        let mut args = vec!["--resume", "half.json"];
        args.extend_from_slice(conflict);
        let o = run(&args, &d);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{conflict:?}");
        assert!(
            err.contains(conflict[0]) && err.contains("--resume"),
            "{err}"
        );
    }
    // Another image is refused by name.
    photo(&d.join("other.png"), 256, 256);
    let o = run(&["other.png", "--resume", "half.json"], &d);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("reference image"),
        "{}",
        text(&o.stderr)
    );
}

fn svg_of(d: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(d.join(name)).unwrap()
}

#[test]
fn edges_are_fitted_saved_drawn_again_and_kept_on_resume() {
    let d = dir("edges");
    let fit = |extra: &[&str], out: &str| {
        let mut args = vec!["-n", "6", "--iters", "4", "--pop", "10", "--polish", "1"];
        args.extend_from_slice(extra);
        let (png, json, svg) = (
            format!("{out}.png"),
            format!("{out}.json"),
            format!("{out}.svg"),
        );
        args.extend_from_slice(&["-o", &png, "-o", &json, "-o", &svg]);
        let o = run(&args, &d);
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout)
    };
    fit(&["--edges", "hard"], "hard");
    fit(&["--edges", "smooth"], "smooth");
    fit(&["--edges", "soft"], "soft");
    // Free is the default: each saved circle carries its own edge width.
    let said = fit(&[], "free");
    for name in ["hard", "smooth", "soft", "free"] {
        assert_eq!(json(&d.join(format!("{name}.json")))["edges"], name);
    }
    let saved = json(&d.join("free.json"));
    assert!(
        saved["circles"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["edge"].is_f64())
    );
    let png = |name: &str| std::fs::read(d.join(name)).unwrap();
    assert_ne!(png("hard.png"), png("smooth.png"));
    assert_ne!(png("smooth.png"), png("soft.png"));
    assert_ne!(png("soft.png"), png("free.png"));
    assert!(svg_of(&d, "free.svg").contains("<radialGradient"));
    // On the 256² cat soft ramps reach 2 px: the SVG draws them as radial gradients.
    let svg = |name: &str| std::fs::read_to_string(d.join(name)).unwrap();
    assert!(svg("soft.svg").contains("<radialGradient"));
    assert!(!svg("smooth.svg").contains("<radialGradient"));
    // `render` draws the saved circles with the saved edges: the same picture.
    for name in ["soft", "free"] {
        let o = run(&["render", &format!("{name}.json"), "-o", "again.png"], &d);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(png("again.png"), png(&format!("{name}.png")));
    }
    // `score` reports the fit's own PSNR.
    let psnr = |s: &str| {
        s.split_whitespace()
            .find_map(|w| w.strip_prefix("psnr="))
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    let reference = format!("{}/../assets/chelsea_256.png", env!("CARGO_MANIFEST_DIR"));
    let o = run(&["score", "free.json", &reference], &d);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!((psnr(&text(&o.stdout)) - psnr(&said)).abs() < 1e-3);
    // A resume keeps the saved edges and refuses other ones.
    let o = run(&["--resume", "smooth.json", "--edges", "hard"], &d);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("--edges") && err.contains("--resume"), "{err}");
    for name in ["smooth", "soft", "free"] {
        let (from, to) = (format!("{name}.json"), format!("more_{name}.json"));
        let o = run(&["--resume", &from, "-o", &to], &d);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(json(&d.join(&to))["edges"], name);
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_and_sigterm_write_the_best_result_so_far_and_exit_130() {
    for signal in ["INT", "TERM"] {
        interrupted_by(signal);
    }
}

fn interrupted_by(signal: &str) {
    let d = dir(&format!("signal_{signal}"));
    let mut child = bin()
        .args(["-n", "5000", "--out", "int"])
        .current_dir(&d)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first progress line, so the handler is installed and stages are done.
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut err, &mut first).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let killed = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{signal}");
    let cp = json(&d.join("int.json"));
    assert!(!cp["circles"].as_array().unwrap().is_empty());
    assert!(d.join("int.png").is_file() && d.join("int.svg").is_file());
}

/// CRC-32 (IEEE), bit by bit: enough for one PNG chunk.
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

/// A small, valid PNG whose header claims `w` × `h` (its pixel data is for 8×8).
fn lying_png(path: &Path, w: u32, h: u32) {
    let mut png = Vec::new();
    image::RgbaImage::from_pixel(8, 8, image::Rgba([1, 2, 3, 255]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    // IHDR data starts at byte 16 (8 signature + 4 length + 4 type); its CRC follows it.
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(path, png).unwrap();
}

#[test]
fn huge_images_are_refused_by_their_declared_size_before_decoding() {
    let d = dir("huge");
    lying_png(&d.join("big.png"), 16_000, 16_000);
    lying_png(&d.join("toobig.png"), 17_000, 100);
    // At full size the fit would need ~18 GiB: refused with the amount, before decoding.
    let o = run(&["big.png", "-r", "0", "-o", "x.png"], &d);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("GiB") && err.contains("-r") && err.contains("16000x16000"),
        "{err}"
    );
    // A side above the documented maximum is refused from the header too.
    let o = run(&["toobig.png", "-o", "x.png"], &d);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("too large") || err.contains("16384"), "{err}");
    // A raised limit lets the budget pass; the lie is then found by the decoder.
    let o = run(
        &["big.png", "-r", "0", "--max-memory", "64", "-o", "x.png"],
        &d,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("decode"), "{}", text(&o.stderr));
    assert!(!d.join("x.png").exists());
}

#[test]
fn transparent_inputs_and_backgrounds_are_composited_over_white() {
    let d = dir("alpha");
    // Left half transparent (with a colour that must not count), right half opaque grey.
    let img = image::RgbaImage::from_fn(20, 10, |x, _| {
        if x < 10 {
            image::Rgba([255, 0, 0, 0])
        } else {
            image::Rgba([100, 100, 100, 255])
        }
    });
    img.save(d.join("half.png")).unwrap();
    let mut args = vec![
        "half.png",
        "--background",
        "half.png",
        "-o",
        "h.png",
        "-o",
        "h.json",
    ];
    args.extend_from_slice(QUICK);
    let o = run(&args, &d);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = image::open(d.join("h.png")).unwrap().to_rgba8();
    assert!(out.pixels().all(|p| p[3] == 255), "the output is opaque");
    // The fit started from the composited image: its initial cost is 0 (base = reference).
    let cp = json(&d.join("h.json"));
    assert_eq!(cp["initial_cost"].as_f64(), Some(0.0));
    assert_eq!(out.get_pixel(2, 2).0, [255, 255, 255, 255]);
}

#[test]
fn raising_the_circle_count_of_a_batch_fit_resumes_to_the_uninterrupted_result() {
    let d = dir("batch_resume");
    let fit = |n: &str, out: &str| {
        let args = [
            "-n",
            n,
            "--mode",
            "batch",
            "--batch-size",
            "2",
            "--iters",
            "4",
            "--pop",
            "10",
            "--polish",
            "1",
            "--out",
            out,
        ];
        let o = run(&args, &d);
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    // 5 circles end with a batch of 1, which a 10-circle fit plans as a batch of 2.
    fit("10", "whole");
    fit("5", "five");
    let o = run(&["--resume", "five.json", "-n", "10", "--out", "rest"], &d);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (a, b) = (json(&d.join("whole.json")), json(&d.join("rest.json")));
    assert_eq!(a["circles"], b["circles"]);
    assert_eq!(a["cost"], b["cost"]);
    // The history covers every stage once.
    let idx: Vec<u64> = b["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, (0..idx.len() as u64).collect::<Vec<_>>());
}

#[test]
fn searches_and_climbs_are_saved_thread_independent_and_refused_when_out_of_range() {
    let d = dir("searches");
    let fit = |extra: &[&str], out: &str| {
        let mut args = vec!["-n", "6", "--pop", "10", "--polish", "2", "--out", out];
        args.extend_from_slice(extra);
        run(&args, &d)
    };
    for (threads, out) in [("1", "one"), ("2", "two")] {
        let o = fit(
            &[
                "--searches",
                "2",
                "--climbs",
                "3",
                "--iters",
                "3",
                "-j",
                threads,
            ],
            out,
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let (one, two) = (json(&d.join("one.json")), json(&d.join("two.json")));
    assert_eq!(one["circles"], two["circles"]);
    assert_eq!(one["settings"]["restarts"]["searches"], 2);
    assert_eq!(one["settings"]["polish"]["climbs"], 3);
    // Two climbs by default; the searches' iterations default to 40 shared by them.
    let o = fit(&["--searches", "4"], "default");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let default = json(&d.join("default.json"));
    assert_eq!(default["settings"]["polish"]["climbs"], 2);
    assert_eq!(default["mayfly"]["iterations"], 10, "{}", default["mayfly"]);
    for (flag, value, field) in [
        ("--searches", "0", "searches per stage"),
        ("--searches", "65", "searches per stage"),
        ("--climbs", "0", "polish climbs"),
        ("--climbs", "200", "polish climbs"),
    ] {
        let o = fit(&[flag, value], "bad");
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert!(text(&o.stderr).contains(field), "{}", text(&o.stderr));
    }
    // Starved climbs: each needs one of the slot's evaluations.
    let o = fit(&["--climbs", "5", "--polish-evals", "4"], "starved");
    assert_eq!(o.status.code(), Some(2));
    // A resume keeps the saved settings.
    for flag in ["--searches", "--climbs"] {
        let o = run(&["--resume", "one.json", flag, "2"], &d);
        assert_eq!(o.status.code(), Some(2), "{flag}");
        assert!(text(&o.stderr).contains(flag), "{}", text(&o.stderr));
    }
}

/// The CLI's fit is the library's fit job: the same settings given as flags and as the
/// job's JSON (what the server takes) give the same checkpoint, but for the input it
/// records (the server's test checks its own checkpoint against the same path).
#[test]
fn a_fit_equals_the_fit_job_the_server_runs() {
    use circlefit::job::FitJob;
    use circlefit::prelude::*;
    let d = dir("fit_job");
    let image = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/tiny_50.png"
    ));
    let image = image.unwrap();
    std::fs::write(d.join("tiny.png"), &image).unwrap();
    let flags = [
        "tiny.png", "-n", "8", "--iters", "5", "--pop", "10", "--polish", "1",
    ];
    let out = run(&[&flags[..], &["-r", "0", "-o", "fit.json"]].concat(), &d);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cli: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("fit.json")).unwrap()).unwrap();
    let settings = r#"{"circles": 8, "iters": 5, "pop": 10, "polish": 1}"#;
    let plan = serde_json::from_str::<FitJob>(settings)
        .unwrap()
        .plan()
        .unwrap();
    let reference = circlefit::io::decode_image(&image, "tiny.png".as_ref()).unwrap();
    let [r, g, b, _] = reference.mean_color();
    let base = Canvas::filled(reference.width(), reference.height(), [r, g, b, 255]).unwrap();
    let mut fitter = plan.fitter(base.clone()).unwrap();
    let result = fitter.fit(reference.as_ref()).unwrap();
    let ran = (&result, *fitter.current_settings());
    let cp = plan.checkpoint(ran, "mean", reference.as_ref(), base.as_ref());
    let mut own: serde_json::Value = serde_json::from_str(&cp.to_json().unwrap()).unwrap();
    let mut cli = cli;
    for v in [&mut own, &mut cli] {
        for key in ["files", "input", "input_hash"] {
            v.as_object_mut().unwrap().remove(key);
        }
    }
    assert!(cli["circles"].as_array().is_some_and(|c| !c.is_empty()));
    assert_eq!(cli, own);
}
