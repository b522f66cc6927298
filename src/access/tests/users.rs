use super::*;

async fn users_are_added_listed_and_changed(w: TestDb) {
    let w = World::new(w);
    let a = w.replica().await;
    let alice = add(&a, "Alice", Role::Editor, Some("ws1")).await;
    assert_eq!(alice.username, "alice", "stored lower-case");
    assert_eq!(
        alice.grants,
        vec![Grant {
            workspace: "ws1".into(),
            role: Role::Editor
        }]
    );
    add(&a, "bob", Role::Admin, None).await;
    let names: Vec<_> = a
        .users()
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    let taken = a
        .add_user(
            &Ctx::system(),
            NewUser {
                username: "ALICE".into(),
                password: secret("long enough"),
                role: Role::Viewer,
                workspace: None,
            },
        )
        .await;
    assert!(matches!(taken, Err(Error::Conflict(_))), "{taken:?}");
    for bad in ["", "-x", "a b", "a/b", &"x".repeat(65)] {
        let r = a
            .add_user(
                &Ctx::system(),
                NewUser {
                    username: bad.into(),
                    password: secret("long enough"),
                    role: Role::Viewer,
                    workspace: None,
                },
            )
            .await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{bad:?}: {r:?}");
    }
    let short = a
        .add_user(
            &Ctx::system(),
            NewUser {
                username: "carol".into(),
                password: secret("short"),
                role: Role::Viewer,
                workspace: None,
            },
        )
        .await;
    assert!(matches!(short, Err(Error::Invalid(_))));

    let changed = a
        .update_user(
            &Ctx::system(),
            "alice",
            UserChange {
                role: Some(Role::Viewer),
                ..Default::default()
            },
        )
        .await
        .expect("change role");
    assert_eq!(changed.grants[0].role, Role::Viewer);
    let granted = a
        .set_grant(&Ctx::system(), "alice", "*", Some(Role::Uploader))
        .await
        .expect("grant");
    assert_eq!(granted.grants.len(), 2);
    assert_eq!(granted.grants[0].workspace, "*", "most general first");
    let disabled = a
        .update_user(
            &Ctx::system(),
            "alice",
            UserChange {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("disable");
    assert!(disabled.disabled);
    assert!(matches!(a.user("nobody").await, Err(Error::NotFound)));

    // The last admin can be neither demoted nor disabled.
    let last = a
        .update_user(
            &Ctx::system(),
            "bob",
            UserChange {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(last, Err(Error::Conflict(_))), "{last:?}");
    let last = a
        .update_user(
            &Ctx::system(),
            "bob",
            UserChange {
                role: Some(Role::Editor),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(last, Err(Error::Conflict(_))), "{last:?}");
}
both!(users_crud, users_are_added_listed_and_changed);

async fn wrong_password_and_unknown_user_fail_alike(w: TestDb) {
    let w = World::new(w);
    let a = w.replica().await;
    add(&a, "alice", Role::Viewer, None).await;
    let (_, p) = a
        .sign_in(&ctx(), "ALICE", "alice-password", None)
        .await
        .expect("any case");
    assert_eq!(p.username(), Some("alice"));
    let wrong = a
        .sign_in(&ctx(), "alice", "not-her-password", None)
        .await
        .expect_err("wrong");
    let unknown = a
        .sign_in(&ctx(), "mallory", "alice-password", None)
        .await
        .expect_err("unknown");
    assert!(matches!(wrong, Error::InvalidCredentials));
    assert!(matches!(unknown, Error::InvalidCredentials));
    assert_eq!(wrong.to_string(), unknown.to_string());
    // A disabled user with the right password is refused the same way.
    add(&a, "admin", Role::Admin, None).await;
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
    let disabled = a
        .sign_in(&ctx(), "alice", "alice-password", None)
        .await
        .expect_err("disabled");
    assert_eq!(disabled.to_string(), wrong.to_string());
}
both!(password_verify, wrong_password_and_unknown_user_fail_alike);

#[tokio::test]
async fn an_unknown_user_costs_the_same_argon2id_work_as_a_known_one() {
    // Counted, not timed: both failures run exactly one Argon2id verification, against hashes
    // with the same parameters, so they cost the same whatever else the machine is doing.
    let w = World::new(TestDb::sqlite());
    let a = w.replica().await;
    add(&a, "alice", Role::Viewer, None).await;
    let before = a.hasher.verifications();
    let _ = a
        .sign_in(&Ctx::anonymous(ip(10), None), "alice", "wrong-one", None)
        .await;
    let known = a.hasher.verifications() - before;
    let _ = a
        .sign_in(&Ctx::anonymous(ip(20), None), "ghost", "wrong-one", None)
        .await;
    let unknown = a.hasher.verifications() - before - known;
    assert_eq!((known, unknown), (1, 1));
    let stored =
        a.db.query_opt(
            "SELECT password_hash FROM users WHERE username = $1",
            vec!["alice".into()],
        )
        .await
        .expect("query")
        .expect("alice")
        .text(0)
        .expect("hash");
    let dummy = a.hasher.dummy_hash().await.expect("dummy");
    let params = |phc: &str| phc.rsplitn(3, '$').nth(2).map(str::to_owned);
    assert_eq!(params(&stored), params(&dummy), "same algorithm and cost");
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
}
