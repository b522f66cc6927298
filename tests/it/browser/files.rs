//! The folder page's file management in real headless Chromium: with JavaScript the row menu
//! opens from the keyboard and the bulk bar counts ticked rows; without it the same checkboxes,
//! menu and confirm pages work as plain forms; on a 390 px phone every row action and the drop
//! zone's line stay in view. Screenshots of the folder page (with thumbnails) and of the file page
//! at 1280×900 and 390×844 are saved with the others, and under `docs/screenshots/` when
//! `FASTGATE_DOCS_SCREENSHOTS=1`.

use std::time::Duration;

use bytes::Bytes;
use fantoccini::Locator;
use fastgate::fastio::UploadTarget;
use serde_json::Value;

use crate::common::browser::{Browser, Site};

const SECRET: &str = "a-browser-test-secret-of-more-than-32-bytes!";
const WAIT: Duration = Duration::from_secs(20);

/// Stores `body` as `name` in `folder` through the gateway's own client; returns the node id.
async fn put_file(site: &Site, folder: &str, name: &str, body: Vec<u8>) -> String {
    let state = site.state();
    let target = UploadTarget {
        workspace: site.workspace.clone(),
        folder: folder.into(),
    };
    let up = state
        .fastio
        .upload_single(&target, name, Bytes::from(body))
        .await
        .expect("upload");
    match up.new_file_id {
        Some(id) => id,
        None => state
            .fastio
            .wait_until_stored(&up.upload_id, WAIT)
            .await
            .expect("stored")
            .new_file_id
            .expect("node id"),
    }
}

async fn put_folder(site: &Site, parent: &str, name: &str) -> String {
    site.state()
        .fastio
        .create_folder(&site.workspace, parent, name)
        .await
        .expect("folder")
        .id
}

/// The names in `folder`, sorted.
async fn names_in(site: &Site, folder: &str) -> Vec<String> {
    let app = site.app();
    let r = app
        .get(&format!("/api/files/{}/{folder}", site.workspace))
        .await;
    let mut v: Vec<String> = r.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    v.sort();
    v
}

