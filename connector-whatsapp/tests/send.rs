//! Exact wire shapes of every send: the JSON body of each message kind, the multipart upload,
//! templates and read receipts.

mod common;

use common::*;
use messenger_core::plan::Part;
use messenger_core::{
    ChatId, ErrorKind, MediaSource, MessageId, Messenger, OutgoingContent, OutgoingMessage,
    Template,
};
use mockito::Matcher;
use serde_json::{Value, json};

fn part(content: OutgoingContent) -> Part {
    Part {
        content,
        reply_to: None,
        idempotency_key: None,
    }
}

fn url(s: &str) -> MediaSource {
    MediaSource::url(s.parse().unwrap())
}

/// Sends `part` through `send_part` and asserts the exact JSON body WhatsApp received.
async fn assert_body(part: Part, expected: Value) {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", MESSAGES_PATH)
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header("content-type", "application/json")
        .match_header(
            "user-agent",
            Matcher::Regex("^messenger-connectors/".into()),
        )
        .match_body(Matcher::Json(expected))
        .with_header("content-type", "application/json")
        .with_body(accepted("wamid.SENT1"))
        .expect(1)
        .create_async()
        .await;
    let wa = client(&server);
    let sent = wa.send_part(&ChatId::new(CUSTOMER), &part).await.unwrap();
    assert_eq!(sent.message_id.as_str(), "wamid.SENT1");
    mock.assert_async().await;
}

#[tokio::test]
async fn text_has_preview_url_false_by_default() {
    assert_body(
        part(OutgoingContent::text("Your order shipped: https://example.com/t/1")),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
               "type": "text",
               "text": {"body": "Your order shipped: https://example.com/t/1", "preview_url": false}}),
    )
    .await;
}

#[tokio::test]
async fn text_preview_can_be_turned_on() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::PartialJson(
            json!({"text": {"body": "see https://x.example", "preview_url": true}}),
        ))
        .with_body(accepted("wamid.P"))
        .create_async()
        .await;
    let wa = connector_whatsapp::WhatsApp::new(config(&server).preview_url(true)).unwrap();
    wa.send_part(
        &ChatId::new(CUSTOMER),
        &part(OutgoingContent::text("see https://x.example")),
    )
    .await
    .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn image_by_link_with_caption() {
    assert_body(
        part(OutgoingContent::Image {
            media: url("https://cdn.example.com/p/taj.jpg"),
            caption: Some("Taj Mahal".into()),
        }),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
               "type": "image",
               "image": {"link": "https://cdn.example.com/p/taj.jpg", "caption": "Taj Mahal"}}),
    )
    .await;
}

#[tokio::test]
async fn image_by_id() {
    assert_body(
        part(OutgoingContent::Image {
            media: MediaSource::id("1013859600285441"),
            caption: None,
        }),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
               "type": "image", "image": {"id": "1013859600285441"}}),
    )
    .await;
}

#[tokio::test]
async fn image_by_upload_uploads_multipart_then_sends_by_id() {
    let mut server = mockito::Server::new_async().await;
    let captured = Captured::default();
    let upload = server
        .mock("POST", MEDIA_PATH)
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header(
            "content-type",
            Matcher::Regex("^multipart/form-data; boundary=".into()),
        )
        .match_request(captured.matcher())
        .with_body(r#"{"id":"4490709327384033"}"#)
        .expect(1)
        .create_async()
        .await;
    let send = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::Json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
            "type": "image", "image": {"id": "4490709327384033", "caption": "receipt"}})))
        .with_body(accepted("wamid.IMG"))
        .expect(1)
        .create_async()
        .await;
    let png = vec![0x89, b'P', b'N', b'G', 0, 1, 2, 3];
    let wa = client(&server);
    let sent = wa
        .send_part(
            &ChatId::new(CUSTOMER),
            &part(OutgoingContent::Image {
                media: MediaSource::bytes(png.clone(), "image/png", "receipt.png"),
                caption: Some("receipt".into()),
            }),
        )
        .await
        .unwrap();
    assert_eq!(sent.message_id.as_str(), "wamid.IMG");
    upload.assert_async().await;
    send.assert_async().await;

    let (content_type, body) = captured.get();
    let parts = parse_multipart(&content_type, &body);
    let field = |name: &str| parts.iter().find(|p| p.name == name).cloned().unwrap();
    assert_eq!(field("messaging_product").data, b"whatsapp");
    assert_eq!(field("type").data, b"image/png");
    let file = field("file");
    assert_eq!(file.file_name.as_deref(), Some("receipt.png"));
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    assert_eq!(file.data, png);
}

