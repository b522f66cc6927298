use futures_util::StreamExt as _;

use super::*;

async fn actions_are_audited_and_paged_by_cursor(w: TestDb) {
    let w = World::new(w);
    let a = w.replica().await;
    add(&a, "alice", Role::Editor, None).await;
    let (_, p) = sign_in(&a, "alice").await;
    let _ = a.sign_in(&ctx(), "alice", "wrong", None).await;
    let c = Ctx::of(&p, ip(7), Some("req-7".into()));
    a.record(
        &c,
        Event::new(AuditAction::UploadStored)
            .workspace("ws1")
            .target("node1")
            .file(42, &"cd".repeat(32)),
    )
    .await
    .expect("append");

    let page = a.audit_query(&AuditQuery::default()).await.expect("query");
    let actions: Vec<_> = page.items.iter().map(|i| i.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::UploadStored,
            AuditAction::SignInFailed,
            AuditAction::SignIn,
            AuditAction::UserCreated
        ]
    );
    assert_eq!(page.next_cursor, None);
    let upload = serde_json::to_value(&page.items[0]).expect("json");
    assert_eq!(
        upload,
        serde_json::json!({
            "time": "2027-01-15T08:00:00.000Z", "actor": "user:alice", "action": "upload_stored",
            "workspace": "ws1", "target": "node1", "size": 42, "sha256": "cd".repeat(32),
            "request_id": "req-7", "ip": "192.0.2.7"
        })
    );
    assert_eq!(page.items[1].actor, "anonymous");
    assert_eq!(page.items[1].target.as_deref(), Some("alice"));
    assert_eq!(page.items[3].actor, "system");

    // Keyset paging, newest first, by twos.
    for i in 0..5 {
        w.clock.advance(MIN);
        a.record(
            &c,
            Event::new(AuditAction::FolderCreated).target(&format!("f{i}")),
        )
        .await
        .expect("append");
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = a
            .audit_query(&AuditQuery {
                limit: 2,
                cursor: cursor.clone(),
                action: Some(AuditAction::FolderCreated),
                since: None,
            })
            .await
            .expect("page");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|i| i.target.unwrap_or_default()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["f4", "f3", "f2", "f1", "f0"]);
    let since = AuditQuery::parse_since("2027-01-15T08:03:00Z").expect("since");
    let recent = a
        .audit_query(&AuditQuery {
            since: Some(since),
            ..Default::default()
        })
        .await
        .expect("since");
    assert_eq!(recent.items.len(), 3);
    assert!(
        a.audit_query(&AuditQuery {
            cursor: Some("x".into()),
            ..Default::default()
        })
        .await
        .is_err()
    );

    // Export: every row, oldest first, across pages.
    for i in 0..1100 {
        a.record(
            &Ctx::system(),
            Event::new(AuditAction::ShareCreated).target(&i.to_string()),
        )
        .await
        .expect("append");
    }
    let all: Vec<_> = a.audit_export(None, None).collect().await;
    assert_eq!(all.len(), 4 + 5 + 1100);
    assert_eq!(
        all[0].as_ref().expect("row").action,
        AuditAction::UserCreated
    );
    let shares: Vec<_> = a
        .audit_export(None, Some(AuditAction::ShareCreated))
        .collect()
        .await;
    assert_eq!(shares.len(), 1100);
    assert_eq!(
        shares[1099].as_ref().expect("row").target.as_deref(),
        Some("1099")
    );
}
both!(audit_log, actions_are_audited_and_paged_by_cursor);

async fn domain_changes_audit_themselves(w: TestDb) {
    use secrecy::ExposeSecret as _;
    let w = World::new(w);
    let a = w.replica().await;
    let t = a.issue_setup_token().await.expect("issue").expect("token");
    a.consume_setup_token(&ctx(), t.expose_secret(), "root", &secret("root-password"))
        .await
        .expect("setup");
    let (s, root) = sign_in(&a, "root").await;
    let c = Ctx::of(&root, ip(1), None);
    add(&a, "alice", Role::Editor, None).await;
    a.update_user(
        &c,
        "alice",
        UserChange {
            role: Some(Role::Viewer),
            ..Default::default()
        },
    )
    .await
    .expect("change");
    a.update_user(
        &c,
        "alice",
        UserChange {
            disabled: Some(true),
            ..Default::default()
        },
    )
    .await
    .expect("disable");
    let tok = a
        .create_token(
            &c,
            "root",
            NewToken {
                name: "ci".into(),
                role: Role::Viewer,
                workspace: None,
                expires_in: None,
            },
        )
        .await
        .expect("token");
    a.revoke_token(&c, &root, tok.info.id)
        .await
        .expect("revoke");
    let (link, lt) = a
        .create_link(
            &c,
            &root,
            NewLink {
                workspace: "ws1".into(),
                folder: "f".into(),
                label: "l".into(),
                expires_in: Duration::from_secs(60),
                ..Default::default()
            },
        )
        .await
        .expect("link");
    let link2 = a.open_link(lt.expose_secret()).await.expect("open");
    a.begin_submission(&Ctx::of(&link2.principal(), ip(3), None), &link2, None)
        .await
        .expect("use");
    a.revoke_link(&c, &root, link.id).await.expect("revoke");
    a.sign_out(&c, &s.token).await.expect("sign out");
    let mut actions: Vec<_> = a
        .audit_export(None, None)
        .map(|i| i.expect("row").action.as_str())
        .collect()
        .await;
    actions.sort_unstable();
    actions.dedup();
    let mut expected = vec![
        "setup_completed",
        "sign_in",
        "user_created",
        "user_changed",
        "user_disabled",
        "token_created",
        "token_revoked",
        "link_created",
        "link_used",
        "link_revoked",
        "sign_out",
    ];
    expected.sort_unstable();
    assert_eq!(actions, expected);
}
both!(audit_by_domain, domain_changes_audit_themselves);
