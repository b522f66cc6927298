//! The browse pages over real HTTP against the real emulator: `/` sends a lone workspace to its
//! root; a folder page shows breadcrumbs, sort links, the upload and new-folder forms, folders
//! before files, a download link and share form per file, a next-page link, an empty state, and
//! escapes every name; what is not exposed or not there is a 404 page.

use crate::common::{spawn_app, spawn_app_with};

#[tokio::test(flavor = "multi_thread")]
async fn the_home_page_redirects_to_the_only_workspace() {
    let app = spawn_app().await;
    let r = app.get("/").await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some(format!("/w/{}/root", app.workspace).as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_home_page_lists_no_workspace_when_none_is_exposed() {
    let app = spawn_app_with(&[("FASTGATE_WORKSPACES", "1234567890123456789")], |_| {}).await;
    let r = app.get("/").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("No workspaces to show"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_page_has_breadcrumbs_sort_links_forms_and_rows_folders_first() {
    let app = spawn_app().await;
    let ws = &app.workspace;
    let docs = app.put_folder("root", "Docs").await;
    let year = app.put_folder(&docs, "2026").await;
    app.put_folder(&year, "Zeta").await;
    let file = app.put_file(&year, "a-report.pdf", b"%PDF-1.4 tiny").await;
    app.put_file(&year, "<script>alert(1).txt", b"x").await;

    let r = app.get(&format!("/w/{ws}/{year}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    let html = amp(&r.text());
    // Breadcrumbs: General › Docs › 2026, every step but the last a link.
    assert!(
        html.contains(&format!(r#"<a href="/w/{ws}/root">General</a>"#)),
        "{html}"
    );
    assert!(html.contains(&format!(r#"<a href="/w/{ws}/{docs}">Docs</a>"#)));
    assert!(html.contains(r#"<li aria-current="page">2026</li>"#));
    // Sort links toggle the active column.
    assert!(html.contains(r#"href="?sort=name&order=desc""#), "{html}");
    assert!(html.contains(r#"href="?sort=modified&order=desc""#));
    assert!(html.contains(r#"href="?sort=type&order=asc""#));
    // The forms post to the page's own actions.
    assert!(html.contains(&format!(r#"action="/w/{ws}/{year}?/upload""#)));
    assert!(html.contains(r#"enctype="multipart/form-data""#));
    assert!(html.contains(&format!(r#"action="/w/{ws}/{year}?/mkdir""#)));
    assert!(html.contains(&format!(r#"action="/w/{ws}/{year}?/share""#)));
    assert!(html.contains(&format!(r#"name="node" value="{file}""#)));
    assert!(html.contains(&format!(r#"href="/download/{ws}/{file}" download"#)));
    // Folders first, although "Zeta" sorts after the files by name.
    let zeta = html.find(">Zeta</a>").expect("folder row");
    let pdf = html.find(">a-report.pdf</a>").expect("file row");
    assert!(zeta < pdf, "folders come first");
    // Names are escaped.
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("&#60;script&#62;alert(1).txt"), "{html}");
    assert!(!html.contains("This folder is empty"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_root_page_is_also_served_without_the_alias_and_shows_the_empty_state() {
    let app = spawn_app().await;
    let ws = &app.workspace;
    for path in [format!("/w/{ws}"), format!("/w/{ws}/root")] {
        let r = app.get(&path).await;
        assert_eq!(r.status, 200, "{path}");
        let html = r.text();
        assert!(html.contains("This folder is empty"), "{path}");
        assert!(html.contains("<h1>General</h1>"));
        assert!(html.contains(&format!(r#"action="/w/{ws}/root?/mkdir""#)));
        assert!(!html.contains(r#"rel="next""#));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_next_page_link_follows_the_cursor_to_the_remaining_items() {
    let app = spawn_app().await;
    let ws = &app.workspace;
    for name in ["a.txt", "b.txt", "c.txt"] {
        app.put_file("root", name, b"x").await;
    }
    let html = app.get(&format!("/w/{ws}/root?limit=2")).await.text();
    assert!(html.contains(">a.txt</a>") && html.contains(">b.txt</a>"));
    assert!(!html.contains(">c.txt</a>"));
    let start =
        html.find(r#"rel="next" href=""#).expect("next link") + r#"rel="next" href=""#.len();
    let href = &html[start..start + html[start..].find('"').expect("end")];
    let href = amp(href);
    assert!(
        href.starts_with("?sort=name&order=asc&limit=2&cursor="),
        "{href}"
    );
    let next = app.get(&format!("/w/{ws}/root{href}")).await;
    assert_eq!(next.status, 200);
    let html = next.text();
    assert!(html.contains(">c.txt</a>") && !html.contains(">a.txt</a>"));
    assert!(!html.contains(r#"rel="next""#));
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_of_unexposed_workspaces_and_unknown_folders_are_404_pages() {
    let app = spawn_app_with(&[("FASTGATE_WORKSPACES", "1234567890123456789")], |_| {}).await;
    let r = app.get(&format!("/w/{}/root", app.workspace)).await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("<html"));

    let app = spawn_app().await;
    for path in [
        format!("/w/{}/nosuchfolder", app.workspace),
        "/w/9999999999999999999/root".to_owned(),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("text/html"))
        );
    }
    let r = app.get(&format!("/w/{}/root?limit=0", app.workspace)).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("limit must be"));
}

/// The page with `&` entities turned back into `&`, so attribute values compare as written.
fn amp(html: &str) -> String {
    html.replace("&#38;", "&").replace("&amp;", "&")
}
