//! Exact wire shapes of every outbound call (send text, upload and send an image, delete, mark
//! read), the planner's decisions through `Messenger::send`, and the API's refusals.

mod common;

use bytes::Bytes;
use common::*;
use messenger_core::plan::DowngradeReason;
use messenger_core::{
    ByteStream, ContentKind, Delivery, ErrorKind, MediaSource, Messenger, OutgoingContent,
    OutgoingMessage, Policy,
};
use mockito::Matcher;
use serde_json::json;

fn messages_path() -> String {
    account_path("v1", &format!("chats/{CHAT}/messages"))
}

fn text_body(text: &str) -> Matcher {
    Matcher::Json(json!({"message": {"text": text}, "type": "text"}))
}

/// A server that answers the token grant and counts every other request (expected: none).
async fn silent_server() -> (mockito::ServerGuard, mockito::Mock) {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let any = server
        .mock("POST", Matcher::Regex("^/messenger/".into()))
        .expect(0)
        .create_async()
        .await;
    (server, any)
}

#[tokio::test]
async fn text_goes_as_json_with_the_bearer_token() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).expect(1).create_async().await;
    let send = api(&mut server, "POST", &messages_path())
        .match_header("content-type", "application/json")
        .match_body(Matcher::Exact(
            r#"{"message":{"text":"Да, в наличии & \"новое\""},"type":"text"}"#.to_owned(),
        ))
        .with_body(sent("bdcc5bac2d00345f1cc66fa657813958"))
        .expect(1)
        .create_async()
        .await;
    let avito = config(&server).build().unwrap();
    let report = within(avito.send(&OutgoingMessage::text(CHAT, "Да, в наличии & \"новое\"")))
        .await
        .unwrap();
    send.assert_async().await;
    assert_eq!(
        report.first_message_id().unwrap().as_str(),
        "bdcc5bac2d00345f1cc66fa657813958"
    );
    assert_eq!(report.parts[0].timestamp.timestamp(), 1_717_000_100);
    assert!(report.downgrades.is_empty());
}

#[tokio::test]
async fn text_over_1000_characters_is_split_by_the_planner() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let long = "Слово ".repeat(450); // 2700 characters
    let send = api(&mut server, "POST", &messages_path())
        .match_request(|request| {
            let body: serde_json::Value = serde_json::from_slice(request.body().unwrap()).unwrap();
            let text = body["message"]["text"].as_str().unwrap();
            body["type"] == "text" && text.chars().count() <= 1000 && !text.is_empty()
        })
        .with_body(sent("m"))
        .expect(3)
        .create_async()
        .await;
    let avito = config(&server).build().unwrap();
    let report = within(avito.send(&OutgoingMessage::text(CHAT, long)))
        .await
        .unwrap();
    send.assert_async().await;
    assert_eq!(report.parts.len(), 3);
    assert_eq!(
        report.downgrades[0].reason,
        DowngradeReason::TextSplit {
            parts: 3,
            limit: 1000
        }
    );
}

