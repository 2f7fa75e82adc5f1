//! `GET /updates` long polling: a thin [`PollSource`] on the core's driver
//! ([`messenger_core::poll::drive`]).
//!
//! # The marker
//!
//! MAX's cursor is the `marker` of the last answer: passing it confirms ("commits") every
//! update before it (`shared/platforms/max.md` §5.1). Calling without one is documented two
//! ways (all updates since the last commit, or only the last one), so the connector passes a
//! marker on every call it has one for:
//!
//! - the first call uses the configured initial marker
//!   ([`MaxConfig::initial_marker`](crate::MaxConfig::initial_marker)), else the one the
//!   [`MarkerStore`] holds ([`MaxConfig::marker_store`](crate::MaxConfig::marker_store)),
//!   else none;
//! - every later call uses the marker of the last answer that had one. **An answer without a
//!   marker, with `null` or with `0` keeps the previous one**: the official Go client took
//!   such an answer's marker and received the same updates again;
//! - once the consumer has taken every event of a batch, the new marker is handed to the
//!   store ([`MarkerStore::save`]) before the next call confirms it to MAX. A process that
//!   starts again from the saved marker receives at most the batch it had not finished.
//!
//! So within one stream every update is yielded exactly once, across network errors, 5xx
//! answers and rate limits (a failed call is retried with the same marker); across restarts,
//! at least once (de-duplicate with
//! [`Deduplicated`](messenger_core::layers::Deduplicated) where that matters).
//!
//! Each update of an answer is decoded on its own by [`parse_update`](crate::parse_update),
//! the decoder of every path; one that cannot be read becomes an `other` event and does not
//! stop the stream.
//!
//! # Pace and failures
//!
//! Calls start at most once per [`MaxConfig::poll_interval`](crate::MaxConfig::poll_interval)
//! (default 500 ms: within the documented 30 requests per second and the 300 ms "minimum
//! polling time", and within the 2 requests per second MAX announced for long polling from
//! 2026-05-11, reported by bot owners). Network errors, 5xx answers, 429 and unreadable
//! answers are retried with the configured backoff, never waiting longer than
//! [`MaxConfig::poll_max_wait`](crate::MaxConfig::poll_max_wait); the stream reports the
//! account's health on every change. A refused token (`Unauthorized`) and a webhook
//! subscription in the way (HTTP 405: `Conflict`, "remove it or receive by webhook") end the
//! stream with the error.

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use messenger_core::poll::{PollBatch, PollOptions, PollSource, drive};
use messenger_core::{ErrorKind, EventStream, Platform, Result};

use crate::Max;
use crate::webhook::parse_answer;

/// Where long polling keeps its marker between processes.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use connector_max::poll::{MarkerStore, MemoryMarkerStore};
/// let store = MemoryMarkerStore::new(Some(25493970));
/// assert_eq!(store.load().await.unwrap(), Some(25493970));
/// store.save(25493971).await.unwrap();
/// assert_eq!(store.get(), Some(25493971));
/// # });
/// ```
#[async_trait]
pub trait MarkerStore: Send + Sync + 'static {
    /// The marker to start from, if one was saved.
    async fn load(&self) -> Result<Option<i64>>;
    /// Saves the marker that confirms everything the consumer took. An error ends the stream.
    async fn save(&self, marker: i64) -> Result<()>;
}

/// A [`MarkerStore`] in memory; clones share the marker, so a caller can observe it.
#[derive(Debug, Clone, Default)]
pub struct MemoryMarkerStore {
    marker: Arc<Mutex<Option<i64>>>,
}

impl MemoryMarkerStore {
    /// A store holding `marker`.
    pub fn new(marker: Option<i64>) -> Self {
        Self {
            marker: Arc::new(Mutex::new(marker)),
        }
    }

    /// The marker saved last.
    pub fn get(&self) -> Option<i64> {
        *self.marker.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl MarkerStore for MemoryMarkerStore {
    async fn load(&self) -> Result<Option<i64>> {
        Ok(self.get())
    }

    async fn save(&self, marker: i64) -> Result<()> {
        *self.marker.lock().unwrap_or_else(|p| p.into_inner()) = Some(marker);
        Ok(())
    }
}

/// One bot's `GET /updates` calls, for the core's long-poll driver.
pub struct MaxSource {
    max: Max,
    store: Option<Arc<dyn MarkerStore>>,
    /// The marker of the first call when the driver has none yet (loaded from the store once).
    start: Option<i64>,
    loaded: bool,
}

impl fmt::Debug for MaxSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxSource")
            .field("store", &self.store.is_some())
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

impl MaxSource {
    /// The source of `max`'s updates, persisting the marker in `store` where given.
    pub fn new(max: Max, store: Option<Arc<dyn MarkerStore>>) -> Self {
        Self {
            max,
            store,
            start: None,
            loaded: false,
        }
    }
}

#[async_trait]
impl PollSource for MaxSource {
    /// The `marker` of the next `GET /updates`.
    type Cursor = i64;

    async fn fetch(&mut self, cursor: Option<&i64>) -> Result<PollBatch<i64>> {
        if cursor.is_none() && !self.loaded {
            if let Some(store) = &self.store {
                self.start = store.load().await?.filter(|m| *m != 0);
            }
            self.loaded = true;
        }
        let marker = cursor.copied().or(self.start);
        let body = self.max.get_updates(marker).await?;
        batch(&body).map_err(|e| {
            // A garbled answer (a proxy's page) is worth another try; the marker is unchanged.
            if e.kind() == ErrorKind::Decode {
                e.with_retryable(true)
            } else {
                e
            }
        })
    }

    async fn commit(&mut self, cursor: &i64) -> Result<()> {
        match &self.store {
            Some(store) => store.save(*cursor).await,
            None => Ok(()),
        }
    }
}

/// The events of a `GET /updates` answer and the marker that confirms them: `None` (keep the
/// previous one) where the answer has no marker, `null` or `0`.
pub(crate) fn batch(body: &[u8]) -> Result<PollBatch<i64>> {
    let (events, marker) = parse_answer(body)?;
    Ok(PollBatch {
        events,
        next: marker.filter(|m| *m != 0),
    })
}

/// The long-poll stream of `max` from `marker`.
pub(crate) fn stream(max: Max, marker: Option<i64>) -> EventStream {
    let config = max.config();
    let options = PollOptions::new(Platform::Max)
        .backoff(config.backoff)
        .max_wait(config.poll_max_wait)
        .min_interval(Some(config.poll_interval));
    let store = config.marker_store.clone();
    drive(MaxSource::new(max, store), marker, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_null_or_zero_marker_keeps_the_previous_one() {
        assert_eq!(
            batch(br#"{"updates":[],"marker":7}"#).unwrap().next,
            Some(7)
        );
        assert_eq!(batch(br#"{"updates":[],"marker":0}"#).unwrap().next, None);
        assert_eq!(
            batch(br#"{"updates":[],"marker":null}"#).unwrap().next,
            None
        );
        assert_eq!(batch(br#"{"updates":[]}"#).unwrap().next, None);
    }

    #[test]
    fn an_unreadable_answer_is_a_decode_error() {
        let err = batch(b"<html>502</html>").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
    }
}
