//! The Bots Long Poll as a stream, on the core's driver ([`messenger_core::poll`]).
//!
//! `groups.getLongPollServer(group_id)` gives a server, a key and a `ts`; each call is
//! `GET {server}?act=a_check&key={key}&ts={ts}&wait={wait}` (no token: the key is the
//! credential), with an HTTP timeout of `wait` + 10 s. The cursor of the driver is `ts`
//! ([D bots-long-poll], [G longpoll-bot/longpoll.go]):
//!
//! - `{"ts", "updates"}`: the events, and the `ts` that confirms them;
//! - `{"failed": 1, "ts"}`: history lost in part: continue from the new `ts`;
//! - `{"failed": 2}`: the key expired: a new key from `getLongPollServer`, the same `ts`;
//! - `{"failed": 3}`: key and `ts` lost: a new key and the server's `ts`;
//! - any other `failed`: a new session, retried with backoff.
//!
//! After a reconnect VK can send events again that this stream already yielded; the source
//! remembers the last [`SEEN_EVENTS`] `event_id`s and drops repeats. Errors of
//! `getLongPollServer` are the API's: 29 (a per-method limit) and 6 are retryable
//! `RateLimited` and back off in the driver; 5 and other refusals end the stream. Five
//! `failed` answers in a row also back off, so a server that keeps failing is not hammered.
//!
//! The driver confirms a `ts` only once the consumer took every event before it; see
//! [`messenger_core::poll`] for the delivery guarantees.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use messenger_core::poll::{PollBatch, PollOptions, PollSource, drive};
use messenger_core::redact::Secret;
use messenger_core::{Error, ErrorKind, EventStream, InboundEvent, Platform, Result};
use messenger_http::status_error;
use serde_json::value::RawValue;
use url::Url;

use crate::Vk;
use crate::convert::{event_to_events, update_to_events};
use crate::wire::inbound::{Event, LongPollAnswer, Peek, Str};
use crate::wire::{LongPollServer, LongPollServerParams};

const VK: Platform = Platform::Vk;

/// How many `event_id`s the stream remembers to drop repeats after a reconnect.
pub const SEEN_EVENTS: usize = 4096;

/// The margin of the HTTP timeout over `wait`.
const TIMEOUT_MARGIN: Duration = Duration::from_secs(10);

/// How many `failed` answers in a row are taken without backing off.
const FAILED_IN_A_ROW: u32 = 5;

/// The stream of [`Vk::updates_from`].
pub(crate) fn stream(vk: Vk, ts: Option<String>) -> EventStream {
    drive(LongPoll::new(vk), ts, PollOptions::new(VK))
}

struct Session {
    server: Url,
    key: Secret<String>,
}

/// A bounded set of the latest `event_id`s.
#[derive(Default)]
struct Seen {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl Seen {
    /// `false` if `id` was seen already.
    fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() >= SEEN_EVENTS
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.order.push_back(id.to_owned());
        self.set.insert(id.to_owned());
        true
    }
}

/// The VK Bots Long Poll as a [`PollSource`] (cursor: `ts`).
pub struct LongPoll {
    vk: Vk,
    session: Option<Session>,
    /// A `ts` from `getLongPollServer` to use instead of the cursor (first call, `failed: 3`).
    fresh_ts: Option<String>,
    /// Take the server's `ts` at the next `getLongPollServer`.
    want_fresh_ts: bool,
    failed_in_a_row: u32,
    seen: Seen,
}

impl fmt::Debug for LongPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongPoll")
            .field("connected", &self.session.is_some())
            .field("seen", &self.seen.order.len())
            .finish_non_exhaustive()
    }
}

impl LongPoll {
    /// A source for `vk`.
    pub fn new(vk: Vk) -> Self {
        Self {
            vk,
            session: None,
            fresh_ts: None,
            want_fresh_ts: false,
            failed_in_a_row: 0,
            seen: Seen::default(),
        }
    }