/// A `w`×`h` JPEG of a smooth picture (sky, hills), for thumbnails that look like photos.
fn photo(w: u32, h: u32, hue: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let hill = (h as f32 * (0.6 + 0.1 * ((x as f32 / w as f32) * 6.0).sin())) as u32;
        if y > hill {
            image::Rgb([40, 120u8.saturating_add(hue / 3), 60])
        } else {
            let t = y as f32 / h as f32;
            image::Rgb([
                (90.0 + 100.0 * t) as u8,
                (150.0 + 60.0 * t) as u8,
                255 - hue / 2,
            ])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("jpeg");
    out.into_inner()
}

/// A small valid PDF of `pages` pages, each saying its number.
fn pdf(pages: usize) -> Vec<u8> {
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            (0..pages)
                .map(|i| format!("{} 0 R", 4 + 2 * i))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    for i in 0..pages {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        let text = format!("BT /F1 48 Tf 72 700 Td (Page {}) Tj ET", i + 1);
        objects.push(format!(
            "<< /Length {} >>\nstream\n{text}\nendstream",
            text.len()
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// Waits until every thumbnail of `ids` is ready (made after `stored`).
async fn thumbnails_ready(site: &Site, ids: &[String]) {
    let app = site.app();
    for id in ids {
        crate::common::wait_until("a thumbnail", WAIT, || async {
            let r = app.get(&format!("/thumb/{}/{id}", site.workspace)).await;
            if r.status == 200 {
                Ok(())
            } else {
                Err(r.status)
            }
        })
        .await;
    }
}

/// Saves a screenshot under the test target dir and, when asked, under `docs/screenshots/`.
async fn document(browser: &Browser, name: &str) {
    let shot = browser.screenshot(name).await;
    if std::env::var("FASTGATE_DOCS_SCREENSHOTS").as_deref() == Ok("1") {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&docs).expect("docs/screenshots");
        std::fs::copy(&shot, docs.join(format!("{name}.png"))).expect("copy screenshot");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_javascript_the_row_menu_opens_from_the_keyboard_and_the_bulk_bar_moves_ticked_rows() {
    let site = Site::start(&[("FASTGATE_SECRET", SECRET)], |_| {}).await;
    let dest = put_folder(&site, "root", "Dest").await;
    let a = put_file(&site, "root", "a.txt", b"a".to_vec()).await;
    let b = put_file(&site, "root", "b.txt", b"b".to_vec()).await;
    let browser = site.browser(true).await;
    let folder = format!("{}/w/{}/root", site.url(), site.workspace);
    browser.goto(&folder).await;

    // One picker with JS: the native input is visually hidden, yet still there and focusable.
    let picker = browser
        .eval(
            "const i = document.querySelector('form[data-upload] input[type=file]');
             const r = i.getBoundingClientRect();
             i.focus();
             return {hidden: i.classList.contains('visually-hidden'), w: r.width,
                     focused: document.activeElement === i, tab: i.tabIndex};",
        )
        .await;
    assert_eq!(picker["hidden"], true, "{picker}");
    assert!(picker["w"].as_f64().unwrap_or(9.0) <= 1.0, "{picker}");
    assert_eq!(picker["focused"], true, "{picker}");
    assert!(picker["tab"].as_i64().unwrap_or(-1) >= 0, "{picker}");

    // The row menu from the keyboard: focus its button, press Enter, the rename field has focus;
    // Escape closes it and gives focus back.
    let summary = browser
        .find(Locator::Css(&format!(
            "tr[data-node='{a}'] .row-menu > summary"
        )))
        .await;
    browser
        .eval(&format!("document.querySelector(\"tr[data-node='{a}'] .row-menu > summary\").focus(); return true;"))
        .await;
    summary.send_keys("\u{E007}").await.expect("Enter");
    browser
        .wait_until(
            "the menu open with focus in it",
            WAIT,
            &format!(
                "const m = document.querySelector(\"tr[data-node='{a}'] .row-menu\");
                 return m.open && m.contains(document.activeElement)
                   && document.activeElement.name === 'name';"
            ),
        )
        .await;
    let items = browser
        .eval(&format!(
            "return [...document.querySelectorAll(\"tr[data-node='{a}'] .menu-panel button, tr[data-node='{a}'] .menu-panel a\")].map(e => e.textContent.trim());"
        ))
        .await;
    assert_eq!(
        items,
        serde_json::json!(["Rename", "Move to…", "Move to trash…"])
    );
    browser
        .client
        .active_element()
        .await
        .expect("focus")
        .send_keys("\u{E00C}")
        .await
        .expect("Escape");
    let closed = browser
        .eval(&format!(
            "const m = document.querySelector(\"tr[data-node='{a}'] .row-menu\");
             return !m.open && document.activeElement === m.querySelector('summary');"
        ))
        .await;
    assert_eq!(closed, Value::Bool(true));

    // The bulk bar counts ticked rows; its buttons wait for a tick.
    let disabled = browser
        .eval("return [...document.querySelectorAll('[data-bulk-action]')].every(b => b.disabled);")
        .await;
    assert_eq!(disabled, Value::Bool(true));
    for id in [&a, &b] {
        browser
            .find(Locator::Css(&format!(
                "tr[data-node='{id}'] input[type=checkbox]"
            )))
            .await
            .click()
            .await
            .expect("tick");
    }
    let count = browser
        .eval("return document.querySelector('[data-bulk-count]').textContent;")
        .await;
    assert_eq!(count, "2 selected");
    browser
        .click_to_next_page(Locator::Css("button[formaction$='/move']"))
        .await;
    browser.click_to_next_page(Locator::LinkText("Dest")).await;
    browser
        .click_to_next_page(Locator::XPath("//button[normalize-space()='Move here']"))
        .await;
    browser
        .wait_until(
            "back on the folder page",
            WAIT,
            "return location.pathname.endsWith('/root') && document.readyState === 'complete';",
        )
        .await;
    assert_eq!(names_in(&site, &dest).await, ["a.txt", "b.txt"]);
    assert_eq!(names_in(&site, "root").await, ["Dest"]);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_the_checkboxes_menu_and_confirm_pages_work_as_plain_forms() {
    let site = Site::start(&[("FASTGATE_SECRET", SECRET)], |_| {}).await;
    let a = put_file(&site, "root", "a.txt", b"a".to_vec()).await;
    let b = put_file(&site, "root", "b.txt", b"b".to_vec()).await;
    let c = put_file(&site, "root", "c.txt", b"c".to_vec()).await;
    let browser = site.browser(false).await;
    let folder = format!("{}/w/{}/root", site.url(), site.workspace);
    browser.goto(&folder).await;
    let enhanced = browser
        .eval(
            "return document.querySelector('form[data-upload]').classList.contains('is-enhanced');",
        )
        .await;
    assert_eq!(
        enhanced,
        Value::Bool(false),
        "JavaScript ran although disabled"
    );

    // Bulk: tick a and b, "Move selected to trash…", confirm.
    for id in [&a, &b] {
        browser
            .find(Locator::Css(&format!(
                "tr[data-node='{id}'] input[type=checkbox]"
            )))
            .await
            .click()
            .await
            .expect("tick");
    }
    browser
        .click_to_next_page(Locator::XPath(
            "//button[normalize-space()='Move selected to trash…']",
        ))
        .await;
    let heading = browser
        .eval("return document.querySelector('h1').textContent;")
        .await;
    assert_eq!(heading, "Move 2 items to the trash?");
    browser
        .click_to_next_page(Locator::XPath(
            "//button[normalize-space()='Move to trash']",
        ))
        .await;
    assert_eq!(names_in(&site, "root").await, ["c.txt"]);

    // The row menu: a <details> that opens on click, its rename form posts.
    browser.goto(&folder).await;
    browser
        .find(Locator::Css(&format!(
            "tr[data-node='{c}'] .row-menu > summary"
        )))
        .await
        .click()
        .await
        .expect("open");
    let field = browser
        .find(Locator::Css(&format!(
            "tr[data-node='{c}'] input[name=name]"
        )))
        .await;
    field.clear().await.expect("clear");
    browser.mark_this_page().await;
    field
        .send_keys("renamed.txt\u{E007}")
        .await
        .expect("type and submit");
    browser
        .wait_for_next_page("the folder page after the rename")
        .await;
    crate::common::wait_until("the rename", WAIT, || async {
        let names = names_in(&site, "root").await;
        if names == ["renamed.txt"] {
            Ok(())
        } else {
            Err(names)
        }
    })
    .await;

    // The trash page: restore one without JS.
    browser
        .goto(&format!("{}/w/{}/trash", site.url(), site.workspace))
        .await;
    browser
        .click_to_next_page(Locator::Css("button[aria-label='Restore a.txt']"))
        .await;
    assert_eq!(names_in(&site, "root").await, ["a.txt", "renamed.txt"]);
    browser.close().await;
}

/// Every row's Download, Share and More button, and the drop zone's text, inside the viewport.
const IN_VIEW: &str = "
    const vw = document.documentElement.clientWidth;
    const out = [];
    const check = (what, el) => {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (r.width === 0 || style.visibility === 'hidden' || style.display === 'none'
          || r.left < 0 || r.right > vw) out.push(`${what}: ${r.left}..${r.right} of ${vw}`);
    };
    for (const row of document.querySelectorAll('tbody tr.is-file')) {
      const name = row.querySelector('.name').textContent;
      for (const [what, css] of [['Download', 'a[download]'], ['Share', '.share > summary'],
                                 ['More', '.row-menu > summary']]) {
        const el = row.querySelector(css);
        if (!el) out.push(`${name}: no ${what}`); else check(`${name} ${what}`, el);
      }
    }
    const label = document.querySelector('.dropzone-label');
    check('drop zone line', label);
    if (label.scrollWidth > label.clientWidth + 1) out.push('drop zone line overflows');
    if (document.documentElement.scrollWidth > vw + 1)
      out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${vw}`);
    return out;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_390px_phone_every_row_action_and_the_drop_zone_line_stay_in_view() {
    let site = Site::start(&[("FASTGATE_SECRET", SECRET)], |_| {}).await;
    put_folder(&site, "root", "Holiday photos").await;
    let mut ids = Vec::new();
    for (i, name) in ["beach.jpg", "mountain sunrise panorama.jpg"]
        .iter()
        .enumerate()
    {
        ids.push(put_file(&site, "root", name, photo(1200, 800, 60 * i as u8)).await);
    }
    put_file(
        &site,
        "root",
        "Quarterly report with a rather long file name 2026.pdf",
        b"%PDF-1.4\n%%EOF\n".to_vec(),
    )
    .await;
    thumbnails_ready(&site, &ids).await;
    for js in [true, false] {
        let browser = site.browser(js).await;
        browser.set_viewport(390, 844).await;
        browser
            .goto(&format!("{}/w/{}/root", site.url(), site.workspace))
            .await;
        let problems = browser.eval(IN_VIEW).await;
        let shot = browser.screenshot(&format!("phone-folder-js-{js}")).await;
        assert_eq!(
            problems,
            serde_json::json!([]),
            "JS {js}; screenshot: {}",
            shot.display()
        );
        // The menu opened on the phone fits the screen too.
        browser
            .find(Locator::Css("tr.is-file .row-menu > summary"))
            .await
            .click()
            .await
            .expect("open");
        let panel = browser
            .eval(
                "const r = document.querySelector('details.row-menu[open] .menu-panel').getBoundingClientRect();
                 return r.left >= 0 && r.right <= document.documentElement.clientWidth;",
            )
            .await;
        let shot = browser.screenshot(&format!("phone-menu-js-{js}")).await;
        assert_eq!(
            panel,
            Value::Bool(true),
            "JS {js}: the open menu is cut off; screenshot: {}",
            shot.display()
        );
        browser.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_the_folder_page_with_thumbnails_and_of_the_file_page() {
    let site = Site::start(&[("FASTGATE_SECRET", SECRET)], |_| {}).await;
    put_folder(&site, "root", "Contracts").await;
    put_folder(&site, "root", "Holiday photos").await;
    let mut ids = Vec::new();
    for (i, name) in [
        "beach.jpg",
        "harbour at dusk.jpg",
        "mountain sunrise.jpg",
        "picnic.jpg",
    ]
    .iter()
    .enumerate()
    {
        ids.push(put_file(&site, "root", name, photo(1600, 1000, 50 * i as u8)).await);
    }
    put_file(
        &site,
        "root",
        "notes.md",
        b"# Trip notes\n\n- pack the tent\n- <b>not bold</b>\n".to_vec(),
    )
    .await;
    put_file(
        &site,
        "root",
        "budget 2026.csv",
        b"item,cost\ntent,120\n".to_vec(),
    )
    .await;
    let beach = ids[0].clone();
    let paper = put_file(&site, "root", "paper.pdf", pdf(3)).await;
    // A second upload of the same name: the file page lists two versions.
    put_file(&site, "root", "beach.jpg", photo(1600, 1000, 10)).await;
    thumbnails_ready(&site, &ids).await;

    let browser = site.browser(true).await;
    let folder = format!("{}/w/{}/root", site.url(), site.workspace);
    let file = format!("{}/w/{}/f/{beach}", site.url(), site.workspace);
    for (w, h) in [(1280, 900), (390, 844)] {
        browser.set_viewport(w, h).await;
        browser.goto(&folder).await;
        browser
            .wait_until(
                "the thumbnails shown",
                WAIT,
                "return [...document.querySelectorAll('.thumb img')].every(i => i.complete && i.naturalWidth > 0);",
            )
            .await;
        let shown = browser
            .eval("return document.querySelectorAll('.thumb img').length;")
            .await;
        assert_eq!(shown, 4);
        // The listing in view (on a phone it is below the upload forms).
        browser
            .eval("document.querySelector('.bulk-bar').scrollIntoView({block: 'start'}); window.scrollBy(0, -12); return true;")
            .await;
        document(&browser, &format!("folder-{w}x{h}")).await;
        browser.goto(&file).await;
        browser
            .wait_until(
                "the preview shown",
                WAIT,
                "const i = document.querySelector('.preview-image'); return !!i && i.complete && i.naturalWidth > 0;",
            )
            .await;
        let versions = browser
            .eval("return document.querySelectorAll('[data-version]').length;")
            .await;
        assert_eq!(versions, 2);
        document(&browser, &format!("file-{w}x{h}")).await;
    }
    // A PDF opens in the browser's own viewer inside the page, at the page asked for.
    browser.set_viewport(1280, 900).await;
    browser
        .goto(&format!(
            "{}/w/{}/f/{paper}?page=2",
            site.url(),
            site.workspace
        ))
        .await;
    let src = browser
        .eval("return document.querySelector('iframe.preview-pdf').getAttribute('src');")
        .await;
    assert!(
        src.as_str().is_some_and(|s| s.ends_with("#page=2")),
        "{src}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    document(&browser, "file-pdf-1280x900").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_html_or_svg_opened_in_the_browser_never_runs() {
    let site = Site::start(&[("FASTGATE_SECRET", SECRET)], |_| {}).await;
    let html = put_file(
        &site,
        "root",
        "evil.html",
        b"<!doctype html><title>safe</title><script>document.title='pwned';alert(1)</script><h1>hi</h1>"
            .to_vec(),
    )
    .await;
    let svg = put_file(
        &site,
        "root",
        "evil.svg",
        br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(2)"><script>alert(3)</script></svg>"#
            .to_vec(),
    )
    .await;
    let browser = site.browser(true).await;
    for (id, needle) in [(&html, "<script>"), (&svg, "onload=")] {
        // The preview opened directly, and the file page that shows it: shown as text, and no
        // script ran (an alert would fail the next WebDriver command; a title change is seen).
        for path in [
            format!("/preview/{}/{id}", site.workspace),
            format!("/w/{}/f/{id}", site.workspace),
        ] {
            browser.goto(&format!("{}{path}", site.url())).await;
            let seen = browser
                .eval("return {title: document.title, text: document.body.innerText, svg: document.querySelectorAll('svg[onload]').length};")
                .await;
            assert_ne!(seen["title"], "pwned", "{path}: {seen}");
            assert_eq!(seen["svg"], 0, "{path}: {seen}");
            assert!(
                seen["text"].as_str().is_some_and(|t| t.contains(needle)),
                "{path}: shown as text: {seen}"
            );
        }
    }
    browser.close().await;
}
