//! Shared helpers of the Avito wire tests: a mock Avito on loopback, exact token forms, bounded
//! waits.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use connector_avito::AvitoConfig;
use mockito::{Matcher, Mock, ServerGuard};
use serde_json::{Value, json};

/// The app's client id of every test.
pub const CLIENT_ID: &str = "Avito-Client-Id-77";
/// The app's client secret (never in a log, an error or a URL).
pub const CLIENT_SECRET: &str = "Client_Secret-do-not-leak-5e1";
/// The access token the token endpoint gives first.
pub const ACCESS: &str = "Access-Token-kChqt9ewQNAcwgbHp4yFd5";
/// The account's Avito user id.
pub const USER: i64 = 94_235_311;
/// A chat of the account.
pub const CHAT: &str = "u2i-y9ykWR1EkNOJJMaE9i9m8w";
/// A customer.
pub const CUSTOMER: i64 = 51_234_567;

/// A client-credentials account against the mock server, with its user id known (so that
/// most tests need no `accounts/self` mock).
pub fn config(server: &ServerGuard) -> AvitoConfig {
    AvitoConfig::new(CLIENT_ID, CLIENT_SECRET)
        .base_url(server.url())
        .user_id(USER)
}

/// A form body `k1=v1&k2=v2`, encoded as reqwest encodes it.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The exact client-credentials form.
pub fn client_credentials_form() -> String {
    form(&[
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ])
}

/// The exact refresh form for `refresh_token`.
pub fn refresh_form(refresh_token: &str) -> String {
    form(&[
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("refresh_token", refresh_token),
    ])
}

/// A mock of `POST /token` that matches exactly `body`, form-encoded.
pub fn token_endpoint(server: &mut ServerGuard, body: &str) -> Mock {
    server
        .mock("POST", "/token")
        .match_header("content-type", "application/x-www-form-urlencoded")
        .match_header("authorization", Matcher::Missing)
        .match_body(Matcher::Exact(body.to_owned()))
}

/// The token endpoint's answer for client credentials.
pub fn token_answer(access: &str, expires_in: i64) -> String {
    json!({"access_token": access, "expires_in": expires_in, "token_type": "Bearer"}).to_string()
}

/// The token endpoint's answer with a refresh token.
pub fn token_answer_refresh(access: &str, refresh: &str, expires_in: i64) -> String {
    json!({"access_token": access, "expires_in": expires_in, "refresh_token": refresh,
        "scope": "messenger:read,messenger:write", "token_type": "Bearer"})
    .to_string()
}

/// The client-credentials grant, answered with [`ACCESS`] for 24 h (not yet created).
pub fn grant(server: &mut ServerGuard) -> Mock {
    token_endpoint(server, &client_credentials_form())
        .with_header("content-type", "application/json")
        .with_body(token_answer(ACCESS, 86_400))
}

/// A mock of an API call with the bearer `token`.
pub fn api_as(server: &mut ServerGuard, method: &str, path: &str, token: &str) -> mockito::Mock {
    server
        .mock(method, path)
        .match_header("authorization", format!("Bearer {token}").as_str())
}

/// A mock of an API call with [`ACCESS`].
pub fn api(server: &mut ServerGuard, method: &str, path: &str) -> mockito::Mock {
    api_as(server, method, path, ACCESS)
}

/// `/messenger/{version}/accounts/{USER}/{rest}`.
pub fn account_path(version: &str, rest: &str) -> String {
    format!("/messenger/{version}/accounts/{USER}/{rest}")
}

/// The JSON of a sent message.
pub fn sent(id: &str) -> String {
    json!({"id": id, "created": 1_717_000_100, "direction": "out", "type": "text",
        "content": {"text": "-"}})
    .to_string()
}

/// A webhook v3 delivery of `value`.
pub fn delivery(value: Value) -> String {
    json!({"id": "7f3c9a10-5b1e-4d2a-9c61-0b8e2f4a6d11", "version": "v3.0.0",
        "timestamp": 1_717_000_000, "payload": {"type": "message", "value": value}})
    .to_string()
}

/// A customer's message of `kind` with `content`, as `payload.value`.
pub fn customer_message(id: &str, kind: &str, content: Value) -> Value {
    json!({"id": id, "chat_id": CHAT, "chat_type": "u2i", "user_id": USER,
        "author_id": CUSTOMER, "created": 1_717_000_000,
        "published_at": "2024-05-29T16:26:40Z", "type": kind, "content": content,
        "item_id": 1_768_287_444, "read": null})
}

/// Awaits `f` for at most 20 s.
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("the test waited more than 20 s")
}