    async fn connect(&mut self, have_cursor: bool) -> Result<()> {
        let server: LongPollServer = self
            .vk
            .call(
                "groups.getLongPollServer",
                &LongPollServerParams {
                    group_id: self.vk.group_id(),
                },
                false,
            )
            .await?;
        let raw = if server.server.contains("://") {
            server.server.clone()
        } else {
            format!("https://{}", server.server)
        };
        let url = Url::parse(&raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                Error::decode("getLongPollServer gave a server that is not a URL")
                    .with_platform(VK)
                    .with_retryable(true)
            })?;
        if !have_cursor || self.want_fresh_ts {
            self.fresh_ts = Some(server.ts.clone());
            self.want_fresh_ts = false;
        }
        tracing::debug!(fresh_ts = self.fresh_ts.is_some(), "vk long poll session");
        self.session = Some(Session {
            server: url,
            key: Secret::new(server.key),
        });
        Ok(())
    }

    /// An empty batch after a `failed` answer, or a retryable error after too many in a row.
    fn after_failed(&mut self, next: Option<String>) -> Result<PollBatch<String>> {
        self.failed_in_a_row = self.failed_in_a_row.saturating_add(1);
        if self.failed_in_a_row > FAILED_IN_A_ROW {
            self.failed_in_a_row = 0;
            return Err(
                Error::transport("the VK long poll keeps answering `failed`").with_platform(VK),
            );
        }
        Ok(PollBatch {
            events: Vec::new(),
            next,
        })
    }

    /// The events of `updates`, without the ones already yielded.
    fn events(&mut self, updates: &[&RawValue]) -> Vec<InboundEvent> {
        let mut events = Vec::with_capacity(updates.len());
        for update in updates {
            let event = serde_json::from_str::<Event<'_>>(update.get());
            // The event's id, read leniently where the event does not decode.
            let id = match &event {
                Ok(event) => event.event_id.clone(),
                Err(_) => Peek::of(update, Some("event_id"))
                    .field
                    .and_then(|raw| serde_json::from_str::<Str<'_>>(raw.get()).ok()),
            };
            if let Some(id) = id
                && !self.seen.insert(&id)
            {
                tracing::debug!("vk long poll: a repeated event dropped");
                continue;
            }
            match event {
                Ok(event) => events.extend(event_to_events(event)),
                Err(_) => events.extend(update_to_events(update)),
            }
        }
        events
    }
}

#[async_trait]
impl PollSource for LongPoll {
    type Cursor = String;

    async fn fetch(&mut self, cursor: Option<&String>) -> Result<PollBatch<String>> {
        if self.session.is_none() {
            self.connect(cursor.is_some()).await?;
        }
        let Some(ts) = self.fresh_ts.clone().or_else(|| cursor.cloned()) else {
            // No position at all: ask the server for its own.
            self.session = None;
            self.want_fresh_ts = true;
            return self.after_failed(None);
        };
        let Some(session) = &self.session else {
            return self.after_failed(None);
        };
        let wait = self.vk.config().poll_wait;
        let mut url = session.server.clone();
        url.query_pairs_mut()
            .append_pair("act", "a_check")
            .append_pair("key", session.key.expose_str())
            .append_pair("ts", &ts)
            .append_pair("wait", &wait.as_secs().to_string());
        let request = self.vk.http().get(url).timeout(wait + TIMEOUT_MARGIN);
        let answer = self.vk.http().execute(request).await?;
        if !answer.is_success() {
            self.session = None;
            let err = status_error(VK, answer.status, &answer.headers, false);
            // The long-poll server refusing is a session problem, not the token's.
            return Err(
                if err.kind() == ErrorKind::Unauthorized || err.kind() == ErrorKind::NotFound {
                    err.with_retryable(true)
                } else {
                    err
                },
            );
        }
        let answer: LongPollAnswer<'_> = serde_json::from_slice(&answer.body)
            .map_err(|e| Error::from(e).with_platform(VK).with_retryable(true))?;
        match answer.failed {
            None => {}
            Some(1) => {
                tracing::debug!("vk long poll failed 1: continuing from the new ts");
                self.fresh_ts = None;
                return match answer.ts {
                    Some(ts) => self.after_failed(Some(ts)),
                    None => {
                        self.session = None;
                        self.want_fresh_ts = true;
                        self.after_failed(None)
                    }
                };
            }
            Some(2) => {
                tracing::debug!("vk long poll failed 2: a new key, the same ts");
                self.session = None;
                return self.after_failed(None);
            }
            Some(3) => {
                tracing::debug!("vk long poll failed 3: a new key and ts");
                self.session = None;
                self.fresh_ts = None;
                self.want_fresh_ts = true;
                return self.after_failed(None);
            }
            Some(other) => {
                self.session = None;
                return Err(
                    Error::decode(format!("the VK long poll answered failed {other}"))
                        .with_platform(VK)
                        .with_retryable(true),
                );
            }
        }
        self.failed_in_a_row = 0;
        self.fresh_ts = None;
        let events = self.events(&answer.updates.unwrap_or_default());
        Ok(PollBatch {
            events,
            next: Some(answer.ts.unwrap_or(ts)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seen_set_is_bounded_and_drops_repeats() {
        let mut seen = Seen::default();
        assert!(seen.insert("a"));
        assert!(!seen.insert("a"));
        for i in 0..SEEN_EVENTS {
            seen.insert(&i.to_string());
        }
        assert_eq!(seen.order.len(), SEEN_EVENTS);
        assert_eq!(seen.set.len(), SEEN_EVENTS);
        // The oldest was forgotten.
        assert!(seen.insert("a"));
    }
}
