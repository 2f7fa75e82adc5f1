//! Plan, send, receive, download: every sendable content kind through `Messenger::send` (the
//! planner, then this connector's requests), then the same kind received by long polling and its
//! media downloaded back.

mod common;

use common::{Capture, FormPart, TOKEN, bot, fail, next_within, ok, path, sent_message};
use messenger_core::plan::DowngradeReason;
use messenger_core::{
    ContentKind, InboundEvent, MediaSource, Messenger, OutgoingContent, OutgoingMessage,
};
use mockito::Matcher;
use serde_json::{Value, json};

const CHAT: i64 = 123456789;

struct Case {
    kind: ContentKind,
    method: &'static str,
    field: &'static str,
    mime: &'static str,
    file_name: &'static str,
}

const CASES: [Case; 5] = [
    Case {
        kind: ContentKind::Image,
        method: "sendPhoto",
        field: "photo",
        mime: "image/jpeg",
        file_name: "photo.jpg",
    },
    Case {
        kind: ContentKind::File,
        method: "sendDocument",
        field: "document",
        mime: "application/pdf",
        file_name: "contract.pdf",
    },
    Case {
        kind: ContentKind::Voice,
        method: "sendVoice",
        field: "voice",
        mime: "audio/ogg",
        file_name: "voice.ogg",
    },
    Case {
        kind: ContentKind::Audio,
        method: "sendAudio",
        field: "audio",
        mime: "audio/mpeg",
        file_name: "track.mp3",
    },
    Case {
        kind: ContentKind::Video,
        method: "sendVideo",
        field: "video",
        mime: "video/mp4",
        file_name: "clip.mp4",
    },
];

/// The inbound update of a customer's message of `kind` (as the sheet shows them).
fn inbound(
    update_id: i64,
    kind: ContentKind,
    file_id: &str,
    case: Option<&Case>,
    size: usize,
) -> Value {
    let mut message = json!({
        "message_id": 200 + update_id,
        "from": {"id": CHAT, "is_bot": false, "first_name": "Ivan"},
        "chat": {"id": CHAT, "type": "private", "first_name": "Ivan"},
        "date": 1767225700
    });
    let file = |case: &Case| {
        json!({
            "file_id": file_id, "file_unique_id": "uniq", "duration": 3,
            "mime_type": case.mime, "file_name": case.file_name, "file_size": size
        })
    };
    match (kind, case) {
        (ContentKind::Text, _) => message["text"] = json!("hello back"),
        (ContentKind::Image, Some(_)) => {
            message["photo"] = json!([
                {"file_id": "thumb", "file_unique_id": "t", "width": 90, "height": 67, "file_size": 100},
                {"file_id": file_id, "file_unique_id": "p", "width": 1280, "height": 960, "file_size": size}
            ]);
            message["caption"] = json!("inbound caption");
        }
        (_, Some(case)) => {
            message[case.field] = file(case);
            message["caption"] = json!("inbound caption");
        }
        _ => unreachable!(),
    }
    json!({"update_id": update_id, "message": message})
}

