use super::*;

async fn editor(a: &Access, name: &str, ws: &str) -> Principal {
    let u = add(a, name, Role::Editor, Some(ws)).await;
    Principal {
        kind: PrincipalKind::User {
            id: u.id,
            username: u.username,
        },
        grants: u.grants,
    }
}

fn new_link(ws: &str) -> NewLink {
    NewLink {
        workspace: ws.into(),
        folder: "folder1".into(),
        label: "Send me your scans".into(),
        expires_in: Duration::from_secs(3600),
        ..Default::default()
    }
}

fn file(name: &str, size: u64) -> LinkFile {
    LinkFile {
        name: name.into(),
        size,
        sha256: "ab".repeat(32),
        node: format!("node-{name}"),
    }
}

async fn links_resolve_take_uses_and_enforce_their_limits(w: TestDb) {
    use secrecy::ExposeSecret as _;
    let w = World::new(w);
    let (a, b) = (w.replica().await, w.replica().await);
    let ed = editor(&a, "ed", "ws1").await;
    let viewer = add(&a, "vi", Role::Viewer, Some("ws1")).await;
    let vi = Principal {
        kind: PrincipalKind::User {
            id: viewer.id,
            username: viewer.username,
        },
        grants: viewer.grants,
    };
    let denied = a.create_link(&ctx(), &vi, new_link("ws1")).await;
    assert!(matches!(denied, Err(Error::Forbidden)), "{denied:?}");
    let denied = a.create_link(&ctx(), &ed, new_link("ws2")).await;
    assert!(matches!(denied, Err(Error::NotFound)), "{denied:?}");

    let (link, token) = a
        .create_link(
            &ctx(),
            &ed,
            NewLink {
                max_files: Some(2),
                max_bytes: Some(100),
                max_file_size: Some(60),
                max_uses: Some(2),
                subfolder_per_submission: true,
                ..new_link("ws1")
            },
        )
        .await
        .expect("create");
    let token = token.expose_secret().to_owned();
    let got = b
        .resolve_link(&ctx(), &token, None)
        .await
        .expect("resolve on b");
    assert_eq!(got, link);
    assert_eq!(
        got.principal().check("ws1", Capability::Upload),
        Ok(Role::Uploader)
    );
    assert!(matches!(b.open_link("unknown").await, Err(Error::NotFound)));

    let s1 = b
        .begin_submission(&ctx(), &got, Some("Alice / Co\n"))
        .await
        .expect("first use");
    assert_eq!(s1.uploader.as_deref(), Some("Alice  Co"));
    assert!(
        s1.folder_name().ends_with(" Alice  Co"),
        "{}",
        s1.folder_name()
    );
    b.record_file(&got, &s1, file("a", 50)).await.expect("a");
    let big = b.record_file(&got, &s1, file("big", 61)).await;
    assert!(matches!(big, Err(Error::FileTooLarge(60))), "{big:?}");
    let bytes = b.record_file(&got, &s1, file("b", 51)).await;
    assert!(matches!(bytes, Err(Error::TooManyBytes(100))), "{bytes:?}");
    b.record_file(&got, &s1, file("b", 50)).await.expect("b");
    let count = b.record_file(&got, &s1, file("c", 1)).await;
    assert!(matches!(count, Err(Error::TooManyFiles(2))), "{count:?}");

    let s2 = a
        .begin_submission(&ctx(), &got, None)
        .await
        .expect("second use");
    assert_eq!(s2.uploader, None);
    let third = b.begin_submission(&ctx(), &got, None).await;
    assert!(matches!(third, Err(Error::LinkExhausted)), "{third:?}");
    assert!(matches!(
        a.open_link(&token).await,
        Err(Error::LinkExhausted)
    ));

    let details = a.link(&ed, link.id).await.expect("details");
    assert_eq!(details.link.uses, 2);
    assert_eq!(details.submissions.len(), 2);
    assert_eq!(
        details.submissions[0].files,
        vec![file("a", 50), file("b", 50)]
    );
    assert!(details.submissions[1].files.is_empty());
    let json = serde_json::to_value(&details).expect("json");
    assert_eq!(json["password"], false);
    assert!(json.get("token_hash").is_none() && json.get("password_hash").is_none());
}
both!(
    link_limits,
    links_resolve_take_uses_and_enforce_their_limits
);

