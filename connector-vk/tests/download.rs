//! Downloads: the URL inside the media id, no token, redirects of document URLs, the limit
//! enforced as bytes arrive, and no fetching from hosts that are not VK's.

mod common;

use common::*;
use futures::StreamExt;
use messenger_core::{Content, ErrorKind, InboundEvent, MediaRef, Messenger};
use mockito::Matcher;
use serde_json::json;

async fn collect(mut stream: messenger_core::ByteStream) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = within(stream.next()).await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

fn inbound_media(base: &str) -> Vec<MediaRef> {
    let body = json!({"type": "message_new", "group_id": GROUP, "object": {"message": {
    "id": 345, "date": 1717000000, "peer_id": 111, "from_id": 111, "text": "",
    "attachments": [
      {"type": "photo", "photo": {"id": 1, "owner_id": 111, "access_key": "k", "sizes": [
         {"type": "s", "url": format!("{base}/photo/s.jpg"), "width": 75, "height": 56},
         {"type": "y", "url": format!("{base}/photo/y.jpg"), "width": 807, "height": 605}]}},
      {"type": "doc", "doc": {"id": 6789, "owner_id": 111, "title": "invoice.pdf", "size": 5,
         "ext": "pdf", "url": format!("{base}/doc111_6789?hash=h&dl=1")}},
      {"type": "audio_message", "audio_message": {"id": 2, "owner_id": 111, "duration": 1,
         "link_ogg": format!("{base}/voice.ogg"), "link_mp3": format!("{base}/voice.mp3"),
         "waveform": []}}
    ]}}});
    connector_vk::parse(body.to_string().as_bytes())
        .unwrap()
        .into_iter()
        .map(|e| match e {
            InboundEvent::Message(m) => m.content.media().unwrap().clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn photo_doc_and_voice_download_without_the_token() {
    let mut server = mockito::Server::new_async().await;
    let photo = server
        .mock("GET", "/photo/y.jpg")
        .match_header("authorization", Matcher::Missing)
        .with_body("JPEG-largest")
        .create_async()
        .await;
    let doc = server
        .mock("GET", "/doc111_6789?hash=h&dl=1")
        .match_header("authorization", Matcher::Missing)
        .with_status(302)
        .with_header("location", "/files/f/invoice.pdf")
        .create_async()
        .await;
    let file = server
        .mock("GET", "/files/f/invoice.pdf")
        .match_header("authorization", Matcher::Missing)
        .with_body("%PDF-")
        .create_async()
        .await;
    let voice = server
        .mock("GET", "/voice.ogg")
        .with_body("OggS")
        .create_async()
        .await;
    let vk = config(&server).build().unwrap();
    let media = inbound_media(&server.url());
    let got = [
        collect(within(vk.download(&media[0])).await.unwrap())
            .await
            .unwrap(),
        collect(within(vk.download(&media[1])).await.unwrap())
            .await
            .unwrap(),
        collect(within(vk.download(&media[2])).await.unwrap())
            .await
            .unwrap(),
    ];
    assert_eq!(got[0], b"JPEG-largest");
    assert_eq!(got[1], b"%PDF-");
    assert_eq!(got[2], b"OggS");
    for m in [&photo, &doc, &file, &voice] {
        hit(m);
    }
}

#[tokio::test]
async fn the_limit_holds_while_streaming_and_before_asking() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/photo/y.jpg")
        .with_chunked_body(|w| {
            for _ in 0..20 {
                w.write_all(&[7u8; 1000])?;
            }
            Ok(())
        })
        .create_async()
        .await;
    server
        .mock("GET", "/voice.ogg")
        .with_body(vec![1u8; 5000])
        .create_async()
        .await;
    let never = server
        .mock("GET", Matcher::Regex("^/doc".into()))
        .expect(0)
        .create_async()
        .await;
    let vk = config(&server).download_limit(4096).build().unwrap();
    let media = inbound_media(&server.url());
    // Chunked, no length: fails once more than the limit arrived.
    let stream = within(vk.download(&media[0])).await.unwrap();
    let err = collect(stream).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::FileTooLarge);
    // Content-Length over the limit: refused before the body.
    let err = within(vk.download(&media[2])).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    // A size known from the event over the limit: no request at all.
    let mut big = media[1].clone();
    big.size = Some(10_000);
    assert_eq!(
        within(vk.download(&big)).await.err().unwrap().kind(),
        ErrorKind::TooLarge
    );
    hit(&never);
}

#[tokio::test]
async fn hosts_that_are_not_vk_s_are_never_fetched() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/doc111_6789?hash=h&dl=1")
        .with_status(302)
        .with_header("location", "https://evil.example/steal")
        .create_async()
        .await;
    let vk = config(&server).build().unwrap();
    for id in [
        "photo1_2|https://evil.example/x.jpg",
        "photo1_2|http://sun9-1.userapi.com/x.jpg",
        "photo1_2|https://userapi.com.evil.example/x.jpg",
        "photo1_2|file:///etc/passwd",
    ] {
        let err = within(vk.download(&MediaRef::new(id))).await.err().unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{id}");
    }
    let media = inbound_media(&server.url());
    let err = within(vk.download(&media[1])).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn media_without_a_url_and_missing_files() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/photo/y.jpg")
        .with_status(404)
        .create_async()
        .await;
    let vk = config(&server).build().unwrap();
    let video = connector_vk::parse(
        json!({"type": "message_new", "object": {"message": {"id": 1, "date": 1,
            "peer_id": 1, "from_id": 1, "attachments": [{"type": "video",
            "video": {"id": 3, "owner_id": -4}}]}}})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let InboundEvent::Message(m) = &video[0] else {
        panic!()
    };
    let Content::Video { media, .. } = &m.content else {
        panic!()
    };
    assert_eq!(
        within(vk.download(media)).await.err().unwrap().kind(),
        ErrorKind::Unsupported
    );
    let media = inbound_media(&server.url());
    assert_eq!(
        within(vk.download(&media[0])).await.err().unwrap().kind(),
        ErrorKind::NotFound
    );
}
