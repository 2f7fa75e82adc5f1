//! Media upload (multipart, bytes and streams) and download (media URL, then the bytes with the
//! bearer token; an expired URL is fetched again once; sizes refused before any byte).

mod common;

use bytes::Bytes;
use common::*;
use futures::StreamExt;
use messenger_core::{ByteStream, ErrorKind, MediaRef, MediaSource, Messenger};
use mockito::Matcher;
use serde_json::json;

async fn collect(mut stream: ByteStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

#[tokio::test]
async fn upload_from_a_stream_sends_every_multipart_field() {
    let mut server = mockito::Server::new_async().await;
    let captured = Captured::default();
    let upload = server
        .mock("POST", MEDIA_PATH)
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_request(captured.matcher())
        .with_body(r#"{"id":"4490709327384033"}"#)
        .expect(1)
        .create_async()
        .await;
    let chunks: Vec<&'static [u8]> = vec![b"OggS", b"\x00\x02opus-data", b"-tail"];
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let source = MediaSource::stream(total as u64, "audio/ogg", "note.ogg", move || {
        let chunks = chunks.clone();
        Box::pin(futures::stream::iter(
            chunks.into_iter().map(|c| Ok(Bytes::from_static(c))),
        ))
    });
    let wa = client(&server);
    let id = wa.upload(&source).await.unwrap();
    assert_eq!(id.as_str(), "4490709327384033");
    upload.assert_async().await;

    let (ct, body) = captured.get();
    assert!(ct.starts_with("multipart/form-data"), "{ct}");
    let parts = parse_multipart(&ct, &body);
    let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["messaging_product", "type", "file"]);
    assert_eq!(parts[0].data, b"whatsapp");
    assert_eq!(parts[1].data, b"audio/ogg");
    assert_eq!(parts[2].file_name.as_deref(), Some("note.ogg"));
    assert_eq!(parts[2].content_type.as_deref(), Some("audio/ogg"));
    assert_eq!(parts[2].data, b"OggS\x00\x02opus-data-tail");
}

#[tokio::test]
async fn upload_of_a_link_is_invalid_input() {
    let server = mockito::Server::new_async().await;
    let wa = client(&server);
    let err = wa
        .upload(&MediaSource::url(
            "https://example.com/a.png".parse().unwrap(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn upload_errors_are_mapped() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", MEDIA_PATH)
        .with_status(400)
        .with_body(graph_error(
            131053,
            "Media upload error: Unable to upload the media",
        ))
        .create_async()
        .await;
    let err = client(&server)
        .upload(&MediaSource::bytes(&b"x"[..], "image/png", "a.png"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.platform_code(), Some("131053"));
}

#[tokio::test]
async fn download_fetches_the_url_then_streams_with_the_token() {
    let mut server = mockito::Server::new_async().await;
    let lookup = server
        .mock("GET", "/v25.0/1003383421387256")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .with_body(
            json!({"messaging_product": "whatsapp",
                   "url": format!("{}/lookaside/whatsapp_business/?mid=1003383421387256&ext=1", server.url()),
                   "mime_type": "image/jpeg", "sha256": "SfInY0gG", "file_size": "11",
                   "id": "1003383421387256"})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let bytes = server
        .mock("GET", "/lookaside/whatsapp_business/")
        .match_query(Matcher::Any)
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header(
            "user-agent",
            Matcher::Regex("^messenger-connectors/".into()),
        )
        .with_header("content-type", "image/jpeg")
        .with_body("jpeg-bytes!")
        .expect(1)
        .create_async()
        .await;
    let wa = client(&server);
    let stream = wa
        .download(&MediaRef::new("1003383421387256"))
        .await
        .unwrap();
    assert_eq!(collect(stream).await.unwrap(), b"jpeg-bytes!");
    lookup.assert_async().await;
    bytes.assert_async().await;
}

#[tokio::test]
async fn expired_media_url_is_fetched_again_once() {
    let mut server = mockito::Server::new_async().await;
    let first_lookup = server
        .mock("GET", "/v25.0/555")
        .with_body(
            json!({"url": format!("{}/media/old", server.url()), "mime_type": "audio/ogg"})
                .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let second_lookup = server
        .mock("GET", "/v25.0/555")
        .with_body(
            json!({"url": format!("{}/media/new", server.url()), "mime_type": "audio/ogg"})
                .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let expired = server
        .mock("GET", "/media/old")
        .with_status(404)
        .expect(1)
        .create_async()
        .await;
    let fresh = server
        .mock("GET", "/media/new")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .with_body("voice-bytes")
        .expect(1)
        .create_async()
        .await;
    let wa = client(&server);
    let stream = wa.download(&MediaRef::new("555")).await.unwrap();
    assert_eq!(collect(stream).await.unwrap(), b"voice-bytes");
    first_lookup.assert_async().await;
    second_lookup.assert_async().await;
    expired.assert_async().await;
    fresh.assert_async().await;
}

#[tokio::test]
async fn media_url_refused_twice_is_not_found() {
    let mut server = mockito::Server::new_async().await;
    let lookup = server
        .mock("GET", "/v25.0/556")
        .with_body(json!({"url": format!("{}/media/gone", server.url())}).to_string())
        .expect(2)
        .create_async()
        .await;
    let gone = server
        .mock("GET", "/media/gone")
        .with_status(403)
        .expect(2)
        .create_async()
        .await;
    let err = match client(&server).download(&MediaRef::new("556")).await {
        Err(e) => e,
        Ok(_) => panic!("a refused media URL must fail"),
    };
    assert_eq!(err.kind(), ErrorKind::NotFound);
    lookup.assert_async().await;
    gone.assert_async().await;
}

#[tokio::test]
async fn download_refuses_by_size_before_fetching_bytes() {
    let mut server = mockito::Server::new_async().await;
    let nothing = server
        .mock("GET", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let wa = connector_whatsapp::WhatsApp::new(config(&server).download_limit(Some(1000))).unwrap();
    let mut big = MediaRef::new("557");
    big.size = Some(1001);
    let err = match wa.download(&big).await {
        Err(e) => e,
        Ok(_) => panic!("oversize media must be refused"),
    };
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    nothing.assert_async().await;

    // The size WhatsApp reports for the id is checked before the bytes are requested.
    let mut server = mockito::Server::new_async().await;
    let lookup = server
        .mock("GET", "/v25.0/558")
        .with_body(
            json!({"url": format!("{}/media/big", server.url()), "file_size": "5000"}).to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let bytes = server
        .mock("GET", "/media/big")
        .expect(0)
        .create_async()
        .await;
    let wa = connector_whatsapp::WhatsApp::new(config(&server).download_limit(Some(1000))).unwrap();
    let err = match wa.download(&MediaRef::new("558")).await {
        Err(e) => e,
        Ok(_) => panic!("oversize media must be refused"),
    };
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    lookup.assert_async().await;
    bytes.assert_async().await;
}

#[tokio::test]
async fn unknown_media_id_is_mapped_from_the_graph_error() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/v25.0/559")
        .with_status(400)
        .with_body(graph_error(100, "(#100) Unsupported get request"))
        .create_async()
        .await;
    let err = match client(&server).download(&MediaRef::new("559")).await {
        Err(e) => e,
        Ok(_) => panic!("must fail"),
    };
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}
