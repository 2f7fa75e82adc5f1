//! The update queue of a bot (customer messages, stops and restarts) and `GET /updates` long
//! polling with markers (max.md §5.1).
//!
//! Every queued update has a marker, one more than the one before. A call with `marker=M`
//! confirms (forgets) every update before `M` and answers the updates from `M` on, with the
//! marker that confirms them; a call without a marker (or with `0`) answers every update not
//! confirmed yet. An empty answer keeps the marker given (or names the next update's marker
//! when none was given). With no update to answer, the call is held for `timeout` seconds
//! (0–90, default 30; at most [`SandboxConfig::max_long_poll`](crate::SandboxConfig)) until one
//! comes. While a webhook subscription exists the call is refused with 405.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::envelope::{MaxError, int_param};
use super::{bot, bot_mut};
use crate::state::{Account, Shared};

/// A queued update.
pub(super) struct Update {
    pub marker: i64,
    pub kind: &'static str,
    pub body: Value,
}

/// Queues an update (for long polling or the webhook); returns its marker. While a
/// subscription with `update_types` exists, an update of another type is not queued: MAX does
/// not deliver it.
pub(super) fn push_update(account: &mut Account, kind: &'static str, body: Value) -> Option<i64> {
    let bot = bot_mut(account)?;
    if let Some(types) = bot
        .subscription
        .as_ref()
        .and_then(|s| s.update_types.as_ref())
        && !types.iter().any(|t| t == kind)
    {
        return None;
    }
    let marker = bot.next_marker;
    bot.next_marker += 1;
    bot.updates.push_back(Update { marker, kind, body });
    account.wake();
    Some(marker)
}

fn polling_refused() -> MaxError {
    MaxError::new(
        405,
        "method.not.allowed",
        "Long polling is not available while a webhook subscription exists",
    )
}

/// `GET /updates?limit=&timeout=&marker=&types=`.
pub(super) async fn get_updates(
    shared: &Arc<Shared>,
    account_id: &str,
    query: &HashMap<String, String>,
) -> Result<Value, MaxError> {
    let limit = int_param(query, "limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(MaxError::payload("Invalid limit: expected 1-1000"));
    }
    let timeout = int_param(query, "timeout")?.unwrap_or(30);
    if !(0..=90).contains(&timeout) {
        return Err(MaxError::payload("Invalid timeout: expected 0-90"));
    }
    let timeout =
        Duration::from_secs(u64::try_from(timeout).unwrap_or(0)).min(shared.config.max_long_poll);
    let marker = int_param(query, "marker")?.filter(|m| *m != 0);
    let types: Option<HashSet<String>> = query
        .get("types")
        .map(|t| {
            t.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<HashSet<_>>()
        })
        .filter(|t| !t.is_empty());
    let limit = usize::try_from(limit).unwrap_or(100);

    let mut wake = {
        let mut state = shared.lock();
        let account = state
            .account_mut(account_id)
            .map_err(|_| MaxError::verify_token())?;
        let wake = account.wake.subscribe();
        let bot = bot_mut(account).ok_or_else(MaxError::verify_token)?;
        if bot.subscription.is_some() {
            return Err(polling_refused());
        }
        // The marker confirms every update before it.
        if let Some(marker) = marker {
            while bot.updates.front().is_some_and(|u| u.marker < marker) {
                bot.updates.pop_front();
            }
        }
        wake
    };
    wake.mark_unchanged();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        {
            let state = shared.lock();
            let bot = state
                .account(account_id)
                .ok()
                .and_then(bot)
                .ok_or_else(MaxError::verify_token)?;
            if bot.subscription.is_some() {
                return Err(polling_refused());
            }
            let from = marker.unwrap_or(i64::MIN);
            let mut batch = Vec::new();
            let mut full = false;
            let mut last = None;
            for update in bot.updates.iter().filter(|u| u.marker >= from) {
                if batch.len() == limit {
                    full = true;
                    break;
                }
                if types.as_ref().is_none_or(|t| t.contains(update.kind)) {
                    batch.push(update.body.clone());
                    last = Some(update.marker);
                }
            }
            let now_past = tokio::time::Instant::now() >= deadline;
            if !batch.is_empty() || now_past {
                let next = match (full, last) {
                    (true, Some(last)) => last + 1,
                    _ if batch.is_empty() => marker.unwrap_or(bot.next_marker),
                    _ => bot.next_marker,
                };
                tracing::debug!(
                    account = %account_id,
                    updates = batch.len(),
                    "sandbox max: updates answered"
                );
                return Ok(json!({ "updates": batch, "marker": next }));
            }
        }
        tokio::select! {
            changed = wake.changed() => {
                if changed.is_err() {
                    return Ok(json!({ "updates": [], "marker": marker }));
                }
            }
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}
