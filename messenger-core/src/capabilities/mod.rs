//! What each platform can do, queried at run time with
//! [`Messenger::capabilities`](crate::Messenger::capabilities) or [`Capabilities::of`].
//!
//! The values of each platform live in its own module (`telegram`, `whatsapp`, `max`, `vk`,
//! `avito`), one documented constant per fact, each citing the source from the project's platform
//! sheets. A connector may adjust a copy (a local Telegram Bot API server lifts the upload limit).
//!
//! ```
//! use messenger_core::{Capabilities, ContentKind, LengthUnit, Platform};
//! let tg = Capabilities::of(Platform::Telegram);
//! assert_eq!(tg.text.max_len, 4096);
//! assert_eq!(tg.text.unit, LengthUnit::Utf16);
//! assert!(tg.kind(ContentKind::Voice).direction.can_send());
//! assert!(!tg.statuses.read);
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{ContentKind, Platform};

pub mod avito;
pub mod max;
pub mod telegram;
pub mod vk;
pub mod whatsapp;

/// Which way a feature works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Neither sent nor received.
    #[default]
    None,
    /// Received only.
    Receive,
    /// Sent only.
    Send,
    /// Sent and received.
    Both,
}

impl Direction {
    /// Whether the account can send it.
    pub fn can_send(self) -> bool {
        matches!(self, Direction::Send | Direction::Both)
    }
    /// Whether the account can receive it.
    pub fn can_receive(self) -> bool {
        matches!(self, Direction::Receive | Direction::Both)
    }
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::None => "none",
            Direction::Receive => "receive",
            Direction::Send => "send",
            Direction::Both => "both",
        }
    }
}

/// The unit a platform counts text length in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthUnit {
    /// Unicode scalar values (Rust `char`s).
    Chars,
    /// UTF-16 code units (Telegram: an emoji outside the BMP counts 2).
    Utf16,
    /// UTF-8 bytes.
    Bytes,
}

impl LengthUnit {
    /// The length of `text` in this unit.
    ///
    /// ```
    /// use messenger_core::LengthUnit;
    /// assert_eq!(LengthUnit::Utf16.len("a😀"), 3);
    /// assert_eq!(LengthUnit::Chars.len("a😀"), 2);
    /// assert_eq!(LengthUnit::Bytes.len("a😀"), 5);
    /// ```
    pub fn len(self, text: &str) -> usize {
        match self {
            LengthUnit::Chars => text.chars().count(),
            LengthUnit::Utf16 => text.encode_utf16().count(),
            LengthUnit::Bytes => text.len(),
        }
    }

    /// The length of one `char` in this unit.
    pub fn char_len(self, c: char) -> usize {
        match self {
            LengthUnit::Chars => 1,
            LengthUnit::Utf16 => c.len_utf16(),
            LengthUnit::Bytes => c.len_utf8(),
        }
    }
}

/// A length limit on text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextLimit {
    /// The most a message (or caption) may hold.
    pub max_len: usize,
    /// What `max_len` counts.
    pub unit: LengthUnit,
}

/// What a platform does with one content kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCapability {
    /// Whether it can be sent, received, both or neither.
    pub direction: Direction,
    /// The largest upload in bytes (bytes or a stream), where limited.
    pub max_upload: Option<u64>,
    /// The largest file the platform fetches by URL, where limited.
    pub max_by_url: Option<u64>,
    /// The largest file a bot can download, where limited.
    pub max_download: Option<u64>,
    /// Accepted MIME types for sending; empty means any. `audio/*` style wildcards allowed.
    pub mime_types: Vec<String>,
    /// MIME types refused for sending even where `mime_types` would accept them (VK takes any
    /// document "except mp3 and executables"). Same syntax as `mime_types`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_mime_types: Vec<String>,
    /// Whether a caption can go with it.
    pub caption: bool,
    /// Whether a public URL can be sent as this kind (the platform fetches it).
    pub by_url: bool,
}

