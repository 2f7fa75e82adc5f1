//! The events of a community and the Bots Long Poll (vk.md §3.1).
//!
//! Every event (`message_new`, `message_reply`, `message_edit`, `message_read`,
//! `message_allow`, `message_deny`) gets the next position `ts` (1, 2, ...) and an `event_id`,
//! goes into a bounded history ([`HISTORY`] events) for Long Poll and, while a Callback server
//! is set, into its delivery queue.
//!
//! - `groups.getLongPollServer(group_id)` → `{key, server: "{vk}/lp/<community>", ts}`: a new
//!   key (the last [`KEYS`] stay valid) and the `ts` of the first event no long poll has
//!   confirmed (see the deviations in the [module docs](super)).
//! - `GET {server}?act=a_check&key&ts&wait` → `{"ts", "updates"}` with the events after `ts`
//!   (waiting up to `wait` seconds, at most 90, for one), confirming those up to `ts`.
//!   A revoked or unknown key: `{"failed": 2}`; a `ts` older than the history:
//!   `{"failed": 1, "ts"}` with the oldest position kept; a `ts` from the future:
//!   `{"failed": 1, "ts"}` with the newest.
//! - The fault [`Fault::PollFailed`] answers the next `a_check` with `{"failed": 1, "ts"}`
//!   (the caller's own `ts`: nothing is lost), `{"failed": 2}` or `{"failed": 3}` (the key is
//!   revoked; the history is kept, so a new session loses nothing).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, Request, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::envelope::{Params, VkError, fault_response, plain};
use super::{EVENT_VERSION, MAX_WAIT_SECS, community, community_mut, webhook};
use crate::api::Fault;
use crate::server::{self, ConnHandle, json_response};
use crate::state::{Account, Shared, random_alnum};

/// Events kept for Long Poll (older ones are lost: `failed: 1`).
pub(super) const HISTORY: usize = 10_000;
/// Long Poll keys that stay valid at once.
pub(super) const KEYS: usize = 8;

/// One event of a community.
#[derive(Clone)]
pub(super) struct Event {
    pub ts: u64,
    pub event_id: String,
    pub kind: &'static str,
    pub object: Value,
}

impl Event {
    /// The event as Long Poll and the Callback API carry it (the Callback adds `secret`).
    pub(super) fn json(&self, group_id: i64) -> Value {
        json!({
            "type": self.kind,
            "event_id": self.event_id,
            "v": EVENT_VERSION,
            "object": self.object,
            "group_id": group_id,
        })
    }
}

/// The Long Poll state of a community.
#[derive(Default)]
pub(super) struct LongPoll {
    history: VecDeque<Event>,
    /// The position of the newest event.
    last_ts: u64,
    /// Every event up to here was confirmed by an `a_check` asking for what follows.
    confirmed: u64,
    keys: VecDeque<String>,
}

impl LongPoll {
    /// Events no long poll has confirmed.
    pub(super) fn pending(&self) -> usize {
        usize::try_from(self.last_ts.saturating_sub(self.confirmed)).unwrap_or(usize::MAX)
    }

    fn revoke(&mut self, key: &str) {
        self.keys.retain(|k| k != key);
    }
}

/// A new event of the community: into the history, into the Callback queue; wakes the
/// pollers and the delivery worker. Returns its position.
pub(super) fn push_event(account: &mut Account, kind: &'static str, object: Value) -> Option<u64> {
    let community = community_mut(account)?;
    let poll = &mut community.poll;
    poll.last_ts += 1;
    let event = Event {
        ts: poll.last_ts,
        event_id: hex::encode(fastrand::u128(..).to_be_bytes())[..20].to_string(),
        kind,
        object,
    };
    poll.history.push_back(event.clone());
    while poll.history.len() > HISTORY {
        poll.history.pop_front();
    }
    let ts = event.ts;
    webhook::enqueue(&mut community.callback, event);
    account.wake();
    tracing::debug!(account = %account.id, kind, ts, "sandbox vk: event");
    Some(ts)
}

/// `groups.getLongPollServer(group_id)`.
pub(super) fn get_server(
    shared: &Shared,
    account_id: &str,
    params: &Params,
) -> Result<Value, VkError> {
    let group_id = params
        .int("group_id")?
        .ok_or_else(|| VkError::param("group_id is undefined"))?;
    let mut state = shared.lock();
    let account = state
        .account_mut(account_id)
        .map_err(|_| VkError::auth_invalid())?;
    let community = community_mut(account).ok_or_else(VkError::auth_invalid)?;
    if community.group_id != group_id.abs() {
        return Err(VkError::new(15, "Access denied: no access to this group"));
    }
    let key = random_alnum(40).to_ascii_lowercase();
    let poll = &mut community.poll;
    poll.keys.push_back(key.clone());
    while poll.keys.len() > KEYS {
        poll.keys.pop_front();
    }
    let ts = poll.confirmed;
    tracing::debug!(account = %account_id, "sandbox vk: long poll session");
    Ok(json!({
        "key": key,
        "server": format!("{}/lp/{account_id}", shared.urls.platform(messenger_core::Platform::Vk).unwrap_or_default()),
        "ts": ts.to_string(),
    }))
}

