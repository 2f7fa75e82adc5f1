//! `getUpdates` long polling as a [`Stream`](futures::Stream) of events.
//!
//! # Offsets and delivery semantics
//!
//! The stream asks for `offset = highest update_id seen + 1` after every batch, and only when
//! the consumer has pulled every event of the previous batch (the stream is lazy: the next
//! `getUpdates` call, which confirms the batch to Telegram, is made inside the consumer's
//! `next()`). A failed call is retried with the same offset, so:
//!
//! - **within one stream, every update is yielded exactly once**, across any number of network
//!   errors, 5xx answers and rate limits;
//! - **across streams or processes, delivery is at least once**: updates of a batch the
//!   consumer had not finished (or had finished but the process stopped before the next call)
//!   are not confirmed, so Telegram delivers them again to the next poller (at most one batch,
//!   `limit` updates). De-duplicate with
//!   [`InboundEvent::dedup_key`](messenger_core::InboundEvent::dedup_key) where that matters.
//!
//! # Failures
//!
//! Network errors, 5xx answers and undecodable bodies are retried with
//! [`Backoff`](messenger_core::backoff::Backoff); a 429 waits exactly `retry_after`. The
//! stream reports the account's health on every change: `unavailable` or `rate_limited` when
//! polling starts failing, `connected` when it works again. Fatal errors (401/404 bad token,
//! 409 another poller or a webhook is set, other refusals) are yielded once as `Err`, and the
//! stream ends.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::Utc;
use messenger_core::{
    AccountEvent, AccountHealth, Error, ErrorKind, EventStream, InboundEvent, OtherEvent, Platform,
    Result,
};
use serde::Deserialize;
use serde_json::Value;
use tracing::{debug, info, warn};

use crate::TelegramBot;
use crate::convert::update_to_events;
use crate::wire::Update;

/// The events of one `getUpdates` answer, and the offset that confirms it.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) events: Vec<InboundEvent>,
    pub(crate) next_offset: Option<i64>,
}

/// Converts the `result` array of a getUpdates answer. An update that cannot be decoded does
/// not stop the stream: it becomes an `other` event of kind `malformed_update` (and a warning),
/// and its id still advances the offset.
pub(crate) fn batch(raw: Vec<Value>, offset: Option<i64>) -> Result<Batch> {
    let mut events = Vec::with_capacity(raw.len());
    let mut highest: Option<i64> = None;
    let count = raw.len();
    for value in raw {
        let id = value.get("update_id").and_then(Value::as_i64);
        if let Some(id) = id {
            highest = Some(highest.map_or(id, |h| h.max(id)));
        }
        match Update::deserialize(value)
            .map_err(Error::from)
            .and_then(update_to_events)
        {
            Ok(evs) => events.extend(evs),
            Err(err) => {
                warn!(update_id = ?id, kind = %err.kind(), error = %err, "skipping an undecodable update");
                events.push(InboundEvent::Other(OtherEvent {
                    platform: Platform::Telegram,
                    kind: "malformed_update".to_owned(),
                }));
            }
        }
    }
    if count > 0 && highest.is_none() {
        return Err(
            Error::decode("getUpdates returned updates without update_id")
                .with_platform(Platform::Telegram)
                .with_retryable(false),
        );
    }
    Ok(Batch {
        events,
        // `saturating_add`: an id of i64::MAX (a broken server) must not overflow.
        next_offset: highest.map(|h| h.saturating_add(1)).or(offset),
    })
}

struct PollState {
    bot: TelegramBot,
    offset: Option<i64>,
    pending: VecDeque<InboundEvent>,
    health: AccountHealth,
    failures: u32,
    wait: Option<Duration>,
    done: bool,
}

fn account(health: AccountHealth) -> InboundEvent {
    InboundEvent::Account(AccountEvent {
        platform: Platform::Telegram,
        health,
        timestamp: Utc::now(),
    })
}

