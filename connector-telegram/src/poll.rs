//! `getUpdates` long polling: a thin [`PollSource`] on the core's driver
//! ([`messenger_core::poll::drive`]).
//!
//! # Offsets and delivery semantics
//!
//! The cursor is Telegram's `offset`: after a batch it is the highest `update_id` seen + 1
//! (never lower than the offset the batch was asked with, so it cannot move back), and an
//! empty batch keeps it. Calling `getUpdates` with it confirms every update below it to
//! Telegram, and the driver makes that call only once the consumer has pulled every event of
//! the previous batch. A failed call is retried with the same offset, so:
//!
//! - **within one stream, every update is yielded exactly once**, across any number of network
//!   errors, 5xx answers and rate limits;
//! - **across streams or processes, delivery is at least once**: updates of a batch the
//!   consumer had not finished (or had finished but the process stopped before the next call)
//!   are not confirmed, so Telegram delivers them again to the next poller (at most one batch,
//!   `limit` updates). De-duplicate with
//!   [`InboundEvent::dedup_key`](messenger_core::InboundEvent::dedup_key) where that matters.
//!
//! Each update of a batch is decoded on its own by [`parse_update`](crate::parse_update), the
//! decoder of every path. One that cannot be read does not stop the stream: it becomes an
//! `other` event of kind `malformed_update` (and a warning), and its id still advances the
//! offset.
//!
//! # Failures
//!
//! Network errors, 5xx answers and undecodable answers are retried with the configured
//! [`Backoff`](messenger_core::backoff::Backoff); a 429 waits its `retry_after`, never longer
//! than [`TelegramConfig::poll_max_wait`](crate::TelegramConfig::poll_max_wait). The stream
//! reports the account's health on every change: `unavailable` or `rate_limited` when polling
//! starts failing, `connected` when it works again. Fatal errors (401/404 bad token, 409
//! another poller or a webhook is set, other refusals) are yielded once as `Err`, and the
//! stream ends.

use async_trait::async_trait;
use messenger_core::poll::{PollBatch, PollOptions, PollSource, drive};
use messenger_core::{Error, ErrorKind, EventStream, Platform, Result};
use serde_json::value::RawValue;
use tracing::warn;

use crate::TelegramBot;
use crate::webhook::{malformed, read_update, update_id_of};

/// One bot's `getUpdates` calls, for the core's long-poll driver.
#[derive(Debug, Clone)]
pub struct TelegramSource {
    bot: TelegramBot,
}

impl TelegramSource {
    /// The source of `bot`'s updates.
    pub fn new(bot: TelegramBot) -> Self {
        Self { bot }
    }
}

#[async_trait]
impl PollSource for TelegramSource {
    /// The `offset` of the next `getUpdates` call.
    type Cursor = i64;

    async fn fetch(&mut self, cursor: Option<&i64>) -> Result<PollBatch<i64>> {
        let offset = cursor.copied();
        let raw = self.bot.get_updates(offset).await.map_err(|e| {
            // A garbled answer (a proxy page) is worth another try; the offset is unchanged.
            if e.kind() == ErrorKind::Decode {
                e.with_retryable(true)
            } else {
                e
            }
        })?;
        batch(raw, offset)
    }
}

/// Converts the `result` array of a `getUpdates` answer into events and the offset that
/// confirms them.
pub(crate) fn batch(raw: Vec<Box<RawValue>>, offset: Option<i64>) -> Result<PollBatch<i64>> {
    let mut events = Vec::with_capacity(raw.len());
    let mut highest: Option<i64> = None;
    let count = raw.len();
    for update in raw {
        let body = update.get().as_bytes();
        let id = match read_update(body) {
            Ok((id, evs)) => {
                events.extend(evs);
                Some(id)
            }
            Err(err) => {
                let id = update_id_of(body);
                warn!(update_id = ?id, kind = %err.kind(), error = %err, "skipping an undecodable update");
                events.push(malformed());
                id
            }
        };
        if let Some(id) = id {
            highest = Some(highest.map_or(id, |h| h.max(id)));
        }
    }
    if count > 0 && highest.is_none() {
        return Err(
            Error::decode("getUpdates returned updates without update_id")
                .with_platform(Platform::Telegram)
                .with_retryable(false),
        );
    }
    // `saturating_add`: an id of i64::MAX (a broken server) must not overflow; `max`: a server
    // that answers older updates must not move the offset back (they would come again).
    let next = highest
        .map(|h| h.saturating_add(1))
        .map(|next| offset.map_or(next, |o| next.max(o)));
    Ok(PollBatch { events, next })
}

/// The long-poll stream of `bot`, starting at `offset` (`None`: every update Telegram still
/// holds).
pub(crate) fn stream(bot: TelegramBot, offset: Option<i64>) -> EventStream {
    let config = bot.config();
    let options = PollOptions::new(Platform::Telegram)
        .backoff(config.backoff)
        .max_wait(config.poll_max_wait);
    drive(TelegramSource::new(bot), offset, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_core::{InboundEvent, OtherEvent};
    use serde_json::value::to_raw_value;

    fn raw(values: &[serde_json::Value]) -> Vec<Box<RawValue>> {
        values.iter().map(|v| to_raw_value(v).unwrap()).collect()
    }

    #[test]
    fn offset_is_highest_plus_one_even_out_of_order() {
        let b = batch(
            raw(&[
                serde_json::json!({"update_id": 12, "poll": {}}),
                serde_json::json!({"update_id": 10, "poll": {}}),
            ]),
            Some(10),
        )
        .unwrap();
        assert_eq!(b.next, Some(13));
        assert_eq!(b.events.len(), 2);
    }

    #[test]
    fn the_offset_never_moves_back() {
        let b = batch(
            raw(&[serde_json::json!({"update_id": 3, "poll": {}})]),
            Some(10),
        )
        .unwrap();
        assert_eq!(b.next, Some(10));
    }

    #[test]
    fn empty_batch_keeps_offset() {
        assert_eq!(batch(vec![], Some(7)).unwrap().next, None);
        assert_eq!(batch(vec![], None).unwrap().next, None);
    }

    #[test]
    fn malformed_update_is_reported_not_fatal() {
        let b = batch(
            raw(&[
                serde_json::json!({"update_id": 3, "message": {"message_id": "x"}}),
                serde_json::json!({"update_id": 4, "poll": {}}),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(b.next, Some(5));
        assert_eq!(
            b.events[0],
            InboundEvent::Other(OtherEvent::new(Platform::Telegram, "malformed_update"))
        );
    }

    #[test]
    fn the_largest_update_id_does_not_overflow() {
        let b = batch(
            raw(&[serde_json::json!({"update_id": i64::MAX, "poll": {}})]),
            None,
        );
        assert_eq!(b.unwrap().next, Some(i64::MAX));
    }

    #[test]
    fn updates_without_ids_are_fatal() {
        let err = batch(raw(&[serde_json::json!({"poll": {}})]), Some(1)).unwrap_err();
        assert!(!err.is_retryable());
    }
}