#[tokio::test]
async fn an_image_is_uploaded_as_uploadfile_then_sent_by_its_id() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let upload = api(&mut server, "POST", &account_path("v1", "uploadImages"))
        .match_header(
            "content-type",
            Matcher::Regex("^multipart/form-data; boundary=".into()),
        )
        .match_body(Matcher::AllOf(vec![
            Matcher::Regex(
                r#"Content-Disposition: form-data; name="uploadfile\[\]"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\nJPEGDATA\r\n"#
                    .into(),
            ),
        ]))
        .with_body(
            json!({"12345.12345abcdefghijklm": {"1280x960": "https://img.k.avito.ru/1.jpg",
                "140x105": "https://img.k.avito.ru/2.jpg"}})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let image = api(&mut server, "POST", &format!("{}/image", messages_path()))
        .match_header("content-type", "application/json")
        .match_body(Matcher::Exact(
            r#"{"image_id":"12345.12345abcdefghijklm"}"#.to_owned(),
        ))
        .with_body(
            json!({"id": "img-msg-1", "author_id": USER, "created": 1_717_000_200,
                "direction": "out", "type": "image", "content": {"image": {"sizes": {}}}})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    // The caption cannot ride on the image: it follows as text.
    let caption = api(&mut server, "POST", &messages_path())
        .match_body(text_body("Фото товара"))
        .with_body(sent("caption-msg"))
        .expect(1)
        .create_async()
        .await;
    let avito = config(&server).build().unwrap();
    let photo = OutgoingContent::media(
        ContentKind::Image,
        MediaSource::bytes(Bytes::from_static(b"JPEGDATA"), "image/jpeg", "photo.jpg"),
        Some("Фото товара".into()),
    )
    .unwrap();
    let report = within(avito.send(&OutgoingMessage::new(CHAT, photo)))
        .await
        .unwrap();
    upload.assert_async().await;
    image.assert_async().await;
    caption.assert_async().await;
    let ids: Vec<&str> = report.parts.iter().map(|p| p.message_id.as_str()).collect();
    assert_eq!(ids, ["img-msg-1", "caption-msg"]);
    assert_eq!(
        report.downgrades[0].reason,
        DowngradeReason::CaptionMoved { limit: 0 }
    );
}

#[tokio::test]
async fn a_streamed_image_and_an_image_id() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let upload = api(&mut server, "POST", &account_path("v1", "uploadImages"))
        .match_body(Matcher::Regex(
            r#"name="uploadfile\[\]"; filename="s.png"\r\nContent-Type: image/png\r\n\r\nPNG!"#
                .into(),
        ))
        .with_body(r#"{"999.abc":{}}"#)
        .expect(1)
        .create_async()
        .await;
    let by_upload = api(&mut server, "POST", &format!("{}/image", messages_path()))
        .match_body(Matcher::Exact(r#"{"image_id":"999.abc"}"#.to_owned()))
        .with_body(sent("s1"))
        .expect(1)
        .create_async()
        .await;
    let by_id = api(&mut server, "POST", &format!("{}/image", messages_path()))
        .match_body(Matcher::Exact(r#"{"image_id":"555.known"}"#.to_owned()))
        .with_body(sent("s2"))
        .expect(1)
        .create_async()
        .await;
    let avito = config(&server).build().unwrap();
    let stream = MediaSource::stream(4, "image/png", "s.png", || {
        Box::pin(futures::stream::iter([Ok(Bytes::from_static(b"PNG!"))])) as ByteStream
    });
    let msg = OutgoingMessage::new(
        CHAT,
        OutgoingContent::media(ContentKind::Image, stream, None).unwrap(),
    );
    within(avito.send(&msg)).await.unwrap();
    let msg = OutgoingMessage::new(
        CHAT,
        OutgoingContent::media(ContentKind::Image, MediaSource::id("555.known"), None).unwrap(),
    );
    within(avito.send(&msg)).await.unwrap();
    upload.assert_async().await;
    by_upload.assert_async().await;
    by_id.assert_async().await;
}

#[tokio::test]
async fn an_upload_avito_does_not_take_is_not_sent() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    api(&mut server, "POST", &account_path("v1", "uploadImages"))
        .with_body("{}")
        .create_async()
        .await;
    let never = server
        .mock("POST", format!("{}/image", messages_path()).as_str())
        .expect(0)
        .create_async()
        .await;
    let avito = config(&server).build().unwrap();
    let msg = OutgoingMessage::new(
        CHAT,
        OutgoingContent::media(
            ContentKind::Image,
            MediaSource::bytes(vec![1u8; 10], "image/png", "a.png"),
            None,
        )
        .unwrap(),
    );
    let err = within(avito.send(&msg)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.delivery(), Delivery::NotSent);
    never.assert_async().await;
}

#[tokio::test]
async fn files_voice_and_video_uploads_are_refused_naming_the_kind_without_a_request() {
    let (server, any) = silent_server().await;
    let avito = config(&server).build().unwrap();
    for (kind, mime) in [
        (ContentKind::File, "application/pdf"),
        (ContentKind::Voice, "audio/ogg"),
        (ContentKind::Video, "video/mp4"),
        (ContentKind::Audio, "audio/mpeg"),
    ] {
        let content =
            OutgoingContent::media(kind, MediaSource::bytes(vec![1u8; 64], mime, "x.bin"), None)
                .unwrap();
        let err = within(avito.send(&OutgoingMessage::new(CHAT, content)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{kind}");
        assert!(err.to_string().contains(&format!("this {kind}")), "{err}");
        assert_eq!(err.delivery(), Delivery::NotSent);
    }
    // An image of a type Avito refuses: no request either.
    let webp = OutgoingContent::media(
        ContentKind::Image,
        MediaSource::bytes(vec![1u8; 64], "image/webp", "x.webp"),
        None,
    )
    .unwrap();
    assert!(
        within(avito.send(&OutgoingMessage::new(CHAT, webp)))
            .await
            .is_err()
    );
    // Over 24 MB: refused before the upload.
    let huge = OutgoingContent::media(
        ContentKind::Image,
        MediaSource::stream(25_000_000, "image/jpeg", "big.jpg", || {
            Box::pin(futures::stream::empty()) as ByteStream
        }),
        None,
    )
    .unwrap();
    let err = within(avito.send(&OutgoingMessage::new(CHAT, huge)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(
        err.to_string().contains("over the") && err.to_string().contains("limit"),
        "{err}"
    );
    any.assert_async().await;
}

#[tokio::test]
async fn media_by_url_falls_back_to_a_link_and_says_so() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let link = api(&mut server, "POST", &messages_path())
        .match_body(text_body("Договор\nhttps://crm.example/files/contract.pdf"))
        .with_body(sent("link-1"))
        .expect(1)
        .create_async()
        .await;
    let voice = api(&mut server, "POST", &messages_path())
        .match_body(text_body("https://crm.example/v.ogg"))
        .with_body(sent("link-2"))
        .expect(1)
        .create_async()
        .await;
    let avito = config(&server).build().unwrap();
    let file = OutgoingContent::media(
        ContentKind::File,
        MediaSource::url("https://crm.example/files/contract.pdf".parse().unwrap()),
        Some("Договор".into()),
    )
    .unwrap();
    let report = within(avito.send(&OutgoingMessage::new(CHAT, file)))
        .await
        .unwrap();
    assert_eq!(report.downgrades.len(), 1);
    assert_eq!(report.downgrades[0].from, ContentKind::File);
    assert_eq!(report.downgrades[0].to, ContentKind::Text);
    assert_eq!(report.downgrades[0].reason, DowngradeReason::UrlAsLink);
    let note = OutgoingContent::media(
        ContentKind::Voice,
        MediaSource::url("https://crm.example/v.ogg".parse().unwrap()),
        None,
    )
    .unwrap();
    let report = within(avito.send(&OutgoingMessage::new(CHAT, note)))
        .await
        .unwrap();
    let last = report.downgrades.last().unwrap();
    assert_eq!((last.from, last.to), (ContentKind::File, ContentKind::Text));
    assert_eq!(report.downgrades[0].from, ContentKind::Voice);
    link.assert_async().await;
    voice.assert_async().await;
}

#[tokio::test]
async fn strict_policy_refuses_the_link_fallback() {
    let (server, any) = silent_server().await;
    let avito = config(&server).build().unwrap();
    let file = OutgoingContent::media(
        ContentKind::Video,
        MediaSource::url("https://crm.example/v.mp4".parse().unwrap()),
        None,
    )
    .unwrap();
    let err = within(avito.send(&OutgoingMessage::new(CHAT, file).policy(Policy::Strict)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("video"), "{err}");
    any.assert_async().await;
}

#[tokio::test]
async fn delete_and_mark_read_post_to_their_paths_without_a_body() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let delete = api(
        &mut server,
        "POST",
        &format!("{}/bdcc5bac2d00345f1cc66fa657813958", messages_path()),
    )
    .match_body(Matcher::Exact(String::new()))
    .with_body("{}")
    .expect(1)
    .create_async()
    .await;
    let read = api(
        &mut server,
        "POST",
        &account_path("v1", &format!("chats/{CHAT}/read")),
    )
    .match_body(Matcher::Exact(String::new()))
    .with_body(r#"{"ok":true}"#)
    .expect(1)
    .create_async()
    .await;
    let avito = config(&server).build().unwrap();
    within(avito.delete_message(&CHAT.into(), &"bdcc5bac2d00345f1cc66fa657813958".into()))
        .await
        .unwrap();
    within(avito.mark_read(&CHAT.into(), &"any".into()))
        .await
        .unwrap();
    delete.assert_async().await;
    read.assert_async().await;
}

#[tokio::test]
async fn a_late_delete_is_avito_s_refusal() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    api(&mut server, "POST", &format!("{}/old", messages_path()))
        .with_status(400)
        .with_body(
            r#"{"error":{"code":400,"message":"message can be deleted only within an hour"}}"#,
        )
        .create_async()
        .await;
    let avito = config(&server).build().unwrap();
    let err = within(avito.delete_message(&CHAT.into(), &"old".into()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("within an hour"), "{err}");
}

#[tokio::test]
async fn a_rate_limited_send_carries_the_header_delay() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    api(&mut server, "POST", &messages_path())
        .with_status(429)
        .with_header("X-RateLimit-Limit", "60")
        .with_header("X-RateLimit-Remaining", "0")
        .with_body(r#"{"error":{"code":429,"message":"Too Many Requests"}}"#)
        .create_async()
        .await;
    let avito = config(&server).build().unwrap();
    let err = within(avito.send(&OutgoingMessage::text(CHAT, "x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(60)));
    assert_eq!(err.delivery(), Delivery::NotSent);
}

#[tokio::test]
async fn a_5xx_on_a_send_may_have_been_sent() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    api(&mut server, "POST", &messages_path())
        .with_status(500)
        .with_body(r#"{"error":{"code":500,"message":"Error while processing request. Please, contact support"}}"#)
        .create_async()
        .await;
    let avito = config(&server).build().unwrap();
    let err = within(avito.send(&OutgoingMessage::text(CHAT, "x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_chat_id_cannot_escape_its_path_segment() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let escaped = api(
        &mut server,
        "POST",
        &account_path("v1", "chats/u2i-a%2F..%2Fb/messages"),
    )
    .with_body(sent("x"))
    .expect(1)
    .create_async()
    .await;
    let avito = config(&server).build().unwrap();
    within(avito.send(&OutgoingMessage::text("u2i-a/../b", "x")))
        .await
        .unwrap();
    escaped.assert_async().await;
    let err = within(avito.send(&OutgoingMessage::text(" ", "x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}
