//! The two-step upload (exact requests of both steps), attachments by reference, the
//! `attachment.not.ready` retries, voice notes sent as audio, and downloads.

mod common;

use std::io;

use bytes::Bytes;
use common::*;
use messenger_core::plan::DowngradeReason;
use messenger_core::{
    ByteStream, ContentKind, Delivery, ErrorKind, MediaRef, MediaSource, Messenger,
    OutgoingContent, OutgoingMessage,
};
use mockito::Matcher;
use serde_json::json;

fn media_message(
    chat: &str,
    kind: ContentKind,
    source: MediaSource,
    caption: Option<&str>,
) -> OutgoingMessage {
    OutgoingMessage::new(
        chat,
        OutgoingContent::media(kind, source, caption.map(str::to_owned)).unwrap(),
    )
}

/// Step 1 answers `url` on this server at `upload_path`, with `token` where given.
async fn upload_endpoint(
    server: &mut mockito::ServerGuard,
    upload_type: &str,
    upload_path: &str,
    token: Option<&str>,
    capture: &Capture,
) -> mockito::Mock {
    let mut answer = json!({"url": format!("{}{upload_path}", server.url())});
    if let Some(token) = token {
        answer["token"] = json!(token);
    }
    server
        .mock("POST", "/uploads")
        .match_query(Matcher::UrlEncoded("type".into(), upload_type.into()))
        .with_body_from_request(capture.answer(answer.to_string()))
        .create_async()
        .await
}

#[tokio::test]
async fn an_image_is_uploaded_in_two_steps_and_sent_with_its_photos() {
    let mut server = mockito::Server::new_async().await;
    let api = Capture::default();
    let host = Capture::default();
    let photos = json!({"abc123": {"token": "photo-token-1"}});
    upload_endpoint(&mut server, "image", "/upload/image?sig=xyz", None, &api).await;
    server
        .mock("POST", "/upload/image")
        .match_query(Matcher::Any)
        // The upload host gets no token.
        .match_header("authorization", Matcher::Missing)
        .with_body_from_request(host.answer(json!({ "photos": photos }).to_string()))
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(Matcher::Any)
        .with_body_from_request(api.answer(sent("mid.img", 182182182, 1)))
        .create_async()
        .await;

    let png = vec![0x89u8, b'P', b'N', b'G', 1, 2, 3];
    let report = bot(&server)
        .send(&media_message(
            "182182182",
            ContentKind::Image,
            MediaSource::bytes(png.clone(), "image/png", "receipt.png"),
            Some("чек"),
        ))
        .await
        .unwrap();
    assert_eq!(report.parts[0].message_id.as_str(), "mid.img");

    let calls = api.all();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].method, "POST");
    assert_eq!(calls[0].path_and_query, "/uploads?type=image");
    assert_authorized(&calls[0]);
    assert!(calls[0].body.is_empty());

    let upload = host.only();
    assert_eq!(upload.path_and_query, "/upload/image?sig=xyz");
    assert_eq!(upload.authorization, None);
    let parts = parse_multipart(upload.content_type.as_deref().unwrap(), &upload.body);
    assert_eq!(parts.len(), 1);
    assert_eq!(
        parts[0].disposition,
        r#"form-data; name="data"; filename="receipt.png""#
    );
    assert_eq!(parts[0].content_type.as_deref(), Some("image/png"));
    assert_eq!(parts[0].data, png);

    assert_eq!(
        calls[1].query(),
        [("chat_id".to_owned(), "182182182".to_owned())]
    );
    assert_authorized(&calls[1]);
    assert_eq!(
        calls[1].json(),
        json!({"text": "чек", "attachments": [{"type": "image", "payload": {"photos": photos}}]})
    );
}

