//! Helpers shared by the integration tests: a bot pointed at a mockito server, request capture
//! and a small multipart parser (to assert exact upload bodies).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_telegram::{TelegramBot, TelegramConfig};
use messenger_core::backoff::Backoff;
use serde_json::{Value, json};

/// A token of the real shape; tests assert it never leaks.
pub const TOKEN: &str = "123456789:AAH-test_TOKEN-do-not-leak-42";

/// The API path of a method.
pub fn path(method: &str) -> String {
    format!("/bot{TOKEN}/{method}")
}

/// A bot talking to `server`, with short polls and a fast backoff.
pub fn bot(server: &mockito::ServerGuard) -> TelegramBot {
    config(server).build().unwrap()
}

/// The settings of [`bot`], to adjust.
pub fn config(server: &mockito::ServerGuard) -> TelegramConfig {
    TelegramConfig::new(TOKEN)
        .base_url(server.url())
        .poll_timeout(Duration::ZERO)
        .backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(5),
        ))
}

/// `{"ok":true,"result":...}`.
pub fn ok(result: Value) -> String {
    json!({ "ok": true, "result": result }).to_string()
}

/// `{"ok":false,...}`.
pub fn fail(code: u16, description: &str) -> String {
    json!({ "ok": false, "error_code": code, "description": description }).to_string()
}

/// A sent message as Telegram returns it (from the bot, in a private chat).
pub fn sent_message(message_id: i64, chat_id: i64, date: i64) -> Value {
    json!({
        "message_id": message_id,
        "from": {"id": 7000000001_i64, "is_bot": true, "first_name": "MyBot", "username": "my_bot"},
        "chat": {"id": chat_id, "type": "private", "first_name": "Ivan"},
        "date": date
    })
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub content_type: Option<String>,
    pub content_length: Option<String>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
    pub fn multipart(&self) -> Vec<FormPart> {
        parse_multipart(
            self.content_type.as_deref().expect("content type"),
            &self.body,
        )
    }
}

/// Requests captured by a mock, in order.
#[derive(Debug, Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<Seen>>>);

impl Capture {
    /// A response body callback that records the request and answers `body`.
    pub fn answer(
        &self,
        body: String,
    ) -> impl Fn(&mockito::Request) -> Vec<u8> + Send + Sync + 'static {
        let log = self.0.clone();
        move |req: &mockito::Request| {
            let header = |name: &str| {
                req.header(name)
                    .first()
                    .map(|v| v.to_str().unwrap_or_default().to_owned())
            };
            log.lock().unwrap().push(Seen {
                method: req.method().to_owned(),
                path: req.path().to_owned(),
                content_type: header("content-type"),
                content_length: header("content-length"),
                body: req.body().cloned().unwrap_or_default(),
            });
            body.clone().into_bytes()
        }
    }

    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    pub fn only(&self) -> Seen {
        let all = self.all();
        assert_eq!(
            all.len(),
            1,
            "expected exactly one request, got {}",
            all.len()
        );
        all.into_iter().next().unwrap()
    }
}

/// One part of a multipart/form-data body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

impl FormPart {
    /// A text field.
    pub fn text(name: &str, value: &str) -> Self {
        Self {
            name: name.into(),
            file_name: None,
            content_type: None,
            data: value.as_bytes().to_vec(),
        }
    }
    /// A file field.
    pub fn file(name: &str, file_name: &str, content_type: &str, data: &[u8]) -> Self {
        Self {
            name: name.into(),
            file_name: Some(file_name.into()),
            content_type: Some(content_type.into()),
            data: data.to_vec(),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn quoted(header: &str, key: &str) -> Option<String> {
    let pattern = format!(" {key}=\"");
    let start = header.find(&pattern)? + pattern.len();
    let end = header[start..].find('"')? + start;
    Some(header[start..end].to_owned())
}

/// Parses a multipart/form-data body (enough of RFC 7578 for reqwest's output).
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<FormPart> {
    assert!(
        content_type.starts_with("multipart/form-data"),
        "not multipart: {content_type}"
    );
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("boundary")
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut pos = find(body, delimiter.as_bytes(), 0).expect("first boundary") + delimiter.len();
    loop {
        if body[pos..].starts_with(b"--") {
            break;
        }
        assert!(body[pos..].starts_with(b"\r\n"));
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos).expect("part headers");
        let head = String::from_utf8(body[pos..head_end].to_vec()).unwrap();
        let data_start = head_end + 4;
        let next =
            find(body, format!("\r\n{delimiter}").as_bytes(), data_start).expect("next boundary");
        let data = body[data_start..next].to_vec();
        let mut name = None;
        let mut file_name = None;
        let mut part_type = None;
        for line in head.split("\r\n") {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                name = quoted(line, "name");
                file_name = quoted(line, "filename");
            } else if lower.starts_with("content-type:") {
                part_type = Some(line["content-type:".len()..].trim().to_owned());
            }
        }
        parts.push(FormPart {
            name: name.expect("part name"),
            file_name,
            content_type: part_type,
            data,
        });
        pos = next + 2 + delimiter.len();
    }
    parts
}

/// How long a test waits for one stream item before it fails (instead of hanging).
pub const WAIT: Duration = Duration::from_secs(20);

/// The next item of `stream`, failing the test after [`WAIT`].
pub async fn next_within<S: futures::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    use futures::StreamExt;
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("no stream item within 20 s")
}

/// Every item of `stream` until it ends, failing the test after [`WAIT`] per item or past
/// `max` items (a stream that repeats itself, as after a regressing offset, fails rather than
/// runs forever).
pub async fn drain_within<S: futures::Stream + Unpin>(mut stream: S, max: usize) -> Vec<S::Item> {
    let mut items = Vec::new();
    while let Some(item) = next_within(&mut stream).await {
        items.push(item);
        assert!(items.len() <= max, "more than {max} stream items");
    }
    items
}
