use super::*;

async fn a_setup_token_works_once_and_not_after_an_admin_exists(w: TestDb) {
    use secrecy::ExposeSecret as _;
    let w = World::new(w);
    let (a, b) = (w.replica().await, w.replica().await);
    let ta = a
        .issue_setup_token()
        .await
        .expect("issue")
        .expect("no admin yet");
    let tb = b
        .issue_setup_token()
        .await
        .expect("issue")
        .expect("no admin yet");
    let bad = b
        .consume_setup_token(&ctx(), "wrong", "root", &secret("root-password"))
        .await;
    assert!(matches!(bad, Err(Error::SetupClosed)), "{bad:?}");
    // Replica b accepts the token replica a printed.
    let root = b
        .consume_setup_token(&ctx(), ta.expose_secret(), "root", &secret("root-password"))
        .await
        .expect("setup");
    assert_eq!(
        root.grants,
        vec![Grant {
            workspace: "*".into(),
            role: Role::Admin
        }]
    );
    let again = a
        .consume_setup_token(
            &ctx(),
            ta.expose_secret(),
            "root2",
            &secret("root-password"),
        )
        .await;
    assert!(matches!(again, Err(Error::SetupClosed)), "{again:?}");
    let other = a
        .consume_setup_token(
            &ctx(),
            tb.expose_secret(),
            "root2",
            &secret("root-password"),
        )
        .await;
    assert!(
        matches!(other, Err(Error::SetupClosed)),
        "every token is void: {other:?}"
    );
    assert!(a.issue_setup_token().await.expect("issue").is_none());
    sign_in(&a, "root").await;
}
both!(
    setup_once,
    a_setup_token_works_once_and_not_after_an_admin_exists
);

async fn two_replicas_racing_to_set_up_create_one_admin(w: TestDb) {
    use secrecy::ExposeSecret as _;
    let w = World::new(w);
    let (a, b) = (w.replica().await, w.replica().await);
    let ta = a.issue_setup_token().await.expect("issue").expect("token");
    let tb = b.issue_setup_token().await.expect("issue").expect("token");
    let (ca, cb) = (a.clone(), b.clone());
    let ja = tokio::spawn(async move {
        ca.consume_setup_token(&ctx(), ta.expose_secret(), "one", &secret("one-password"))
            .await
    });
    let jb = tokio::spawn(async move {
        cb.consume_setup_token(&ctx(), tb.expose_secret(), "two", &secret("two-password"))
            .await
    });
    let (ra, rb) = (ja.await.expect("task a"), jb.await.expect("task b"));
    assert_eq!(ra.is_ok() as u8 + rb.is_ok() as u8, 1, "{ra:?} {rb:?}");
    assert_eq!(a.users().await.expect("users").len(), 1);
}
both!(setup_race, two_replicas_racing_to_set_up_create_one_admin);

async fn an_expired_setup_token_is_refused(w: TestDb) {
    use secrecy::ExposeSecret as _;
    let w = World::new(w);
    let a = w.replica().await;
    let t = a.issue_setup_token().await.expect("issue").expect("token");
    w.clock.advance(Duration::from_secs(24 * 3600));
    let r = a
        .consume_setup_token(&ctx(), t.expose_secret(), "root", &secret("root-password"))
        .await;
    assert!(matches!(r, Err(Error::SetupClosed)), "{r:?}");
    // A CLI-made admin closes setup too.
    let t = a.issue_setup_token().await.expect("issue").expect("token");
    add(&a, "root", Role::Admin, None).await;
    let r = a
        .consume_setup_token(&ctx(), t.expose_secret(), "x", &secret("root-password"))
        .await;
    assert!(matches!(r, Err(Error::SetupClosed)), "{r:?}");
}
both!(setup_expiry, an_expired_setup_token_is_refused);