/// Receives exactly one update through `updates()`; returns its message event.
async fn receive(server: &mut mockito::ServerGuard, update: Value) -> messenger_core::MessageEvent {
    let p = path("getUpdates");
    let id = update["update_id"].as_i64().unwrap();
    let batch = server
        .mock("POST", p.as_str())
        .match_body(Matcher::Json(json!({"limit": 100, "timeout": 0})))
        .with_body(ok(json!([update])))
        .expect(1)
        .create_async()
        .await;
    let stop = server
        .mock("POST", p.as_str())
        .match_body(Matcher::Json(
            json!({"offset": id + 1, "limit": 100, "timeout": 0}),
        ))
        .with_status(409)
        .with_body(fail(
            409,
            "Conflict: terminated by other getUpdates request",
        ))
        .expect(1)
        .create_async()
        .await;
    let mut stream = bot(server).updates().unwrap();
    let event = next_within(&mut stream).await.unwrap().unwrap();
    assert!(next_within(&mut stream).await.unwrap().is_err());
    batch.assert_async().await;
    stop.assert_async().await;
    match event {
        InboundEvent::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn text_plan_send_receive() {
    let mut server = mockito::Server::new_async().await;
    let send = server
        .mock("POST", path("sendMessage").as_str())
        .match_body(Matcher::Json(json!({
            "chat_id": CHAT, "text": "Your order #17 has shipped", "reply_parameters": {"message_id": 9}
        })))
        .with_body(ok(sent_message(300, CHAT, 1767225800)))
        .create_async()
        .await;
    let report = bot(&server)
        .send(&OutgoingMessage::text(CHAT.to_string(), "Your order #17 has shipped").reply_to("9"))
        .await
        .unwrap();
    send.assert_async().await;
    assert_eq!(report.parts.len(), 1);
    assert_eq!(report.first_message_id().unwrap().as_str(), "300");
    assert!(report.downgrades.is_empty());

    let m = receive(&mut server, inbound(1, ContentKind::Text, "", None, 0)).await;
    assert_eq!(m.content.kind(), ContentKind::Text);
    assert_eq!(m.content.text(), Some("hello back"));
    assert_eq!(m.chat_id.as_str(), CHAT.to_string());
}

#[tokio::test]
async fn every_media_kind_plan_send_receive_download() {
    for (index, case) in CASES.iter().enumerate() {
        let mut server = mockito::Server::new_async().await;
        let data: Vec<u8> = (0..50_000u32)
            .map(|i| (i * 7 + index as u32) as u8)
            .collect();

        // Plan + send.
        let capture = Capture::default();
        let send = server
            .mock("POST", path(case.method).as_str())
            .with_body_from_request(capture.answer(ok(sent_message(
                400 + index as i64,
                CHAT,
                1767225800,
            ))))
            .expect(1)
            .create_async()
            .await;
        let content = OutgoingContent::media(
            case.kind,
            MediaSource::bytes(data.clone(), case.mime, case.file_name),
            Some("Here it is".into()),
        )
        .unwrap();
        let report = bot(&server)
            .send(&OutgoingMessage::new(CHAT.to_string(), content).reply_to("77"))
            .await
            .unwrap();
        send.assert_async().await;
        assert_eq!(report.parts.len(), 1, "{}", case.kind);
        assert!(
            report.downgrades.is_empty(),
            "{}: {:?}",
            case.kind,
            report.downgrades
        );
        assert_eq!(
            report.first_message_id().unwrap().as_str(),
            (400 + index).to_string()
        );
        assert_eq!(
            capture.only().multipart(),
            vec![
                FormPart::text("chat_id", &CHAT.to_string()),
                FormPart::text("caption", "Here it is"),
                FormPart::text("reply_parameters", r#"{"message_id":77}"#),
                FormPart::file(case.field, case.file_name, case.mime, &data),
            ],
            "{}",
            case.kind
        );

        // Receive the same kind.
        let file_id = format!("file-{}", case.field);
        let m = receive(
            &mut server,
            inbound(
                10 + index as i64,
                case.kind,
                &file_id,
                Some(case),
                data.len(),
            ),
        )
        .await;
        assert_eq!(m.content.kind(), case.kind);
        assert_eq!(m.content.text(), Some("inbound caption"));
        let media = m.content.media().unwrap().clone();
        assert_eq!(media.id.as_str(), file_id);
        assert_eq!(media.size, Some(data.len() as u64));

        // Download it.
        let file_path = format!("{}/file_{index}.bin", case.field);
        let get_file = server
            .mock("POST", path("getFile").as_str())
            .match_body(Matcher::Json(json!({"file_id": file_id})))
            .with_body(ok(json!({"file_id": file_id, "file_unique_id": "u", "file_size": data.len(), "file_path": file_path})))
            .expect(1)
            .create_async()
            .await;
        let file = server
            .mock("GET", format!("/file/bot{TOKEN}/{file_path}").as_str())
            .with_body(data.clone())
            .expect(1)
            .create_async()
            .await;
        let mut stream = bot(&server).download(&media).await.unwrap();
        let mut downloaded = Vec::new();
        while let Some(chunk) = next_within(&mut stream).await {
            downloaded.extend_from_slice(&chunk.unwrap());
        }
        get_file.assert_async().await;
        file.assert_async().await;
        assert_eq!(downloaded, data, "{}", case.kind);
    }
}

#[tokio::test]
async fn long_text_is_split_and_only_the_first_part_replies() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    let send = server
        .mock("POST", path("sendMessage").as_str())
        .with_body_from_request(capture.answer(ok(sent_message(500, CHAT, 1767225800))))
        .expect(2)
        .create_async()
        .await;
    let paragraph = "Ваш заказ собран и передан в доставку. ".repeat(60);
    let text = format!("{}\n\n{}", paragraph.trim(), paragraph.trim());
    let report = bot(&server)
        .send(&OutgoingMessage::text(CHAT.to_string(), text.clone()).reply_to("5"))
        .await
        .unwrap();
    send.assert_async().await;
    assert_eq!(report.parts.len(), 2);
    assert!(matches!(
        report.downgrades[0].reason,
        DowngradeReason::TextSplit {
            parts: 2,
            limit: 4096
        }
    ));
    let bodies: Vec<Value> = capture.all().iter().map(|s| s.json()).collect();
    assert_eq!(bodies[0]["reply_parameters"], json!({"message_id": 5}));
    assert!(bodies[1].get("reply_parameters").is_none());
    let sent: Vec<&str> = bodies.iter().map(|b| b["text"].as_str().unwrap()).collect();
    assert_eq!(sent, [paragraph.trim(), paragraph.trim()]);
    for body in &bodies {
        assert!(body["text"].as_str().unwrap().encode_utf16().count() <= 4096);
        assert!(body.get("parse_mode").is_none());
    }
}

#[tokio::test]
async fn long_caption_moves_to_a_following_text() {
    let mut server = mockito::Server::new_async().await;
    let photo = Capture::default();
    let text = Capture::default();
    server
        .mock("POST", path("sendPhoto").as_str())
        .with_body_from_request(photo.answer(ok(sent_message(600, CHAT, 1767225800))))
        .expect(1)
        .create_async()
        .await;
    server
        .mock("POST", path("sendMessage").as_str())
        .with_body_from_request(text.answer(ok(sent_message(601, CHAT, 1767225801))))
        .expect(1)
        .create_async()
        .await;
    let caption = "Подробности заказа. ".repeat(80);
    let content = OutgoingContent::media(
        ContentKind::Image,
        MediaSource::bytes(vec![1u8; 100], "image/png", "p.png"),
        Some(caption.clone()),
    )
    .unwrap();
    let report = bot(&server)
        .send(&OutgoingMessage::new(CHAT.to_string(), content))
        .await
        .unwrap();
    let ids: Vec<&str> = report.parts.iter().map(|p| p.message_id.as_str()).collect();
    assert_eq!(ids, ["600", "601"]);
    assert!(photo.only().multipart().iter().all(|p| p.name != "caption"));
    assert_eq!(text.only().json()["text"].as_str().unwrap(), caption);
}

#[tokio::test]
async fn a_wav_voice_note_degrades_to_a_document() {
    let mut server = mockito::Server::new_async().await;
    let capture = Capture::default();
    server
        .mock("POST", path("sendDocument").as_str())
        .with_body_from_request(capture.answer(ok(sent_message(700, CHAT, 1767225800))))
        .expect(1)
        .create_async()
        .await;
    let content = OutgoingContent::media(
        ContentKind::Voice,
        MediaSource::bytes(vec![0u8; 64], "audio/wav", "note.wav"),
        None,
    )
    .unwrap();
    let report = bot(&server)
        .send(&OutgoingMessage::new(CHAT.to_string(), content))
        .await
        .unwrap();
    assert_eq!(report.downgrades.last().unwrap().to, ContentKind::File);
    assert_eq!(
        capture.only().multipart(),
        vec![
            FormPart::text("chat_id", &CHAT.to_string()),
            FormPart::file("document", "note.wav", "audio/wav", &[0u8; 64]),
        ]
    );
}
