//! Exact wire shapes of connect and of every send: method, path (with the token), headers and
//! the exact JSON or multipart body.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use common::{Capture, FormPart, TOKEN, bot, ok, path, sent_message};
use messenger_core::plan::Part;
use messenger_core::{
    ByteStream, ContentKind, ErrorKind, MediaSource, Messenger, OutgoingContent, Platform,
};
use mockito::Matcher;
use serde_json::json;

fn part(content: OutgoingContent, reply_to: Option<&str>) -> Part {
    Part {
        content,
        reply_to: reply_to.map(Into::into),
        idempotency_key: None,
    }
}

#[tokio::test]
async fn connect_is_get_me() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", path("getMe").as_str())
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({})))
        .with_body(ok(json!({
            "id": 7000000001_i64, "is_bot": true, "first_name": "MyBot", "username": "my_bot",
            "can_join_groups": true, "supports_inline_queries": false
        })))
        .create_async()
        .await;
    let info = bot(&server).connect().await.unwrap();
    mock.assert_async().await;
    assert_eq!(info.platform, Platform::Telegram);
    assert_eq!(info.id.as_str(), "7000000001");
    assert_eq!(info.name.as_deref(), Some("MyBot"));
    assert_eq!(info.username.as_deref(), Some("my_bot"));
}

#[tokio::test]
async fn text_is_plain_json_without_parse_mode() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", path("sendMessage").as_str())
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(
            json!({"chat_id": 123456789, "text": "Hi <b>there</b>"}),
        ))
        .with_body(ok(sent_message(45, 123456789, 1767225800)))
        .create_async()
        .await;
    let sent = bot(&server)
        .send_part(
            &"123456789".into(),
            &part(OutgoingContent::text("Hi <b>there</b>"), None),
        )
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(sent.message_id.as_str(), "45");
    assert_eq!(sent.timestamp.to_rfc3339(), "2026-01-01T00:03:20+00:00");
}

#[tokio::test]
async fn text_reply_uses_reply_parameters() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", path("sendMessage").as_str())
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({
            "chat_id": -1001234567890_i64,
            "text": "Answer",
            "reply_parameters": {"message_id": 42}
        })))
        .with_body(ok(sent_message(46, -1001234567890, 1767225800)))
        .create_async()
        .await;
    let sent = bot(&server)
        .send_part(
            &"-1001234567890".into(),
            &part(OutgoingContent::text("Answer"), Some("42")),
        )
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(sent.message_id.as_str(), "46");
}