impl KindCapability {
    /// A kind the platform does not handle at all.
    pub fn none() -> Self {
        Self {
            direction: Direction::None,
            max_upload: None,
            max_by_url: None,
            max_download: None,
            mime_types: Vec::new(),
            refused_mime_types: Vec::new(),
            caption: false,
            by_url: false,
        }
    }

    /// Whether `mime` is accepted for sending (case-insensitive; parameters such as
    /// `; codecs=opus` are ignored).
    ///
    /// ```
    /// use messenger_core::{Capabilities, ContentKind, Platform};
    /// let wa = Capabilities::of(Platform::WhatsApp);
    /// assert!(wa.kind(ContentKind::Voice).accepts_mime("audio/ogg; codecs=opus"));
    /// ```
    pub fn accepts_mime(&self, mime: &str) -> bool {
        let essence = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let matches = |pattern: &String| {
            let pattern = pattern.to_ascii_lowercase();
            match pattern.strip_suffix("/*") {
                Some(prefix) => essence
                    .split_once('/')
                    .is_some_and(|(top, _)| top == prefix),
                None => pattern == essence,
            }
        };
        if self.refused_mime_types.iter().any(matches) {
            return false;
        }
        self.mime_types.is_empty() || self.mime_types.iter().any(matches)
    }
}

/// Which statuses of an outbound message the platform reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCapability {
    /// Accepted by the platform.
    pub sent: bool,
    /// On the recipient's device.
    pub delivered: bool,
    /// Seen by the recipient.
    pub read: bool,
}

/// Actions on existing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionCapability {
    /// Mark an inbound message as read.
    pub mark_read: bool,
    /// Edit a sent message.
    pub edit: bool,
    /// Delete a sent message.
    pub delete: bool,
    /// Reply to (quote) a message.
    pub reply: bool,
}

/// How updates reach the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeCapability {
    /// The platform pushes updates to an HTTPS endpoint.
    pub webhook: bool,
    /// The account can long-poll for updates.
    pub long_poll: bool,
}

/// How a platform counts a [`Rate`], and so how [`RateLimited`](crate::layers::RateLimited)
/// keeps within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateKind {
    /// Evenly spaced: one send every `per / count` at most. What a platform means by "1
    /// message per second" in a chat or "30 messages per second" overall: it measures the pace
    /// at a finer grain than the second and punishes bursts, so a sender keeps the pace rather
    /// than bursting within the second.
    #[default]
    Spacing,
    /// A quota over a sliding window: at most `count` sends in any window of `per`, bursts
    /// within it allowed. What a platform means by "no more than 20 messages per minute" in a
    /// group.
    Quota,
}

/// A rate: `count` per `per`, counted as its [`kind`](RateKind) says.
///
/// ```
/// use std::time::Duration;
/// use messenger_core::capabilities::{Rate, RateKind};
/// // Telegram's "1 message per second" in a chat: a pace.
/// assert_eq!(Rate::per_second(1).kind, RateKind::Spacing);
/// // Telegram's "20 messages per minute" in a group: a quota, bursts within the minute allowed.
/// assert_eq!(Rate::per_minute(20), Rate::quota(20, Duration::from_secs(60)));
/// // WhatsApp's pair rate, one message every 6 s to one user: a pace.
/// assert_eq!(Rate::spacing(1, Duration::from_secs(6)).interval(), Duration::from_secs(6));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// How many.
    pub count: u32,
    /// In what time.
    #[serde(with = "duration_secs")]
    pub per: Duration,
    /// How the platform counts it (`spacing` when absent from JSON).
    #[serde(default, skip_serializing_if = "RateKind::is_spacing")]
    pub kind: RateKind,
}

impl RateKind {
    /// Whether this is [`RateKind::Spacing`].
    pub fn is_spacing(&self) -> bool {
        *self == RateKind::Spacing
    }
}