/// `GET {vk}/lp/<community>?act=a_check&key&ts&wait`.
pub(super) async fn a_check(
    AxState(shared): AxState<Arc<Shared>>,
    Path(account): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let known = shared
        .lock()
        .account(&account)
        .is_ok_and(|a| a.platform() == messenger_core::Platform::Vk);
    if !known {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    }
    let key = query.get("key").cloned().unwrap_or_default();
    let ts = query.get("ts").cloned().unwrap_or_default();
    let respond = |fault: &Fault| match *fault {
        Fault::PollFailed { failed: 1 } => json_response(
            StatusCode::OK,
            &json!({ "failed": 1, "ts": ts.parse::<u64>().unwrap_or_default() }),
        ),
        Fault::PollFailed { failed } => {
            if let Ok(account) = shared.lock().account_mut(&account)
                && let Some(community) = community_mut(account)
            {
                community.poll.revoke(&key);
            }
            json_response(StatusCode::OK, &json!({ "failed": failed }))
        }
        _ => fault_response(fault),
    };
    let work = poll(&shared, &account, &query);
    server::with_faults(&shared, &account, "a_check", conn, respond, work).await
}

/// One `a_check`: validates the key and `ts`, confirms, and waits for events.
async fn poll(shared: &Arc<Shared>, account_id: &str, query: &HashMap<String, String>) -> Response {
    if query.get("act").map(String::as_str) != Some("a_check") {
        return plain(StatusCode::BAD_REQUEST, "act must be a_check");
    }
    let key = query.get("key").cloned().unwrap_or_default();
    let Some(ts) = query.get("ts").and_then(|t| t.trim().parse::<u64>().ok()) else {
        return json_response(StatusCode::OK, &json!({ "failed": 1, "ts": 0 }));
    };
    let wait = query
        .get("wait")
        .and_then(|w| w.trim().parse::<u64>().ok())
        .unwrap_or(25)
        .min(MAX_WAIT_SECS);
    let wait = Duration::from_secs(wait).min(shared.config.max_long_poll);
    let deadline = tokio::time::Instant::now() + wait;
    let mut wake = {
        let mut state = shared.lock();
        let Ok(account) = state.account_mut(account_id) else {
            return plain(StatusCode::NOT_FOUND, "Not Found");
        };
        let wake = account.wake.subscribe();
        let Some(community) = community_mut(account) else {
            return plain(StatusCode::NOT_FOUND, "Not Found");
        };
        let poll = &mut community.poll;
        if !poll.keys.iter().any(|k| *k == key) {
            return json_response(StatusCode::OK, &json!({ "failed": 2 }));
        }
        if ts > poll.last_ts {
            return json_response(StatusCode::OK, &json!({ "failed": 1, "ts": poll.last_ts }));
        }
        let oldest = poll.history.front().map_or(poll.last_ts, |e| e.ts - 1);
        if ts < oldest {
            return json_response(StatusCode::OK, &json!({ "failed": 1, "ts": oldest }));
        }
        poll.confirmed = poll.confirmed.max(ts);
        wake
    };
    wake.mark_unchanged();
    loop {
        {
            let state = shared.lock();
            let Some(community) = state.account(account_id).ok().and_then(community) else {
                return plain(StatusCode::NOT_FOUND, "Not Found");
            };
            if !community.poll.keys.iter().any(|k| *k == key) {
                return json_response(StatusCode::OK, &json!({ "failed": 2 }));
            }
            let updates: Vec<Value> = community
                .poll
                .history
                .iter()
                .filter(|e| e.ts > ts)
                .map(|e| e.json(community.group_id))
                .collect();
            if !updates.is_empty() || tokio::time::Instant::now() >= deadline {
                let next = community.poll.last_ts.max(ts);
                return json_response(
                    StatusCode::OK,
                    &json!({ "ts": next.to_string(), "updates": updates }),
                );
            }
        }
        tokio::select! {
            changed = wake.changed() => {
                if changed.is_err() {
                    return json_response(StatusCode::OK, &json!({ "ts": ts.to_string(), "updates": [] }));
                }
            }
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}
