//! Shared helpers of the VK wire tests: a mock VK on loopback, exact form bodies, bounded
//! waits.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use connector_vk::VkConfig;
use mockito::{Matcher, Mock, ServerGuard};
use serde_json::{Value, json};

/// The community token of every test (never in a URL, a form or a log).
pub const TOKEN: &str = "vk1.a.TEST-Token_do-not-leak-8f2c";
/// The community of every test.
pub const GROUP: u64 = 229_000_000;
/// The API version sent with every call.
pub const V: &str = "5.199";

/// A configuration against the mock server (long polls return at once).
pub fn config(server: &ServerGuard) -> VkConfig {
    VkConfig::new(TOKEN, GROUP)
        .base_url(server.url())
        .poll_wait(Duration::ZERO)
}

/// `{"response": value}`.
pub fn ok(value: Value) -> String {
    json!({ "response": value }).to_string()
}

/// `{"error": {...}}` with `request_params` as VK sends them.
pub fn fail(code: i64, msg: &str) -> String {
    json!({"error": {"error_code": code, "error_msg": msg, "request_params": [
        {"key": "method", "value": "messages.send"}, {"key": "oauth", "value": "1"},
        {"key": "v", "value": V}
    ]}})
    .to_string()
}

/// The form body `k1=v1&k2=v2...&v=5.199`, encoded as reqwest encodes it.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.append_pair("v", V);
    s.finish()
}

/// A mock of API method `name` that matches only a `POST` to `/method/{name}` without a
/// query, with the bearer token, form-encoded, with exactly `body`.
pub fn api(server: &mut ServerGuard, name: &str, body: &str) -> mockito::Mock {
    server
        .mock("POST", format!("/method/{name}").as_str())
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header("content-type", "application/x-www-form-urlencoded")
        .match_body(Matcher::Exact(body.to_owned()))
}

/// Awaits `f` for at most 10 s.
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("the test waited more than 10 s")
}

/// Asserts a mock was hit as expected (bounded: mockito's `assert` does not wait).
pub fn hit(mock: &Mock) {
    mock.assert();
}
