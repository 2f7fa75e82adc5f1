//! A dropped answer: the connection closes after `messages.send` went out. With a key, the
//! `Retrying` layer resends under VK's de-duplication (the same `random_id`), so the customer
//! gets one message; without a key the send is reported `MaybeSent` and not resent.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use connector_vk::{VkConfig, retry_policy};
use messenger_core::backoff::Backoff;
use messenger_core::layers::Retrying;
use messenger_core::{Delivery, ErrorKind, Messenger, OutgoingMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Reads one HTTP/1.1 request (headers and a `Content-Length` body) and returns its body.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Some(String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned());
            }
        }
    }
}

/// A VK that closes the first connection without answering and answers `{"response": 352}`
/// afterwards; returns its URL and the bodies it received.
async fn dropping_vk() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let Some(body) = read_request(&mut socket).await else {
                continue;
            };
            let first = {
                let mut bodies = seen.lock().unwrap();
                bodies.push(body);
                bodies.len() == 1
            };
            if first {
                drop(socket); // the request went out; the answer never comes
                continue;
            }
            let answer = r#"{"response":352}"#;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    (url, bodies)
}

fn policy() -> messenger_core::layers::RetryPolicy {
    retry_policy().backoff(Backoff::new(
        Duration::from_millis(1),
        Duration::from_millis(5),
    ))
}

#[tokio::test]
async fn a_keyed_send_whose_answer_was_dropped_is_resent_once_with_the_same_random_id() {
    let (url, bodies) = dropping_vk().await;
    let vk = VkConfig::new(TOKEN, GROUP).base_url(url).build().unwrap();
    let account = Retrying::new(vk, policy());
    let report = within(
        account
            .send(&OutgoingMessage::text("111", "Ваш заказ №17 готов").idempotency_key("order-17")),
    )
    .await
    .unwrap();
    assert_eq!(report.first_message_id().unwrap().as_str(), "352");
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 2, "sent, dropped, resent");
    assert_eq!(
        bodies[0], bodies[1],
        "the same random_id: VK keeps one message"
    );
}

#[tokio::test]
async fn without_a_key_a_dropped_answer_is_maybe_sent_and_not_resent() {
    let (url, bodies) = dropping_vk().await;
    let vk = VkConfig::new(TOKEN, GROUP).base_url(url).build().unwrap();
    let account = Retrying::new(vk, policy());
    let err = within(account.send(&OutgoingMessage::text("111", "hi")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert_eq!(bodies.lock().unwrap().len(), 1);
}