#[tokio::test]
async fn channel_username_is_sent_as_a_string() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", path("sendMessage").as_str())
        .match_body(Matcher::Json(
            json!({"chat_id": "@my_channel", "text": "News"}),
        ))
        .with_body(ok(sent_message(1, -100, 1767225800)))
        .create_async()
        .await;
    bot(&server)
        .send_part(
            &"@my_channel".into(),
            &part(OutgoingContent::text("News"), None),
        )
        .await
        .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn bad_ids_fail_before_any_request() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let bot = bot(&server);
    let err = bot
        .send_part(
            &"not-a-chat".into(),
            &part(OutgoingContent::text("x"), None),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = bot
        .send_part(&"5".into(), &part(OutgoingContent::text("x"), Some("abc")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    mock.assert_async().await;
}

const KINDS: [(ContentKind, &str, &str, &str, &str); 5] = [
    (
        ContentKind::Image,
        "sendPhoto",
        "photo",
        "image/png",
        "receipt.png",
    ),
    (
        ContentKind::File,
        "sendDocument",
        "document",
        "application/pdf",
        "счёт №17.pdf",
    ),
    (
        ContentKind::Voice,
        "sendVoice",
        "voice",
        "audio/ogg",
        "note.ogg",
    ),
    (
        ContentKind::Audio,
        "sendAudio",
        "audio",
        "audio/mpeg",
        "song.mp3",
    ),
    (
        ContentKind::Video,
        "sendVideo",
        "video",
        "video/mp4",
        "clip.mp4",
    ),
];

#[tokio::test]
async fn every_media_kind_uploads_bytes_as_multipart() {
    for (kind, method, field, mime, name) in KINDS {
        let mut server = mockito::Server::new_async().await;
        let capture = Capture::default();
        let mock = server
            .mock("POST", path(method).as_str())
            .match_header(
                "content-type",
                Matcher::Regex("^multipart/form-data; boundary=".into()),
            )
            .with_body_from_request(capture.answer(ok(sent_message(50, 123456789, 1767225900))))
            .create_async()
            .await;
        let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let content = OutgoingContent::media(
            kind,
            MediaSource::bytes(data.clone(), mime, name),
            Some("Квитанция 🧾".into()),
        )
        .unwrap();
        let sent = bot(&server)
            .send_part(&"123456789".into(), &part(content, Some("42")))
            .await
            .unwrap();
        mock.assert_async().await;
        assert_eq!(sent.message_id.as_str(), "50", "{kind}");
        let seen = capture.only();
        assert_eq!(seen.method, "POST");
        assert_eq!(seen.path, format!("/bot{TOKEN}/{method}"));
        assert_eq!(
            seen.multipart(),
            vec![
                FormPart::text("chat_id", "123456789"),
                FormPart::text("caption", "Квитанция 🧾"),
                FormPart::text("reply_parameters", r#"{"message_id":42}"#),
                FormPart::file(field, name, mime, &data),
            ],
            "{kind}"
        );
    }
}

#[tokio::test]
async fn media_without_caption_or_reply_has_only_chat_and_file() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    server
        .mock("POST", path("sendVoice").as_str())
        .with_body_from_request(capture.answer(ok(sent_message(51, 5, 1767225900))))
        .create_async()
        .await;
    let content = OutgoingContent::media(
        ContentKind::Voice,
        MediaSource::bytes(&b"OggS"[..], "audio/ogg", "n.ogg"),
        None,
    )
    .unwrap();
    bot(&server)
        .send_part(&"5".into(), &part(content, None))
        .await
        .unwrap();
    assert_eq!(
        capture.only().multipart(),
        vec![
            FormPart::text("chat_id", "5"),
            FormPart::file("voice", "n.ogg", "audio/ogg", b"OggS"),
        ]
    );
}

#[tokio::test]
async fn stream_upload_opens_a_fresh_stream_per_attempt_with_known_length() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    server
        .mock("POST", path("sendDocument").as_str())
        .with_body_from_request(capture.answer(ok(sent_message(52, 5, 1767225900))))
        .expect(2)
        .create_async()
        .await;
    let chunks: Vec<Vec<u8>> = vec![vec![1u8; 10_000], vec![2u8; 20_000], vec![3u8; 5]];
    let all: Vec<u8> = chunks.concat();
    let opens = Arc::new(AtomicUsize::new(0));
    let source = {
        let opens = opens.clone();
        let chunks = chunks.clone();
        MediaSource::stream(
            all.len() as u64,
            "application/zip",
            "backup.zip",
            move || {
                opens.fetch_add(1, Ordering::SeqCst);
                let items: Vec<Result<Bytes, std::io::Error>> =
                    chunks.iter().cloned().map(|c| Ok(Bytes::from(c))).collect();
                Box::pin(futures::stream::iter(items)) as ByteStream
            },
        )
    };
    let content = OutgoingContent::media(ContentKind::File, source, None).unwrap();
    let bot = bot(&server);
    for _ in 0..2 {
        bot.send_part(&"5".into(), &part(content.clone(), None))
            .await
            .unwrap();
    }
    assert_eq!(opens.load(Ordering::SeqCst), 2);
    let seen = capture.all();
    assert_eq!(seen.len(), 2);
    for s in seen {
        assert_eq!(
            s.multipart(),
            vec![
                FormPart::text("chat_id", "5"),
                FormPart::file("document", "backup.zip", "application/zip", &all),
            ]
        );
        // The length is known, so the upload is not chunked.
        assert_eq!(
            s.content_length.as_deref(),
            Some(s.body.len().to_string().as_str())
        );
    }
}

#[tokio::test]
async fn url_and_file_id_are_string_fields_in_json() {
    for (kind, method, field, _, _) in KINDS {
        let mut server = mockito::Server::new_async().await;
        let by_url = server
            .mock("POST", path(method).as_str())
            .match_header("content-type", "application/json")
            .match_body(Matcher::Json(json!({
                "chat_id": 123456789,
                field: "https://cdn.example.com/media/file.bin",
                "caption": "see this",
                "reply_parameters": {"message_id": 7}
            })))
            .with_body(ok(sent_message(60, 123456789, 1767225900)))
            .create_async()
            .await;
        let by_id = server
            .mock("POST", path(method).as_str())
            .match_header("content-type", "application/json")
            .match_body(Matcher::Json(json!({
                "chat_id": 123456789,
                field: "AgACAgIAAxkBAAIB-file-id"
            })))
            .with_body(ok(sent_message(61, 123456789, 1767225900)))
            .create_async()
            .await;
        let bot = bot(&server);
        let url = url::Url::parse("https://cdn.example.com/media/file.bin").unwrap();
        let content =
            OutgoingContent::media(kind, MediaSource::url(url), Some("see this".into())).unwrap();
        let sent = bot
            .send_part(&"123456789".into(), &part(content, Some("7")))
            .await
            .unwrap();
        assert_eq!(sent.message_id.as_str(), "60", "{kind}");
        let content =
            OutgoingContent::media(kind, MediaSource::id("AgACAgIAAxkBAAIB-file-id"), None)
                .unwrap();
        let sent = bot
            .send_part(&"123456789".into(), &part(content, None))
            .await
            .unwrap();
        assert_eq!(sent.message_id.as_str(), "61", "{kind}");
        by_url.assert_async().await;
        by_id.assert_async().await;
    }
}

#[tokio::test]
async fn group_chats_are_negative_ids_and_usernames() {
    let server = mockito::Server::new_async().await;
    let bot = bot(&server);
    assert!(bot.is_group_chat(&"-1001234567890".into()));
    assert!(bot.is_group_chat(&"-42".into()));
    assert!(bot.is_group_chat(&"@channel".into()));
    assert!(!bot.is_group_chat(&"123456789".into()));
}

#[tokio::test]
async fn debug_never_shows_the_token_or_secret() {
    let server = mockito::Server::new_async().await;
    let config = common::config(&server).webhook_secret("wh_secret_value");
    let shown = format!("{config:?}");
    assert!(
        !shown.contains(TOKEN) && !shown.contains("AAH-test"),
        "{shown}"
    );
    assert!(!shown.contains("wh_secret_value"), "{shown}");
    let bot = config.build().unwrap();
    let shown = format!("{bot:?}");
    assert!(!shown.contains("AAH-test"), "{shown}");
    assert!(!shown.contains("wh_secret_value"), "{shown}");
    assert_eq!(bot.platform(), Platform::Telegram);
    assert_eq!(
        bot.capabilities(),
        &messenger_core::Capabilities::of(Platform::Telegram)
    );
}

#[tokio::test]
async fn capabilities_can_be_overridden() {
    let server = mockito::Server::new_async().await;
    let mut caps = messenger_core::Capabilities::of(Platform::Telegram);
    caps.kind_mut(ContentKind::File).max_upload = Some(2000 * 1024 * 1024);
    let bot = common::config(&server)
        .capabilities(caps.clone())
        .build()
        .unwrap();
    assert_eq!(bot.capabilities(), &caps);
}

#[test]
fn malformed_settings_are_refused() {
    use connector_telegram::TelegramConfig;
    for token in ["", "12:ab/cd", "12 34"] {
        let err = TelegramConfig::new(token).build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
    let err = TelegramConfig::new("1:a")
        .base_url("ftp://x")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = TelegramConfig::new("1:a")
        .poll_limit(0)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn an_accepted_send_with_an_unreadable_date_may_have_been_sent() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", path("sendMessage").as_str())
        .with_body(ok(sent_message(47, 5, i64::MAX)))
        .create_async()
        .await;
    let err = bot(&server)
        .send_part(&"5".into(), &part(OutgoingContent::text("x"), None))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.delivery(), messenger_core::Delivery::MaybeSent);
}
