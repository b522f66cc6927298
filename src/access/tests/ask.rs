use super::*;

async fn a_chat_is_found_only_by_its_owner_in_its_workspace(w: TestDb) {
    let w = World::new(w);
    let (a, b) = (w.replica().await, w.replica().await);
    a.record_chat(
        "ws1",
        "c1",
        "user:1",
        "m1",
        "What was the revenue in March?",
        AskMode::Workspace,
    )
    .await
    .expect("chat");
    w.clock.advance(MIN);
    b.record_question("ws1", "c1", "m2", "and in February?", AskMode::References)
        .await
        .expect("follow-up");
    let chat = b
        .ask_chat("ws1", "c1", "user:1")
        .await
        .expect("owner finds it");
    assert_eq!(chat.title, "What was the revenue in March?");
    assert!(matches!(
        b.ask_chat("ws1", "c1", "user:2").await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        b.ask_chat("ws2", "c1", "user:1").await,
        Err(Error::NotFound)
    ));
    let messages = a.ask_messages("ws1", "c1").await.expect("messages");
    let seen: Vec<(&str, i64, AskMode)> = messages
        .iter()
        .map(|m| (m.message.as_str(), m.seq, m.mode))
        .collect();
    assert_eq!(
        seen,
        [
            ("m1", 1, AskMode::Workspace),
            ("m2", 2, AskMode::References)
        ]
    );
    assert!(
        a.record_chat("ws1", "c1", "user:2", "m9", "again", AskMode::Workspace)
            .await
            .is_err()
    );
    let listed = a.ask_chats("ws1", "user:1", 10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(
        a.ask_chats("ws1", "user:2", 10)
            .await
            .expect("list")
            .is_empty()
    );
}
both!(
    ask_ownership,
    a_chat_is_found_only_by_its_owner_in_its_workspace
);

#[test]
fn a_token_owns_chats_as_its_owner_and_a_link_owns_none() {
    let token = Principal {
        kind: PrincipalKind::Token {
            id: 7,
            name: "ci".into(),
            owner_id: 3,
            owner: "alice".into(),
        },
        grants: vec![],
    };
    let user = Principal {
        kind: PrincipalKind::User {
            id: 3,
            username: "alice".into(),
        },
        grants: vec![],
    };
    assert_eq!(chat_owner(&token), chat_owner(&user));
    let link = Principal {
        kind: PrincipalKind::Link {
            id: 1,
            workspace: "ws1".into(),
            folder: "root".into(),
        },
        grants: vec![],
    };
    assert_eq!(chat_owner(&link), None);
}
