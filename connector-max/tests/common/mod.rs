//! Helpers shared by the integration tests: a bot pointed at a mockito server, request capture,
//! bounded waits and payloads written from `shared/platforms/max.md`.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_max::{Max, MaxConfig};
use futures::{Stream, StreamExt};
use messenger_core::backoff::Backoff;
use serde_json::{Value, json};

/// A token of the real shape; tests assert it never leaks and never goes into a URL.
pub const TOKEN: &str = "f9LHodD0cOJ-test_TOKEN-do-not-leak-42";

/// The bound of every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// A self-signed root certificate generated for these tests (EC P-256, valid to 2126).
pub const TEST_ROOT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBqDCCAU+gAwIBAgIUT+dI0UpHNkkOl7B0foJgS9NveVIwCgYIKoZIzj0EAwIw
KTEnMCUGA1UEAwwebWVzc2VuZ2VyLWNvbm5lY3RvcnMgdGVzdCByb290MCAXDTI2
MTEyOTEzMzE1MVoYDzIxMjYxMTA1MTMzMTUxWjApMScwJQYDVQQDDB5tZXNzZW5n
ZXItY29ubmVjdG9ycyB0ZXN0IHJvb3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AAQKcNZI+j6EHoHh2KLjH3ZWz3FFvAbu9hnivWqQm5FAIfOqHp32q70/mY0foKiJ
L4nIwp8oF97oTpAphTRgRHrho1MwUTAdBgNVHQ4EFgQUkNNYeYPGIVGmLY579+Wu
CbysFvQwHwYDVR0jBBgwFoAUkNNYeYPGIVGmLY579+WuCbysFvQwDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiARVerxRrLR9Lp8PRUt6SZaBqRkhOYY
g5qMfwdjNZvY5QIgIYqLzmwE1JHG2/5QExnK4jH6pUWbyDnFjGiUWf3q1z0=
-----END CERTIFICATE-----
";

/// The settings of a bot talking to `server`: short polls, no pacing, fast backoffs.
pub fn config(server: &mockito::ServerGuard) -> MaxConfig {
    MaxConfig::new(TOKEN)
        .base_url(server.url())
        .poll_timeout(Duration::ZERO)
        .poll_interval(Duration::ZERO)
        .backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(5),
        ))
        .not_ready_backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(4),
        ))
}

/// A bot talking to `server`.
pub fn bot(server: &mockito::ServerGuard) -> Max {
    config(server).build().unwrap()
}

/// A sent message as `POST /messages` returns it (`SendMessageResult`, max.md §3.2).
pub fn sent(mid: &str, chat_id: i64, timestamp: i64) -> String {
    json!({"message": {
        "sender": {"user_id": 229229229, "first_name": "UniBot", "username": "unit_bot", "is_bot": true, "last_activity_time": 1775026702261_i64},
        "recipient": {"chat_id": chat_id, "chat_type": "dialog", "user_id": 123456789},
        "timestamp": timestamp,
        "body": {"mid": mid, "seq": 116328147937082782_i64, "text": "…"}
    }})
    .to_string()
}

/// `SimpleQueryResult`.
pub fn success(ok: bool) -> String {
    json!({ "success": ok }).to_string()
}

/// MAX's error body.
pub fn api_error(code: &str, message: &str) -> String {
    json!({ "code": code, "message": message }).to_string()
}

/// A text message update from a customer in a dialog (max.md §5.5).
pub fn text_update(mid: &str, text: &str) -> Value {
    json!({
        "update_type": "message_created",
        "timestamp": 1775025604499_i64,
        "user_locale": "ru",
        "message": {
            "sender": {"user_id": 123456789, "first_name": "John", "last_name": "Doe", "is_bot": false, "last_activity_time": 1775024330000_i64, "name": "John Doe"},
            "recipient": {"chat_id": 182182182, "chat_type": "dialog", "user_id": 229229229},
            "timestamp": 1775025603399_i64,
            "body": {"mid": mid, "seq": 116327994376978687_i64, "text": text}
        }
    })
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// The query parameters, in order.
    pub fn query(&self) -> Vec<(String, String)> {
        let query = self.path_and_query.split_once('?').map_or("", |(_, q)| q);
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or("")
    }
}

/// Requests captured by mocks, in order.
#[derive(Debug, Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<Seen>>>);

impl Capture {
    /// A response body callback that records the request and answers `body`.
    pub fn answer(
        &self,
        body: impl Into<String>,
    ) -> impl Fn(&mockito::Request) -> Vec<u8> + Send + Sync + 'static {
        let log = self.0.clone();
        let body = body.into();
        move |req: &mockito::Request| {
            let header = |name: &str| {
                req.header(name)
                    .first()
                    .map(|v| v.to_str().unwrap_or_default().to_owned())
            };
            log.lock().unwrap().push(Seen {
                method: req.method().to_owned(),
                path_and_query: req.path_and_query().to_owned(),
                authorization: header("authorization"),
                content_type: header("content-type"),
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

/// Every request carries the raw token (no `Bearer`) and no URL carries it.
pub fn assert_authorized(seen: &Seen) {
    assert_eq!(seen.authorization.as_deref(), Some(TOKEN), "{seen:?}");
    assert!(
        !seen.path_and_query.contains(TOKEN),
        "the token is in a URL"
    );
    assert!(
        !seen.path_and_query.contains("access_token"),
        "query auth is gone"
    );
}

/// The next item of a stream, bounded by [`WAIT`].
pub async fn next_within<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("the stream did not yield in time")
}

/// A multipart part: its headers and content.
#[derive(Debug, Clone)]
pub struct FormPart {
    pub disposition: String,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Splits a `multipart/form-data` body into its parts.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<FormPart> {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("a boundary")
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let text = body;
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = find(rest, delimiter.as_bytes()) {
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let rest_trim = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let end = find(rest_trim, delimiter.as_bytes()).expect("a closing delimiter");
        let part = &rest_trim[..end];
        let split = find(part, b"\r\n\r\n").expect("part headers");
        let headers = String::from_utf8_lossy(&part[..split]).into_owned();
        let mut data = part[split + 4..].to_vec();
        if data.ends_with(b"\r\n") {
            data.truncate(data.len() - 2);
        }
        let mut disposition = String::new();
        let mut content_type = None;
        for line in headers.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                disposition = line["content-disposition:".len()..].trim().to_owned();
            } else if lower.starts_with("content-type:") {
                content_type = Some(line["content-type:".len()..].trim().to_owned());
            }
        }
        parts.push(FormPart {
            disposition,
            content_type,
            data,
        });
        rest = &rest_trim[end..];
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