async fn two_replicas_racing_for_the_last_use_one_wins(w: TestDb) {
    use secrecy::ExposeSecret as _;
    let w = World::new(w);
    let (a, b) = (w.replica().await, w.replica().await);
    let ed = editor(&a, "ed", "ws1").await;
    let (_, token) = a
        .create_link(
            &ctx(),
            &ed,
            NewLink {
                max_uses: Some(3),
                ..new_link("ws1")
            },
        )
        .await
        .expect("create");
    let link = a.open_link(token.expose_secret()).await.expect("open");
    a.begin_submission(&ctx(), &link, None).await.expect("1");
    a.begin_submission(&ctx(), &link, None).await.expect("2");
    // Both replicas hold a `Link` that says one use is left; both try at once.
    for _ in 0..3 {
        // Separate tasks on a multi-threaded runtime: the two really run at once.
        let (la, lb) = (link.clone(), link.clone());
        let (ca, cb) = (a.clone(), b.clone());
        let ta = tokio::spawn(async move { ca.begin_submission(&ctx(), &la, Some("a")).await });
        let tb = tokio::spawn(async move { cb.begin_submission(&ctx(), &lb, Some("b")).await });
        let (ra, rb) = (ta.await.expect("task a"), tb.await.expect("task b"));
        let wins = ra.is_ok() as u8 + rb.is_ok() as u8;
        assert!(wins <= 1, "{ra:?} {rb:?}");
        if wins == 1 {
            let loser = if ra.is_ok() { rb } else { ra };
            assert!(matches!(loser, Err(Error::LinkExhausted)), "{loser:?}");
        }
    }
    let details = a.link(&ed, link.id).await.expect("details");
    assert_eq!(details.link.uses, 3);
    assert_eq!(details.submissions.len(), 3);
}
both!(link_race, two_replicas_racing_for_the_last_use_one_wins);

async fn revoked_expired_and_password_links_are_refused(w: TestDb) {
    use secrecy::ExposeSecret as _;
    let w = World::new(w);
    let (a, b) = (w.replica().await, w.replica().await);
    let ed = editor(&a, "ed", "ws1").await;
    let other = editor(&a, "other", "ws1").await;
    let (link, token) = a
        .create_link(&ctx(), &ed, new_link("ws1"))
        .await
        .expect("create");
    let held = b.open_link(token.expose_secret()).await.expect("open");
    assert!(matches!(
        a.revoke_link(&ctx(), &other, link.id).await,
        Err(Error::NotFound)
    ));
    assert_eq!(a.links(&other).await.expect("list"), vec![]);
    assert_eq!(a.links(&ed).await.expect("list").len(), 1);
    a.revoke_link(&ctx(), &ed, link.id).await.expect("revoke");
    assert!(matches!(
        b.open_link(token.expose_secret()).await,
        Err(Error::LinkRevoked)
    ));
    let late = b.begin_submission(&ctx(), &held, None).await;
    assert!(
        matches!(late, Err(Error::LinkRevoked)),
        "revoked between open and begin: {late:?}"
    );

    let (_, token) = a
        .create_link(&ctx(), &ed, new_link("ws1"))
        .await
        .expect("create");
    w.clock.advance(Duration::from_secs(3600));
    assert!(matches!(
        b.open_link(token.expose_secret()).await,
        Err(Error::LinkExpired)
    ));

    let (_, token) = a
        .create_link(
            &ctx(),
            &ed,
            NewLink {
                password: Some(secret("open sesame")),
                ..new_link("ws1")
            },
        )
        .await
        .expect("create");
    let t = token.expose_secret();
    assert!(matches!(
        b.resolve_link(&ctx(), t, None).await,
        Err(Error::PasswordRequired)
    ));
    for _ in 0..5 {
        assert!(matches!(
            b.resolve_link(&ctx(), t, Some("guess")).await,
            Err(Error::WrongPassword)
        ));
    }
    let throttled = a.resolve_link(&ctx(), t, Some("open sesame")).await;
    assert!(
        matches!(throttled, Err(Error::Throttled { .. })),
        "{throttled:?}"
    );
    w.clock.advance(Duration::from_secs(15 * 60));
    b.resolve_link(&ctx(), t, Some("open sesame"))
        .await
        .expect("right password");
}
both!(
    link_refusals,
    revoked_expired_and_password_links_are_refused
);

