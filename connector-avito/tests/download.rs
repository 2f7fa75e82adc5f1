//! Downloads: voice notes resolved through getVoiceFiles at download time (never at intake),
//! images from Avito's hosts only, the download limit.

mod common;

use common::*;
use futures::StreamExt;
use messenger_core::webhook::WebhookRequest;
use messenger_core::{ByteStream, Content, ErrorKind, InboundEvent, MediaRef, Messenger};
use mockito::Matcher;
use serde_json::json;

async fn collect(mut stream: ByteStream) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = within(stream.next()).await {
        bytes.extend_from_slice(&chunk?);
    }
    Ok(bytes)
}

#[tokio::test]
async fn a_voice_note_is_resolved_at_download_time_not_at_intake() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    let voice_files = api(&mut server, "GET", &account_path("v1", "getVoiceFiles"))
        .match_query(Matcher::Exact("voice_ids=b1c2d3e4%2Fx".to_owned()))
        .with_body(
            json!({"voices_urls": {"b1c2d3e4/x": format!("{}/files/voice-1.mp4?sig=abc", server.url())}})
                .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let file = server
        .mock("GET", "/files/voice-1.mp4")
        .match_query(Matcher::Exact("sig=abc".to_owned()))
        .with_header("content-type", "audio/mp4")
        .with_body(b"OPUS-IN-MP4")
        .expect(1)
        .create_async()
        .await;
    let avito = config(&server).webhook_token("t0k3n").build().unwrap();
    let body = delivery(customer_message(
        "m-v",
        "voice",
        json!({"voice": {"voice_id": "b1c2d3e4/x"}}),
    ));
    let mut request = WebhookRequest::post(body);
    request.query = Some("token=t0k3n".into());
    let outcome = within(avito.handle_webhook(&request)).await.unwrap();
    // Intake asked nothing of Avito.
    assert!(!voice_files.matched_async().await);
    let InboundEvent::Message(m) = &outcome.events[0] else {
        panic!()
    };
    let Content::Voice { media, .. } = &m.content else {
        panic!()
    };
    let bytes = collect(within(avito.download(media)).await.unwrap())
        .await
        .unwrap();
    assert_eq!(bytes, b"OPUS-IN-MP4");
    voice_files.assert_async().await;
    file.assert_async().await;
}

#[tokio::test]
async fn a_voice_note_avito_has_no_file_for_is_not_found() {
    let mut server = mockito::Server::new_async().await;
    grant(&mut server).create_async().await;
    api(&mut server, "GET", &account_path("v1", "getVoiceFiles"))
        .match_query(Matcher::Any)
        .with_body(r#"{"voices_urls":{}}"#)
        .create_async()
        .await;
    let avito = config(&server).build().unwrap();
    let err = within(avito.download(&MediaRef::new("voice:gone")))
        .await
        .err()
        .expect("an error");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn images_only_from_avito_hosts_and_within_the_limit() {
    let mut server = mockito::Server::new_async().await;
    let image = server
        .mock("GET", "/chat/1280x960/1.jpg")
        .match_header("authorization", Matcher::Any)
        .with_body(vec![7u8; 10])
        .create_async()
        .await;
    grant(&mut server).create_async().await;
    let avito = config(&server).download_limit(5).build().unwrap();
    // The API's own origin (a sandbox) is allowed; the limit holds (here by Content-Length,
    // else as the bytes arrive).
    let url = format!("{}/chat/1280x960/1.jpg", server.url());
    match within(avito.download(&MediaRef::new(url.as_str()))).await {
        Ok(stream) => assert!(collect(stream).await.is_err()),
        Err(err) => assert_eq!(err.kind(), ErrorKind::TooLarge),
    }
    image.assert_async().await;
    // Another host: refused before any request.
    for foreign in [
        "https://evil.example/x.jpg",
        "https://img.k.avito.ru.evil.example/x.jpg",
        "http://img.k.avito.ru/x.jpg",
        "file:///etc/passwd",
    ] {
        let err = within(avito.download(&MediaRef::new(foreign)))
            .await
            .err()
            .expect("an error");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{foreign}");
    }
    // Not a URL at all (a file's empty content gives none).
    let err = within(avito.download(&MediaRef::new("file-without-url")))
        .await
        .err()
        .expect("an error");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    // A known size over the limit: refused before any request.
    let mut big = MediaRef::new(url.as_str());
    big.size = Some(6);
    let err = within(avito.download(&big)).await.err().expect("an error");
    assert_eq!(err.kind(), ErrorKind::TooLarge);
}