impl Rate {
    /// `count` per second, evenly spaced ([`RateKind::Spacing`]): a platform's "N per second".
    pub const fn per_second(count: u32) -> Self {
        Self::spacing(count, Duration::from_secs(1))
    }
    /// A quota of `count` in any minute ([`RateKind::Quota`]): a platform's "N per minute".
    pub const fn per_minute(count: u32) -> Self {
        Self::quota(count, Duration::from_secs(60))
    }
    /// `count` per `per`, evenly spaced: one every `per / count` at most.
    pub const fn spacing(count: u32, per: Duration) -> Self {
        Self {
            count,
            per,
            kind: RateKind::Spacing,
        }
    }
    /// At most `count` in any window of `per`, bursts within it allowed.
    pub const fn quota(count: u32, per: Duration) -> Self {
        Self {
            count,
            per,
            kind: RateKind::Quota,
        }
    }
    /// Whether the rate is a quota over a window ([`RateKind::Quota`]).
    pub fn is_quota(&self) -> bool {
        self.kind == RateKind::Quota
    }
    /// The average gap between two sends at the full rate (`per / count`): the spacing of a
    /// [`RateKind::Spacing`] rate.
    pub fn interval(&self) -> Duration {
        self.per / self.count.max(1)
    }
}

impl std::fmt::Display for Rate {
    /// `1/s`, `20/min`, `1/6s`: the kind is not shown (see [`RateKind`]).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.per.as_secs() {
            1 => write!(f, "{}/s", self.count),
            60 => write!(f, "{}/min", self.count),
            3600 => write!(f, "{}/h", self.count),
            86400 => write!(f, "{}/day", self.count),
            s => write!(f, "{}/{}s", self.count, s),
        }
    }
}

/// The platform's documented send rate limits, each a [`Rate`] of the [`RateKind`] the
/// platform counts it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RateLimits {
    /// Across all chats of the account.
    pub overall: Option<Rate>,
    /// Within any one chat, groups included.
    pub per_chat: Option<Rate>,
    /// Within one group chat, in addition to `per_chat` (Telegram: 1 msg/s in any chat, and no
    /// more than 20 a minute in a group).
    pub per_group: Option<Rate>,
}

/// Everything the SDK knows a platform can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The platform described.
    pub platform: Platform,
    /// Text messages.
    pub text: TextLimit,
    /// Captions on media, where the platform has them.
    pub caption: Option<TextLimit>,
    /// Per content kind (every [`ContentKind`] has an entry; missing ones mean `none`).
    pub kinds: Vec<(ContentKind, KindCapability)>,
    /// Observable statuses of outbound messages.
    pub statuses: StatusCapability,
    /// Actions on existing messages.
    pub actions: ActionCapability,
    /// How updates arrive.
    pub intake: IntakeCapability,
    /// Documented rate limits.
    pub rate_limits: RateLimits,
    /// The time after the customer's last message in which free-form messages are allowed.
    #[serde(with = "opt_duration_secs")]
    pub reply_window: Option<Duration>,
    /// Whether the account may write first to a customer who never wrote to it.
    pub can_initiate: bool,
    /// Whether the platform drops a repeated send that carries the same idempotency key (VK's
    /// `random_id`), so that [`Retrying`](crate::layers::Retrying) may resend a keyed part
    /// that may have gone out. Read by the layers; `false` wherever a resend is a second
    /// message.
    #[serde(default)]
    pub keyed_sends: bool,
}

impl Capabilities {
    /// The built-in capabilities of a platform.
    pub fn of(platform: Platform) -> Capabilities {
        match platform {
            Platform::Telegram => telegram::capabilities(),
            Platform::WhatsApp => whatsapp::capabilities(),
            Platform::Max => max::capabilities(),
            Platform::Vk => vk::capabilities(),
            Platform::Avito => avito::capabilities(),
        }
    }