fn transient(err: &Error) -> bool {
    matches!(err.kind(), ErrorKind::Transport | ErrorKind::RateLimited)
        || (err.kind() == ErrorKind::Decode && err.is_retryable())
}

/// The long-poll stream, starting at `offset` (`None`: every update Telegram still holds).
pub(crate) fn stream(bot: TelegramBot, offset: Option<i64>) -> EventStream {
    let state = PollState {
        bot,
        offset,
        pending: VecDeque::new(),
        health: AccountHealth::Connected,
        failures: 0,
        wait: None,
        done: false,
    };
    Box::pin(futures::stream::unfold(state, next))
}

async fn next(mut s: PollState) -> Option<(Result<InboundEvent>, PollState)> {
    loop {
        if let Some(event) = s.pending.pop_front() {
            return Some((Ok(event), s));
        }
        if s.done {
            return None;
        }
        if let Some(delay) = s.wait.take() {
            tokio::time::sleep(delay).await;
        }
        let result = s
            .bot
            .get_updates_raw(s.offset)
            .await
            .and_then(|raw| batch(raw, s.offset));
        match result {
            Ok(b) => {
                s.failures = 0;
                if s.health != AccountHealth::Connected {
                    info!("telegram polling recovered");
                    s.health = AccountHealth::Connected;
                    s.pending.push_back(account(AccountHealth::Connected));
                }
                debug!(
                    events = b.events.len(),
                    next_offset = ?b.next_offset,
                    "telegram getUpdates batch"
                );
                s.offset = b.next_offset;
                s.pending.extend(b.events);
            }
            Err(err) if transient(&err) => {
                let health = if err.kind() == ErrorKind::RateLimited {
                    AccountHealth::RateLimited
                } else {
                    AccountHealth::Unavailable
                };
                let delay = s
                    .bot
                    .config()
                    .backoff
                    .delay_for(s.failures, err.retry_after());
                s.failures = s.failures.saturating_add(1);
                warn!(
                    kind = %err.kind(),
                    error = %err,
                    failures = s.failures,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "telegram getUpdates failed; retrying"
                );
                if health != s.health {
                    s.health = health;
                    s.pending.push_back(account(health));
                }
                s.wait = Some(delay);
            }
            Err(err) => {
                warn!(kind = %err.kind(), error = %err, "telegram polling stopped");
                s.done = true;
                return Some((Err(err), s));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_highest_plus_one_even_out_of_order() {
        let raw = vec![
            serde_json::json!({"update_id": 12, "poll": {}}),
            serde_json::json!({"update_id": 10, "poll": {}}),
        ];
        let b = batch(raw, Some(10)).unwrap();
        assert_eq!(b.next_offset, Some(13));
        assert_eq!(b.events.len(), 2);
    }

    #[test]
    fn empty_batch_keeps_offset() {
        assert_eq!(batch(vec![], Some(7)).unwrap().next_offset, Some(7));
        assert_eq!(batch(vec![], None).unwrap().next_offset, None);
    }

    #[test]
    fn malformed_update_is_reported_not_fatal() {
        let raw = vec![
            serde_json::json!({"update_id": 3, "message": {"message_id": "x"}}),
            serde_json::json!({"update_id": 4, "poll": {}}),
        ];
        let b = batch(raw, None).unwrap();
        assert_eq!(b.next_offset, Some(5));
        assert_eq!(
            b.events[0],
            InboundEvent::Other(OtherEvent {
                platform: Platform::Telegram,
                kind: "malformed_update".into()
            })
        );
    }

    #[test]
    fn the_largest_update_id_does_not_overflow() {
        let raw = vec![serde_json::json!({"update_id": i64::MAX, "poll": {}})];
        assert_eq!(batch(raw, None).unwrap().next_offset, Some(i64::MAX));
    }

    #[test]
    fn updates_without_ids_are_fatal() {
        assert!(batch(vec![serde_json::json!({"poll": {}})], Some(1)).is_err());
    }
}
