//! The file-management pages over HTTP (DESIGN §3c), driven as a browser without JavaScript
//! drives them: the folder page's checkboxes lead to the move picker and the delete confirm
//! page, whose forms post the bulk actions; thumbnails in the listing; the search page; the
//! trash page with restore, delete forever and empty; the file page with its details, versions
//! and a preview chosen by type. Every change needs an editor and is audited.

use serde_json::Value;

use crate::common::{Gateway, Recorded, TestApp, spawn_app};

/// POSTs urlencoded `fields` to `path` with our Origin, as a form without JS does.
async fn post_form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> Recorded {
    app.send(
        app.client
            .post(format!("{}{path}", app.url))
            .header("origin", app.origin())
            .form(fields),
    )
    .await
}

async fn names_in(gw: &Gateway, folder: &str) -> Vec<String> {
    let r = gw
        .get(&format!("/api/files/{}/{folder}", gw.workspace))
        .await;
    names(&r.json())
}

async fn trash_names(gw: &Gateway) -> Vec<String> {
    names(&gw.get(&format!("/api/trash/{}", gw.workspace)).await.json())
}

fn names(listing: &Value) -> Vec<String> {
    let mut v: Vec<String> = listing["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    v.sort();
    v
}

/// The audit entries with `action`, newest first.
async fn audited(gw: &Gateway, action: &str) -> Vec<Value> {
    let audit = gw.get("/api/audit?limit=200").await.json();
    audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["action"] == action)
        .cloned()
        .collect()
}

