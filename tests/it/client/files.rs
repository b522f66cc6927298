//! File management through the real client against the real emulator over loopback HTTP
//! (`fastio-api.md` §6.5, §6.6, §6.9, §6.10): rename, move, copy, trash, restore, purge,
//! versions, search in both answer shapes, previews and image transforms, the contract's
//! errors as `fastio::Error`, and answers without payloads.

use std::time::Duration;

use bytes::Bytes;
use fastgate::emulator::{self, EmulatorConfig, EnvelopeStyle, RunningEmulator, SearchShape};
use fastgate::fastio::{
    Client, ClientConfig, Error, ListQuery, NodeType, OutputFormat, PreviewState, PreviewType,
    RetryPolicy, SearchQuery, TransformParams, UploadTarget,
};
use futures_util::TryStreamExt;
use secrecy::SecretString;
use tempfile::TempDir;

use crate::common::payload::sha256_hex as sha;
use crate::common::start_emulator;

const KEY: &str = "k_files_test_key";

struct Env {
    emulator: RunningEmulator,
    client: Client,
    _dir: TempDir,
}

impl Env {
    async fn start() -> Env {
        Env::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut EmulatorConfig)) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let emulator = start_emulator(dir.path(), KEY, |config| {
            config.preview_delay = Duration::ZERO;
            tweak(config);
        })
        .await;
        let mut cc = ClientConfig::new(emulator.base_url(), SecretString::from(KEY));
        cc.retry = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(10),
            chunk_base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_rate_limit_wait: Duration::from_secs(3),
        };
        Env {
            client: Client::new(cc).expect("client"),
            emulator,
            _dir: dir,
        }
    }

    fn ws(&self) -> String {
        self.emulator.workspace_id()
    }

    async fn upload(&self, folder: &str, name: &str, body: &[u8]) -> String {
        let target = UploadTarget {
            workspace: self.ws(),
            folder: folder.into(),
        };
        let single = self
            .client
            .upload_single(&target, name, Bytes::copy_from_slice(body))
            .await
            .expect("upload");
        match single.new_file_id {
            Some(id) => id,
            None => self
                .client
                .wait_until_stored(&single.upload_id, Duration::from_secs(30))
                .await
                .expect("stored")
                .new_file_id
                .expect("id"),
        }
    }

    async fn folder(&self, parent: &str, name: &str) -> String {
        self.client
            .create_folder(&self.ws(), parent, name)
            .await
            .expect("folder")
            .id
    }

    async fn names(&self, folder: &str) -> Vec<String> {
        let page = self
            .client
            .list_folder(&self.ws(), folder, &ListQuery::default())
            .await
            .expect("list");
        page.nodes.into_iter().map(|n| n.name).collect()
    }

    async fn bytes(&self, node: &str) -> Vec<u8> {
        let token = self
            .client
            .request_read(&self.ws(), node)
            .await
            .expect("token");
        let d = self
            .client
            .read(&self.ws(), node, &token, None)
            .await
            .expect("read");
        let parts: Vec<Bytes> = d.body.try_collect().await.expect("body");
        parts.concat()
    }

    async fn thumbnail_state(&self, node: &str) -> PreviewState {
        for _ in 0..400 {
            let n = self.client.node(&self.ws(), node).await.expect("node");
            let state = n.previews.get(PreviewType::Thumbnail);
            if !state.is_pending() {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("thumbnail never settled");
    }
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([x as u8, y as u8, 90, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

fn is_invalid_input(e: &Error) -> bool {
    matches!(
        e,
        Error::Upstream {
            status: 400,
            code: Some(1605),
            ..
        }
    )
}

#[tokio::test]
async fn rename_move_and_copy_return_the_node_and_a_name_clash_is_400_1605() {
    let env = Env::start().await;
    let ws = env.ws();
    let a = env.upload("root", "a.txt", b"alpha").await;
    env.upload("root", "b.txt", b"beta").await;
    let renamed = env.client.rename(&ws, &a, "c.txt").await.expect("rename");
    assert_eq!(
        (renamed.id.as_str(), renamed.name.as_str()),
        (a.as_str(), "c.txt")
    );
    assert_eq!(env.names("root").await, ["b.txt", "c.txt"]);
    let clash = env
        .client
        .rename(&ws, &a, "b.txt")
        .await
        .expect_err("clash");
    assert!(is_invalid_input(&clash), "{clash:?}");
    assert!(matches!(
        env.client.rename(&ws, &a, "  ").await,
        Err(Error::InvalidArgument(_))
    ));

    let dir = env.folder("root", "dir").await;
    let moved = env.client.move_node(&ws, &a, &dir).await.expect("move");
    assert_eq!(moved.parent.as_deref(), Some(dir.as_str()));
    assert_eq!(env.names(&dir).await, ["c.txt"]);
    let into_itself = env
        .client
        .move_node(&ws, &dir, &dir)
        .await
        .expect_err("self");
    assert!(is_invalid_input(&into_itself), "{into_itself:?}");

    let copy = env.client.copy_node(&ws, &dir, "root").await.expect("copy");
    assert_eq!(copy.name, "dir (2)");
    assert_eq!(copy.node_type, NodeType::Folder);
    let inside = env
        .client
        .list_folder(&ws, &copy.id, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(env.bytes(&inside.nodes[0].id).await, b"alpha");
    assert_ne!(inside.nodes[0].id, a);
}

#[tokio::test]
async fn delete_restore_and_purge_move_a_folder_through_the_trash() {
    let env = Env::start().await;
    let ws = env.ws();
    let dir = env.folder("root", "box").await;
    let mut files = Vec::new();
    for i in 0..3u8 {
        let body = vec![i; 1000 + usize::from(i)];
        files.push((
            env.upload(&dir, &format!("{i}.bin"), &body).await,
            sha(&body),
        ));
    }
    env.client.delete_node(&ws, &dir).await.expect("delete");
    env.client
        .delete_node(&ws, &dir)
        .await
        .expect("a repeat delete is done");
    assert!(env.names("root").await.is_empty());
    let trash = env
        .client
        .list_trash(&ws, &ListQuery::default())
        .await
        .expect("trash");
    assert_eq!(trash.nodes.len(), 1);
    assert!(trash.nodes[0].is_trashed());
    assert_eq!(trash.nodes[0].deleted_from.as_deref(), Some("root"));
    let restored = env.client.restore_node(&ws, &dir).await.expect("restore");
    assert_eq!(restored.parent.as_deref(), Some("root"));
    assert!(!restored.is_trashed());
    for (id, hash) in &files {
        assert_eq!(&sha(&env.bytes(id).await), hash);
    }
    let live = env.client.purge_node(&ws, &dir).await.expect_err("live");
    assert!(is_invalid_input(&live), "{live:?}");
    env.client
        .delete_node(&ws, &files[0].0)
        .await
        .expect("delete");
    env.client
        .purge_node(&ws, &files[0].0)
        .await
        .expect("purge");
    let gone = env.client.node(&ws, &files[0].0).await.expect_err("gone");
    assert!(
        matches!(
            gone,
            Error::NotFound {
                code: Some(1609),
                ..
            }
        ),
        "{gone:?}"
    );
    env.client.delete_node(&ws, &dir).await.expect("delete");
    env.client.empty_trash(&ws).await.expect("empty");
    assert!(
        env.client
            .list_trash(&ws, &ListQuery::default())
            .await
            .expect("trash")
            .nodes
            .is_empty()
    );
}

#[tokio::test]
async fn versions_list_download_each_by_hash_and_restore_the_older() {
    let env = Env::start().await;
    let ws = env.ws();
    let node = env.upload("root", "v.txt", b"first version").await;
    assert_eq!(
        env.upload("root", "v.txt", b"second, longer version").await,
        node
    );
    let versions = env.client.versions(&ws, &node).await.expect("versions");
    assert_eq!(versions.len(), 2);
    assert!(versions[0].current && !versions[1].current);
    for (v, body) in versions
        .iter()
        .zip([b"second, longer version".as_slice(), b"first version"])
    {
        assert_eq!(v.hash.as_deref(), Some(sha(body).as_str()));
        assert!(v.created.is_some());
        let d = env
            .client
            .read_version(&ws, &node, &v.id, None)
            .await
            .expect("read version");
        let parts: Vec<Bytes> = d.body.try_collect().await.expect("body");
        assert_eq!(sha(&parts.concat()), sha(body));
    }
    let restored = env
        .client
        .restore_version(&ws, &node, &versions[1].id)
        .await
        .expect("restore");
    assert_eq!(
        restored.hash.as_deref(),
        Some(sha(b"first version").as_str())
    );
    assert_ne!(restored.version.as_deref(), Some(versions[1].id.as_str()));
    assert_eq!(env.bytes(&node).await, b"first version");
    let unknown = env
        .client
        .read_version(&ws, &node, "nope", None)
        .await
        .expect_err("unknown");
    assert!(matches!(unknown, Error::NotFound { .. }), "{unknown:?}");
}

#[tokio::test]
async fn search_pages_through_hits_in_shape_a_and_shape_b_and_drops_trashed_ones() {
    let env = Env::start().await;
    let ws = env.ws();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(env.upload("root", &format!("Invoice-{i}.pdf"), b"x").await);
    }
    env.upload("root", "unrelated.txt", b"y").await;
    let mut seen = Vec::new();
    let mut q = SearchQuery::new("invoice", 2);
    loop {
        let page = env.client.search(&ws, &q).await.expect("search");
        assert_eq!(page.total, Some(5));
        seen.extend(page.hits.iter().map(|h| h.name.clone()));
        match page.next_offset {
            Some(next) => q.offset = next,
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..5)
            .map(|i| format!("Invoice-{i}.pdf"))
            .collect::<Vec<_>>()
    );
    let details = SearchQuery {
        details: true,
        ..SearchQuery::new("INVOICE-3", 10)
    };
    let page = env.client.search(&ws, &details).await.expect("details");
    assert_eq!(page.hits.len(), 1);
    let hit = &page.hits[0];
    assert_eq!(
        (hit.id.as_str(), hit.node_type.clone()),
        (ids[3].as_str(), NodeType::File)
    );
    assert_eq!(
        hit.node.as_ref().map(|n| n.id.as_str()),
        Some(ids[3].as_str())
    );
    env.client.delete_node(&ws, &ids[0]).await.expect("delete");
    let page = env
        .client
        .search(&ws, &SearchQuery::new("invoice", 100))
        .await
        .expect("search");
    assert_eq!(page.hits.len(), 4, "the trashed hit is dropped");
    for bad in ["x", &"q".repeat(1001)] {
        assert!(matches!(
            env.client.search(&ws, &SearchQuery::new(bad, 10)).await,
            Err(Error::InvalidArgument(_))
        ));
    }
}

#[tokio::test]
async fn search_reads_forced_shapes_wrapped_envelopes_and_answers_without_pagination() {
    for (shape, wrap) in [(SearchShape::Results, true), (SearchShape::Files, false)] {
        let env = Env::start_with(|c| {
            c.search.shape = shape;
            c.search.drop_pagination = true;
            c.envelope = EnvelopeStyle {
                wrap_response: wrap,
                legacy_result: wrap,
                ..EnvelopeStyle::default()
            };
        })
        .await;
        let ws = env.ws();
        for i in 0..3 {
            env.upload("root", &format!("photo-{i}.jpg"), b"z").await;
        }
        let page = env
            .client
            .search(&ws, &SearchQuery::new("PHOTO", 2))
            .await
            .expect("search");
        assert_eq!(page.hits.len(), 2, "{shape:?}");
        assert_eq!(page.total, None);
        assert_eq!(page.next_offset, Some(2), "a full page means more");
        let last = SearchQuery {
            offset: 2,
            ..SearchQuery::new("photo", 2)
        };
        let page = env.client.search(&ws, &last).await.expect("search");
        assert_eq!((page.hits.len(), page.next_offset), (1, None));
    }
}

#[tokio::test]
async fn answers_without_payloads_are_re_read() {
    let env = Env::start_with(|c| c.bare_storage_answers = true).await;
    let ws = env.ws();
    let f = env.upload("root", "a.txt", b"a").await;
    let dir = env.folder("root", "d").await;
    assert_eq!(
        env.client
            .rename(&ws, &f, "b.txt")
            .await
            .expect("rename")
            .name,
        "b.txt"
    );
    let moved = env.client.move_node(&ws, &f, &dir).await.expect("move");
    assert_eq!(moved.parent.as_deref(), Some(dir.as_str()));
    let copy = env.client.copy_node(&ws, &f, &dir).await.expect("copy");
    assert_eq!(copy.name, "b (2).txt");
    assert_ne!(copy.id, f);
    env.client.delete_node(&ws, &f).await.expect("delete");
    let back = env.client.restore_node(&ws, &f).await.expect("restore");
    assert_eq!(back.parent.as_deref(), Some(dir.as_str()));
}

#[tokio::test]
async fn a_thumbnail_and_a_transform_come_back_as_valid_smaller_images() {
    let env = Env::start().await;
    let ws = env.ws();
    let f = env.upload("root", "p.png", &png(640, 480)).await;
    assert_eq!(env.thumbnail_state(&f).await, PreviewState::Ready);
    let url = env
        .client
        .preview_url(&ws, &f, PreviewType::Thumbnail)
        .await
        .expect("preauthorize");
    assert!(
        !format!("{url:?}").contains("read/"),
        "Debug hides the token URL"
    );
    assert_eq!(url.filename.as_deref(), Some("p.png"));
    let d = env.client.fetch_token_url(&url, None).await.expect("fetch");
    assert_eq!(d.content_type.as_deref(), Some("image/png"));
    let parts: Vec<Bytes> = d.body.try_collect().await.expect("body");
    let thumb = image::load_from_memory(&parts.concat()).expect("image");
    assert_eq!((thumb.width(), thumb.height()), (256, 192));

    let params = TransformParams {
        output_format: Some(OutputFormat::Jpg),
        width: Some(100),
        ..TransformParams::default()
    };
    let url = env
        .client
        .transform_url(&ws, &f, &params)
        .await
        .expect("url");
    let d = env.client.fetch_token_url(&url, None).await.expect("fetch");
    assert_eq!(d.content_type.as_deref(), Some("image/jpeg"));
    let parts: Vec<Bytes> = d.body.try_collect().await.expect("body");
    let img = image::load_from_memory(&parts.concat()).expect("image");
    assert_eq!((img.width(), img.height()), (100, 75));

    let txt = env.upload("root", "t.txt", b"text").await;
    let none = env
        .client
        .preview_url(&ws, &txt, PreviewType::Thumbnail)
        .await
        .expect_err("not possible");
    assert!(none.is_preview_unavailable(), "{none:?}");
    let zero = TransformParams {
        width: Some(0),
        ..TransformParams::default()
    };
    assert!(matches!(
        env.client.transform_url(&ws, &f, &zero).await,
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn a_copy_is_sent_once_but_a_429_before_it_is_waited_out() {
    let env = Env::start_with(|c| {
        c.faults.rate_limit = emulator::RateLimit {
            max: 10_000,
            window: Duration::from_secs(1),
        };
    })
    .await;
    let ws = env.ws();
    let f = env.upload("root", "once.txt", b"1").await;
    let template = "/current/workspace/{ws}/storage/{node}/copy/";
    env.emulator.faults().fail_nth_with_429(template, 1);
    let copy = env.client.copy_node(&ws, &f, "root").await.expect("copy");
    assert_eq!(copy.name, "once (2).txt");
    let stats = env.emulator.stats();
    assert_eq!(stats.count("POST", template, 429), 1);
    assert_eq!(stats.count("POST", template, 200), 1);
    assert_eq!(env.names("root").await, ["once (2).txt", "once.txt"]);
}