#[tokio::test]
async fn document_by_upload_keeps_filename_and_caption() {
    let mut server = mockito::Server::new_async().await;
    let captured = Captured::default();
    let upload = server
        .mock("POST", MEDIA_PATH)
        .match_request(captured.matcher())
        .with_body(r#"{"id":"1013859600285441"}"#)
        .create_async()
        .await;
    let send = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::Json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
            "type": "document",
            "document": {"id": "1013859600285441", "caption": "Invoice #42",
                         "filename": "invoice-42.pdf"}})))
        .with_body(accepted("wamid.DOC"))
        .create_async()
        .await;
    let wa = client(&server);
    wa.send_part(
        &ChatId::new(CUSTOMER),
        &part(OutgoingContent::File {
            media: MediaSource::bytes(&b"%PDF-1.7 fake"[..], "application/pdf", "invoice-42.pdf"),
            caption: Some("Invoice #42".into()),
        }),
    )
    .await
    .unwrap();
    upload.assert_async().await;
    send.assert_async().await;
    let (ct, body) = captured.get();
    let parts = parse_multipart(&ct, &body);
    let file = parts.iter().find(|p| p.name == "file").unwrap();
    assert_eq!(file.file_name.as_deref(), Some("invoice-42.pdf"));
    assert_eq!(file.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(
        parts.iter().find(|p| p.name == "type").unwrap().data,
        b"application/pdf"
    );
}

#[tokio::test]
async fn document_by_link() {
    assert_body(
        part(OutgoingContent::File {
            media: url("https://files.example.com/invoice.pdf"),
            caption: Some("Invoice".into()),
        }),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
               "type": "document",
               "document": {"link": "https://files.example.com/invoice.pdf", "caption": "Invoice"}}),
    )
    .await;
}

#[tokio::test]
async fn audio_has_no_voice_flag() {
    assert_body(
        part(OutgoingContent::Audio {
            media: MediaSource::id("55501"),
            caption: None,
        }),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
               "type": "audio", "audio": {"id": "55501"}}),
    )
    .await;
}

#[tokio::test]
async fn voice_note_is_audio_with_voice_true() {
    assert_body(
        part(OutgoingContent::Voice {
            media: url("https://cdn.example.com/v/note.ogg"),
            caption: None,
        }),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
               "type": "audio",
               "audio": {"link": "https://cdn.example.com/v/note.ogg", "voice": true}}),
    )
    .await;
}

#[tokio::test]
async fn video_by_id_with_caption() {
    assert_body(
        part(OutgoingContent::Video {
            media: MediaSource::id("77701"),
            caption: Some("unboxing".into()),
        }),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
               "type": "video", "video": {"id": "77701", "caption": "unboxing"}}),
    )
    .await;
}

#[tokio::test]
async fn reply_carries_context_message_id() {
    assert_body(
        Part {
            content: OutgoingContent::text("Yes, in blue too"),
            reply_to: Some(MessageId::new("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB")),
            idempotency_key: None,
        },
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
               "context": {"message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB"},
               "type": "text", "text": {"body": "Yes, in blue too", "preview_url": false}}),
    )
    .await;
}

#[tokio::test]
async fn messages_to_a_group_id_go_as_recipient_type_group() {
    let group = "Y2FwaV9ncm91cDoxODA1NTU1MDE3MjoxMjAzNjMyMjI3NzE5NjMwNjcZD";
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::Json(json!({
            "messaging_product": "whatsapp", "recipient_type": "group", "to": group,
            "type": "text", "text": {"body": "hi all", "preview_url": false}})))
        .with_body(accepted("wamid.GRP"))
        .expect(1)
        .create_async()
        .await;
    client(&server)
        .send_part(&ChatId::new(group), &part(OutgoingContent::text("hi all")))
        .await
        .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn audio_caption_is_refused_before_any_request() {
    let mut server = mockito::Server::new_async().await;
    let any = server
        .mock("POST", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let wa = client(&server);
    for content in [
        OutgoingContent::Audio {
            media: MediaSource::bytes(&b"ID3"[..], "audio/mpeg", "a.mp3"),
            caption: Some("listen".into()),
        },
        OutgoingContent::Voice {
            media: MediaSource::id("1"),
            caption: Some("listen".into()),
        },
    ] {
        let err = wa
            .send_part(&ChatId::new(CUSTOMER), &part(content))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
    any.assert_async().await;
}

#[tokio::test]
async fn voice_caption_is_moved_to_a_text_by_the_planner() {
    let mut server = mockito::Server::new_async().await;
    let voice = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::Json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
            "type": "audio", "audio": {"id": "88801", "voice": true}})))
        .with_body(accepted("wamid.V"))
        .expect(1)
        .create_async()
        .await;
    let text = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::Json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
            "type": "text", "text": {"body": "please listen", "preview_url": false}})))
        .with_body(accepted("wamid.T"))
        .expect(1)
        .create_async()
        .await;
    let wa = client(&server);
    // Open the window with an inbound message.
    wa.handle_webhook(&signed(&inbound_text(CUSTOMER, "wamid.IN", now(), "hi")))
        .await
        .unwrap();
    let report = wa
        .send(&OutgoingMessage::new(
            CUSTOMER,
            OutgoingContent::Voice {
                media: MediaSource::id("88801"),
                caption: Some("please listen".into()),
            },
        ))
        .await
        .unwrap();
    assert_eq!(report.parts.len(), 2);
    assert_eq!(report.downgrades.len(), 1);
    voice.assert_async().await;
    text.assert_async().await;
}

