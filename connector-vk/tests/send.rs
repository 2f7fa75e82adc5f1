//! Exact wire shapes of every outbound call: method, path, headers and form bodies, fed with
//! answers written from `shared/platforms/vk.md`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use connector_vk::convert::random_id_for_key;
use messenger_core::backoff::Backoff;
use messenger_core::layers::Retrying;
use messenger_core::plan::DowngradeReason;
use messenger_core::{
    ContentKind, Delivery, ErrorKind, MediaSource, Messenger, OutgoingContent, OutgoingMessage,
    Platform,
};
use mockito::Matcher;
use serde_json::json;

fn rid(peer: i64, key: &str) -> String {
    random_id_for_key(peer, key).to_string()
}

#[tokio::test]
async fn connect_asks_for_the_token_s_own_community() {
    let mut server = mockito::Server::new_async().await;
    let m = api(&mut server, "groups.getById", &form(&[]))
        .with_body(ok(
            json!({"groups": [{"id": GROUP, "name": "Магазин", "screen_name": "shop",
            "is_closed": 0, "type": "group"}], "profiles": []}),
        ))
        .create_async()
        .await;
    let vk = config(&server).build().unwrap();
    let me = within(vk.connect()).await.unwrap();
    assert_eq!(me.platform, Platform::Vk);
    assert_eq!(me.id.as_str(), "229000000");
    assert_eq!(me.name.as_deref(), Some("Магазин"));
    assert_eq!(me.username.as_deref(), Some("shop"));
    hit(&m);
}