#[tokio::test]
async fn a_streamed_file_goes_with_the_hosts_token() {
    let mut server = mockito::Server::new_async().await;
    let api = Capture::default();
    let host = Capture::default();
    upload_endpoint(&mut server, "file", "/upload/file", None, &api).await;
    server
        .mock("POST", "/upload/file")
        .with_body_from_request(host.answer(r#"{"token":"file-token-9"}"#))
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(Matcher::Any)
        .with_body_from_request(api.answer(sent("mid.file", 5, 1)))
        .create_async()
        .await;
    // Four chunks, never joined by the connector.
    let chunks = ["%PDF", "-1.7", "\nbody", "\n%%EOF"];
    let length: usize = chunks.iter().map(|c| c.len()).sum();
    let source = MediaSource::stream(length as u64, "application/pdf", "act.pdf", move || {
        Box::pin(futures::stream::iter(
            chunks.map(|c| Ok::<_, io::Error>(Bytes::from_static(c.as_bytes()))),
        )) as ByteStream
    });
    bot(&server)
        .send(&media_message("5", ContentKind::File, source, None))
        .await
        .unwrap();
    let upload = host.only();
    let parts = parse_multipart(upload.content_type.as_deref().unwrap(), &upload.body);
    assert_eq!(
        parts[0].disposition,
        r#"form-data; name="data"; filename="act.pdf""#
    );
    assert_eq!(parts[0].data, chunks.concat().as_bytes());
    let calls = api.all();
    assert_eq!(calls[0].path_and_query, "/uploads?type=file");
    assert_eq!(
        calls[1].json(),
        json!({"attachments": [{"type": "file", "payload": {"token": "file-token-9"}}]})
    );
}

#[tokio::test]
async fn a_video_goes_with_the_token_of_step_one() {
    let mut server = mockito::Server::new_async().await;
    let api = Capture::default();
    upload_endpoint(
        &mut server,
        "video",
        "/upload/video",
        Some("video-token-1"),
        &api,
    )
    .await;
    server
        .mock("POST", "/upload/video")
        .with_header("content-type", "application/xml")
        .with_body(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<retval>1</retval>",
        )
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(Matcher::Any)
        .with_body_from_request(api.answer(sent("mid.video", 5, 1)))
        .create_async()
        .await;
    bot(&server)
        .send(&media_message(
            "5",
            ContentKind::Video,
            MediaSource::bytes(vec![0u8; 64], "video/mp4", "clip.mp4"),
            Some("обзор"),
        ))
        .await
        .unwrap();
    let calls = api.all();
    assert_eq!(calls[0].path_and_query, "/uploads?type=video");
    assert_eq!(
        calls[1].json(),
        json!({"text": "обзор", "attachments": [{"type": "video", "payload": {"token": "video-token-1"}}]})
    );
}

#[tokio::test]
async fn a_voice_note_is_sent_as_audio_and_reported() {
    let mut server = mockito::Server::new_async().await;
    let api = Capture::default();
    upload_endpoint(
        &mut server,
        "audio",
        "/upload/audio",
        Some("audio-token-1"),
        &api,
    )
    .await;
    server
        .mock("POST", "/upload/audio")
        .with_body("<retval>1</retval>")
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(Matcher::Any)
        .with_body_from_request(api.answer(sent("mid.voice", 5, 1)))
        .create_async()
        .await;
    let report = bot(&server)
        .send(&media_message(
            "5",
            ContentKind::Voice,
            MediaSource::bytes(vec![1u8; 32], "audio/ogg; codecs=opus", "note.ogg"),
            None,
        ))
        .await
        .unwrap();
    assert_eq!(report.downgrades.len(), 1);
    assert_eq!(report.downgrades[0].from, ContentKind::Voice);
    assert_eq!(report.downgrades[0].to, ContentKind::Audio);
    assert_eq!(
        report.downgrades[0].reason,
        DowngradeReason::KindUnsupported
    );
    let calls = api.all();
    assert_eq!(calls[0].path_and_query, "/uploads?type=audio");
    assert_eq!(
        calls[1].json(),
        json!({"attachments": [{"type": "audio", "payload": {"token": "audio-token-1"}}]})
    );
}

#[tokio::test]
async fn an_image_url_and_a_token_need_no_upload() {
    let mut server = mockito::Server::new_async().await;
    let api = Capture::default();
    server
        .mock("POST", "/messages")
        .match_query(Matcher::Any)
        .with_body_from_request(api.answer(sent("mid.ref", 5, 1)))
        .expect(2)
        .create_async()
        .await;
    let max = bot(&server);
    let url = url::Url::parse("https://cdn.example.org/banner.jpg").unwrap();
    max.send(&media_message(
        "5",
        ContentKind::Image,
        MediaSource::url(url),
        None,
    ))
    .await
    .unwrap();
    max.send(&media_message(
        "5",
        ContentKind::Video,
        MediaSource::id("video:VT-7"),
        Some("снова"),
    ))
    .await
    .unwrap();
    let calls = api.all();
    assert_eq!(calls.len(), 2, "no upload was made");
    assert_eq!(
        calls[0].json(),
        json!({"attachments": [{"type": "image", "payload": {"url": "https://cdn.example.org/banner.jpg"}}]})
    );
    assert_eq!(
        calls[1].json(),
        json!({"text": "снова", "attachments": [{"type": "video", "payload": {"token": "VT-7"}}]})
    );
}

async fn not_ready_server(
    refusals: usize,
) -> (mockito::ServerGuard, Capture, mockito::Mock, mockito::Mock) {
    let mut server = mockito::Server::new_async().await;
    let api = Capture::default();
    let not_ready = server
        .mock("POST", "/messages")
        .match_query(Matcher::Any)
        .with_status(400)
        .with_body_from_request(api.answer(api_error(
            "attachment.not.ready",
            "Key: errors.process.attachment.video.not.processed",
        )))
        .expect(refusals)
        .create_async()
        .await;
    let ok = server
        .mock("POST", "/messages")
        .match_query(Matcher::Any)
        .with_body_from_request(api.answer(sent("mid.ready", 5, 1)))
        .create_async()
        .await;
    (server, api, not_ready, ok)
}

#[tokio::test]
async fn attachment_not_ready_is_retried_until_the_file_is_processed() {
    let (server, api, not_ready, ok) = not_ready_server(4).await;
    let max = config(&server).not_ready_retries(5).build().unwrap();
    let sent = tokio::time::timeout(
        WAIT,
        max.send(&media_message(
            "5",
            ContentKind::File,
            MediaSource::id("file-token"),
            None,
        )),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(sent.parts[0].message_id.as_str(), "mid.ready");
    not_ready.assert_async().await;
    ok.assert_async().await;
    // The same body every time.
    let bodies: Vec<_> = api.all().iter().map(|s| s.json()).collect();
    assert_eq!(bodies.len(), 5);
    assert!(bodies.iter().all(|b| *b == bodies[0]));
}

#[tokio::test]
async fn attachment_not_ready_past_the_budget_is_a_clear_error() {
    let (server, api, _not_ready, _ok) = not_ready_server(10).await;
    let max = config(&server).not_ready_retries(3).build().unwrap();
    let err = tokio::time::timeout(
        WAIT,
        max.send(&media_message(
            "5",
            ContentKind::File,
            MediaSource::id("file-token"),
            None,
        )),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(api.all().len(), 4, "one send and three retries");
    assert_eq!(err.kind(), ErrorKind::Platform);
    assert_eq!(err.platform_code(), Some("attachment.not.ready"));
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert!(err.is_retryable());
    assert!(err.message().contains("after 4 attempts"), "{err}");
}

#[tokio::test]
async fn no_other_error_is_retried() {
    let mut server = mockito::Server::new_async().await;
    let m = server
        .mock("POST", "/messages")
        .match_query(Matcher::Any)
        .with_status(400)
        .with_body(api_error(
            "proto.payload",
            "Key: errors.process.attachment.movie.not.owner",
        ))
        .expect(1)
        .create_async()
        .await;
    let err = bot(&server)
        .send(&media_message(
            "5",
            ContentKind::Video,
            MediaSource::id("video:VT"),
            None,
        ))
        .await
        .unwrap_err();
    m.assert_async().await;
    assert!(
        err.message().contains("does not own the uploaded video"),
        "{err}"
    );
}

#[tokio::test]
async fn a_refused_upload_sends_nothing() {
    let mut server = mockito::Server::new_async().await;
    let api = Capture::default();
    upload_endpoint(&mut server, "file", "/upload/file", None, &api).await;
    server
        .mock("POST", "/upload/file")
        .with_status(400)
        .with_body(api_error(
            "file.extension.forbidden",
            "File extension is forbidden",
        ))
        .create_async()
        .await;
    let messages = server
        .mock("POST", "/messages")
        .match_query(Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let err = bot(&server)
        .send(&media_message(
            "5",
            ContentKind::File,
            MediaSource::bytes(vec![1u8; 4], "application/x-msdownload", "setup.exe"),
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.delivery(), Delivery::NotSent);
    messages.assert_async().await;
}

async fn collect(mut stream: ByteStream) -> Result<Vec<u8>, io::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = next_within(&mut stream).await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

#[tokio::test]
async fn downloads_stream_within_the_limit_and_keep_the_token_home() {
    let mut cdn = mockito::Server::new_async().await;
    let server = mockito::Server::new_async().await;
    cdn.mock("GET", "/i/photo.jpg")
        .match_header("authorization", Matcher::Missing)
        .with_body(vec![7u8; 100])
        .create_async()
        .await;
    cdn.mock("GET", "/f/big.bin")
        .with_chunked_body(|w| {
            for _ in 0..10 {
                w.write_all(&[1u8; 100])?;
            }
            Ok(())
        })
        .create_async()
        .await;
    let max = config(&server).download_limit(Some(500)).build().unwrap();

    let photo = MediaRef::new(format!("{}/i/photo.jpg", cdn.url()));
    let bytes = collect(max.download(&photo).await.unwrap()).await.unwrap();
    assert_eq!(bytes, vec![7u8; 100]);

    // A chunked answer past the limit fails as the bytes arrive.
    let big = MediaRef::new(format!("{}/f/big.bin", cdn.url()));
    let err = collect(max.download(&big).await.unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);

    // A known size over the limit fails before any request.
    let mut sized = MediaRef::new(format!("{}/never", cdn.url()));
    sized.size = Some(501);
    let Err(err) = max.download(&sized).await else {
        panic!("downloaded past the limit")
    };
    assert_eq!(err.kind(), ErrorKind::TooLarge);

    // Not a URL at all.
    let Err(err) = max.download(&MediaRef::new("file:///etc/passwd")).await else {
        panic!()
    };
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn a_video_is_downloaded_through_its_details() {
    let mut server = mockito::Server::new_async().await;
    let details = Capture::default();
    server
        .mock("GET", "/videos/VT-1")
        .with_body_from_request(details.answer(
            json!({"token": "VT-1", "urls": {"mp4_480": format!("{}/v/480.mp4", server.url()), "mp4_144": "https://x/144"},
                   "width": 640, "height": 480, "duration": 3})
            .to_string(),
        ))
        .create_async()
        .await;
    // The file is on the API's own host here, so it gets the token.
    server
        .mock("GET", "/v/480.mp4")
        .match_header("authorization", TOKEN)
        .with_body("mp4-bytes")
        .create_async()
        .await;
    server
        .mock("GET", "/v/gone.mp4")
        .with_status(404)
        .create_async()
        .await;
    let max = bot(&server);
    let bytes = collect(max.download(&MediaRef::new("video:VT-1")).await.unwrap())
        .await
        .unwrap();
    assert_eq!(bytes, b"mp4-bytes");
    assert_authorized(&details.only());

    let Err(err) = max
        .download(&MediaRef::new(format!("{}/v/gone.mp4", server.url())))
        .await
    else {
        panic!()
    };
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn a_stream_is_uploaded_with_its_known_length() {
    // The part is built from the stream and its length (messenger_http::upload_part), so the
    // body goes with a Content-Length rather than chunked, and the stream is read as it is sent.
    let mut server = mockito::Server::new_async().await;
    let api = Capture::default();
    upload_endpoint(&mut server, "file", "/upload/file", None, &api).await;
    let seen_len = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = seen_len.clone();
    server
        .mock("POST", "/upload/file")
        .with_body_from_request(move |req| {
            *seen.lock().unwrap() = req
                .header("content-length")
                .first()
                .map(|v| v.to_str().unwrap().to_owned());
            br#"{"token":"t"}"#.to_vec()
        })
        .create_async()
        .await;
    server
        .mock("POST", "/messages")
        .match_query(Matcher::Any)
        .with_body(sent("mid.s", 5, 1))
        .create_async()
        .await;
    let source = MediaSource::stream(3 * 1024, "application/octet-stream", "blob.bin", || {
        Box::pin(futures::stream::iter(
            (0..3).map(|_| Ok::<_, io::Error>(Bytes::from(vec![0u8; 1024]))),
        )) as ByteStream
    });
    bot(&server)
        .send(&media_message("5", ContentKind::File, source, None))
        .await
        .unwrap();
    let len: usize = seen_len
        .lock()
        .unwrap()
        .clone()
        .expect("a content-length")
        .parse()
        .unwrap();
    assert!(len > 3 * 1024, "{len}");
}
