//! getFile + streamed download, and the 20 MB limit enforced before any byte is fetched.

mod common;

use common::{TOKEN, bot, config, fail, ok, path};
use futures::StreamExt;
use messenger_core::{ErrorKind, MediaRef, Messenger};
use mockito::Matcher;
use serde_json::json;

const MB: u64 = 1024 * 1024;

async fn collect(mut stream: messenger_core::ByteStream) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
        chunks += 1;
    }
    (out, chunks)
}

#[tokio::test]
async fn get_file_then_stream_the_file_path() {
    let mut server = mockito::Server::new_async().await;
    let get_file = server
        .mock("POST", path("getFile").as_str())
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({"file_id": "AwACAgIAAxkBAAIE"})))
        .with_body(ok(json!({
            "file_id": "AwACAgIAAxkBAAIE", "file_unique_id": "AgADt",
            "file_size": 300000, "file_path": "voice/file_12.oga"
        })))
        .create_async()
        .await;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let file = server
        .mock(
            "GET",
            format!("/file/bot{TOKEN}/voice/file_12.oga").as_str(),
        )
        .with_body(data.clone())
        .create_async()
        .await;
    let media = MediaRef {
        id: "AwACAgIAAxkBAAIE".into(),
        mime_type: Some("audio/ogg".into()),
        file_name: None,
        size: Some(300000),
    };
    let stream = bot(&server).download(&media).await.unwrap();
    get_file.assert_async().await;
    let (bytes, chunks) = collect(stream).await;
    file.assert_async().await;
    assert_eq!(bytes, data);
    assert!(chunks >= 1);
}

#[tokio::test]
async fn the_download_is_streamed_not_buffered() {
    // The server sends a first chunk, then waits until the client has received it before it
    // sends the rest: a client that buffered the whole body would never see the first chunk
    // early, and the server would give up and end with "TIMEOUT".
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", path("getFile").as_str())
        .with_body(ok(
            json!({"file_id": "f", "file_unique_id": "u", "file_path": "documents/a.bin"}),
        ))
        .create_async()
        .await;
    let (got_first, first_seen) = std::sync::mpsc::channel::<()>();
    let first_seen = std::sync::Mutex::new(first_seen);
    server
        .mock("GET", format!("/file/bot{TOKEN}/documents/a.bin").as_str())
        .with_chunked_body(move |w| {
            w.write_all(&[7u8; 1000])?;
            let streamed = first_seen
                .lock()
                .unwrap()
                .recv_timeout(std::time::Duration::from_secs(30))
                .is_ok();
            w.write_all(if streamed { b"REST" } else { b"TIMEOUT" })
        })
        .create_async()
        .await;
    let mut stream = bot(&server).download(&MediaRef::new("f")).await.unwrap();
    let mut received = Vec::new();
    while received.len() < 1000 {
        received.extend_from_slice(&stream.next().await.unwrap().unwrap());
    }
    got_first.send(()).unwrap();
    while let Some(chunk) = stream.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(&received[1000..], b"REST");
}

#[tokio::test]
async fn over_the_limit_by_the_inbound_size_makes_no_request() {
    let mut server = mockito::Server::new_async().await;
    let any = server
        .mock("POST", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let media = MediaRef {
        size: Some(20 * MB + 1),
        ..MediaRef::new("big")
    };
    let err = bot(&server).download(&media).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    any.assert_async().await;
}

#[tokio::test]
async fn over_the_limit_by_get_file_size_does_not_download() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", path("getFile").as_str())
        .with_body(ok(json!({
            "file_id": "big", "file_unique_id": "u", "file_size": 25 * MB, "file_path": "documents/file_1.zip"
        })))
        .create_async()
        .await;
    let file = server
        .mock("GET", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let err = bot(&server)
        .download(&MediaRef::new("big"))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    file.assert_async().await;
}

#[tokio::test]
async fn the_limit_can_be_lifted_for_a_local_server() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", path("getFile").as_str())
        .with_body(ok(json!({
            "file_id": "big", "file_unique_id": "u", "file_size": 25 * MB, "file_path": "documents/file_1.zip"
        })))
        .create_async()
        .await;
    let file = server
        .mock(
            "GET",
            format!("/file/bot{TOKEN}/documents/file_1.zip").as_str(),
        )
        .with_body("zip")
        .create_async()
        .await;
    let bot = config(&server).download_limit(None).build().unwrap();
    let (bytes, _) = collect(bot.download(&MediaRef::new("big")).await.unwrap()).await;
    assert_eq!(bytes, b"zip");
    file.assert_async().await;
}

#[tokio::test]
async fn expired_file_path_is_not_found_and_wrong_id_is_not_found() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", path("getFile").as_str())
        .match_body(Matcher::Json(json!({"file_id": "old"})))
        .with_body(ok(
            json!({"file_id": "old", "file_unique_id": "u", "file_path": "photos/file_9.jpg"}),
        ))
        .create_async()
        .await;
    server
        .mock(
            "GET",
            format!("/file/bot{TOKEN}/photos/file_9.jpg").as_str(),
        )
        .with_status(404)
        .with_body(fail(404, "Not Found"))
        .create_async()
        .await;
    server
        .mock("POST", path("getFile").as_str())
        .match_body(Matcher::Json(json!({"file_id": "wrong"})))
        .with_status(400)
        .with_body(fail(400, "Bad Request: invalid file_id"))
        .create_async()
        .await;
    let bot = bot(&server);
    let err = bot.download(&MediaRef::new("old")).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = bot.download(&MediaRef::new("wrong")).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn over_the_limit_by_content_length_when_no_size_is_known() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", path("getFile").as_str())
        .with_body(ok(
            json!({"file_id": "f", "file_unique_id": "u", "file_path": "documents/b.bin"}),
        ))
        .create_async()
        .await;
    server
        .mock("GET", format!("/file/bot{TOKEN}/documents/b.bin").as_str())
        .with_body(vec![1u8; 11])
        .create_async()
        .await;
    let bot = config(&server).download_limit(Some(10)).build().unwrap();
    let err = bot.download(&MediaRef::new("f")).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    // At the limit it streams.
    let bot = config(&server).download_limit(Some(11)).build().unwrap();
    let (bytes, _) = collect(bot.download(&MediaRef::new("f")).await.unwrap()).await;
    assert_eq!(bytes.len(), 11);
}
