//! Callback API deliveries (vk.md §3.2).
//!
//! Setting a Callback server (the account's `webhook_url`) makes it unconfirmed and queues the
//! `confirmation` event, `{"type":"confirmation","group_id","secret"?}`, which the server must
//! answer with the community's confirmation string (the body, exactly). Until then no event
//! goes to it; events that happen meanwhile wait behind the confirmation. If the confirmation
//! is given up on, the queue is dropped and the server stays unconfirmed until
//! [`verify_webhook`] (the control API's `verify-webhook`) confirms it.
//!
//! Every event is POSTed as `{"type", "event_id", "v", "object", "group_id", "secret"}` (the
//! `secret` when one is set, read at delivery time) and must be answered with HTTP 200 and the
//! body `ok`; anything else is a failed attempt, retried with the header `X-Retry-Counter`.

use std::collections::VecDeque;

use bytes::Bytes;
use messenger_core::{Error, Result};
use serde_json::json;

use super::updates::Event;
use super::{community, community_mut};
use crate::api::WebhookCheck;
use crate::platforms::{Delivery, Outcome};
use crate::state::{Account, Shared, json_bytes};

/// One queued delivery.
struct Item {
    key: u64,
    /// `None`: the confirmation handshake.
    event: Option<Event>,
    attempts: u32,
}

/// The Callback server of a community and its queue.
#[derive(Default)]
pub(super) struct Callback {
    pub url: Option<String>,
    pub confirmed: bool,
    queue: VecDeque<Item>,
    next_key: u64,
}

impl Callback {
    /// Sets (or removes) the server: a new one is unconfirmed and gets the handshake first.
    pub(super) fn set_url(&mut self, url: Option<String>) {
        if url == self.url && url.is_some() {
            return;
        }
        self.url = url;
        self.confirmed = false;
        self.queue.clear();
        if self.url.is_some() {
            self.push(None);
        }
    }

    /// Events not yet delivered (the handshake not counted).
    pub(super) fn pending(&self) -> usize {
        self.queue.iter().filter(|i| i.event.is_some()).count()
    }

    fn push(&mut self, event: Option<Event>) {
        self.next_key += 1;
        self.queue.push_back(Item {
            key: self.next_key,
            event,
            attempts: 0,
        });
    }

    fn awaiting_confirmation(&self) -> bool {
        self.queue.front().is_some_and(|i| i.event.is_none())
    }
}

/// Queues an event for the Callback server, if one is set and confirmed (or being confirmed).
pub(super) fn enqueue(callback: &mut Callback, event: Event) {
    if callback.url.is_some() && (callback.confirmed || callback.awaiting_confirmation()) {
        callback.push(Some(event));
    }
}

/// The body of the `confirmation` event.
fn confirmation_body(group_id: i64, secret: Option<&str>) -> Bytes {
    let mut body = json!({ "type": "confirmation", "group_id": group_id });
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    json_bytes(&body)
}

/// The next delivery: the handshake, or (once confirmed) the oldest event.
pub(super) fn next_delivery(account: &Account) -> Option<Delivery> {
    let community = community(account)?;
    let callback = &community.callback;
    let url = callback.url.clone()?;
    let item = callback.queue.front()?;
    let (body, kind, reference) = match &item.event {
        None => (
            confirmation_body(community.group_id, community.secret.as_deref()),
            "confirmation",
            community.group_id.to_string(),
        ),
        Some(_) if !callback.confirmed => return None,
        Some(event) => {
            let mut body = event.json(community.group_id);
            if let Some(secret) = &community.secret {
                body["secret"] = json!(secret);
            }
            (json_bytes(&body), event.kind, event.event_id.clone())
        }
    };
    let mut headers = vec![("content-type", "application/json".to_string())];
    if item.attempts > 0 {
        headers.push(("x-retry-counter", item.attempts.to_string()));
    }
    Some(Delivery {
        url,
        headers,
        body,
        kind,
        reference,
        key: item.key,
    })
}

/// VK takes only the confirmation string in answer to the handshake and `ok` to an event.
pub(super) fn delivery_answer(account: &Account, key: u64, body: &[u8]) -> Result<(), String> {
    let Some(community) = community(account) else {
        return Ok(());
    };
    let Some(item) = community.callback.queue.iter().find(|i| i.key == key) else {
        return Ok(());
    };
    let answer = String::from_utf8_lossy(body);
    let answer = answer.trim();
    match &item.event {
        None if answer == community.confirmation => Ok(()),
        None => Err("the answer is not the confirmation string".to_string()),
        Some(_) if answer == "ok" => Ok(()),
        Some(_) => Err("the answer is not `ok`".to_string()),
    }
}

/// A success confirms the server (the handshake) or dequeues the event; a failure counts the
/// attempt; giving up drops the event, or the whole queue when the handshake failed.
pub(super) fn delivery_done(account: &mut Account, key: u64, outcome: &Outcome<'_>) {
    let Some(community) = community_mut(account) else {
        return;
    };
    let callback = &mut community.callback;
    let Some(index) = callback.queue.iter().position(|i| i.key == key) else {
        return;
    };
    let handshake = callback.queue[index].event.is_none();
    if outcome.error.is_none() {
        callback.queue.remove(index);
        if handshake {
            callback.confirmed = true;
        }
        return;
    }
    callback.queue[index].attempts += 1;
    if outcome.give_up {
        if handshake {
            callback.queue.clear();
        } else {
            callback.queue.remove(index);
        }
    }
}

/// The `confirmation` handshake against the Callback server, now: the server is confirmed
/// when it answers with the confirmation string.
pub(super) async fn verify_webhook(shared: &Shared, account_id: &str) -> Result<WebhookCheck> {
    let (url, body, confirmation) = {
        let state = shared.lock();
        let community = community(state.account(account_id)?)
            .ok_or_else(|| Error::invalid_input("not a VK account"))?;
        let url = community
            .callback
            .url
            .clone()
            .ok_or_else(|| Error::invalid_input("no Callback server is set"))?;
        (
            url,
            confirmation_body(community.group_id, community.secret.as_deref()),
            community.confirmation.clone(),
        )
    };
    if !crate::webhook::deliverable(&url) {
        return Err(Error::invalid_input(
            "the sandbox calls loopback webhook URLs only",
        ));
    }
    let response = shared
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| Error::transport("the confirmation handshake failed").with_source(e))?;
    let status = response.status().as_u16();
    let answer = response.bytes().await.unwrap_or_default();
    let echoed = status == 200 && String::from_utf8_lossy(&answer).trim() == confirmation.as_str();
    if echoed {
        let mut state = shared.lock();
        let account = state.account_mut(account_id)?;
        if let Some(community) = community_mut(account)
            && community.callback.url.as_deref() == Some(url.as_str())
        {
            let callback = &mut community.callback;
            callback.confirmed = true;
            callback.queue.retain(|i| i.event.is_some());
        }
        account.wake();
    }
    tracing::debug!(account = %account_id, status, echoed, "sandbox vk: confirmation handshake");
    Ok(WebhookCheck {
        status,
        challenge_echoed: echoed,
    })
}