async fn js_reservations_count_before_upload_and_give_back_once(w: TestDb) {
    use secrecy::ExposeSecret as _;
    let w = World::new(w);
    let (a, b) = (w.replica().await, w.replica().await);
    let ed = editor(&a, "ed", "ws1").await;
    let (link, token) = a
        .create_link(
            &ctx(),
            &ed,
            NewLink {
                max_files: Some(2),
                max_bytes: Some(100),
                max_file_size: Some(60),
                max_uses: Some(1),
                ..new_link("ws1")
            },
        )
        .await
        .expect("create");
    let held = b.open_link(token.expose_secret()).await.expect("open");
    let s = b
        .begin_submission(&ctx(), &held, None)
        .await
        .expect("begin");
    // The submission took the only use: the link is exhausted for new visits, not for it.
    assert!(matches!(
        b.open_link(token.expose_secret()).await,
        Err(Error::LinkExhausted)
    ));
    let mut counted = held.clone();
    counted.uses = 1;
    assert_eq!(b.link_in_use(link.id).await.expect("in use"), counted);
    let too_big = b.reserve_file(&held, s.id, "u0", "big", 61).await;
    assert!(
        matches!(too_big, Err(Error::FileTooLarge(60))),
        "{too_big:?}"
    );
    a.reserve_file(&held, s.id, "u1", "a", 50).await.expect("a");
    b.reserve_file(&held, s.id, "u2", "b", 50).await.expect("b");
    let third = a.reserve_file(&held, s.id, "u3", "c", 0).await;
    assert!(matches!(third, Err(Error::TooManyFiles(2))), "{third:?}");
    // Reserved files are not listed until stored.
    assert!(
        a.submission(link.id, s.id)
            .await
            .expect("sub")
            .files
            .is_empty()
    );
    a.store_reserved_file(s.id, "u1", file("a", 50))
        .await
        .expect("store");
    a.store_reserved_file(s.id, "u1", file("a", 50))
        .await
        .expect("again");
    // Cancelling b twice gives its slot back once.
    b.release_file(s.id, "u2", 50).await.expect("release");
    a.release_file(s.id, "u2", 50).await.expect("release again");
    let over = b.reserve_file(&held, s.id, "u4", "d", 51).await;
    assert!(matches!(over, Err(Error::TooManyBytes(100))), "{over:?}");
    b.reserve_file(&held, s.id, "u4", "d", 50).await.expect("d");
    let full = b.reserve_file(&held, s.id, "u5", "e", 0).await;
    assert!(matches!(full, Err(Error::TooManyFiles(2))), "{full:?}");
    let info = a.submission(link.id, s.id).await.expect("sub");
    assert_eq!(info.files, vec![file("a", 50)]);
    assert!(matches!(
        a.submission(link.id + 1, s.id).await,
        Err(Error::NotFound)
    ));
    let details = a.link(&ed, link.id).await.expect("details");
    assert_eq!(details.submissions[0].files, vec![file("a", 50)]);
    a.revoke_link(&ctx(), &ed, link.id).await.expect("revoke");
    assert!(matches!(
        b.link_in_use(link.id).await,
        Err(Error::LinkRevoked)
    ));
}
both!(
    link_reservations,
    js_reservations_count_before_upload_and_give_back_once
);
