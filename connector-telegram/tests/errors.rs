//! Error mapping end to end: one test per Telegram error class, with bodies written from the
//! platform sheet, plus network failures and undecodable bodies.

mod common;

use std::time::Duration;

use common::{bot, config, fail, path};
use messenger_core::plan::Part;
use messenger_core::{Delivery, Error, ErrorKind, Messenger, OutgoingContent};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn text_part() -> Part {
    Part {
        content: OutgoingContent::text("hello"),
        reply_to: None,
        idempotency_key: None,
    }
}

/// Sends one text against a server answering `status` with `body`.
async fn send_against(status: usize, body: &str) -> Error {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", path("sendMessage").as_str())
        .with_status(status)
        .with_header("content-type", "application/json")
        .with_body(body)
        .create_async()
        .await;
    let err = bot(&server)
        .send_part(&"123456789".into(), &text_part())
        .await
        .unwrap_err();
    mock.assert_async().await;
    err
}

#[tokio::test]
async fn e429_is_rate_limited_with_retry_after() {
    let body = json!({
        "ok": false, "error_code": 429, "description": "Too Many Requests: retry after 14",
        "parameters": {"retry_after": 14}
    });
    let err = send_against(429, &body.to_string()).await;
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(14)));
    assert_eq!(err.platform_code(), Some("429"));
    assert!(err.is_retryable());
    assert_eq!(err.delivery(), Delivery::NotSent);
}

#[tokio::test]
async fn e403_blocked_is_recipient_blocked() {
    let err = send_against(403, &fail(403, "Forbidden: bot was blocked by the user")).await;
    assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
    assert_eq!(err.platform_code(), Some("403"));
    assert!(!err.is_retryable());
    assert!(err.message().contains("blocked by the user"));
}

#[tokio::test]
async fn e403_deactivated_and_kicked_are_recipient_blocked() {
    for d in [
        "Forbidden: user is deactivated",
        "Forbidden: bot was kicked from the supergroup chat",
    ] {
        let err = send_against(403, &fail(403, d)).await;
        assert_eq!(err.kind(), ErrorKind::RecipientBlocked, "{d}");
    }
}

#[tokio::test]
async fn e400_too_long_is_too_large() {
    for d in [
        "Bad Request: message is too long",
        "Bad Request: text is too long",
        "Bad Request: message caption is too long",
    ] {
        let err = send_against(400, &fail(400, d)).await;
        assert_eq!(err.kind(), ErrorKind::TooLarge, "{d}");
        assert_eq!(err.platform_code(), Some("400"));
    }
}

