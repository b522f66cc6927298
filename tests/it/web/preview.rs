//! `/preview/{ws}/{node}`: safe types inline, anything scriptable as plain text, the rest as a
//! download, and always a sandboxing CSP, so an uploaded `.html` or `.svg` never runs in
//! fastgate's origin.

use crate::common::spawn_app;

const HTML: &[u8] = b"<!doctype html><script>document.title='pwned'</script><h1>hi</h1>";
const SVG: &[u8] =
    br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>"#;
const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0];

#[tokio::test(flavor = "multi_thread")]
async fn uploaded_html_and_svg_never_render_as_documents_of_the_gateway() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let (_, viewer) = gw.user("vera", "viewer", Some(&ws)).await;
    for (name, bytes) in [
        ("evil.html", HTML),
        ("evil.htm", HTML),
        ("evil.svg", SVG),
        ("evil.xhtml", HTML),
    ] {
        let id = gw.put_file("root", name, bytes).await;
        let r = viewer.get(&format!("/preview/{ws}/{id}")).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let ct = r.header("content-type").unwrap_or_default();
        assert_eq!(ct, "text/plain; charset=utf-8", "{name}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.starts_with("sandbox"), "{name}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{name}: {csp}");
        assert!(!csp.contains("script-src"), "{name}: {csp}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(
            r.header("content-disposition")
                .is_some_and(|d| d.starts_with("inline"))
        );
        assert_eq!(&r.body[..], bytes, "{name}: the bytes, shown as text");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn images_and_pdf_are_inline_other_types_download_and_folders_have_none() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let png = gw.put_file("root", "p.png", PNG).await;
    let r = gw.get(&format!("/preview/{ws}/{png}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert!(
        r.header("content-disposition")
            .is_some_and(|d| d.starts_with("inline"))
    );
    assert!(
        r.header("content-security-policy")
            .is_some_and(|c| c.starts_with("sandbox"))
    );

    let zip = gw.put_file("root", "z.zip", b"PK\x03\x04zip").await;
    let r = gw.get(&format!("/preview/{ws}/{zip}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert!(
        r.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment"))
    );

    // Ranges pass through (what <audio>/<video> seeking needs).
    let r = gw
        .send(
            gw.client
                .get(format!("{}/preview/{ws}/{png}", gw.url))
                .header("range", "bytes=0-3"),
        )
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(&r.body[..], &PNG[..4]);

    let dir = gw.put_folder("root", "D").await;
    assert_eq!(gw.get(&format!("/preview/{ws}/{dir}")).await.status, 404);
    assert_eq!(
        gw.get(&format!("/preview/{ws}/nosuchnode")).await.status,
        404
    );
    // Fetched by someone signed out: 401 like a download (bytes, not a page, are asked for:
    // an <img> or <video> cannot follow a sign-in redirect), thumbnails alike.
    let anonymous = gw.anonymous();
    for path in [
        format!("/preview/{ws}/{png}"),
        format!("/thumb/{ws}/{png}"),
        format!("/download/{ws}/{png}"),
    ] {
        let r = anonymous.get(&path).await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.json()["error"]["code"], "unauthenticated", "{path}");
    }
    // The pages around them still send a person to the sign-in page.
    let r = anonymous.get(&format!("/w/{ws}/f/{png}")).await;
    assert_eq!(r.status, 303);
    assert!(
        r.header("location")
            .is_some_and(|l| l.starts_with("/signin"))
    );
}

/// A `w`×`h` PNG with a gradient.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thumbnail_is_a_valid_smaller_image_and_non_images_have_none() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let (_, viewer) = gw.user("vera", "viewer", Some(&ws)).await;
    let id = gw.put_file("root", "big.png", &png(1200, 800)).await;
    let mut got = None;
    let mut last = String::new();
    for _ in 0..300 {
        let r = viewer.get(&format!("/thumb/{ws}/{id}")).await;
        if r.status == 200 {
            got = Some(r);
            break;
        }
        assert_eq!(r.status, 404, "{}", r.text());
        last = r.text();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let r = got.unwrap_or_else(|| panic!("the thumbnail never became ready: {last}"));
    let ct = r.header("content-type").unwrap_or_default().to_owned();
    assert!(ct == "image/png" || ct == "image/jpeg", "{ct}");
    assert!(
        r.header("content-security-policy")
            .is_some_and(|c| c.starts_with("sandbox"))
    );
    let thumb = image::load_from_memory(&r.body).expect("a valid image");
    assert!(
        thumb.width().max(thumb.height()) <= 256,
        "{}x{}",
        thumb.width(),
        thumb.height()
    );
    assert!(thumb.width() > thumb.height(), "the aspect ratio is kept");

    let txt = gw.put_file("root", "a.txt", b"text").await;
    assert_eq!(gw.get(&format!("/thumb/{ws}/{txt}")).await.status, 404);
    let dir = gw.put_folder("root", "D").await;
    assert_eq!(gw.get(&format!("/thumb/{ws}/{dir}")).await.status, 404);
}
