//! getFile + streamed download, and the 20 MB limit enforced before any byte is fetched.

mod common;

use common::{TOKEN, bot, config, fail, next_within, ok, path};
use futures::StreamExt;
use messenger_core::{ErrorKind, MediaRef, Messenger};
use mockito::Matcher;
use serde_json::json;

const MB: u64 = 1024 * 1024;

async fn collect(mut stream: messenger_core::ByteStream) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = next_within(&mut stream).await {
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
        received.extend_from_slice(&next_within(&mut stream).await.unwrap().unwrap());
    }
    got_first.send(()).unwrap();
    while let Some(chunk) = next_within(&mut stream).await {
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

/// A raw HTTP/1.1 server on loopback: `getFile` answers a file path without a size, and the
/// file is `chunks` chunks of `chunk` bytes, chunked, with no `Content-Length`. Returns the
/// base URL and a receiver of how many file bytes the server managed to write.
async fn chunked_file_server(
    chunks: usize,
    chunk: usize,
) -> (String, tokio::sync::oneshot::Receiver<(usize, bool)>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, written) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut report = Some(report);
        while let Ok((mut socket, _)) = listener.accept().await {
            // Read the request head and its body (by Content-Length).
            let mut seen = Vec::new();
            let mut buf = vec![0u8; 16 * 1024];
            let head_end = loop {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                seen.extend_from_slice(&buf[..n]);
                if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(end);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&seen[..head_end]).to_lowercase();
            let body_len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            while seen.len() < head_end + 4 + body_len {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            if head.contains("/getfile ") {
                let body = br#"{"ok":true,"result":{"file_id":"big","file_unique_id":"u","file_path":"documents/big.bin"}}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.write_all(body).await;
                let _ = socket.shutdown().await;
                continue;
            }
            // The file: chunked, no Content-Length.
            let mut written = 0usize;
            let mut finished = true;
            if socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
                )
                .await
                .is_err()
            {
                finished = false;
            }
            let data = vec![b'x'; chunk];
            for _ in 0..chunks {
                if !finished {
                    break;
                }
                let frame = [format!("{chunk:x}\r\n").as_bytes(), &data, b"\r\n"].concat();
                if socket.write_all(&frame).await.is_err() {
                    finished = false;
                    break;
                }
                written += chunk;
            }
            if finished {
                finished = socket.write_all(b"0\r\n\r\n").await.is_ok();
            }
            let _ = socket.shutdown().await;
            if let Some(report) = report.take() {
                let _ = report.send((written, finished));
            }
        }
    });
    (format!("http://{addr}"), written)
}

#[tokio::test]
async fn a_chunked_download_without_a_length_stops_at_the_limit() {
    // 31 MB in 64 KiB chunks, no Content-Length, no size anywhere: only counting the bytes as
    // they arrive can stop it. The limit is 1 MiB.
    const CHUNK: usize = 64 * 1024;
    let chunks = (31 * MB as usize).div_ceil(CHUNK);
    let (base, written) = chunked_file_server(chunks, CHUNK).await;
    let bot = connector_telegram::TelegramConfig::new(TOKEN)
        .base_url(base)
        .download_limit(Some(MB))
        .build()
        .unwrap();
    let run = async {
        let mut stream = bot.download(&MediaRef::new("big")).await.unwrap();
        let mut total = 0u64;
        let mut failure = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => total += chunk.len() as u64,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let after = stream.next().await;
        (total, failure, after.is_none())
    };
    let (total, failure, ended) = tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .expect("the download ends within 30 s");
    let failure = failure.expect("31 MB passed a 1 MiB limit");
    assert_eq!(failure.kind(), std::io::ErrorKind::FileTooLarge);
    assert!(total <= MB, "{total} bytes passed a 1 MiB limit");
    assert!(ended, "nothing after the failure");
    // The client stopped reading: the server could not write the whole file.
    let (server_wrote, finished) =
        tokio::time::timeout(std::time::Duration::from_secs(30), written)
            .await
            .expect("the server reports")
            .unwrap();
    assert!(
        !finished && server_wrote < chunks * CHUNK,
        "the whole file was read: {server_wrote} bytes"
    );
}
