//! The CLI on real folders of photographs: folders and lists as inputs, fits side by side
//! with the results of fits alone, re-runs that skip what is done, the summary and the
//! report, outputs that would collide or cannot be written (refused before any fit),
//! resuming from a checkpoint alone, EXIF orientation, progress while polishing, memory of
//! the outputs, the help's defaults, and the placeholder preset.

mod support;

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;

use support::*;

/// `n` photographs of different sizes in `folder`.
fn photos(folder: &Path, n: u32) {
    std::fs::create_dir_all(folder).unwrap();
    for k in 0..n {
        photo(&folder.join(format!("p{k}.png")), 40 + 7 * k, 30 + 5 * k);
    }
}

fn circles(path: &Path) -> serde_json::Value {
    json(path)["circles"].clone()
}

#[test]
fn a_folder_fitted_side_by_side_equals_each_image_alone_and_a_rerun_skips_it() {
    let d = dir("folder");
    photos(&d.join("imgs"), 5);
    photo(&d.join("imgs/sub/deep.png"), 33, 44);
    let mut args = vec![
        "imgs",
        "-R",
        "--jobs",
        "2",
        "-o",
        "out/{name}.json",
        "-o",
        "out/{name}.png",
    ];
    args.extend_from_slice(&["--report", "report.csv"]);
    args.extend_from_slice(QUICK);
    let o = run(&args, &d);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("6 images: 6 fitted, 0 skipped, 0 failed"),
        "{err}"
    );
    assert_eq!(
        text(&o.stdout).lines().count(),
        6,
        "one summary line per image"
    );
    let csv = std::fs::read_to_string(d.join("report.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.contains(",done,")), "{csv}");
    // Each equals that image fitted alone, on one thread.
    for name in ["p0", "p3", "deep"] {
        let input = if name == "deep" {
            "imgs/sub/deep.png".to_owned()
        } else {
            format!("imgs/{name}.png")
        };
        let mut alone = vec![input.as_str(), "-j", "1", "-o", "alone.json"];
        alone.extend_from_slice(QUICK);
        assert!(run(&alone, &d).status.success());
        assert_eq!(
            circles(&d.join(format!("out/{name}.json"))),
            circles(&d.join("alone.json")),
            "{name}"
        );
    }
    // A second run with --skip-existing fits nothing.
    args.push("--skip-existing");
    let o = run(&args, &d);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("6 images: 0 fitted, 6 skipped"),
        "{}",
        text(&o.stderr)
    );
    assert!(o.stdout.is_empty());
    // A changed image, a deleted picture and changed settings are fitted again.
    photo(&d.join("imgs/p1.png"), 41, 31);
    std::fs::remove_file(d.join("out/p2.png")).unwrap();
    let o = run(&args, &d);
    assert!(
        text(&o.stderr).contains("6 images: 2 fitted, 4 skipped"),
        "{}",
        text(&o.stderr)
    );
    let mut other = args.clone();
    other.extend_from_slice(&["--seed", "9"]);
    let o = run(&other, &d);
    assert!(
        text(&o.stderr).contains("6 images: 6 fitted, 0 skipped"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn lists_on_a_file_and_on_standard_input_name_the_images() {
    let d = dir("lists");
    photos(&d.join("imgs"), 3);
    std::fs::write(
        d.join("list.txt"),
        "# two of them\nimgs/p0.png\n\nimgs/p2.png\n",
    )
    .unwrap();
    let mut args = vec!["@list.txt", "-o", "out/{name}.json", "--report", "r.json"];
    args.extend_from_slice(QUICK);
    let o = run(&args, &d);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report = json(&d.join("r.json"));
    let inputs: Vec<&str> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["input"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["imgs/p0.png", "imgs/p2.png"]);
    let mut child = bin()
        .args(["-", "-o", "stdin/{name}.json"])
        .args(QUICK)
        .current_dir(&d)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"imgs/p1.png\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(d.join("stdin/p1.json").is_file());
    assert!(!d.join("stdin/p0.json").exists());
}

#[test]
fn outputs_that_collide_or_cannot_be_written_are_refused_before_any_fit() {
    let d = dir("collide");
    photo(&d.join("a/x.png"), 30, 20);
    photo(&d.join("b/x.png"), 20, 30);
    for outs in [
        &["-o", "out/{name}.png", "-o", "out/{name}.json"][..],
        &[][..],
    ] {
        let mut args = vec!["a/x.png", "b/x.png"];
        args.extend_from_slice(outs);
        args.extend_from_slice(QUICK);
        let o = run(&args, &d);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("a/x.png") && err.contains("b/x.png"), "{err}");
        assert_eq!(err.lines().count(), 1, "no fit ran: {err}");
        assert!(!d.join("out").exists());
    }
    // An output that cannot be written is found before the fit (no progress line).
    let mut args = vec!["a/x.png", "-o", "/proc/fit.png"];
    args.extend_from_slice(QUICK);
    let o = run(&args, &d);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(text(&o.stderr).lines().count(), 1, "{}", text(&o.stderr));
    assert!(o.stdout.is_empty());
    // One path named twice is one output.
    let mut args = vec!["a/x.png", "-o", "dup/a.json", "--out", "dup/a"];
    args.extend_from_slice(QUICK);
    let o = run(&args, &d);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(json(&d.join("dup/a.json"))["circles"].is_array());
}

#[test]
fn a_checkpoint_alone_resumes_from_the_image_it_records() {
    let d = dir("resume_alone");
    photo(&d.join("photo.png"), 48, 36);
    let mut args = vec!["photo.png", "-n", "6", "-o", "a.json"];
    args.extend_from_slice(&QUICK[2..]);
    assert!(run(&args, &d).status.success());
    let saved = json(&d.join("a.json"));
    let recorded = saved["input"].as_str().unwrap();
    assert!(
        Path::new(recorded).is_absolute() && recorded.ends_with("photo.png"),
        "{saved}"
    );
    // From another folder, with no image named.
    std::fs::create_dir_all(d.join("elsewhere")).unwrap();
    let o = run(
        &["--resume", "../a.json", "-n", "9", "-o", "b.json"],
        &d.join("elsewhere"),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    // The whole fit in one go gives the same circles.
    let mut whole = vec!["photo.png", "-n", "9", "-o", "whole.json"];
    whole.extend_from_slice(&QUICK[2..]);
    assert!(run(&whole, &d).status.success());
    assert_eq!(
        circles(&d.join("elsewhere/b.json")),
        circles(&d.join("whole.json"))
    );
    // A changed image at the recorded path is refused (by its content), with the reason.
    photo(&d.join("photo.png"), 48, 37);
    let o = run(&["--resume", "a.json", "-n", "9", "-o", "c.json"], &d);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("photo.png"), "{}", text(&o.stderr));
}

/// A JPEG stored `w` × `h` whose EXIF says to turn it a quarter clockwise (Orientation 6).
fn turned_jpeg(path: &Path, w: u32, h: u32) {
    let img = image::RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            image::Rgb([220, 30, 30])
        } else {
            image::Rgb([30, 30, 220])
        }
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
        .encode_image(&img)
        .unwrap();
    let mut exif =
        b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0".to_vec();
    let len = (exif.len() + 2) as u16;
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&len.to_be_bytes());
    app1.append(&mut exif);
    jpeg.splice(2..2, app1);
    std::fs::write(path, jpeg).unwrap();
}

