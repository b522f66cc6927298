use super::*;

async fn sessions_expire_when_idle_and_at_their_maximum(w: TestDb) {
    let w = World::new(w);
    let a = w.replica().await;
    add(&a, "alice", Role::Viewer, None).await;
    let (s, p) = sign_in(&a, "alice").await;
    assert!(matches!(p.kind, PrincipalKind::User { .. }));
    assert_eq!(a.session(&s.token).await.expect("valid"), p);

    // Idle: used every 11 hours it lives on; 12 hours unused ends it.
    for _ in 0..3 {
        w.clock.advance(Duration::from_secs(11 * 3600));
        a.session(&s.token)
            .await
            .expect("still valid: it was used within 12h");
    }
    w.clock.advance(Duration::from_secs(12 * 3600));
    assert!(matches!(
        a.session(&s.token).await,
        Err(Error::Unauthenticated)
    ));

    // Absolute: even when used every hour, 7 days after sign-in it ends.
    let (s, _) = sign_in(&a, "alice").await;
    assert_eq!(s.expires_at, w.clock.now_ms() + 7 * 24 * 3600 * 1000);
    for _ in 0..(7 * 24 - 1) {
        w.clock.advance(Duration::from_secs(3600));
        a.session(&s.token).await.expect("within 7 days");
    }
    w.clock.advance(Duration::from_secs(3600));
    assert!(matches!(
        a.session(&s.token).await,
        Err(Error::Unauthenticated)
    ));
    assert!(matches!(
        a.session(&secret("made-up")).await,
        Err(Error::Unauthenticated)
    ));
}
both!(
    session_expiry,
    sessions_expire_when_idle_and_at_their_maximum
);

async fn last_seen_is_written_at_most_once_a_minute(w: TestDb) {
    let w = World::new(w);
    let a = w.replica().await;
    add(&a, "alice", Role::Viewer, None).await;
    let (s, _) = sign_in(&a, "alice").await;
    let seen = || async {
        a.db()
            .query_opt("SELECT last_seen_at FROM sessions", vec![])
            .await
            .expect("q")
            .expect("row")
            .int(0)
            .expect("int")
    };
    let start = seen().await;
    w.clock.advance(Duration::from_secs(30));
    a.session(&s.token).await.expect("valid");
    assert_eq!(seen().await, start, "no write within the minute");
    w.clock.advance(Duration::from_secs(31));
    a.session(&s.token).await.expect("valid");
    assert_eq!(seen().await, start + 61_000);
}
both!(session_touch, last_seen_is_written_at_most_once_a_minute);

async fn sign_out_disable_and_password_change_end_sessions_on_every_replica(w: TestDb) {
    let w = World::new(w);
    let (a, b) = (w.replica().await, w.replica().await);
    add(&a, "root", Role::Admin, None).await;
    add(&a, "alice", Role::Uploader, None).await;

    let (s1, p) = sign_in(&a, "alice").await;
    let (s2, _) = sign_in(&a, "alice").await;
    b.session(&s1.token).await.expect("replica b sees it");
    a.sign_out(&Ctx::of(&p, ip(1), None), &s1.token)
        .await
        .expect("sign out");
    assert!(matches!(
        b.session(&s1.token).await,
        Err(Error::Unauthenticated)
    ));
    b.session(&s2.token).await.expect("the other session lives");

    a.update_user(
        &Ctx::system(),
        "alice",
        UserChange {
            password: Some(secret("a-new-password")),
            ..Default::default()
        },
    )
    .await
    .expect("new password");
    assert!(matches!(
        b.session(&s2.token).await,
        Err(Error::Unauthenticated)
    ));
    let old = b.sign_in(&ctx(), "alice", "alice-password", None).await;
    assert!(matches!(old, Err(Error::InvalidCredentials)));
    let (s3, _) = b
        .sign_in(&ctx(), "alice", "a-new-password", None)
        .await
        .expect("new works");

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
    assert!(matches!(
        b.session(&s3.token).await,
        Err(Error::Unauthenticated)
    ));
}
both!(
    sessions_end,
    sign_out_disable_and_password_change_end_sessions_on_every_replica
);

async fn five_failures_throttle_the_account_and_the_ip_on_every_replica(w: TestDb) {
    let w = World::new(w);
    let (a, b) = (w.replica().await, w.replica().await);
    add(&a, "alice", Role::Viewer, None).await;
    // Five failures, alternating replicas, from different IPs: the account is throttled.
    for i in 0..5 {
        let r = if i % 2 == 0 { &a } else { &b };
        let e = r
            .sign_in(&Ctx::anonymous(ip(10 + i), None), "alice", "wrong", None)
            .await;
        assert!(matches!(e, Err(Error::InvalidCredentials)), "{i}: {e:?}");
        w.clock.advance(MIN);
    }
    // Even the right password is refused now, on both replicas, with a retry-after.
    for r in [&a, &b] {
        match r
            .sign_in(
                &Ctx::anonymous(ip(50), None),
                "alice",
                "alice-password",
                None,
            )
            .await
        {
            Err(Error::Throttled { retry_after }) => {
                // The first failure was 5 minutes ago: it leaves the 15-minute window in 10.
                assert_eq!(retry_after, Duration::from_secs(10 * 60));
            }
            other => panic!("expected throttled, got {other:?}"),
        }
    }
    w.clock.advance(Duration::from_secs(10 * 60));
    sign_in(&b, "alice").await;

    // Per IP: one address failing on five different names is throttled for a sixth.
    for i in 0..5 {
        let _ = a
            .sign_in(
                &Ctx::anonymous(ip(99), None),
                &format!("ghost{i}"),
                "x",
                None,
            )
            .await;
    }
    let e = b
        .sign_in(
            &Ctx::anonymous(ip(99), None),
            "alice",
            "alice-password",
            None,
        )
        .await;
    assert!(matches!(e, Err(Error::Throttled { .. })), "{e:?}");
    sign_in(&b, "alice").await; // from another IP
}
both!(
    throttle,
    five_failures_throttle_the_account_and_the_ip_on_every_replica
);
