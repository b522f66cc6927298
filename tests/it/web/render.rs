//! Rendering every template with sample data: key markup present, names escaped, folders first,
//! sort links toggling; and the previews of every page, written next to a copy of `static/` into
//! a temporary directory (or into `FASTGATE_PREVIEW_DIR`, to regenerate the pictures in `docs/`)
//! for a look in a browser or a headless screenshot.

use askama::Template;
use chrono::{DateTime, Duration, Utc};
use fastgate::web::display::SortState;
use fastgate::web::templates::{
    BrowsePage, Choice, Chrome, ErrorPage, FileOutcome, Limits, Notice, ShareResultFragment,
    ShareView, UploadPage, UploadResultsFragment, WorkspaceLink, WorkspacesPage,
};
use fastgate::web::view::{Entry, EntryKind, FolderRef, Listing, SortKey, SortOrder};

fn now() -> DateTime<Utc> {
    "2026-11-25T12:00:00Z".parse().expect("date")
}

fn entry(
    id: &str,
    name: &str,
    kind: EntryKind,
    size: Option<u64>,
    mime: Option<&str>,
    ago: Duration,
) -> Entry {
    Entry {
        id: id.into(),
        name: name.into(),
        kind,
        size,
        mime: mime.map(Into::into),
        created: Some(now() - ago - Duration::days(3)),
        modified: Some(now() - ago),
    }
}

fn listing() -> Listing {
    Listing::new(
        "4687730903718774523".into(),
        FolderRef {
            id: "f-reports".into(),
            name: "Reports 2026".into(),
        },
        vec![
            entry(
                "n1",
                "<script>alert(1)</script>.txt",
                EntryKind::File,
                Some(42),
                Some("text/plain"),
                Duration::minutes(3),
            ),
            entry(
                "n2",
                "Quarterly review.pdf",
                EntryKind::File,
                Some(2_483_201),
                Some("application/pdf"),
                Duration::hours(5),
            ),
            entry(
                "d1",
                "Invoices",
                EntryKind::Folder,
                None,
                None,
                Duration::days(1),
            ),
            entry(
                "n3",
                "team-photo.jpg",
                EntryKind::File,
                Some(5_912_334),
                Some("image/jpeg"),
                Duration::days(12),
            ),
            entry(
                "d2",
                "Archive & old",
                EntryKind::Folder,
                None,
                None,
                Duration::days(40),
            ),
            entry(
                "n4",
                "budget.csv",
                EntryKind::File,
                Some(10_205),
                Some("text/csv"),
                Duration::days(2),
            ),
        ],
        Some("cursor/2 &next".into()),
    )
}

fn limits() -> Limits {
    Limits {
        max_size: "1.0 GiB".into(),
        max_files: 100,
        accept: ".pdf,image/*".into(),
    }
}

fn outcomes() -> Vec<FileOutcome> {
    vec![
        FileOutcome::stored(
            "Quarterly review.pdf".into(),
            2_483_201,
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            "4687730903718774523",
            "n2".into(),
        ),
        FileOutcome::failed(
            "setup<evil>.exe".into(),
            "files of type “.exe” are not accepted here".into(),
        ),
    ]
}

fn browse() -> BrowsePage {
    let sort = SortState {
        key: SortKey::Name,
        order: SortOrder::Asc,
        limit: 100,
    };
    let path = vec![("f-reports".to_owned(), "Reports 2026".to_owned())];
    let mut page = BrowsePage::new(&listing(), "Acme Team", &path, sort, limits(), now());
    // An editor's view: every form is there.
    page.chrome = Chrome {
        user: Some("ada".into()),
        signed_in: true,
        can_upload: true,
        can_share: true,
        ..Chrome::default()
    };
    page
}