#[tokio::test]
async fn connect_refuses_a_token_of_another_community() {
    let mut server = mockito::Server::new_async().await;
    api(&mut server, "groups.getById", &form(&[]))
        .with_body(ok(json!([{"id": 1, "name": "Other"}])))
        .create_async()
        .await;
    let vk = config(&server).build().unwrap();
    let err = within(vk.connect()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
}

#[tokio::test]
async fn connect_maps_error_5() {
    let mut server = mockito::Server::new_async().await;
    api(&mut server, "groups.getById", &form(&[]))
        .with_body(fail(
            5,
            "User authorization failed: invalid access_token (4).",
        ))
        .create_async()
        .await;
    let vk = config(&server).build().unwrap();
    let err = within(vk.connect()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn text_goes_as_a_form_with_a_keyed_random_id_and_reply_to() {
    let mut server = mockito::Server::new_async().await;
    let body = form(&[
        ("peer_id", "111"),
        ("random_id", &rid(111, "order-17#0")),
        ("message", "Ваш заказ готов & ждёт"),
        ("reply_to", "345"),
    ]);
    let m = api(&mut server, "messages.send", &body)
        .with_body(ok(json!(346)))
        .create_async()
        .await;
    let vk = config(&server).build().unwrap();
    let report = within(
        vk.send(
            &OutgoingMessage::text("111", "Ваш заказ готов & ждёт")
                .reply_to("345")
                .idempotency_key("order-17"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(report.first_message_id().unwrap().as_str(), "346");
    hit(&m);
}

#[tokio::test]
async fn without_a_key_every_call_draws_a_fresh_random_id() {
    let mut server = mockito::Server::new_async().await;
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    server
        .mock("POST", "/method/messages.send")
        .match_body(Matcher::Regex(
            "^peer_id=111&random_id=[1-9][0-9]*&message=hi&v=5.199$".into(),
        ))
        .match_request(move |r| {
            seen.lock()
                .unwrap()
                .push(r.utf8_lossy_body().unwrap().into_owned());
            true
        })
        .with_body(ok(json!(1)))
        .expect(2)
        .create_async()
        .await;
    let vk = config(&server).build().unwrap();
    for _ in 0..2 {
        within(vk.send(&OutgoingMessage::text("111", "hi")))
            .await
            .unwrap();
    }
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 2);
    assert_ne!(bodies[0], bodies[1], "a fresh random_id per call");
}

#[tokio::test]
async fn long_text_is_split_and_each_part_has_its_own_random_id() {
    let mut server = mockito::Server::new_async().await;
    let first = "Абзац один. ".repeat(700);
    let second = "Абзац два. ".repeat(300);
    let text = format!("{}\n\n{}", first.trim(), second.trim());
    let m1 = api(
        &mut server,
        "messages.send",
        &form(&[
            ("peer_id", "111"),
            ("random_id", &rid(111, "long#0")),
            ("message", first.trim()),
        ]),
    )
    .with_body(ok(json!(10)))
    .create_async()
    .await;
    let m2 = api(
        &mut server,
        "messages.send",
        &form(&[
            ("peer_id", "111"),
            ("random_id", &rid(111, "long#1")),
            ("message", second.trim()),
        ]),
    )
    .with_body(ok(json!(11)))
    .create_async()
    .await;
    let vk = config(&server).build().unwrap();
    let report = within(vk.send(&OutgoingMessage::text("111", text).idempotency_key("long")))
        .await
        .unwrap();
    assert_eq!(report.parts.len(), 2);
    assert!(matches!(
        report.downgrades[0].reason,
        DowngradeReason::TextSplit {
            parts: 2,
            limit: 9000
        }
    ));
    hit(&m1);
    hit(&m2);
}

#[tokio::test]
async fn a_group_chat_is_sent_by_peer_ids_and_named_by_its_cmid() {
    let mut server = mockito::Server::new_async().await;
    let m = api(
        &mut server,
        "messages.send",
        &form(&[
            ("peer_ids", "2000000001"),
            ("random_id", &rid(2000000001, "g#0")),
            ("message", "all"),
            (
                "forward",
                r#"{"peer_id":2000000001,"conversation_message_ids":[2160],"is_reply":true}"#,
            ),
        ]),
    )
    .with_body(ok(
        json!([{"peer_id": 2000000001, "message_id": 0, "conversation_message_id": 2166}]),
    ))
    .create_async()
    .await;
    let vk = config(&server).build().unwrap();
    assert!(vk.is_group_chat(&"2000000001".into()));
    let report = within(
        vk.send(
            &OutgoingMessage::text("2000000001", "all")
                .reply_to("c2160")
                .idempotency_key("g"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(report.first_message_id().unwrap().as_str(), "c2166");
    hit(&m);
}

#[tokio::test]
async fn a_photo_is_uploaded_in_three_steps_without_the_token() {
    let mut server = mockito::Server::new_async().await;
    let upload_url = format!("{}/upload/photo?act=do_add&mid=0", server.url());
    let m1 = api(
        &mut server,
        "photos.getMessagesUploadServer",
        &form(&[("peer_id", "111")]),
    )
    .with_body(ok(
        json!({"upload_url": upload_url, "album_id": -64, "user_id": 0,
        "group_id": GROUP}),
    ))
    .create_async()
    .await;
    let m2 = server
        .mock("POST", "/upload/photo?act=do_add&mid=0")
        .match_header("authorization", Matcher::Missing)
        .match_header(
            "content-type",
            Matcher::Regex("^multipart/form-data; boundary=".into()),
        )
        .match_body(Matcher::AllOf(vec![
            Matcher::Regex(r#"name="photo"; filename="shelf.png""#.into()),
            Matcher::Regex("Content-Type: image/png".into()),
            Matcher::Regex("PNGDATA".into()),
        ]))
        .with_body(r#"{"server":849236,"photo":"[{\"markers_restarted\":true,\"photo\":\"8d2a:x\"}]","hash":"6f7e"}"#)
        .create_async()
        .await;
    let m3 = api(
        &mut server,
        "photos.saveMessagesPhoto",
        &form(&[
            ("photo", r#"[{"markers_restarted":true,"photo":"8d2a:x"}]"#),
            ("server", "849236"),
            ("hash", "6f7e"),
        ]),
    )
    .with_body(ok(json!([{"id": 457239018, "owner_id": -229000000, "album_id": -64,
        "access_key": "ac0fe1d2c3", "date": 1717000000, "has_tags": false,
        "sizes": [{"type": "x", "url": "https://sun9-1.userapi.com/x", "width": 604, "height": 453}]}])))
    .create_async()
    .await;
    let m4 = api(
        &mut server,
        "messages.send",
        &form(&[
            ("peer_id", "111"),
            ("random_id", &rid(111, "p#0")),
            ("message", "Новая полка"),
            ("attachment", "photo-229000000_457239018_ac0fe1d2c3"),
        ]),
    )
    .with_body(ok(json!(347)))
    .create_async()
    .await;
    let vk = config(&server).build().unwrap();
    let photo = OutgoingContent::media(
        ContentKind::Image,
        MediaSource::bytes(&b"PNGDATA"[..], "image/png", "shelf.png"),
        Some("Новая полка".into()),
    )
    .unwrap();
    let report = within(vk.send(&OutgoingMessage::new("111", photo).idempotency_key("p")))
        .await
        .unwrap();
    assert_eq!(report.first_message_id().unwrap().as_str(), "347");
    for m in [&m1, &m2, &m3, &m4] {
        hit(m);
    }
}

async fn doc_flow(kind: ContentKind, vk_type: &str, saved: serde_json::Value, mime: &str) {
    let mut server = mockito::Server::new_async().await;
    let upload_url = format!("{}/upload/doc", server.url());
    let m1 = api(
        &mut server,
        "docs.getMessagesUploadServer",
        &form(&[("type", vk_type), ("peer_id", "111")]),
    )
    .with_body(ok(json!({"upload_url": upload_url})))
    .create_async()
    .await;
    let m2 = server
        .mock("POST", "/upload/doc")
        .match_header("authorization", Matcher::Missing)
        .match_body(Matcher::AllOf(vec![
            Matcher::Regex(r#"name="file"; filename="note.bin""#.into()),
            Matcher::Regex(format!("Content-Type: {mime}")),
            Matcher::Regex("DOCBYTES".into()),
        ]))
        .with_body(r#"{"file":"111|0|0|psv4|fefe|ogg|abc"}"#)
        .create_async()
        .await;
    let m3 = api(
        &mut server,
        "docs.save",
        &form(&[("file", "111|0|0|psv4|fefe|ogg|abc")]),
    )
    .with_body(ok(saved))
    .create_async()
    .await;
    let m4 = api(
        &mut server,
        "messages.send",
        &form(&[
            ("peer_id", "111"),
            ("random_id", &rid(111, "d#0")),
            ("attachment", "doc-229000000_6789_ab12"),
        ]),
    )
    .with_body(ok(json!(348)))
    .create_async()
    .await;
    let vk = config(&server).build().unwrap();
    let content = OutgoingContent::media(
        kind,
        MediaSource::stream(8, mime, "note.bin", || {
            Box::pin(futures::stream::iter([Ok(bytes::Bytes::from_static(
                b"DOCBYTES",
            ))])) as messenger_core::ByteStream
        }),
        None,
    )
    .unwrap();
    let report = within(vk.send(&OutgoingMessage::new("111", content).idempotency_key("d")))
        .await
        .unwrap();
    assert_eq!(report.first_message_id().unwrap().as_str(), "348");
    assert!(report.downgrades.is_empty(), "{:?}", report.downgrades);
    for m in [&m1, &m2, &m3, &m4] {
        hit(m);
    }
}

#[tokio::test]
async fn a_document_is_uploaded_with_type_doc() {
    doc_flow(
        ContentKind::File,
        "doc",
        json!({"type": "doc", "doc": {"id": 6789, "owner_id": -229000000, "title": "note.bin",
            "size": 8, "ext": "bin", "type": 8, "access_key": "ab12"}}),
        "application/octet-stream",
    )
    .await;
}

#[tokio::test]
async fn a_voice_note_is_uploaded_with_type_audio_message() {
    doc_flow(
        ContentKind::Voice,
        "audio_message",
        json!({"type": "audio_message", "audio_message": {"id": 6789, "owner_id": -229000000,
            "duration": 2, "link_ogg": "https://psv4.userapi.com/a.ogg",
            "link_mp3": "https://psv4.userapi.com/a.mp3", "waveform": [1], "access_key": "ab12"}}),
        "audio/ogg",
    )
    .await;
}

#[tokio::test]
async fn an_upload_server_refusal_is_invalid_input_and_nothing_is_sent() {
    let mut server = mockito::Server::new_async().await;
    let upload_url = format!("{}/upload/doc", server.url());
    api(
        &mut server,
        "docs.getMessagesUploadServer",
        &form(&[("type", "doc"), ("peer_id", "111")]),
    )
    .with_body(ok(json!({"upload_url": upload_url})))
    .create_async()
    .await;
    server
        .mock("POST", "/upload/doc")
        .with_body(r#"{"error":"ERR_UPLOAD_FILE_NOT_UPLOADED","error_code":3,"error_descr":"secret-name.pdf: bad"}"#)
        .create_async()
        .await;
    let send = server
        .mock("POST", "/method/messages.send")
        .expect(0)
        .create_async()
        .await;
    let vk = config(&server).build().unwrap();
    let content = OutgoingContent::media(
        ContentKind::File,
        MediaSource::bytes(&b"x"[..], "application/pdf", "secret-name.pdf"),
        None,
    )
    .unwrap();
    let err = within(vk.send(&OutgoingMessage::new("111", content)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.platform_code(), Some("3"));
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert!(!err.to_string().contains("secret-name"));
    hit(&send);
}

#[tokio::test]
async fn an_empty_photo_answer_is_refused_before_saving() {
    let mut server = mockito::Server::new_async().await;
    let upload_url = format!("{}/upload/photo", server.url());
    api(
        &mut server,
        "photos.getMessagesUploadServer",
        &form(&[("peer_id", "111")]),
    )
    .with_body(ok(
        json!({"upload_url": upload_url, "album_id": -64, "user_id": 0}),
    ))
    .create_async()
    .await;
    server
        .mock("POST", "/upload/photo")
        .with_body(r#"{"server":1,"photo":"[]","hash":"h"}"#)
        .create_async()
        .await;
    let save = server
        .mock("POST", "/method/photos.saveMessagesPhoto")
        .expect(0)
        .create_async()
        .await;
    let vk = config(&server).build().unwrap();
    let photo = OutgoingContent::media(
        ContentKind::Image,
        MediaSource::bytes(&b"GIF89a"[..], "image/gif", "a.gif"),
        None,
    )
    .unwrap();
    let err = within(vk.send(&OutgoingMessage::new("111", photo)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    hit(&save);
}

#[tokio::test]
async fn media_vk_holds_goes_as_an_attachment_string() {
    let mut server = mockito::Server::new_async().await;
    let m = api(
        &mut server,
        "messages.send",
        &form(&[
            ("peer_id", "111"),
            ("random_id", &rid(111, "i#0")),
            ("attachment", "photo111_457239017_8f1e2d"),
        ]),
    )
    .with_body(ok(json!(349)))
    .create_async()
    .await;
    let vk = config(&server).build().unwrap();
    // A media id as the connector reports it inbound: attachment|url.
    let content = OutgoingContent::media(
        ContentKind::Image,
        MediaSource::id("photo111_457239017_8f1e2d|https://sun9-1.userapi.com/x.jpg"),
        None,
    )
    .unwrap();
    within(vk.send(&OutgoingMessage::new("111", content).idempotency_key("i")))
        .await
        .unwrap();
    hit(&m);
    // A media id that is not an attachment string is refused before any request.
    let content =
        OutgoingContent::media(ContentKind::File, MediaSource::id("AgADBAAD"), None).unwrap();
    let err = within(vk.send(&OutgoingMessage::new("111", content)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn media_by_url_is_sent_as_a_link_because_vk_cannot_fetch_urls() {
    let mut server = mockito::Server::new_async().await;
    let m = api(
        &mut server,
        "messages.send",
        &form(&[
            ("peer_id", "111"),
            ("random_id", &rid(111, "u#0")),
            ("message", "https://shop.example/catalog.pdf"),
        ]),
    )
    .with_body(ok(json!(350)))
    .create_async()
    .await;
    let vk = config(&server).build().unwrap();
    let content = OutgoingContent::media(
        ContentKind::File,
        MediaSource::url("https://shop.example/catalog.pdf".parse().unwrap()),
        None,
    )
    .unwrap();
    let report = within(vk.send(&OutgoingMessage::new("111", content).idempotency_key("u")))
        .await
        .unwrap();
    assert!(
        report
            .downgrades
            .iter()
            .any(|d| d.reason == DowngradeReason::UrlAsLink),
        "{:?}",
        report.downgrades
    );
    hit(&m);
}

#[tokio::test]
async fn mark_read_edit_and_delete_have_exact_bodies() {
    let mut server = mockito::Server::new_async().await;
    let read = api(
        &mut server,
        "messages.markAsRead",
        &form(&[
            ("peer_id", "111"),
            ("start_message_id", "345"),
            ("mark_conversation_as_read", "1"),
            ("group_id", "229000000"),
        ]),
    )
    .with_body(ok(json!(1)))
    .create_async()
    .await;
    let read_cmid = api(
        &mut server,
        "messages.markAsRead",
        &form(&[
            ("peer_id", "2000000001"),
            ("up_to_cmid", "2165"),
            ("mark_conversation_as_read", "1"),
            ("group_id", "229000000"),
        ]),
    )
    .with_body(ok(json!(1)))
    .create_async()
    .await;
    let edit = api(
        &mut server,
        "messages.edit",
        &form(&[
            ("peer_id", "111"),
            ("message_id", "346"),
            ("message", "Исправлено"),
        ]),
    )
    .with_body(ok(json!(1)))
    .create_async()
    .await;
    let edit_cmid = api(
        &mut server,
        "messages.edit",
        &form(&[
            ("peer_id", "2000000001"),
            ("cmid", "2166"),
            ("message", "Исправлено"),
        ]),
    )
    .with_body(ok(json!(1)))
    .create_async()
    .await;
    let delete = api(
        &mut server,
        "messages.delete",
        &form(&[
            ("peer_id", "111"),
            ("message_ids", "346"),
            ("delete_for_all", "1"),
        ]),
    )
    .with_body(ok(json!({"346": 1})))
    .create_async()
    .await;
    let vk = config(&server).build().unwrap();
    within(vk.mark_read(&"111".into(), &"345".into()))
        .await
        .unwrap();
    within(vk.mark_read(&"2000000001".into(), &"c2165".into()))
        .await
        .unwrap();
    within(vk.edit_text(&"111".into(), &"346".into(), "Исправлено"))
        .await
        .unwrap();
    within(vk.edit_text(&"2000000001".into(), &"c2166".into(), "Исправлено"))
        .await
        .unwrap();
    within(vk.delete_message(&"111".into(), &"346".into()))
        .await
        .unwrap();
    for m in [&read, &read_cmid, &edit, &edit_cmid, &delete] {
        hit(m);
    }
}

#[tokio::test]
async fn delete_by_cmid_reports_an_item_error() {
    let mut server = mockito::Server::new_async().await;
    api(
        &mut server,
        "messages.delete",
        &form(&[
            ("peer_id", "2000000001"),
            ("cmids", "7"),
            ("delete_for_all", "1"),
        ]),
    )
    .with_body(ok(json!([{"peer_id": 2000000001, "conversation_message_id": 7,
        "response": 0, "error": {"code": 924, "description": "Can't delete this message for everybody"}}])))
    .create_async()
    .await;
    let vk = config(&server).build().unwrap();
    let err = within(vk.delete_message(&"2000000001".into(), &"c7".into()))
        .await
        .unwrap_err();
    assert_eq!(err.platform_code(), Some("924"));
}

#[tokio::test]
async fn local_refusals_make_no_request() {
    let mut server = mockito::Server::new_async().await;
    let any = server
        .mock("POST", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let vk = config(&server).build().unwrap();
    let too_long = "я".repeat(9001);
    assert_eq!(
        within(vk.edit_text(&"111".into(), &"1".into(), &too_long))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::TooLarge
    );
    assert_eq!(
        within(vk.edit_text(&"111".into(), &"1".into(), " "))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        within(vk.mark_read(&"not-a-peer".into(), &"1".into()))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        within(vk.delete_message(&"111".into(), &"wamid.X".into()))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    // Audio can be received, not uploaded: the planner falls back to a file upload, which
    // needs a request; an audio reference by id is not sendable at all.
    let audio =
        OutgoingContent::media(ContentKind::Audio, MediaSource::id("audio1_2"), None).unwrap();
    assert_eq!(
        within(vk.send(&OutgoingMessage::new("111", audio)))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Unsupported
    );
    hit(&any);
}

#[tokio::test]
async fn send_errors_map_over_the_wire() {
    let mut server = mockito::Server::new_async().await;
    api(
        &mut server,
        "messages.send",
        &form(&[
            ("peer_id", "901"),
            ("random_id", &rid(901, "e#0")),
            ("message", "hi"),
        ]),
    )
    .with_body(fail(
        901,
        "Can't send messages for users without permission",
    ))
    .create_async()
    .await;
    api(
        &mut server,
        "messages.send",
        &form(&[
            ("peer_id", "502"),
            ("random_id", &rid(502, "e#0")),
            ("message", "hi"),
        ]),
    )
    .with_status(502)
    .with_body("<html>Bad Gateway</html>")
    .create_async()
    .await;
    api(
        &mut server,
        "messages.send",
        &form(&[
            ("peer_id", "950"),
            ("random_id", &rid(950, "e#0")),
            ("message", "hi"),
        ]),
    )
    .with_body(fail(950, "Can't send message, reply timed out"))
    .create_async()
    .await;
    let vk = config(&server).build().unwrap();
    let send = |peer: &'static str| {
        let vk = vk.clone();
        async move {
            within(vk.send(&OutgoingMessage::text(peer, "hi").idempotency_key("e")))
                .await
                .unwrap_err()
        }
    };
    let e = send("901").await;
    assert_eq!(
        (e.kind(), e.delivery(), e.platform_code()),
        (ErrorKind::OptedOut, Delivery::NotSent, Some("901"))
    );
    let e = send("502").await;
    assert_eq!(
        (e.kind(), e.delivery()),
        (ErrorKind::Transport, Delivery::MaybeSent)
    );
    let e = send("950").await;
    assert_eq!(e.kind(), ErrorKind::OutsideReplyWindow);
    for e in [send("901").await, send("502").await] {
        assert!(!e.to_string().contains(TOKEN));
        assert!(!format!("{e:?}").contains(TOKEN));
    }
}

fn fast() -> messenger_core::layers::RetryPolicy {
    connector_vk::retry_policy().backoff(Backoff::new(
        Duration::from_millis(1),
        Duration::from_millis(5),
    ))
}

/// Records the bodies of `messages.send`; answers error 10 (VK may have stored the message)
/// to the first, then the message id.
async fn flaky_send(server: &mut mockito::ServerGuard) -> Arc<Mutex<Vec<String>>> {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    server
        .mock("POST", "/method/messages.send")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .with_body_from_request(move |r| {
            let mut bodies = seen.lock().unwrap();
            bodies.push(r.utf8_lossy_body().unwrap().into_owned());
            if bodies.len() == 1 {
                fail(10, "Internal server error").into_bytes()
            } else {
                ok(json!(351)).into_bytes()
            }
        })
        .create_async()
        .await;
    bodies
}

#[tokio::test]
async fn a_maybe_sent_keyed_send_is_retried_with_the_same_random_id() {
    let mut server = mockito::Server::new_async().await;
    let bodies = flaky_send(&mut server).await;
    let vk = config(&server).build().unwrap();
    let account = Retrying::new(vk, fast());
    let report =
        within(account.send(&OutgoingMessage::text("111", "Один раз").idempotency_key("k")))
            .await
            .unwrap();
    assert_eq!(report.first_message_id().unwrap().as_str(), "351");
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 2, "one retry");
    assert_eq!(
        bodies[0], bodies[1],
        "the same random_id (and body) on the retry"
    );
    assert!(bodies[0].contains(&format!("random_id={}", rid(111, "k#0"))));
}

#[tokio::test]
async fn a_maybe_sent_send_without_a_key_is_not_retried() {
    let mut server = mockito::Server::new_async().await;
    let bodies = flaky_send(&mut server).await;
    let vk = config(&server).build().unwrap();
    let account = Retrying::new(vk, fast());
    let err = within(account.send(&OutgoingMessage::text("111", "hi")))
        .await
        .unwrap_err();
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert_eq!(bodies.lock().unwrap().len(), 1);
}
