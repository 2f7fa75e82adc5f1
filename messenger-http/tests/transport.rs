//! The transport against real sockets on loopback: body caps, bounded downloads whatever the
//! headers say, and NotSent / MaybeSent by the phase a failure reached.

use std::time::Duration;

use futures::StreamExt;
use messenger_core::{Delivery, ErrorKind, Platform};
use messenger_http::{HttpClient, HttpSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A one-shot server: reads the request head, then writes `response` (or closes at once
/// when `None`).
async fn serve_once(response: Option<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        if let Some(response) = response {
            let _ = socket.write_all(&response).await;
        }
        let _ = socket.shutdown().await;
    });
    format!("http://{addr}/")
}

fn chunked(body_chunks: usize, chunk: usize) -> Vec<u8> {
    let mut out = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..body_chunks {
        out.extend_from_slice(format!("{chunk:x}\r\n").as_bytes());
        out.extend(std::iter::repeat_n(b'x', chunk));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn client(max_body: usize) -> HttpClient {
    HttpClient::new(
        Platform::Telegram,
        &HttpSettings::default()
            .max_body(max_body)
            .request_timeout(Duration::from_secs(10)),
    )
    .unwrap()
}

#[tokio::test]
async fn a_chunked_download_stops_at_the_limit() {
    // 31 chunks of 64 KiB, no Content-Length, past a 1 MiB limit.
    let url = serve_once(Some(chunked(31, 64 << 10))).await;
    let http = client(1 << 20);
    let mut stream = http
        .download(http.get(&url), Some(1 << 20))
        .await
        .unwrap()
        .unwrap();
    let mut total = 0u64;
    let mut failed = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => total += chunk.len() as u64,
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let err = failed.expect("the stream must fail past the limit");
    assert_eq!(err.kind(), std::io::ErrorKind::FileTooLarge);
    assert!(total <= 1 << 20, "{total} bytes passed a 1 MiB limit");
    assert!(stream.next().await.is_none(), "nothing after the failure");
}

#[tokio::test]
async fn a_lying_content_length_is_refused_before_reading() {
    let response = b"HTTP/1.1 200 OK\r\ncontent-length: 5000000\r\n\r\nxxxx".to_vec();
    let url = serve_once(Some(response)).await;
    let http = client(1 << 20);
    let err = match http.download(http.get(&url), Some(1 << 20)).await {
        Err(e) => e,
        Ok(_) => panic!("a 5 MB answer passed a 1 MiB limit"),
    };
    assert_eq!(err.kind(), ErrorKind::TooLarge);
}

#[tokio::test]
async fn a_download_within_the_limit_streams_every_byte() {
    let url = serve_once(Some(chunked(4, 1000))).await;
    let http = client(1 << 20);
    let stream = http
        .download(http.get(&url), Some(4000))
        .await
        .unwrap()
        .unwrap();
    let bytes: Vec<_> = stream.collect().await;
    let total: usize = bytes.into_iter().map(|c| c.unwrap().len()).sum();
    assert_eq!(total, 4000);
}

#[tokio::test]
async fn an_oversize_success_is_a_maybe_sent_decode_error() {
    let url = serve_once(Some(chunked(10, 1000))).await;
    let http = client(4096);
    let err = http.execute(http.post(&url)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.delivery(), Delivery::MaybeSent);
}

#[tokio::test]
async fn an_oversize_error_body_is_cut_at_the_cap() {
    let mut response = b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 100000\r\n\r\n".to_vec();
    response.extend(std::iter::repeat_n(b'<', 100_000));
    let url = serve_once(Some(response)).await;
    let http = client(4096);
    let answer = http.execute(http.post(&url)).await.unwrap();
    assert_eq!(answer.status.as_u16(), 502);
    assert_eq!(answer.body.len(), 4096);
}

#[tokio::test]
async fn a_refused_connection_is_not_sent() {
    // Bind, note the port, close: nothing listens there.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let http = client(4096);
    let err = http
        .execute(http.post(format!("http://{addr}/bot123:SECRET/sendMessage")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert!(err.is_retryable());
    let text = format!("{err} {err:?}");
    assert!(!text.contains("SECRET"), "the URL leaked: {text}");
}

#[tokio::test]
async fn a_connection_closed_after_the_request_may_have_sent() {
    let url = serve_once(None).await;
    let http = client(4096);
    let err = http
        .execute(
            http.post(format!("{url}bot123:SECRET/sendMessage"))
                .body("{}"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert!(!format!("{err} {err:?}").contains("SECRET"));
}

#[tokio::test]
async fn a_truncated_answer_may_have_sent() {
    let response = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"ok\":tr".to_vec();
    let url = serve_once(Some(response)).await;
    let http = client(4096);
    let err = http.execute(http.post(&url)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.delivery(), Delivery::MaybeSent);
}

#[tokio::test]
async fn no_redirect_is_followed() {
    let response =
        b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/elsewhere\r\ncontent-length: 0\r\n\r\n"
            .to_vec();
    let url = serve_once(Some(response)).await;
    let http = client(4096);
    let answer = http.execute(http.get(&url)).await.unwrap();
    assert_eq!(answer.status.as_u16(), 302);
}

#[test]
fn a_malformed_root_certificate_is_invalid_input() {
    for pem in [
        &b"not a certificate"[..],
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"",
    ] {
        let err = HttpClient::new(
            Platform::Max,
            &HttpSettings::default().add_root_certificate_pem(pem.to_vec()),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
}

/// A self-signed test root (EC P-256, valid until 2126), generated for this test.
const TEST_ROOT: &str = "-----BEGIN CERTIFICATE-----
MIIBnDCCAUOgAwIBAgIUN5XpVIFmpkIp+Pw+juoLCybpGuYwCgYIKoZIzj0EAwIw
IzEhMB8GA1UEAwwYbWVzc2VuZ2VyLWh0dHAgdGVzdCByb290MCAXDTI2MTEyOTEz
Mzg0M1oYDzIxMjYxMTA1MTMzODQzWjAjMSEwHwYDVQQDDBhtZXNzZW5nZXItaHR0
cCB0ZXN0IHJvb3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQlkWxF83YzsSK2
9cCZfUDmheJiRuA4/BFFNA1UGHf6Cjc0Dc6bAZGWOEtn/wIWVDeGCxNUZsYGzeRT
HIESwropo1MwUTAdBgNVHQ4EFgQULrZlEsd8tgCgY312fCLrHPaes4UwHwYDVR0j
BBgwFoAULrZlEsd8tgCgY312fCLrHPaes4UwDwYDVR0TAQH/BAUwAwEB/zAKBggq
hkjOPQQDAgNHADBEAiBX+84dhAaZg/bsaXaWW39dnZUc33txCxr/mVYFWonPzgIg
fG1MV2KevfatQ+dWMFSKPMdkagus/NSCg2W2UE2zLw4=
-----END CERTIFICATE-----";

#[test]
fn a_valid_root_certificate_is_accepted_next_to_the_standard_roots() {
    let http = HttpClient::new(
        Platform::Max,
        &HttpSettings::default().add_root_certificate_pem(TEST_ROOT.as_bytes().to_vec()),
    );
    assert!(http.is_ok(), "{:?}", http.err());
}