    /// What the platform does with `kind` (`none` when not listed).
    pub fn kind(&self, kind: ContentKind) -> KindCapability {
        self.kinds
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(KindCapability::none)
    }

    /// A mutable entry for `kind`, created as `none` if missing.
    pub fn kind_mut(&mut self, kind: ContentKind) -> &mut KindCapability {
        let index = match self.kinds.iter().position(|(k, _)| *k == kind) {
            Some(i) => i,
            None => {
                self.kinds.push((kind, KindCapability::none()));
                self.kinds.len() - 1
            }
        };
        &mut self.kinds[index].1
    }
}

mod duration_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

mod opt_duration_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_describes_every_kind() {
        for p in Platform::ALL {
            let caps = Capabilities::of(p);
            assert_eq!(caps.platform, p);
            assert!(caps.text.max_len > 0, "{p}");
            assert!(caps.kind(ContentKind::Text).direction.can_send(), "{p}");
            for kind in ContentKind::SENDABLE {
                assert!(
                    caps.kinds.iter().any(|(k, _)| *k == kind),
                    "{p} does not describe {kind}"
                );
            }
        }
    }

    #[test]
    fn mime_wildcards_and_parameters() {
        let mut k = KindCapability::none();
        k.mime_types = vec!["image/*".into(), "application/pdf".into()];
        assert!(k.accepts_mime("image/png"));
        assert!(k.accepts_mime("Application/PDF"));
        assert!(!k.accepts_mime("audio/ogg"));
        assert!(!k.accepts_mime("imagex/png"));
    }

    #[test]
    fn each_platform_counts_its_limits_as_documented() {
        let tg = Capabilities::of(Platform::Telegram).rate_limits;
        assert_eq!(tg.per_chat, Some(Rate::spacing(1, Duration::from_secs(1))));
        assert_eq!(tg.per_group, Some(Rate::quota(20, Duration::from_secs(60))));
        assert_eq!(tg.overall, Some(Rate::spacing(30, Duration::from_secs(1))));
        let wa = Capabilities::of(Platform::WhatsApp).rate_limits;
        assert_eq!(wa.per_chat, Some(Rate::spacing(1, Duration::from_secs(6))));
        assert_eq!(wa.overall, Some(Rate::per_second(80)));
        assert_eq!(wa.per_group, None);
        for (p, overall) in [(Platform::Vk, 20), (Platform::Max, 30)] {
            let r = Capabilities::of(p).rate_limits;
            assert_eq!(r.overall, Some(Rate::per_second(overall)), "{p}");
            assert_eq!((r.per_chat, r.per_group), (None, None), "{p}");
        }
        assert_eq!(
            Capabilities::of(Platform::Avito).rate_limits,
            RateLimits::default()
        );
    }

    #[test]
    fn a_rate_says_its_kind_in_json_and_defaults_to_spacing() {
        let quota = serde_json::to_value(Rate::per_minute(20)).unwrap();
        assert_eq!(
            quota,
            serde_json::json!({"count": 20, "per": 60, "kind": "quota"})
        );
        let pace = serde_json::to_value(Rate::per_second(1)).unwrap();
        assert_eq!(pace, serde_json::json!({"count": 1, "per": 1}));
        let old: Rate = serde_json::from_str(r#"{"count": 20, "per": 60}"#).unwrap();
        assert_eq!(old.kind, RateKind::Spacing);
        assert_eq!(Rate::per_minute(20).to_string(), "20/min");
        assert_eq!(Rate::spacing(1, Duration::from_secs(6)).to_string(), "1/6s");
    }

    #[test]
    fn capabilities_round_trip_json() {
        for p in Platform::ALL {
            let caps = Capabilities::of(p);
            let json = serde_json::to_string(&caps).unwrap();
            let back: Capabilities = serde_json::from_str(&json).unwrap();
            assert_eq!(back, caps);
        }
    }
}