#[test]
fn exif_orientation_is_applied_and_transparency_scores_as_fitted() {
    let d = dir("exif");
    turned_jpeg(&d.join("turned.jpg"), 40, 20);
    let mut args = vec!["turned.jpg", "-r", "0", "-o", "t.png", "-o", "t.json"];
    args.extend_from_slice(QUICK);
    let o = run(&args, &d);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let png = image::open(d.join("t.png")).unwrap();
    assert_eq!((png.width(), png.height()), (20, 40), "shown upright");
    let cp = json(&d.join("t.json"));
    assert_eq!(
        (cp["width"].as_u64(), cp["height"].as_u64()),
        (Some(20), Some(40))
    );
    // Turned clockwise: the left half (red) is now on top.
    let px = png.to_rgb8();
    assert!(
        px.get_pixel(10, 3)[0] > px.get_pixel(10, 3)[2],
        "{:?}",
        px.get_pixel(10, 3)
    );
    // `score` reads an image with transparency as the fit did (over white).
    let img = image::RgbaImage::from_fn(20, 10, |x, _| {
        if x < 10 {
            image::Rgba([255, 0, 0, 0])
        } else {
            image::Rgba([100, 100, 100, 255])
        }
    });
    img.save(d.join("half.png")).unwrap();
    let mut args = vec!["half.png", "-o", "h.json"];
    args.extend_from_slice(QUICK);
    assert!(run(&args, &d).status.success());
    let fitted = json(&d.join("h.json"))["psnr"].as_f64().unwrap();
    let o = run(&["score", "h.json", "half.png"], &d);
    let line = text(&o.stdout);
    assert!(
        line.contains(&format!("psnr={fitted:.4}")),
        "{line} vs {fitted}"
    );
}