#[tokio::test]
async fn template_with_components() {
    let components = json!([{"type": "body", "parameters": [
        {"type": "text", "text": "42"},
        {"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990}}
    ]}]);
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", MESSAGES_PATH)
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_body(Matcher::Json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
            "type": "template",
            "template": {"name": "order_update", "language": {"code": "en_US"},
                         "components": components.clone()}})))
        .with_body(accepted("wamid.TPL"))
        .expect(1)
        .create_async()
        .await;
    let wa = client(&server);
    let sent = wa
        .send_template(
            &ChatId::new(CUSTOMER),
            &Template::new("order_update", "en_US").components(components),
        )
        .await
        .unwrap();
    assert_eq!(sent.message_id.as_str(), "wamid.TPL");
    mock.assert_async().await;
}

#[tokio::test]
async fn template_without_parameters_omits_components() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::Json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}}})))
        .with_body(accepted("wamid.HW"))
        .expect(1)
        .create_async()
        .await;
    let wa = client(&server);
    wa.send_template(
        &ChatId::new(CUSTOMER),
        &Template::new("hello_world", "en_US"),
    )
    .await
    .unwrap();
    mock.assert_async().await;
    let err = wa
        .send_template(
            &ChatId::new(CUSTOMER),
            &Template::new("x", "en_US").components(json!({"not": "an array"})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn mark_read_posts_a_read_status() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", MESSAGES_PATH)
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_body(Matcher::Json(json!({
            "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"})))
        .with_body(r#"{"success":true}"#)
        .expect(1)
        .create_async()
        .await;
    let typing = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::Json(json!({
            "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN2",
            "typing_indicator": {"type": "text"}})))
        .with_body(r#"{"success":true}"#)
        .expect(1)
        .create_async()
        .await;
    let wa = client(&server);
    wa.mark_read(&ChatId::new(CUSTOMER), &MessageId::new("wamid.IN1"))
        .await
        .unwrap();
    wa.mark_read_with_typing(&MessageId::new("wamid.IN2"))
        .await
        .unwrap();
    mock.assert_async().await;
    typing.assert_async().await;
}

#[tokio::test]
async fn connect_returns_the_numbers_identity() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("GET", "/v25.0/106540352242922")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_query(Matcher::UrlEncoded(
            "fields".into(),
            "id,display_phone_number,verified_name,quality_rating".into(),
        ))
        .with_body(
            json!({"verified_name": "Jasper's Market", "display_phone_number": "+1 555-078-3881",
                   "id": PHONE_ID, "quality_rating": "GREEN"})
            .to_string(),
        )
        .expect(2)
        .create_async()
        .await;
    let wa = client(&server);
    let me = wa.connect().await.unwrap();
    assert_eq!(me.id.as_str(), PHONE_ID);
    assert_eq!(me.name.as_deref(), Some("Jasper's Market"));
    assert_eq!(me.username, None);
    let number = wa.phone_number().await.unwrap();
    assert_eq!(
        number.display_phone_number.as_deref(),
        Some("+1 555-078-3881")
    );
    assert!(!format!("{number:?}").contains("555"));
    mock.assert_async().await;
}

#[tokio::test]
async fn connect_with_a_bad_token_is_unauthorized() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/v25.0/106540352242922")
        .match_query(Matcher::Any)
        .with_status(401)
        .with_body(graph_error(
            190,
            "Error validating access token: Session has expired",
        ))
        .create_async()
        .await;
    let err = client(&server).connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.platform_code(), Some("190"));
}

#[tokio::test]
async fn graph_version_is_a_setting() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", "/v26.0/106540352242922/messages")
        .with_body(accepted("wamid.V26"))
        .expect(1)
        .create_async()
        .await;
    let wa = connector_whatsapp::WhatsApp::new(config(&server).graph_version("v26.0")).unwrap();
    wa.send_part(&ChatId::new(CUSTOMER), &part(OutgoingContent::text("x")))
        .await
        .unwrap();
    mock.assert_async().await;
}

