//! Previews and image transforms against the emulator (§6.10): thumbnails made after `stored`
//! for PNG, JPEG, GIF and WebP, the token path that serves them, a decompression bomb ending in
//! the `error` state, previews that do not apply, every transform rule, and the 12-megapixel
//! measurement.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::{details, folder, node_path, upload};
use crate::common::emulator::*;

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

/// A PNG whose header claims `w`×`h` RGBA pixels over a few bytes of data: a decompression bomb.
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib, one stored block of 64 zero bytes.
    let zeros = [0u8; 64];
    let mut idat = vec![0x78, 0x01, 0x01, 64, 0, !64, 0xFF];
    idat.extend_from_slice(&zeros);
    idat.extend_from_slice(&adler32(&zeros).to_be_bytes());
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// Polls details until the node's `previews.thumbnail.state` leaves the pending states.
async fn settled_thumbnail(t: &TestEmu, node: &str) -> String {
    for _ in 0..600 {
        let (_, v) = details(t, node).await;
        let state = v["node"]["previews"]["thumbnail"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if state != "not generated" && state != "in progress" {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the thumbnail of {node} never settled");
}

fn quick_previews(c: &mut fastgate::emulator::EmulatorConfig) {
    c.preview_delay = Duration::ZERO;
}

#[tokio::test]
async fn a_png_gets_a_thumbnail_that_is_a_valid_smaller_image_served_by_its_token_path() {
    let t = spawn_with(quick_previews).await;
    let f = upload(&t, "photo.png", &png(1200, 900), "root").await;
    assert_eq!(settled_thumbnail(&t, &f).await, "ready");
    let (_, d) = details(&t, &f).await;
    assert_eq!(d["node"]["previews"]["image"]["state"], "ready");
    assert_eq!(d["node"]["previews"]["pdf"]["state"], "not possible");
    let (_, terse) = t.get(&node_path(&t, &f, "details/?output=terse")).await;
    assert_eq!(
        terse["node"]["previews"]["thumbnail"],
        serde_json::json!({"ready": true})
    );
    let (status, v) = t
        .get(&node_path(&t, &f, "preview/thumbnail/preauthorize/"))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let token = v["downloadToken"].as_str().expect("token");
    let path = v["path"].as_str().expect("path");
    assert!(
        path.starts_with("/current/") && path.contains(token),
        "{path}"
    );
    assert_eq!(v["primaryFilename"], "photo.png");
    let origin = t.base.trim_end_matches("/current");
    let res = t
        .http
        .get(format!("{origin}{path}"))
        .send()
        .await
        .expect("read");
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.expect("bytes");
    let thumb = image::load_from_memory(&bytes).expect("a valid image");
    assert_eq!((thumb.width(), thumb.height()), (256, 192));
    let bad = path.replace(token, "not-a-token");
    let res = t
        .http
        .get(format!("{origin}{bad}"))
        .send()
        .await
        .expect("read");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn gif_and_webp_uploads_get_png_thumbnails_too() {
    let t = spawn_with(quick_previews).await;
    let img = image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(600, 300, |x, y| {
        image::Rgba([x as u8, y as u8, 7, 255])
    }));
    for (name, format) in [
        ("anim.gif", image::ImageFormat::Gif),
        ("pic.webp", image::ImageFormat::WebP),
    ] {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encode");
        let f = upload(&t, name, &out.into_inner(), "root").await;
        assert_eq!(settled_thumbnail(&t, &f).await, "ready", "{name}");
        let (_, v) = t
            .get(&node_path(&t, &f, "preview/thumbnail/preauthorize/"))
            .await;
        let origin = t.base.trim_end_matches("/current");
        let res = t
            .http
            .get(format!("{origin}{}", v["path"].as_str().expect("path")))
            .send()
            .await
            .expect("read");
        assert_eq!(res.headers()["content-type"], "image/png", "{name}");
        let thumb = image::load_from_memory(&res.bytes().await.expect("bytes")).expect("image");
        assert_eq!((thumb.width(), thumb.height()), (256, 128), "{name}");
    }
}

#[tokio::test]
async fn a_decompression_bomb_gets_the_error_preview_state_and_no_thumbnail() {
    let t = spawn_with(quick_previews).await;
    let f = upload(&t, "bomb.png", &bomb_png(60_000, 60_000), "root").await;
    assert_eq!(settled_thumbnail(&t, &f).await, "error");
    let (_, d) = details(&t, &f).await;
    assert_eq!(d["node"]["previews"]["image"]["state"], "error");
    let (status, v) = t
        .get(&node_path(&t, &f, "preview/thumbnail/preauthorize/"))
        .await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, 143705), "{v}");
    let run = t
        .emu
        .stats()
        .preview_runs
        .into_iter()
        .find(|r| r.node == f)
        .expect("a run");
    assert!(!run.ok);
    println!(
        "decompression bomb 60000x60000 refused in {:?}",
        run.elapsed
    );
    // The emulator is still healthy and makes the next thumbnail.
    let ok = upload(&t, "fine.png", &png(300, 300), "root").await;
    assert_eq!(settled_thumbnail(&t, &ok).await, "ready");
}

#[tokio::test]
async fn previews_that_do_not_apply_are_404_143705_and_unknown_types_400() {
    let t = spawn_with(quick_previews).await;
    let f = upload(&t, "notes.txt", b"plain text", "root").await;
    let (_, d) = details(&t, &f).await;
    assert_eq!(d["node"]["previews"]["thumbnail"]["state"], "not possible");
    let (status, v) = t
        .get(&node_path(&t, &f, "preview/thumbnail/preauthorize/"))
        .await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, 143705), "{v}");
    let (status, v) = t
        .get(&node_path(&t, &f, "preview/hls_stream/preauthorize/"))
        .await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, 1605), "{v}");
    let folder_id = folder(&t, "root", "d").await;
    let (_, d) = details(&t, &folder_id).await;
    assert_eq!(d["node"]["previews"], serde_json::json!({}));
}