fn upload_page() -> UploadPage {
    UploadPage {
        chrome: Chrome {
            user: Some("ada".into()),
            signed_in: true,
            can_upload: true,
            ..Chrome::default()
        },
        workspaces: vec![
            Choice {
                value: "4687730903718774523".into(),
                label: "Acme Team".into(),
                selected: true,
            },
            Choice {
                value: "111".into(),
                label: "Personal".into(),
                selected: false,
            },
        ],
        folders: vec![
            Choice {
                value: "root".into(),
                label: "/ (root)".into(),
                selected: false,
            },
            Choice {
                value: "f-reports".into(),
                label: "/Reports 2026".into(),
                selected: true,
            },
            Choice {
                value: "d1".into(),
                label: "/Reports 2026/Invoices".into(),
                selected: false,
            },
        ],
        limits: limits(),
        results: outcomes(),
        notice: None,
    }
}

#[test]
fn browse_escapes_names_and_lists_folders_first() {
    let html = browse().render().expect("render");
    assert!(
        !html.contains("<script>alert"),
        "a filename must never become markup"
    );
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;.txt")
            || html.contains("&lt;script&gt;")
    );
    let invoices = html.find("Invoices").expect("folder");
    let archive = html
        .find("Archive &#38; old")
        .or_else(|| html.find("Archive &amp; old"))
        .expect("folder");
    let pdf = html.find("Quarterly review.pdf").expect("file");
    assert!(invoices < pdf && archive < pdf, "folders come before files");
    assert!(
        html.contains(r#"href="/w/4687730903718774523/d1""#),
        "folders link to their page"
    );
    assert!(
        html.contains(r#"href="/download/4687730903718774523/n2""#),
        "files link to their download"
    );
}

#[test]
fn browse_sort_links_toggle_the_active_column() {
    let html = browse().render().expect("render");
    assert!(html.contains(r#"aria-sort="ascending""#));
    assert!(
        html.contains("?sort=name&#38;order=desc") || html.contains("?sort=name&amp;order=desc")
    );
    assert!(
        html.contains("?sort=modified&#38;order=desc")
            || html.contains("?sort=modified&amp;order=desc")
    );
    assert!(html.contains(r#"rel="next""#) && html.contains("cursor=cursor%2F2+%26next"));
}

#[test]
fn browse_has_the_upload_mkdir_and_share_forms() {
    let html = browse().render().expect("render");
    assert!(html.contains(
        r#"enctype="multipart/form-data" action="/w/4687730903718774523/f-reports?/upload""#
    ));
    assert!(html.contains(r#"type="file" name="file" multiple"#));
    assert!(html.contains(r#"accept=".pdf,image/*""#));
    assert!(
        html.contains(r#"action="/w/4687730903718774523/f-reports?/mkdir""#)
            && html.contains(r#"name="name""#)
    );
    assert!(html.contains(r#"action="/w/4687730903718774523/f-reports?/share""#));
    assert!(html.contains(r#"<input type="hidden" name="node" value="n2">"#));
    assert!(html.contains(r#"name="expires""#) && html.contains(r#"name="password""#));
    assert!(html.contains(r#"<script type="module" src="/static/upload.js"></script>"#));
    assert!(html.contains(r#"<li><a href="/w/4687730903718774523/root">Acme Team</a></li>"#));
}

#[test]
fn no_template_has_inline_script_or_style() {
    let pages = [
        browse().render().expect("browse"),
        upload_page().render().expect("upload"),
        WorkspacesPage {
            chrome: Default::default(),
            workspaces: vec![],
        }
        .render()
        .expect("workspaces"),
        ErrorPage {
            chrome: Default::default(),
            status: 404,
            title: "Not found".into(),
            message: "x".into(),
            request_id: None,
        }
        .render()
        .expect("error"),
    ];
    for html in pages {
        assert!(!html.contains("style="), "inline style");
        assert!(!html.contains("<style"), "style element");
        assert!(!html.contains(" on"), "maybe an inline handler: {html}");
        for (i, _) in html.match_indices("<script") {
            assert!(
                html[i..].starts_with(r#"<script type="module" src="/static/"#),
                "inline script"
            );
        }
    }
}

#[test]
fn an_empty_folder_says_so_and_has_no_table() {
    let empty = Listing::new(
        "w".into(),
        FolderRef {
            id: "root".into(),
            name: "Home".into(),
        },
        vec![],
        None,
    );
    let sort = SortState {
        key: SortKey::Name,
        order: SortOrder::Asc,
        limit: 100,
    };
    let html = BrowsePage::new(&empty, "Home", &[], sort, limits(), now())
        .render()
        .expect("render");
    assert!(html.contains("This folder is empty"));
    assert!(!html.contains("<table"));
    assert!(!html.contains(r#"rel="next""#));
}

#[test]
fn upload_results_list_stored_and_failed_files_together() {
    let results = outcomes();
    let html = UploadResultsFragment { results: &results }
        .render()
        .expect("render");
    assert!(html.contains("Stored") && html.contains("Failed"));
    assert!(html.contains("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
    assert!(html.contains("2.4 MiB"));
    assert!(html.contains(r#"href="/download/4687730903718774523/n2""#));
    assert!(html.contains("setup&#60;evil&#62;.exe") || html.contains("setup&lt;evil&gt;.exe"));
    assert!(html.contains("are not accepted here"));
    let json = serde_json::to_value(&results).expect("json");
    assert_eq!(json[0]["status"], "stored");
    assert_eq!(
        json[1]["message"],
        "files of type “.exe” are not accepted here"
    );
}

#[test]
fn the_share_result_shows_the_link_and_its_terms() {
    let share = ShareView {
        name: "budget.csv".into(),
        url: "https://go.fast.io/s/abc\"def".into(),
        expires: Some("in 7 days".into()),
        password_protected: true,
    };
    let html = ShareResultFragment { share: &share }
        .render()
        .expect("render");
    assert!(html.contains("Share link for budget.csv"));
    assert!(
        !html.contains("abc\"def"),
        "the URL is escaped inside the attribute"
    );
    assert!(html.contains("Expires in 7 days") && html.contains("Password required"));
}

#[test]
fn the_upload_page_puts_destination_fields_before_the_files() {
    let html = upload_page().render().expect("render");
    let ws = html
        .find(r#"name="workspace" value="4687730903718774523""#)
        .expect("hidden workspace");
    let folder = html.find(r#"name="folder""#).expect("folder picker");
    let file = html.find(r#"name="file""#).expect("file input");
    assert!(ws < file && folder < file, "multipart field order");
    assert!(html.contains(r#"<option value="f-reports" selected>"#));
    assert!(html.contains(r#"action="/upload""#) && html.contains("data-dropzone"));
    assert!(html.contains(r#"aria-current="page">Upload"#));
}

#[test]
fn the_workspaces_page_links_each_root() {
    let html = WorkspacesPage {
        chrome: Default::default(),
        workspaces: vec![WorkspaceLink::new("42".into(), "Acme <Team>".into())],
    }
    .render()
    .expect("render");
    assert!(html.contains(r#"href="/w/42/root""#));
    assert!(!html.contains("Acme <Team>"));
    assert!(
        !html.contains("upload.js"),
        "no upload script where there is no upload form"
    );
}

/// The pages a preview shows, by file name.
const PREVIEWS: [&str; 7] = [
    "browse.html",
    "browse-share-open.html",
    "browse-results.html",
    "browse-empty.html",
    "upload.html",
    "workspaces.html",
    "error.html",
];

#[test]
fn previews_of_every_page_are_written_beside_their_styles_and_open_from_disk() {
    // Only read here, never set: tests share one process.
    let chosen = std::env::var_os("FASTGATE_PREVIEW_DIR");
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = chosen.map_or_else(|| scratch.path().to_owned(), std::path::PathBuf::from);
    write_previews(&dir);
    for f in ["app.css", "favicon.svg"] {
        let copied = std::fs::read(dir.join("static").join(f)).expect("static copy");
        let source = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("static")
                .join(f),
        )
        .expect("static source");
        assert_eq!(copied, source, "{f} copied as is");
    }
    for name in PREVIEWS {
        let html =
            std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"),
            "{name}"
        );
        assert!(
            html.contains(r#"href="static/app.css""#),
            "{name} links its styles relatively"
        );
        assert!(
            !html.contains("\"/static/"),
            "{name} has a root-relative link left"
        );
    }
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect(name);
    let open = read("browse-share-open.html");
    assert_eq!(
        open.matches("<details class=\"share\" open>").count(),
        1,
        "one share form open"
    );
    assert_eq!(
        read("browse.html")
            .matches("<details class=\"share\" open>")
            .count(),
        0
    );
    let results = read("browse-results.html");
    assert!(
        results.contains("Folder “Invoices” created.")
            && results.contains("Share link for budget.csv")
    );
    assert!(read("browse-empty.html").contains("This folder is empty"));
    assert!(read("error.html").contains("5f2c9a0b1e7d4c3a9b8e6f01"));
}

/// Writes every page of [`PREVIEWS`] into `dir`, with `static/` beside them.
fn write_previews(dir: &std::path::Path) {
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
    std::fs::create_dir_all(dir.join("static")).expect("dir");
    for f in ["app.css", "favicon.svg"] {
        std::fs::copy(assets.join(f), dir.join("static").join(f)).expect("copy static");
    }
    // Pages use root-relative /static/… links; previews are opened from disk, so make them relative.
    let fix = |html: String| html.replace("\"/static/", "\"static/");
    let mut with_results = browse();
    with_results.results = outcomes();
    with_results.notice = Some(Notice {
        success: true,
        text: "Folder “Invoices” created.".into(),
    });
    with_results.share = Some(ShareView {
        name: "budget.csv".into(),
        url: "https://go.fast.io/s/8f3k2".into(),
        expires: Some("in 7 days".into()),
        password_protected: false,
    });
    let empty = Listing::new(
        "w".into(),
        FolderRef {
            id: "root".into(),
            name: "Acme Team".into(),
        },
        vec![],
        None,
    );
    let sort = SortState {
        key: SortKey::Modified,
        order: SortOrder::Desc,
        limit: 100,
    };
    let pages = [
        ("browse.html", browse().render()),
        ("browse-results.html", with_results.render()),
        (
            "browse-empty.html",
            BrowsePage::new(&empty, "Acme Team", &[], sort, limits(), now()).render(),
        ),
        ("upload.html", upload_page().render()),
        (
            "workspaces.html",
            WorkspacesPage {
                chrome: Default::default(),
                workspaces: vec![
                    WorkspaceLink::new("4687730903718774523".into(), "Acme Team".into()),
                    WorkspaceLink::new("111".into(), "Personal".into()),
                ],
            }
            .render(),
        ),
        (
            "error.html",
            ErrorPage {
                chrome: Default::default(),
                status: 404,
                title: "Not found".into(),
                message: "There is nothing at this address.".into(),
                request_id: Some("5f2c9a0b1e7d4c3a9b8e6f01".into()),
            }
            .render(),
        ),
    ];
    for (name, html) in pages {
        let html = fix(html.expect("render"));
        if name == "browse.html" {
            // A variant with the second file's share form open (normally opened by a click).
            let open = html
                .replacen(
                    "<details class=\"share\">",
                    "<details class=\"share\" open>",
                    2,
                )
                .replacen(
                    "<details class=\"share\" open>",
                    "<details class=\"share\">",
                    1,
                );
            std::fs::write(dir.join("browse-share-open.html"), open).expect("write preview");
        }
        std::fs::write(dir.join(name), html).expect("write preview");
    }
}