/// Every `value` of the hidden `name` inputs of the form posting to `action` in `html`.
fn hidden_values(html: &str, action: &str, name: &str) -> Vec<String> {
    let start = html
        .find(&format!(r#"action="{action}""#))
        .unwrap_or_else(|| panic!("no form posting to {action} in {html}"));
    let form = &html[start
        ..html[start..]
            .find("</form>")
            .map_or(html.len(), |e| start + e)];
    let needle = format!(r#"name="{name}" value=""#);
    form.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &form[i + needle.len()..];
            rest[..rest.find('"').expect("closing quote")].to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ticked_rows_move_through_the_picker_page_audited_and_a_viewer_is_refused() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let (_, editor) = gw.user("eddie", "editor", Some(&ws)).await;
    let (_, viewer) = gw.user("vera", "viewer", Some(&ws)).await;
    let a = gw.put_file("root", "a.txt", b"a").await;
    let b = gw.put_file("root", "b.txt", b"b").await;
    let dest = gw.put_folder("root", "Dest").await;
    let inner = gw.put_folder(&dest, "Inner").await;

    // The folder page: one checkbox per row, all belonging to the bulk form.
    let page = editor.get(&format!("/w/{ws}/root")).await.text();
    assert!(
        page.contains(&format!(
            r#"<form id="bulk" class="bulk-bar" method="get" action="/w/{ws}/root/delete""#
        )),
        "{page}"
    );
    assert!(page.contains(&format!(r#"formaction="/w/{ws}/root/move""#)));
    for id in [&a, &b, &dest] {
        assert!(
            page.contains(&format!(r#"name="node" value="{id}" form="bulk""#)),
            "{id}: {page}"
        );
    }
    // Ticking a and b and pressing "Move selected…": the picker at the current folder lists
    // its folders as links that keep the choice.
    let picker = editor
        .get(&format!("/w/{ws}/root/move?node={a}&node={b}"))
        .await;
    assert_eq!(picker.status, 200, "{}", picker.text());
    let html = picker.text();
    assert!(html.contains("Move 2 items") && html.contains("a.txt") && html.contains("b.txt"));
    let into_dest = format!("/w/{ws}/root/move?node={a}&#38;node={b}&#38;at={dest}");
    assert!(html.contains(&into_dest), "{html}");
    assert!(html.contains("They are already here"), "{html}");
    // Into Dest: its subfolder is offered, and "Move here" posts both nodes with parent=Dest.
    let html = editor.get(&into_dest.replace("&#38;", "&")).await.text();
    assert!(
        html.contains("Inner") && html.contains(&format!("at={inner}")),
        "{html}"
    );
    let action = format!("/w/{ws}/root?/move");
    assert_eq!(
        hidden_values(&html, &action, "node"),
        [a.clone(), b.clone()]
    );
    assert_eq!(hidden_values(&html, &action, "parent"), [dest.clone()]);

    // A viewer may not open the picker nor post the move.
    assert_eq!(
        viewer
            .get(&format!("/w/{ws}/root/move?node={a}"))
            .await
            .status,
        403
    );
    let r = post_form(
        &viewer,
        &action,
        &[("node", &a), ("node", &b), ("parent", &dest)],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(names_in(&gw, &dest).await, ["Inner"]);

    let r = post_form(
        &editor,
        &action,
        &[("node", &a), ("node", &b), ("parent", &dest)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some(format!("/w/{ws}/root").as_str()));
    assert_eq!(names_in(&gw, &dest).await, ["Inner", "a.txt", "b.txt"]);
    assert_eq!(names_in(&gw, "root").await, ["Dest"]);
    let moved = audited(&gw, "node_moved").await;
    for id in [&a, &b] {
        let entry = moved
            .iter()
            .find(|e| e["target"] == id.as_str())
            .unwrap_or_else(|| panic!("no node_moved for {id}: {moved:?}"));
        assert_eq!(entry["actor"], "token:tests@eddie");
    }

    // Nothing ticked is a 400 with the reason; a folder is not offered as its own destination.
    let r = editor.get(&format!("/w/{ws}/root/move")).await;
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("Choose at least one item"),
        "{}",
        r.text()
    );
    let html = editor
        .get(&format!("/w/{ws}/root/move?node={dest}"))
        .await
        .text();
    assert!(!html.contains(&format!("at={dest}")), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ticked_rows_go_to_the_trash_through_the_confirm_page_audited_and_a_viewer_is_refused() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let (_, editor) = gw.user("eddie", "editor", Some(&ws)).await;
    let (_, viewer) = gw.user("vera", "viewer", Some(&ws)).await;
    let a = gw.put_file("root", "a.txt", b"a").await;
    let dir = gw.put_folder("root", "Box").await;
    gw.put_file(&dir, "in.txt", b"in").await;
    let keep = gw.put_file("root", "keep.txt", b"k").await;

    let confirm = editor
        .get(&format!("/w/{ws}/root/delete?node={a}&node={dir}"))
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.text());
    let html = confirm.text();
    assert!(html.contains("Move 2 items to the trash?"), "{html}");
    let action = format!("/w/{ws}/root?/delete");
    assert_eq!(
        hidden_values(&html, &action, "node"),
        [a.clone(), dir.clone()]
    );

    assert_eq!(
        viewer
            .get(&format!("/w/{ws}/root/delete?node={a}"))
            .await
            .status,
        403
    );
    let r = post_form(&viewer, &action, &[("node", &a), ("node", &dir)]).await;
    assert_eq!(r.status, 403);
    assert!(trash_names(&gw).await.is_empty());

    let r = post_form(&editor, &action, &[("node", &a), ("node", &dir)]).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(names_in(&gw, "root").await, ["keep.txt"]);
    assert_eq!(trash_names(&gw).await, ["Box", "a.txt"]);
    let deleted = audited(&gw, "node_deleted").await;
    for id in [&a, &dir] {
        assert!(
            deleted
                .iter()
                .any(|e| e["target"] == id.as_str() && e["actor"] == "token:tests@eddie"),
            "{id}: {deleted:?}"
        );
    }
    // A node of another workspace (here: one that does not exist) is a 404 before anything.
    let r = editor
        .get(&format!("/w/{ws}/root/delete?node={keep}&node=nosuchnode"))
        .await;
    assert_eq!(r.status, 404);
}

/// A `w`×`h` PNG with a gradient.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn images_in_the_listing_show_lazy_sized_thumbnails_and_other_files_a_placeholder() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let (_, viewer) = gw.user("vera", "viewer", Some(&ws)).await;
    let pic = gw.put_file("root", "pic.png", &png(300, 200)).await;
    let txt = gw.put_file("root", "notes.txt", b"notes").await;
    let html = viewer.get(&format!("/w/{ws}/root")).await.text();
    let img = format!(
        r#"<img src="/thumb/{ws}/{pic}" alt="" width="40" height="40" loading="lazy" decoding="async">"#
    );
    assert!(html.contains(&img), "{html}");
    assert!(
        !html.contains(&format!("/thumb/{ws}/{txt}")),
        "no thumbnail is asked for a text file"
    );
    assert_eq!(html.matches("<img ").count(), 1, "{html}");
    // Each file row has its placeholder icon (under the image for the picture).
    assert_eq!(html.matches(r#"<span class="thumb">"#).count(), 2, "{html}");
    // The rows link to the file pages.
    assert!(html.contains(&format!(
        r#"<a class="name" href="/w/{ws}/f/{pic}">pic.png</a>"#
    )));
    // A non-image asked for a thumbnail anyway is a 404; the image's is a picture.
    assert_eq!(viewer.get(&format!("/thumb/{ws}/{txt}")).await.status, 404);
    let thumb = crate::common::wait_until(
        "the thumbnail",
        std::time::Duration::from_secs(15),
        || async {
            let r = viewer.get(&format!("/thumb/{ws}/{pic}")).await;
            if r.status == 200 {
                Ok(r)
            } else {
                Err(r.status)
            }
        },
    )
    .await;
    let small = image::load_from_memory(&thumb.body).expect("a picture");
    assert!(small.width() <= 256 && small.height() <= 256);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_search_page_lists_hits_with_their_folder_paths_pages_and_refuses_an_overlong_query() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let (_, viewer) = gw.user("vera", "viewer", Some(&ws)).await;
    let docs = gw.put_folder("root", "Docs").await;
    let year = gw.put_folder(&docs, "2026").await;
    let deep = gw.put_file(&year, "Report-final.pdf", b"%PDF-1.4 x").await;
    gw.put_file("root", "report-draft.txt", b"d").await;
    gw.put_file("root", "unrelated.txt", b"u").await;

    let folder_page = viewer.get(&format!("/w/{ws}/root")).await.text();
    assert!(
        folder_page.contains(&format!(r#"action="/w/{ws}/search" role="search""#)),
        "the folder page has the search box"
    );
    let r = viewer.get(&format!("/w/{ws}/search?q=REPORT")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    assert!(html.contains("Report-final.pdf") && html.contains("report-draft.txt"));
    assert!(!html.contains("unrelated.txt"));
    assert!(
        html.contains(&format!(r#"href="/w/{ws}/f/{deep}""#)),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"<a href="/w/{ws}/{year}">"#)) && html.contains(" / Docs / 2026"),
        "the folder path links to the hit's folder: {html}"
    );

    // Paging: one hit per page, the next link carries the query and a signed cursor.
    let first = viewer
        .get(&format!("/w/{ws}/search?q=report&limit=1"))
        .await
        .text();
    let at = first.find(r#"rel="next" href=""#).expect("a next link");
    let rest = &first[at + r#"rel="next" href=""#.len()..];
    let next = rest[..rest.find('"').expect("quote")].replace("&#38;", "&");
    assert!(next.starts_with("?q=report&cursor="), "{next}");
    let second = viewer.get(&format!("/w/{ws}/search{next}")).await;
    assert_eq!(second.status, 200, "{}", second.text());
    let count = |h: &str| h.matches(r#"<a class="name""#).count();
    assert_eq!((count(&first), count(&second.text())), (1, 1));
    assert_ne!(
        first.contains("Report-final.pdf"),
        second.text().contains("Report-final.pdf"),
        "the two pages hold different hits"
    );

    let long = "a".repeat(1025);
    let r = viewer.get(&format!("/w/{ws}/search?q={long}")).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("at most 1024 characters"), "{}", r.text());
    // No query yet: the form alone.
    let r = viewer.get(&format!("/w/{ws}/search")).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(r#"name="q""#));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_trash_page_restores_deletes_forever_and_empties_for_an_editor_only() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let (_, editor) = gw.user("eddie", "editor", Some(&ws)).await;
    let (_, viewer) = gw.user("vera", "viewer", Some(&ws)).await;
    let ids: Vec<String> = futures_util::future::join_all(
        ["one.txt", "two.txt", "three.txt", "four.txt"]
            .iter()
            .map(|n| gw.put_file("root", n, n.as_bytes())),
    )
    .await;
    for id in &ids {
        let r = editor
            .send(
                editor
                    .client
                    .delete(format!("{}/api/files/{ws}/{id}", editor.url)),
            )
            .await;
        assert_eq!(r.status, 204);
    }
    let folder_page = viewer.get(&format!("/w/{ws}/root")).await.text();
    assert!(folder_page.contains(&format!(r#"href="/w/{ws}/trash""#)));

    let html = viewer.get(&format!("/w/{ws}/trash")).await.text();
    assert!(
        html.contains("one.txt") && html.contains("four.txt"),
        "{html}"
    );
    assert!(!html.contains("?/restore") && !html.contains("?/purge") && !html.contains("?/empty"));
    let html = editor.get(&format!("/w/{ws}/trash")).await.text();
    let page = format!("/w/{ws}/trash");
    for action in ["restore", "purge", "empty"] {
        assert!(
            html.contains(&format!(r#"action="{page}?/{action}""#)),
            "{action}: {html}"
        );
    }
    for action in ["restore", "purge"] {
        let r = post_form(&viewer, &format!("{page}?/{action}"), &[("node", &ids[0])]).await;
        assert_eq!(r.status, 403, "{action}");
    }
    assert_eq!(
        post_form(&viewer, &format!("{page}?/empty"), &[])
            .await
            .status,
        403
    );

    let r = post_form(&editor, &format!("{page}?/restore"), &[("node", &ids[0])]).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some(page.as_str()));
    assert_eq!(names_in(&gw, "root").await, ["one.txt"]);
    let r = post_form(&editor, &format!("{page}?/purge"), &[("node", &ids[1])]).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(trash_names(&gw).await, ["four.txt", "three.txt"]);
    let r = post_form(&editor, &format!("{page}?/empty"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(trash_names(&gw).await.is_empty());
    assert_eq!(
        names_in(&gw, "root").await,
        ["one.txt"],
        "the live file stays"
    );
    let html = editor.get(&page).await.text();
    assert!(html.contains("The trash is empty"));

    assert!(!audited(&gw, "node_restored").await.is_empty());
    let purged = audited(&gw, "node_purged").await;
    assert!(purged.iter().any(|e| e["target"] == ids[1].as_str()));
    let emptied = purged
        .iter()
        .find(|e| e["target"] == "trash")
        .unwrap_or_else(|| panic!("no audit entry for emptying: {purged:?}"));
    assert_eq!(emptied["actor"], "token:tests@eddie");
    // Emptying is only for the trash.
    let r = post_form(&editor, &format!("/w/{ws}/root?/empty"), &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(names_in(&gw, "root").await, ["one.txt"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_page_shows_details_and_versions_and_an_editor_restores_an_older_one() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let (_, editor) = gw.user("eddie", "editor", Some(&ws)).await;
    let (_, viewer) = gw.user("vera", "viewer", Some(&ws)).await;
    let docs = gw.put_folder("root", "Docs").await;
    let old = b"first version\n";
    let new = b"second, longer version\n";
    let id = gw.put_file(&docs, "notes.txt", old).await;
    assert_eq!(gw.put_file(&docs, "notes.txt", new).await, id);
    let sha_old = crate::common::payload::sha256_hex(old);
    let sha_new = crate::common::payload::sha256_hex(new);

    let r = viewer.get(&format!("/w/{ws}/f/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    assert!(
        html.contains("<h1 class=\"file-title\">notes.txt</h1>"),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"data-sha256="{sha_new}""#)),
        "{html}"
    );
    assert!(html.contains(&format!("({} bytes)", new.len())));
    assert!(html.contains("second, longer version"), "the text preview");
    assert!(
        html.contains(&format!(r#"<a href="/w/{ws}/{docs}">Docs</a>"#)),
        "crumbs: {html}"
    );
    assert_eq!(html.matches("data-version=").count(), 2, "{html}");
    assert!(html.contains(&sha_old), "each version's hash");
    assert!(
        !html.contains("?/restore_version"),
        "a viewer cannot restore"
    );

    let html = editor.get(&format!("/w/{ws}/f/{id}")).await.text();
    let versions = gw
        .get(&format!("/api/files/{ws}/{id}/versions"))
        .await
        .json();
    let older = versions["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|v| v["current"] == false)
        .expect("an older version")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let action = format!("/w/{ws}/f/{id}?/restore_version");
    assert_eq!(hidden_values(&html, &action, "version"), [older.clone()]);
    // Each version downloads its own bytes.
    let href = format!("/download/{ws}/{id}?version={older}");
    assert!(html.contains(&href.replace('&', "&#38;")), "{html}");
    assert_eq!(&viewer.get(&href).await.body[..], old);

    let r = post_form(&viewer, &action, &[("version", &older)]).await;
    assert_eq!(r.status, 403);
    let r = post_form(&editor, &action, &[("version", &older)]).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        r.header("location"),
        Some(format!("/w/{ws}/f/{id}").as_str())
    );
    assert_eq!(&gw.get(&format!("/download/{ws}/{id}")).await.body[..], old);
    let restored = audited(&gw, "version_restored").await;
    assert!(
        restored
            .iter()
            .any(|e| e["target"] == id.as_str() && e["actor"] == "token:tests@eddie"),
        "{restored:?}"
    );
    // A folder's id is its folder page; a missing node is 404.
    let r = viewer.get(&format!("/w/{ws}/f/{docs}")).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some(format!("/w/{ws}/{docs}").as_str())
    );
    assert_eq!(
        viewer.get(&format!("/w/{ws}/f/nosuchnode")).await.status,
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_page_previews_each_type_safely_and_opens_a_pdf_at_the_asked_page() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let page = |id: &str| format!("/w/{ws}/f/{id}");

    let pic = gw.put_file("root", "pic.png", &png(64, 48)).await;
    let html = gw.get(&page(&pic)).await.text();
    assert!(html.contains(&format!(
        r#"<img class="preview-image" src="/preview/{ws}/{pic}""#
    )));

    let pdf = gw.put_file("root", "paper.pdf", b"%PDF-1.4\n%%EOF\n").await;
    let html = gw.get(&page(&pdf)).await.text();
    assert!(
        html.contains(&format!(
            r##"<iframe class="preview-pdf" src="/preview/{ws}/{pdf}#page=1""##
        )),
        "{html}"
    );
    let html = gw.get(&format!("{}?page=7", page(&pdf))).await.text();
    assert!(
        html.contains(&format!(r##"src="/preview/{ws}/{pdf}#page=7""##)),
        "{html}"
    );
    for bad in ["0", "x", "-2"] {
        let r = gw.get(&format!("{}?page={bad}", page(&pdf))).await;
        assert_eq!(r.status, 400, "page={bad}");
        assert!(r.text().contains("page must be a whole number"));
    }
    // The PDF's bytes may be framed by our own pages only, and stay sandboxed.
    let r = gw.get(&format!("/preview/{ws}/{pdf}")).await;
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.starts_with("sandbox") && csp.contains("frame-ancestors 'self'"),
        "{csp}"
    );

    // HTML is text on the page, escaped: nothing of it becomes markup.
    let evil = gw
        .put_file("root", "evil.html", b"<script>alert(1)</script><b>hi</b>")
        .await;
    let html = gw.get(&page(&evil)).await.text();
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;&#60;b&#62;hi&#60;/b&#62;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"));
    assert!(
        !html.contains(&format!("/preview/{ws}/{evil}")),
        "not framed or embedded"
    );

    // A text file over 1 MiB: the first MiB, and a link to download the rest.
    let mut big = "line of text\n".repeat(100_000).into_bytes();
    big.truncate(1024 * 1024 + 4096);
    let long = gw.put_file("root", "long.log", &big).await;
    let html = gw.get(&page(&long)).await.text();
    assert!(html.contains("data-truncated") && html.contains("Download the rest"));
    let shown = html
        .split(r#"<pre class="preview-text" tabindex="0">"#)
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .expect("the text");
    assert_eq!(shown.len(), 1024 * 1024, "exactly the first MiB");
    let short = gw.put_file("root", "short.md", b"# Title").await;
    let html = gw.get(&page(&short)).await.text();
    assert!(html.contains("# Title") && !html.contains("data-truncated"));

    // Audio and video play over the Range-capable download route.
    let song = gw
        .put_file("root", "song.mp3", b"ID3\x03\0\0\0\0\0\0")
        .await;
    let html = gw.get(&page(&song)).await.text();
    assert!(html.contains(&format!(r#"<audio class="preview-media" controls preload="metadata" src="/download/{ws}/{song}""#)), "{html}");
    let film = gw.put_file("root", "film.mp4", b"\0\0\0\x18ftypmp42").await;
    let html = gw.get(&page(&film)).await.text();
    assert!(html.contains(&format!(r#"<video class="preview-media" controls preload="metadata" src="/download/{ws}/{film}""#)), "{html}");
    let r = gw
        .send(
            gw.client
                .get(format!("{}/download/{ws}/{film}", gw.url))
                .header("range", "bytes=4-7"),
        )
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(&r.body[..], b"ftyp");

    // Anything else: no preview, a download.
    let zip = gw.put_file("root", "a.zip", b"PK\x03\x04").await;
    let html = gw.get(&page(&zip)).await.text();
    assert!(html.contains("No preview for this type of file"));
}
