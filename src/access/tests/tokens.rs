use super::*;

fn new_token(
    name: &str,
    role: Role,
    workspace: Option<&str>,
    expires: Option<Duration>,
) -> NewToken {
    NewToken {
        name: name.into(),
        role,
        workspace: workspace.map(Into::into),
        expires_in: expires,
    }
}

async fn tokens_act_for_their_owner_within_their_scope(w: TestDb) {
    use secrecy::ExposeSecret as _;
    let w = World::new(w);
    let (a, b) = (w.replica().await, w.replica().await);
    add(&a, "root", Role::Admin, None).await;
    let alice = add(&a, "alice", Role::Editor, Some("ws1")).await;
    a.set_grant(&Ctx::system(), "alice", "ws2", Some(Role::Viewer))
        .await
        .expect("grant");

    // Role ≤ the owner's: an editor cannot mint an admin token, nor an editor token on ws2.
    let too_high = a
        .create_token(
            &Ctx::system(),
            "alice",
            new_token("x", Role::Admin, None, None),
        )
        .await;
    assert!(matches!(too_high, Err(Error::Forbidden)), "{too_high:?}");
    let too_high = a
        .create_token(
            &Ctx::system(),
            "alice",
            new_token("x", Role::Editor, Some("ws2"), None),
        )
        .await;
    assert!(matches!(too_high, Err(Error::Forbidden)), "{too_high:?}");

    let ci = a
        .create_token(
            &Ctx::system(),
            "alice",
            new_token(
                "ci",
                Role::Uploader,
                Some("ws1"),
                Some(Duration::from_secs(3600)),
            ),
        )
        .await
        .expect("token");
    let token = ci.token.expose_secret().to_owned();
    assert!(
        token.starts_with("fgt_") && token.len() == 4 + 43,
        "{token}"
    );
    let p = b.bearer(&token).await.expect("replica b accepts it");
    assert_eq!(p.user_id(), Some(alice.id));
    assert_eq!(p.check("ws1", Capability::Upload), Ok(Role::Uploader));
    assert_eq!(
        p.check("ws1", Capability::Share),
        Err(Refusal::Forbidden),
        "capped at uploader"
    );
    assert_eq!(
        p.check("ws2", Capability::View),
        Err(Refusal::NotFound),
        "limited to ws1"
    );
    assert!(matches!(p.kind, PrincipalKind::Token { ref name, .. } if name == "ci"));

    // Listed with last use, never with the token.
    let listed = a.tokens_of("alice").await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, Some(w.clock.now_ms()));
    let json = serde_json::to_string(&listed).expect("json");
    assert!(!json.contains(&token[4..]));

    // Expiry.
    w.clock.advance(Duration::from_secs(3600));
    assert!(matches!(
        b.bearer(&token).await,
        Err(Error::Unauthenticated)
    ));

    // Revocation: by the owner, immediately on the other replica; others see NotFound.
    let all = a
        .create_token(
            &Ctx::system(),
            "alice",
            new_token("all", Role::Editor, None, None),
        )
        .await
        .expect("token");
    let all_token = all.token.expose_secret().to_owned();
    let p = b.bearer(&all_token).await.expect("valid");
    assert_eq!(
        p.check("ws2", Capability::View),
        Ok(Role::Viewer),
        "owner's own grant caps it"
    );
    assert_eq!(p.check("ws1", Capability::ManageLinks), Ok(Role::Editor));
    let bob_user = add(&a, "bob", Role::Editor, None).await;
    let bob = Principal {
        kind: PrincipalKind::User {
            id: bob_user.id,
            username: "bob".into(),
        },
        grants: bob_user.grants,
    };
    let other = a.revoke_token(&Ctx::system(), &bob, all.info.id).await;
    assert!(matches!(other, Err(Error::NotFound)), "{other:?}");
    a.revoke_token(&Ctx::system(), &p, all.info.id)
        .await
        .expect("owner revokes");
    assert!(matches!(
        b.bearer(&all_token).await,
        Err(Error::Unauthenticated)
    ));

    // A disabled owner's tokens stop working; a demoted owner's tokens shrink.
    let t3 = a
        .create_token(
            &Ctx::system(),
            "alice",
            new_token("t3", Role::Editor, None, None),
        )
        .await
        .expect("token");
    let t3 = t3.token.expose_secret().to_owned();
    a.update_user(
        &Ctx::system(),
        "alice",
        UserChange {
            role: Some(Role::Viewer),
            ..Default::default()
        },
    )
    .await
    .expect("demote");
    let p = b.bearer(&t3).await.expect("valid");
    assert_eq!(p.check("ws1", Capability::Upload), Err(Refusal::Forbidden));
    a.update_user(
        &Ctx::system(),
        "alice",
        UserChange {
            disabled: Some(true),
            ..Default::default()
        },
    )
    .await
    .expect("disable");
    assert!(matches!(b.bearer(&t3).await, Err(Error::Unauthenticated)));
    assert!(matches!(
        b.bearer("fgt_not-a-token").await,
        Err(Error::Unauthenticated)
    ));
    assert!(matches!(
        b.bearer("nope").await,
        Err(Error::Unauthenticated)
    ));
}
both!(token_scope, tokens_act_for_their_owner_within_their_scope);

async fn proxy_users_get_the_default_role_plus_admin_grants(w: TestDb) {
    let w = World::new(w);
    let a = w.replica().await;
    let p = a
        .proxy_principal("Dana@Example.com", Some(Role::Viewer))
        .await
        .expect("proxy");
    assert_eq!(p.username(), Some("dana@example.com"));
    assert_eq!(p.check("ws1", Capability::View), Ok(Role::Viewer));
    assert_eq!(p.check("ws1", Capability::Upload), Err(Refusal::Forbidden));
    let none = a.proxy_principal("erin", None).await.expect("proxy");
    assert_eq!(none.check("ws1", Capability::View), Err(Refusal::NotFound));
    add(&a, "dana@example.com", Role::Editor, Some("ws1")).await;
    let p = a
        .proxy_principal("dana@example.com", Some(Role::Viewer))
        .await
        .expect("proxy");
    assert_eq!(p.check("ws1", Capability::Share), Ok(Role::Editor));
    assert_eq!(p.check("ws2", Capability::View), Ok(Role::Viewer));
}
both!(
    proxy_roles,
    proxy_users_get_the_default_role_plus_admin_grants
);