#[test]
fn debug_of_config_and_client_redacts_secrets() {
    let config = connector_whatsapp::WhatsAppConfig::new(TOKEN, PHONE_ID)
        .app_secret(APP_SECRET)
        .verify_token(VERIFY_TOKEN);
    let wa = connector_whatsapp::WhatsApp::new(config.clone()).unwrap();
    for debug in [format!("{config:?}"), format!("{wa:?}")] {
        for secret in [TOKEN, APP_SECRET, VERIFY_TOKEN] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains(PHONE_ID), "{debug}");
    }
}

#[test]
fn invalid_configuration_is_refused() {
    use connector_whatsapp::{WhatsApp, WhatsAppConfig};
    for config in [
        WhatsAppConfig::new("", PHONE_ID),
        WhatsAppConfig::new(TOKEN, "12/34"),
        WhatsAppConfig::new(TOKEN, PHONE_ID).graph_version("25"),
        WhatsAppConfig::new(TOKEN, PHONE_ID).base_url("ftp://example.com"),
    ] {
        assert_eq!(
            WhatsApp::new(config).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_keeps_it() {
    // The sandbox serves WhatsApp under `/whatsapp`: every endpoint is appended to the base
    // URL's path, with or without its trailing slash.
    for suffix in ["/whatsapp", "/whatsapp/"] {
        let mut server = mockito::Server::new_async().await;
        let connect = server
            .mock("GET", "/whatsapp/v25.0/106540352242922")
            .match_query(Matcher::Any)
            .with_body(json!({"id": PHONE_ID, "verified_name": "Shop"}).to_string())
            .expect(1)
            .create_async()
            .await;
        let upload = server
            .mock("POST", "/whatsapp/v25.0/106540352242922/media")
            .with_body(r#"{"id":"4490709327384033"}"#)
            .expect(1)
            .create_async()
            .await;
        let send = server
            .mock("POST", "/whatsapp/v25.0/106540352242922/messages")
            .match_body(Matcher::PartialJson(
                json!({"type": "image", "image": {"id": "4490709327384033"}}),
            ))
            .with_body(accepted("wamid.PREFIX"))
            .expect(1)
            .create_async()
            .await;
        let lookup = server
            .mock("GET", "/whatsapp/v25.0/1003383421387256")
            .with_body(json!({"url": format!("{}/whatsapp/files/1", server.url())}).to_string())
            .expect(1)
            .create_async()
            .await;
        let file = server
            .mock("GET", "/whatsapp/files/1")
            .with_body("bytes")
            .expect(1)
            .create_async()
            .await;
        let elsewhere = server
            .mock("GET", Matcher::Regex("^/v25.0/".into()))
            .expect(0)
            .create_async()
            .await;
        let wa = connector_whatsapp::WhatsAppConfig::new(TOKEN, PHONE_ID)
            .base_url(format!("{}{suffix}", server.url()))
            .build()
            .unwrap();
        wa.connect().await.unwrap();
        let sent = wa
            .send_part(
                &ChatId::new(CUSTOMER),
                &part(OutgoingContent::Image {
                    media: MediaSource::bytes(&b"png"[..], "image/png", "a.png"),
                    caption: None,
                }),
            )
            .await
            .unwrap();
        assert_eq!(sent.message_id.as_str(), "wamid.PREFIX");
        let mut stream = wa
            .download(&messenger_core::MediaRef::new("1003383421387256"))
            .await
            .unwrap();
        use futures::StreamExt;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(bytes, b"bytes");
        for mock in [connect, upload, send, lookup, file, elsewhere] {
            mock.assert_async().await;
        }
    }
}

#[tokio::test]
async fn send_template_is_the_trait_method() {
    // Through `dyn Messenger`, as the layers (the gate among them) call it.
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", MESSAGES_PATH)
        .match_body(Matcher::Json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
            "type": "template",
            "template": {"name": "order_update", "language": {"code": "ru"}}})))
        .with_body(accepted("wamid.DYN"))
        .expect(1)
        .create_async()
        .await;
    let wa: std::sync::Arc<dyn Messenger> = std::sync::Arc::new(client(&server));
    let sent = wa
        .send_template(&ChatId::new(CUSTOMER), &Template::new("order_update", "ru"))
        .await
        .unwrap();
    assert_eq!(sent.message_id.as_str(), "wamid.DYN");
    mock.assert_async().await;
    // WhatsApp cannot edit or delete a sent message: the trait's defaults say so.
    for err in [
        wa.edit_text(&ChatId::new(CUSTOMER), &MessageId::new("wamid.DYN"), "x")
            .await
            .unwrap_err(),
        wa.delete_message(&ChatId::new(CUSTOMER), &MessageId::new("wamid.DYN"))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Unsupported);
    }
}