#[test]
fn progress_moves_while_polishing() {
    let d = dir("polish_progress");
    photo(&d.join("photo.png"), 64, 48);
    let o = run(
        &[
            "photo.png",
            "-n",
            "12",
            "--iters",
            "5",
            "--pop",
            "10",
            "--polish",
            "4",
            "-o",
            "p.json",
        ],
        &d,
    );
    assert!(o.status.success());
    let err = text(&o.stderr);
    let psnrs: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("polishing slots"))
        .filter_map(|l| l.split("psnr ").nth(1)?.split(' ').next())
        .collect();
    assert!(psnrs.len() >= 5, "{err}");
    assert_ne!(psnrs.first(), psnrs.last(), "frozen while polishing: {err}");
    // Refinement follows polishing; its last line is the fit's PSNR.
    let refined: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("refining steps"))
        .filter_map(|l| l.split("psnr ").nth(1)?.split(' ').next())
        .collect();
    assert!(!refined.is_empty(), "{err}");
    let fitted = json(&d.join("p.json"))["psnr"].as_f64().unwrap();
    assert_eq!(
        refined.last().copied(),
        Some(format!("{fitted:.2}").as_str()),
        "{err}"
    );
}

#[test]
fn output_pictures_count_in_max_memory_and_help_shows_the_real_defaults() {
    let d = dir("memory");
    photo(&d.join("photo.png"), 64, 48);
    let mut args = vec![
        "photo.png",
        "-s",
        "16384",
        "--max-memory",
        "0.05",
        "-o",
        "big.png",
    ];
    args.extend_from_slice(QUICK);
    let o = run(&args, &d);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("-s"), "{}", text(&o.stderr));
    assert!(!d.join("big.png").exists());
    let help = text(&bin().arg("--help").output().unwrap().stdout);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for line in [
        "Independent searches per stage, the best kept; they run side by side on several threads (default 1;",
        "Independent climbs per polished slot, sharing its evaluations; they run side by side on several threads (default 2;",
        "Polishing passes over the kept circles (default 8,",
        "Residual seeds per stage (default 10,",
        "Circles to place (default 100;",
    ] {
        assert!(help.contains(line), "--help lacks {line:?}");
    }
}

#[test]
fn the_placeholder_preset_writes_a_small_blurred_svg_and_a_data_uri() {
    let d = dir("placeholder");
    std::fs::write(
        d.join("cat.png"),
        include_bytes!("../../assets/chelsea_256.png"),
    )
    .unwrap();
    let o = run(
        &[
            "cat.png",
            "--preset",
            "placeholder",
            "-o",
            "p.svg",
            "-o",
            "p.uri",
            "-o",
            "p.json",
        ],
        &d,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let svg = std::fs::read_to_string(d.join("p.svg")).unwrap();
    assert!(
        svg.contains("feGaussianBlur") && svg.len() < 1500,
        "{} bytes: {svg}",
        svg.len()
    );
    let uri = std::fs::read_to_string(d.join("p.uri")).unwrap();
    assert!(uri.starts_with("data:image/svg+xml,%3Csvg"), "{uri}");
    let cp = json(&d.join("p.json"));
    assert_eq!(cp["width"].as_u64(), Some(128));
    assert!(cp["circles"].as_array().unwrap().len() <= 16);
}
