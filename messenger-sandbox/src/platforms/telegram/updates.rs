//! The update queue of a bot (customer messages and blocks become updates, filtered by
//! `allowed_updates`, kept 24 hours) and `getUpdates` long polling with offset confirmation,
//! negative offsets, `limit`, `timeout` and the 409 conflicts.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::envelope::{TgError, ok, unauthorized};
use super::params::Params;
use super::{OPT_IN_UPDATES, UPDATE_RETENTION_MS, Update, bot, bot_mut};
use crate::state::{Account, Shared};

/// Queues an update for getUpdates or the webhook, unless `allowed_updates` filters it out.
pub(super) fn push_update(
    account: &mut Account,
    kind: &str,
    payload: Value,
    now_ms: i64,
) -> Option<i64> {
    let bot = bot_mut(account)?;
    let allowed = match &bot.allowed_updates {
        Some(list) if !list.is_empty() => list.iter().any(|k| k == kind),
        _ => !OPT_IN_UPDATES.contains(&kind),
    };
    if !allowed {
        return None;
    }
    let id = bot.next_update_id;
    bot.next_update_id += 1;
    let mut body = json!({ "update_id": id });
    body[kind] = payload;
    bot.updates.push_back(Update {
        id,
        body,
        created_ms: now_ms,
    });
    account.wake();
    Some(id)
}

/// `getUpdates`.
pub(super) async fn get_updates(
    shared: &Arc<Shared>,
    account_id: &str,
    params: &Params,
) -> Result<Value, TgError> {
    let offset = params.int("offset")?.unwrap_or(0);
    let limit = params.int("limit")?.unwrap_or(100).clamp(1, 100);
    let timeout = params.int("timeout")?.unwrap_or(0).max(0);
    let timeout =
        Duration::from_secs(u64::try_from(timeout).unwrap_or(0)).min(shared.config.max_long_poll);
    let allowed = params.json("allowed_updates").and_then(|v| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
    });
    let (generation, mut wake) = {
        let mut state = shared.lock();
        let now = shared.now_ms();
        let account = state.account_mut(account_id).map_err(|_| unauthorized())?;
        let wake = account.wake.subscribe();
        let bot = bot_mut(account).ok_or_else(unauthorized)?;
        if bot.webhook.is_some() {
            return Err(TgError::new(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            ));
        }
        if let Some(allowed) = allowed {
            bot.allowed_updates = Some(allowed);
        }
        // Confirm: everything below a positive offset is forgotten; a negative offset keeps
        // only the last -offset updates.
        if offset > 0 {
            bot.updates.retain(|u| u.id >= offset);
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            while bot.updates.len() > keep {
                bot.updates.pop_front();
            }
        }
        bot.updates
            .retain(|u| now - u.created_ms < UPDATE_RETENTION_MS);
        bot.poll_generation += 1;
        let generation = bot.poll_generation;
        account.wake();
        (generation, wake)
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
                .ok_or_else(unauthorized)?;
            if bot.poll_generation != generation {
                return Err(TgError::new(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                ));
            }
            if bot.webhook.is_some() {
                return Err(TgError::new(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                ));
            }
            let batch: Vec<Value> = bot
                .updates
                .iter()
                .filter(|u| offset <= 0 || u.id >= offset)
                .take(usize::try_from(limit).unwrap_or(100))
                .map(|u| u.body.clone())
                .collect();
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(ok(Value::Array(batch)));
            }
        }
        tokio::select! {
            changed = wake.changed() => {
                if changed.is_err() {
                    return Ok(ok(json!([])));
                }
            }
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}
