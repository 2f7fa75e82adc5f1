//! `GET /updates` long polling: the exact query, the marker sent on every call, an answer
//! without a marker (or with `0`) keeping the previous one, the marker store, and the errors
//! that end the stream.

mod common;

use std::sync::Arc;

use common::*;
use connector_max::MemoryMarkerStore;
use messenger_core::{AccountHealth, ErrorKind, EventStream, InboundEvent, Messenger};
use mockito::Matcher;
use serde_json::json;

fn answer(updates: Vec<serde_json::Value>, marker: serde_json::Value) -> String {
    json!({ "updates": updates, "marker": marker }).to_string()
}

/// Serves `answers` to `GET /updates` in order (the last one is repeated), recording the calls.
async fn updates_server(answers: Vec<(u16, String)>) -> (mockito::ServerGuard, Capture) {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    let count = answers.len();
    for (index, (status, body)) in answers.into_iter().enumerate() {
        let mut mock = server
            .mock("GET", "/updates")
            .match_query(Matcher::Any)
            .with_status(status.into())
            .with_body_from_request(capture.answer(body));
        if index + 1 < count {
            mock = mock.expect(1);
        }
        mock.create_async().await;
    }
    (server, capture)
}

fn markers(capture: &Capture) -> Vec<Option<String>> {
    capture
        .all()
        .iter()
        .map(|s| {
            s.query()
                .into_iter()
                .find(|(k, _)| k == "marker")
                .map(|(_, v)| v)
        })
        .collect()
}

async fn message_ids(stream: &mut EventStream, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    while ids.len() < n {
        match next_within(stream)
            .await
            .expect("the stream ended")
            .unwrap()
        {
            InboundEvent::Message(m) => ids.push(m.message_id.as_str().to_owned()),
            InboundEvent::Account(_) => {}
            other => ids.push(format!("{other:?}")),
        }
    }
    ids
}

#[tokio::test]
async fn the_query_is_exact_and_the_marker_goes_on_every_later_call() {
    let (server, capture) = updates_server(vec![
        (
            200,
            answer(
                vec![text_update("mid.a", "1"), text_update("mid.b", "2")],
                json!(100),
            ),
        ),
        (200, answer(vec![text_update("mid.c", "3")], json!(101))),
        (401, api_error("verify.token", "Invalid access_token")),
    ])
    .await;
    let max = config(&server)
        .poll_limit(50)
        .poll_types(["message_created", "bot_started"])
        .build()
        .unwrap();
    let mut stream = max.updates().unwrap();
    assert_eq!(
        message_ids(&mut stream, 3).await,
        ["mid.a", "mid.b", "mid.c"]
    );
    let err = next_within(&mut stream).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(next_within(&mut stream).await.is_none());

    let calls = capture.all();
    assert_eq!(calls.len(), 3);
    for call in &calls {
        assert_eq!(call.method, "GET");
        assert_eq!(call.path(), "/updates");
        assert_authorized(call);
    }
    let q = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(
        calls[0].query(),
        [
            q("limit", "50"),
            q("timeout", "0"),
            q("types", "message_created,bot_started")
        ]
    );
    assert_eq!(
        calls[1].query(),
        [
            q("limit", "50"),
            q("timeout", "0"),
            q("marker", "100"),
            q("types", "message_created,bot_started")
        ]
    );
    assert_eq!(
        markers(&capture),
        [None, Some("100".into()), Some("101".into())]
    );
}

#[tokio::test]
async fn an_answer_without_a_marker_or_with_zero_keeps_the_previous_one() {
    let (server, capture) = updates_server(vec![
        (200, answer(vec![text_update("mid.a", "1")], json!(100))),
        (200, answer(vec![], json!(0))),
        (200, json!({"updates": []}).to_string()),
        (200, answer(vec![], json!(null))),
        (200, answer(vec![text_update("mid.b", "2")], json!(105))),
        (405, api_error("method.not.allowed", "Method not allowed")),
    ])
    .await;
    let mut stream = bot(&server).updates().unwrap();
    assert_eq!(message_ids(&mut stream, 2).await, ["mid.a", "mid.b"]);
    let err = next_within(&mut stream).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("webhook subscription"), "{err}");
    assert!(next_within(&mut stream).await.is_none());
    assert_eq!(
        markers(&capture),
        [
            None,
            Some("100".into()),
            Some("100".into()),
            Some("100".into()),
            Some("100".into()),
            Some("105".into())
        ]
    );
}

