//! Webhook v3 (avito.md §5): `POST /messenger/v3/webhook {"url"}` (the URL must answer a probe
//! `POST {}` with 2xx within 2 s), `POST /messenger/v1/webhook/unsubscribe {"url"}`, `POST
//! /messenger/v1/subscriptions`, and the deliveries: every new message of the account's chats
//! (the customer's and the account's own) as `{id, version, timestamp, payload: {type:
//! "message", value}}`, POSTed to every subscribed URL, in order. Avito signs nothing
//! documented: the receiver authenticates a delivery by the token in its URL.

use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::envelope::{AvitoError, ok};
use super::{Scope, St, api, random_hex, read_body, shop, shop_mut};
use crate::platforms::{Delivery, Outcome};
use crate::state::Account;

/// The header Avito adds to deliveries (its algorithm is undocumented; see the module docs of
/// the emulator).
const SIGNATURE_HEADER: &str = "x-avito-messenger-signature";

/// How long the probe of a new subscription may take (avito.md §5).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A delivery waiting for the worker.
pub(super) struct Queued {
    key: u64,
    url: String,
    body: Bytes,
    reference: String,
}

/// A UUID-shaped delivery id.
fn delivery_id() -> String {
    let h = random_hex(32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Queues the message `value` for every subscribed URL of the account.
pub(super) fn push(account: &mut Account, timestamp: i64, value: Value, reference: &str) {
    let Some(shop) = shop_mut(account) else {
        return;
    };
    if shop.subscriptions.is_empty() {
        return;
    }
    let body = crate::state::json_bytes(&json!({
        "id": delivery_id(),
        "version": "v3.0.0",
        "timestamp": timestamp,
        "payload": { "type": "message", "value": value },
    }));
    for url in shop.subscriptions.clone() {
        let key = shop.next_key;
        shop.next_key += 1;
        shop.outbox.push_back(Queued {
            key,
            url,
            body: body.clone(),
            reference: reference.to_string(),
        });
    }
    account.wake();
}

/// Drops the queued deliveries to URLs no longer subscribed.
pub(super) fn forget_unsubscribed(account: &mut Account) {
    if let Some(shop) = shop_mut(account) {
        let subscribed = shop.subscriptions.clone();
        shop.outbox.retain(|q| subscribed.contains(&q.url));
    }
}

/// The `url` of a subscribe or unsubscribe body.
async fn url_of(req: Request) -> Result<String, AvitoError> {
    let body = read_body(req, 64 * 1024).await?;
    let body: Value =
        serde_json::from_slice(&body).map_err(|_| AvitoError::bad_request("Invalid JSON body"))?;
    let url = body
        .get("url")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| AvitoError::validation("url", "is required"))?;
    url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| AvitoError::validation("url", "must be an http(s) URL"))?;
    Ok(url.to_string())
}

/// `POST /messenger/v3/webhook {"url"}`: probes the URL, then subscribes it.
pub(super) async fn subscribe(axum::extract::State(shared): St, req: Request) -> Response {
    api(
        shared,
        req,
        "postWebhookV3",
        Scope::Read,
        |shared, caller, req| async move {
            let url = url_of(req).await?;
            if !crate::webhook::deliverable(&url) {
                return Err(AvitoError::bad_request(
                    "The webhook URL did not answer: the sandbox reaches loopback addresses only",
                ));
            }
            let probe = shared
                .http
                .post(&url)
                .header("content-type", "application/json")
                .body("{}")
                .timeout(PROBE_TIMEOUT)
                .send()
                .await;
            if !probe.is_ok_and(|r| r.status().is_success()) {
                return Err(AvitoError::bad_request(
                    "The webhook URL did not answer 200 within 2 seconds",
                ));
            }
            let mut state = shared.lock();
            let account = state
                .account_mut(&caller.account)
                .map_err(|_| AvitoError::unauthorized())?;
            let shop = shop_mut(account).ok_or_else(AvitoError::unauthorized)?;
            if !shop.subscriptions.contains(&url) {
                shop.subscriptions.push(url);
            }
            tracing::debug!(account = %caller.account, "sandbox avito: subscribed");
            Ok(ok())
        },
    )
    .await
}

/// `POST /messenger/v1/webhook/unsubscribe {"url"}` (`ok: false` for a URL not subscribed).
pub(super) async fn unsubscribe(axum::extract::State(shared): St, req: Request) -> Response {
    api(
        shared,
        req,
        "postWebhookUnsubscribe",
        Scope::Read,
        |shared, caller, req| async move {
            let url = url_of(req).await?;
            let mut state = shared.lock();
            let account = state
                .account_mut(&caller.account)
                .map_err(|_| AvitoError::unauthorized())?;
            let shop = shop_mut(account).ok_or_else(AvitoError::unauthorized)?;
            let before = shop.subscriptions.len();
            shop.subscriptions.retain(|u| *u != url);
            let removed = shop.subscriptions.len() < before;
            forget_unsubscribed(account);
            tracing::debug!(account = %caller.account, removed, "sandbox avito: unsubscribed");
            Ok(json!({ "ok": removed }))
        },
    )
    .await
}

/// `POST /messenger/v1/subscriptions`.
pub(super) async fn subscriptions(axum::extract::State(shared): St, req: Request) -> Response {
    api(
        shared,
        req,
        "getSubscriptions",
        Scope::Read,
        |shared, caller, _req| async move {
            let state = shared.lock();
            let shop = state
                .account(&caller.account)
                .ok()
                .and_then(shop)
                .ok_or_else(AvitoError::unauthorized)?;
            let list: Vec<Value> = shop
                .subscriptions
                .iter()
                .map(|url| json!({ "url": url, "version": "3" }))
                .collect();
            Ok(json!({ "subscriptions": list }))
        },
    )
    .await
}

/// The next delivery, with the signature header.
pub(super) fn next_delivery(account: &Account) -> Option<Delivery> {
    let shop = shop(account)?;
    let queued = shop.outbox.front()?;
    let mut digest = Sha256::new();
    digest.update(shop.client_secret.as_bytes());
    digest.update(&queued.body);
    Some(Delivery {
        url: queued.url.clone(),
        headers: vec![
            ("content-type", "application/json".to_string()),
            (SIGNATURE_HEADER, hex::encode(digest.finalize())),
        ],
        body: queued.body.clone(),
        kind: "message",
        reference: queued.reference.clone(),
        key: queued.key,
    })
}

/// A success (or giving up) dequeues the delivery.
pub(super) fn delivery_done(account: &mut Account, key: u64, outcome: &Outcome<'_>) {
    if outcome.error.is_some() && !outcome.give_up {
        return;
    }
    if let Some(shop) = shop_mut(account) {
        shop.outbox.retain(|q| q.key != key);
    }
}