#[tokio::test]
async fn the_image_transform_resizes_rotates_converts_and_enforces_every_rule() {
    let t = spawn_with(quick_previews).await;
    let f = upload(&t, "pic.png", &png(800, 600), "root").await;
    let (status, v) = t
        .get(&node_path(&t, &f, "transform/image/requestread/"))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let token = v["token"].as_str().expect("token").to_owned();
    let read = |q: &str| {
        t.http
            .get(t.url(&node_path(
                &t,
                &f,
                &format!("transform/image/read/?token={token}&{q}"),
            )))
            .send()
    };
    let res = read("width=200").await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    let img = image::load_from_memory(&res.bytes().await.expect("bytes")).expect("image");
    assert_eq!((img.width(), img.height()), (200, 150));
    let res = read("output-format=jpg&height=60&rotate=90")
        .await
        .expect("send");
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let img = image::load_from_memory(&res.bytes().await.expect("bytes")).expect("image");
    assert_eq!((img.width(), img.height()), (60, 80));
    let res = read("cropwidth=100&cropheight=50&cropx=10&cropy=10&size=IconTiny")
        .await
        .expect("send");
    let img = image::load_from_memory(&res.bytes().await.expect("bytes")).expect("image");
    assert_eq!((img.width(), img.height()), (32, 16));
    for bad in [
        "output-format=webp",
        "output-format=PNG",
        "width=",
        "width=0",
        "height=-3",
        "cropwidth=10&cropheight=10&cropx=1",
        "cropwidth=10&cropheight=10&cropx=0&cropy=1",
        "rotate=45",
        "size=icontiny",
        "cropwidth=900&cropheight=10&cropx=1&cropy=1",
    ] {
        let res = read(bad).await.expect("send");
        let (status, v) = json(res).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, 1605),
            "{bad}: {v}"
        );
    }
    let (status, v) = t
        .get(&node_path(&t, &f, "transform/video/requestread/"))
        .await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, 1605), "{v}");
    let res = t
        .http
        .get(t.url(&node_path(&t, &f, "transform/image/read/?width=10")))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let txt = upload(&t, "t.txt", b"not an image", "root").await;
    let (_, v) = t
        .get(&node_path(&t, &txt, "transform/image/requestread/"))
        .await;
    let tok = v["token"].as_str().expect("token");
    let res = t
        .http
        .get(t.url(&node_path(
            &t,
            &txt,
            &format!("transform/image/read/?token={tok}"),
        )))
        .send()
        .await
        .expect("send");
    let (status, v) = json(res).await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, 143705), "{v}");
}

/// Peak resident memory of this process since the last reset (`VmHWM`), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Also the measurement of the thumbnail time and peak RSS for a 12-megapixel JPEG: run it alone
/// (`cargo test --test it twelve_megapixel -- --nocapture`) for a peak that is this test's own.
#[tokio::test]
async fn a_twelve_megapixel_jpeg_gets_a_thumbnail_off_the_request_path() {
    let t = spawn_with(quick_previews).await;
    let jpeg = {
        let img = image::RgbImage::from_fn(4000, 3000, |x, y| {
            let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 24;
            image::Rgb([(x / 16) as u8, (y / 12) as u8, n as u8])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .expect("encode");
        out.into_inner()
    };
    // Reset the peak so it measures the upload and the thumbnail, not the test's own encoding.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = peak_rss_kib();
    let started = Instant::now();
    let f = upload(&t, "big.jpg", &jpeg, "root").await;
    let stored_after = started.elapsed();
    assert_eq!(settled_thumbnail(&t, &f).await, "ready");
    let ready_after = started.elapsed();
    let run = t
        .emu
        .stats()
        .preview_runs
        .into_iter()
        .find(|r| r.node == f)
        .expect("a run");
    assert!(run.ok);
    println!(
        "12 MP JPEG ({} bytes): stored after {stored_after:?}, thumbnail ready after \
         {ready_after:?}, generation {:?}; peak RSS {:?} KiB before, {:?} KiB after",
        jpeg.len(),
        run.elapsed,
        before,
        peak_rss_kib()
    );
    let (_, v) = t
        .get(&node_path(&t, &f, "preview/thumbnail/preauthorize/"))
        .await;
    let origin = t.base.trim_end_matches("/current");
    let res = t
        .http
        .get(format!("{origin}{}", v["path"].as_str().expect("path")))
        .send()
        .await
        .expect("read");
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let thumb = image::load_from_memory(&res.bytes().await.expect("bytes")).expect("image");
    assert_eq!((thumb.width(), thumb.height()), (256, 192));
}