#[tokio::test]
async fn the_marker_is_loaded_and_saved_through_the_store() {
    let (server, capture) = updates_server(vec![
        (200, answer(vec![text_update("mid.a", "1")], json!(31))),
        (200, answer(vec![text_update("mid.b", "2")], json!(32))),
        (401, api_error("verify.token", "")),
    ])
    .await;
    let store = MemoryMarkerStore::new(Some(30));
    let max = config(&server)
        .marker_store(Arc::new(store.clone()))
        .build()
        .unwrap();
    let mut stream = max.updates().unwrap();
    assert_eq!(message_ids(&mut stream, 1).await, ["mid.a"]);
    // The consumer holds mid.a: nothing confirmed, nothing saved yet.
    assert_eq!(store.get(), Some(30));
    assert_eq!(message_ids(&mut stream, 1).await, ["mid.b"]);
    assert_eq!(store.get(), Some(31));
    assert!(next_within(&mut stream).await.unwrap().is_err());
    assert_eq!(store.get(), Some(32));
    assert_eq!(
        markers(&capture),
        [Some("30".into()), Some("31".into()), Some("32".into())]
    );
}

#[tokio::test]
async fn a_configured_initial_marker_wins_over_the_store() {
    let (server, capture) = updates_server(vec![(401, api_error("verify.token", ""))]).await;
    let max = config(&server)
        .initial_marker(77)
        .marker_store(Arc::new(MemoryMarkerStore::new(Some(30))))
        .build()
        .unwrap();
    let mut stream = max.updates().unwrap();
    assert!(next_within(&mut stream).await.unwrap().is_err());
    assert_eq!(markers(&capture), [Some("77".into())]);
    // And `updates_from` takes one explicitly.
    let mut stream = max.updates_from(Some(78));
    assert!(next_within(&mut stream).await.unwrap().is_err());
    assert_eq!(markers(&capture)[1], Some("78".into()));
}

#[tokio::test]
async fn failures_are_retried_with_the_same_marker_and_reported() {
    let (server, capture) = updates_server(vec![
        (200, answer(vec![text_update("mid.a", "1")], json!(100))),
        (502, "<html>Bad Gateway</html>".to_owned()),
        (200, "<html>not json</html>".to_owned()),
        (429, "slow down".to_owned()),
        (200, answer(vec![text_update("mid.b", "2")], json!(101))),
        (401, api_error("verify.token", "")),
    ])
    .await;
    let mut stream = bot(&server).updates().unwrap();
    let mut seen = Vec::new();
    loop {
        match next_within(&mut stream).await {
            Some(Ok(InboundEvent::Message(m))) => seen.push(m.message_id.as_str().to_owned()),
            Some(Ok(InboundEvent::Account(a))) => seen.push(format!("{:?}", a.health)),
            Some(Ok(other)) => panic!("{other:?}"),
            Some(Err(err)) => {
                assert_eq!(err.kind(), ErrorKind::Unauthorized);
                break;
            }
            None => panic!("ended without the error"),
        }
    }
    assert_eq!(
        seen,
        [
            "mid.a".to_owned(),
            format!("{:?}", AccountHealth::Unavailable),
            format!("{:?}", AccountHealth::RateLimited),
            format!("{:?}", AccountHealth::Connected),
            "mid.b".to_owned()
        ]
    );
    assert_eq!(
        markers(&capture),
        [
            None,
            Some("100".into()),
            Some("100".into()),
            Some("100".into()),
            Some("100".into()),
            Some("101".into())
        ]
    );
}

#[tokio::test]
async fn unreadable_updates_do_not_stop_the_stream() {
    let (server, _capture) = updates_server(vec![
        (
            200,
            answer(
                vec![
                    json!({"update_type": "message_created", "timestamp": "x"}),
                    json!({"update_type": "dialog_muted", "timestamp": 1, "chat_id": 182182182, "muted_until": 2}),
                    text_update("mid.ok", "fine"),
                ],
                json!(9),
            ),
        ),
        (401, api_error("verify.token", "")),
    ])
    .await;
    let mut stream = bot(&server).updates().unwrap();
    let mut kinds = Vec::new();
    while let Some(Ok(event)) = next_within(&mut stream).await {
        kinds.push(match event {
            InboundEvent::Other(o) => o.kind,
            InboundEvent::Message(m) => m.message_id.as_str().to_owned(),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(kinds, ["malformed_update", "dialog_muted", "mid.ok"]);
}

#[test]
fn invalid_poll_settings_are_refused() {
    use connector_max::MaxConfig;
    assert!(MaxConfig::new("t").poll_limit(0).build().is_err());
    assert!(MaxConfig::new("t").poll_limit(1001).build().is_err());
    assert!(
        MaxConfig::new("t")
            .poll_timeout(std::time::Duration::from_secs(91))
            .build()
            .is_err()
    );
}