#[tokio::test]
async fn e400_chat_not_found_is_not_found() {
    let err = send_against(400, &fail(400, "Bad Request: chat not found")).await;
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn e400_wrong_file_id_is_not_found() {
    let err = send_against(
        400,
        &fail(
            400,
            "Bad Request: wrong file_id or the file is temporarily unavailable",
        ),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn e400_migrated_group_names_the_new_id() {
    let body = json!({
        "ok": false, "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": -1001987654321_i64}
    });
    let err = send_against(400, &body.to_string()).await;
    assert_eq!(err.kind(), ErrorKind::Platform);
    assert_eq!(err.platform_code(), Some("400"));
    assert!(err.message().contains("-1001987654321"), "{err}");
}

#[tokio::test]
async fn e400_other_is_invalid_input() {
    let err = send_against(
        400,
        &fail(
            400,
            "Bad Request: can't parse entities: unsupported start tag",
        ),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn e401_is_unauthorized() {
    let err = send_against(401, &fail(401, "Unauthorized")).await;
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn e404_bad_token_path_is_unauthorized() {
    let err = send_against(404, &fail(404, "Not Found")).await;
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
}

#[tokio::test]
async fn e409_is_conflict() {
    let err = send_against(
        409,
        &fail(
            409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        ),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

#[tokio::test]
async fn e413_is_too_large() {
    let err = send_against(413, &fail(413, "Request Entity Too Large")).await;
    assert_eq!(err.kind(), ErrorKind::TooLarge);
}

#[tokio::test]
async fn e5xx_is_retryable_transport_even_with_an_html_body() {
    let err = send_against(500, &fail(500, "Internal Server Error")).await;
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(err.is_retryable());
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    let err = send_against(502, "<html><body>502 Bad Gateway</body></html>").await;
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn error_code_in_the_body_wins_over_the_status() {
    let err = send_against(200, &fail(403, "Forbidden: bot was blocked by the user")).await;
    assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
}

#[tokio::test]
async fn non_json_body_is_decode() {
    let err = send_against(200, "<html>captive portal</html>").await;
    assert_eq!(err.kind(), ErrorKind::Decode);
    let err = send_against(200, r#"{"ok":true,"result":"not a message"}"#).await;
    assert_eq!(err.kind(), ErrorKind::Decode);
}

#[tokio::test]
async fn unreadable_success_answer_to_a_send_may_have_been_sent() {
    // Telegram said 200: the message may be out even though its answer cannot be read.
    for body in [
        "<html>captive portal</html>",
        r#"{"ok":true,"result":"not a message"}"#,
    ] {
        let err = send_against(200, body).await;
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert_eq!(err.delivery(), Delivery::MaybeSent, "{body}");
    }
    // A refusal with an unreadable body is still certainly not sent.
    let err = send_against(400, "<html>bad request</html>").await;
    assert_eq!(err.delivery(), Delivery::NotSent);
}

#[tokio::test]
async fn refused_connection_is_transport_not_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let bot = connector_telegram::TelegramConfig::new(common::TOKEN)
        .base_url(format!("http://{addr}"))
        .build()
        .unwrap();
    let err = bot.send_part(&"1".into(), &text_part()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert!(err.is_retryable());
    assert_no_token(&err);
}

/// A server that reads the request and then either hangs or hangs up.
async fn raw_server(hang_up: bool) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                // Read the whole request (headers + small body).
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if let Some(head_end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&seen[..head_end]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if seen.len() >= head_end + 4 + len {
                            break;
                        }
                    }
                }
                if hang_up {
                    let _ = socket.shutdown().await;
                    drop(socket);
                } else {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn timeout_after_the_request_was_written_may_have_been_sent() {
    let addr = raw_server(false).await;
    let bot = connector_telegram::TelegramConfig::new(common::TOKEN)
        .base_url(format!("http://{addr}"))
        .http(
            connector_telegram::HttpSettings::default().request_timeout(Duration::from_millis(300)),
        )
        .build()
        .unwrap();
    let err = bot.send_part(&"1".into(), &text_part()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert_no_token(&err);
}

#[tokio::test]
async fn connection_dropped_after_the_request_may_have_been_sent() {
    let addr = raw_server(true).await;
    let bot = connector_telegram::TelegramConfig::new(common::TOKEN)
        .base_url(format!("http://{addr}"))
        .build()
        .unwrap();
    let err = bot.send_part(&"1".into(), &text_part()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert_no_token(&err);
}

fn assert_no_token(err: &Error) {
    let mut shown = format!("{err} {err:?}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        shown.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    assert!(!shown.contains("AAH-test"), "{shown}");
    assert!(!shown.contains("/bot"), "{shown}");
}

#[tokio::test]
async fn api_errors_do_not_carry_the_token_either() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", path("getMe").as_str())
        .with_status(401)
        .with_body(fail(401, "Unauthorized"))
        .create_async()
        .await;
    let err = config(&server)
        .build()
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_no_token(&err);
}

#[tokio::test]
async fn a_refusal_without_code_or_description_names_the_http_status() {
    // `{"ok":false}` and nothing else: the status is all there is, and the message says so
    // (it used to read "HTTP 0 (code 0)").
    let err = send_against(400, r#"{"ok":false}"#).await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.platform_code(), Some("400"));
    let text = err.to_string();
    assert_eq!(
        text,
        "telegram: invalid_input: HTTP 400; Telegram gave no description (code 400)"
    );
    let err = send_against(403, r#"{"ok":false}"#).await;
    assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
    assert!(err.to_string().contains("HTTP 403"), "{err}");
}

#[tokio::test]
async fn an_unreadable_answer_says_what_failed_and_where() {
    let err = send_against(200, r#"{"ok":true,"result":{"message_id":"x"}}"#).await;
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(
        err.message(),
        "the answer is not a Bot API answer: a value of the wrong type (expected i64) at line 1 column 37"
    );
    let err = send_against(200, "").await;
    assert_eq!(
        err.message(),
        "the answer is not a Bot API answer: the body is empty"
    );
}
