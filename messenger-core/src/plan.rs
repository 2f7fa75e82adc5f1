//! The pure send planner: `plan(message, capabilities, window) -> Plan`.
//!
//! It decides everything before a byte goes out: splitting, caption overflow, fallback chains,
//! size and MIME checks, the reply window. Every decision that changes what the customer sees is
//! a [`Downgrade`] in the plan (and in the [`SendReport`](crate::SendReport)).
//!
//! What [`plan`] decides, in order:
//!
//! 1. A [`ReplyWindow::Closed`] fails with [`ErrorKind::OutsideReplyWindow`] before anything else.
//!    Only `Closed` does: an [`Unknown`](ReplyWindow::Unknown) window is planned like an open
//!    one, and the platform decides.
//! 2. Text: empty or whitespace-only text is [`ErrorKind::InvalidInput`]; text the platform cannot
//!    send is [`ErrorKind::Unsupported`]; text over the limit is split by [`split_text`]
//!    (paragraph, then line, then sentence, then word, then grapheme-cluster boundaries), reported
//!    as one [`DowngradeReason::TextSplit`]. Splitting is allowed under [`Policy::Strict`]: nothing
//!    is lost by it.
//! 3. Media: an empty upload is [`ErrorKind::InvalidInput`]. A kind that does not fit falls back
//!    along a chain (voice -> audio -> file; audio -> file; image -> file; video -> file), one
//!    [`Downgrade`] per step, with the reason the previous kind did not fit (kind not sendable,
//!    MIME refused, too large, not fetchable by URL). Media the platform already holds
//!    ([`MediaSource::Id`]) never changes kind. When nothing fits, a URL is sent as a text link
//!    ([`DowngradeReason::UrlAsLink`]); an upload fails with [`ErrorKind::TooLarge`] (size was the
//!    last reason), [`ErrorKind::InvalidInput`] (no kind accepts its MIME type) or
//!    [`ErrorKind::Unsupported`]. Under [`Policy::Strict`] any change of kind fails instead
//!    ([`ErrorKind::TooLarge`] when size was the reason, else [`ErrorKind::Unsupported`]).
//! 4. Captions: a caption the chosen kind cannot carry, or one over the caption limit, is moved to
//!    text part(s) sent right after the media ([`DowngradeReason::CaptionMoved`]). This is allowed
//!    under [`Policy::Strict`] too: the words all arrive, only their place changes. A
//!    whitespace-only caption is left out (nothing visible is lost).
//! 5. `reply_to` goes on the first part only; the caller's idempotency key, where set, becomes
//!    `<key>#<part index>` on every part.
//!
//! Error messages name kinds, limits and MIME types, never text, captions or file names.
//!
//! ```
//! use messenger_core::plan::{plan, DowngradeReason, ReplyWindow};
//! use messenger_core::{Capabilities, ContentKind, MediaSource, OutgoingContent, OutgoingMessage, Platform};
//!
//! let mut caps = Capabilities::of(Platform::Telegram);
//! caps.kind_mut(ContentKind::Voice).direction = messenger_core::Direction::Receive;
//!
//! // A WAV voice note: no voice notes here, and audio takes only MP3/M4A, so it goes as a file.
//! let wav = MediaSource::bytes(vec![0u8; 1000], "audio/wav", "note.wav");
//! let msg = OutgoingMessage::new("42", OutgoingContent::Voice { media: wav, caption: None });
//! let p = plan(&msg, &caps, ReplyWindow::NotApplicable).unwrap();
//! assert_eq!(p.parts.len(), 1);
//! assert_eq!(p.parts[0].content.kind(), ContentKind::File);
//! assert_eq!(p.downgrades.len(), 2);
//! assert_eq!(p.downgrades[0].reason, DowngradeReason::KindUnsupported);
//! assert_eq!(
//!     p.downgrades[1].reason,
//!     DowngradeReason::MimeRefused { mime_type: "audio/wav".into() }
//! );
//! ```

use std::fmt;

use serde::Serialize;

use unicode_segmentation::UnicodeSegmentation;

use crate::capabilities::{Capabilities, KindCapability, LengthUnit, TextLimit};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    ContentKind, MediaSource, MessageId, OutgoingContent, OutgoingMessage, Policy, mime_essence,
};

/// Whether the platform's reply window allows a free-form message now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyWindow {
    /// The platform has no reply window (or it does not apply to this chat).
    #[default]
    NotApplicable,
    /// The window is open: the customer wrote within it.
    Open,
    /// The window is closed: the customer's last message is older than the window, or whoever
    /// keeps the times has watched this account's inbound messages for longer than a whole
    /// window and saw none from this customer. Free-form sends fail with
    /// [`ErrorKind::OutsideReplyWindow`] before any request.
    Closed,
    /// Nobody has watched this chat for a whole window: no message from the customer is known,
    /// but one may have come before anyone was watching (a new process, a new store). The
    /// planner lets the send go and the platform decides (WhatsApp accepts it, then reports a
    /// `failed` status with code 131047 if the window was closed).
    Unknown,
}

/// One message the platform will receive.
#[derive(Debug, Clone)]
pub struct Part {
    /// What to send; it fits the platform's limits.
    pub content: OutgoingContent,
    /// The message it replies to (set on the first part only).
    pub reply_to: Option<MessageId>,
    /// The caller's idempotency key for this part (`<message key>#<part index>`), so that
    /// [`Retrying`](crate::layers::retry::Retrying) may retry a send that may have gone out.
    pub idempotency_key: Option<String>,
}

/// Why the planner changed what the customer sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DowngradeReason {
    /// Text over the limit was split into `parts` messages.
    TextSplit {
        /// How many messages the text became.
        parts: usize,
        /// The limit, in the platform's unit.
        limit: usize,
    },
    /// A caption over the limit (or on a kind without captions) became separate text.
    CaptionMoved {
        /// The caption limit (0 where the kind takes no caption).
        limit: usize,
    },
    /// The platform cannot send this kind.
    KindUnsupported,
    /// The platform does not accept this MIME type for this kind.
    MimeRefused {
        /// The refused type: its essence (`type/subtype`), without parameters such as a file
        /// name.
        mime_type: String,
    },
    /// The platform cannot fetch media by URL for this kind, so the link is sent as text.
    UrlAsLink,
    /// The upload is larger than the platform takes for this kind.
    TooLargeForKind {
        /// The size of the upload in bytes.
        size: u64,
        /// The platform's limit for this kind in bytes.
        limit: u64,
    },
    /// The platform cannot fetch this kind from a URL (the next kind of the chain may).
    ByUrlUnsupported,
}

impl fmt::Display for DowngradeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DowngradeReason::TextSplit { parts, limit } => {
                write!(f, "text over {limit} split into {parts} messages")
            }
            DowngradeReason::CaptionMoved { limit: 0 } => {
                f.write_str("this kind takes no caption; caption sent as text")
            }
            DowngradeReason::CaptionMoved { limit } => {
                write!(f, "caption over {limit}; sent as a separate text")
            }
            DowngradeReason::KindUnsupported => f.write_str("the platform cannot send this kind"),
            DowngradeReason::MimeRefused { mime_type } => {
                write!(f, "the platform refuses {mime_type} for this kind")
            }
            DowngradeReason::UrlAsLink => {
                f.write_str("media by URL not supported; link sent as text")
            }
            DowngradeReason::TooLargeForKind { size, limit } => write!(
                f,
                "{} is over the {} limit for this kind",
                human_size(*size),
                human_size(*limit)
            ),
            DowngradeReason::ByUrlUnsupported => {
                f.write_str("the platform cannot fetch this kind from a URL")
            }
        }
    }
}

/// A change to what the customer sees, reported rather than hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Downgrade {
    /// What the caller asked for.
    pub from: ContentKind,
    /// What the customer will get.
    pub to: ContentKind,
    /// Why.
    #[serde(flatten)]
    pub reason: DowngradeReason,
}

impl fmt::Display for Downgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}: {}", self.from, self.to, self.reason)
    }
}

/// What a send will do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The messages to send, in order.
    pub parts: Vec<Part>,
    /// Every change to what the customer sees.
    pub downgrades: Vec<Downgrade>,
}

/// Plans `message` for a platform with `caps`, given the state of its reply `window`.
///
/// Pure: no I/O, no clock. See the [module docs](self) for what it decides and in which order.
///
/// ```
/// use messenger_core::plan::{plan, DowngradeReason, ReplyWindow};
/// use messenger_core::{Capabilities, ContentKind, ErrorKind, MediaSource, OutgoingContent,
///     OutgoingMessage, Platform};
///
/// let tg = Capabilities::of(Platform::Telegram);
///
/// // A caption over Telegram's 1024 is sent as a text right after the photo.
/// let photo = MediaSource::bytes(vec![1u8; 2048], "image/jpeg", "photo.jpg");
/// let msg = OutgoingMessage::new(
///     "42",
///     OutgoingContent::Image { media: photo, caption: Some("Подробности. ".repeat(100)) },
/// )
/// .reply_to("7");
/// let p = plan(&msg, &tg, ReplyWindow::NotApplicable).unwrap();
/// assert_eq!(p.parts.len(), 2);
/// assert_eq!(p.parts[0].content.kind(), ContentKind::Image);
/// assert_eq!(p.parts[0].content.caption(), None);
/// assert_eq!(p.parts[1].content.kind(), ContentKind::Text);
/// assert!(p.parts[0].reply_to.is_some() && p.parts[1].reply_to.is_none());
/// assert_eq!(p.downgrades[0].reason, DowngradeReason::CaptionMoved { limit: 1024 });
///
/// // A closed reply window refuses before anything else; an unknown one is left to the
/// // platform.
/// let err = plan(&msg, &tg, ReplyWindow::Closed).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::OutsideReplyWindow);
/// assert!(plan(&msg, &tg, ReplyWindow::Unknown).is_ok());
/// ```
pub fn plan(message: &OutgoingMessage, caps: &Capabilities, window: ReplyWindow) -> Result<Plan> {
    if window == ReplyWindow::Closed {
        return Err(Error::new(
            ErrorKind::OutsideReplyWindow,
            "the reply window is closed: free-form messages are refused until the customer writes again",
        ));
    }
    let mut planner = Planner {
        caps,
        parts: Vec::new(),
        downgrades: Vec::new(),
    };
    match &message.content {
        OutgoingContent::Text { text } => {
            if is_blank(text) {
                return Err(Error::invalid_input("the text is empty"));
            }
            planner.ensure_text_sendable("text")?;
            planner.push_text(text)?;
        }
        OutgoingContent::Image { media, caption }
        | OutgoingContent::File { media, caption }
        | OutgoingContent::Voice { media, caption }
        | OutgoingContent::Audio { media, caption }
        | OutgoingContent::Video { media, caption } => {
            planner.plan_media(
                message.content.kind(),
                media,
                caption.as_deref(),
                message.policy,
            )?;
        }
    }
    let Planner {
        mut parts,
        downgrades,
        ..
    } = planner;
    if let Some(first) = parts.first_mut() {
        first.reply_to = message.reply_to.clone();
    }
    if let Some(key) = &message.idempotency_key {
        for (index, part) in parts.iter_mut().enumerate() {
            part.idempotency_key = Some(format!("{key}#{index}"));
        }
    }
    Ok(Plan { parts, downgrades })
}

/// Splits `text` into pieces of at most `limit.max_len` (counted in `limit.unit`).
///
/// Text within the limit comes back whole and untouched. Longer text is cut, one piece at a time,
/// at the best boundary within the limit:
///
/// 1. the last paragraph break (a blank line) that keeps at least half of the limit in the
///    piece, else such a line break, else such a sentence end (`.` `!` `?` `…`, possibly followed
///    by closing quotes or brackets, then whitespace; `。！？` need no whitespace);
/// 2. else the last paragraph, line or sentence boundary anywhere: a short piece is better than
///    a sentence cut in two;
/// 3. else the last space, else the last no-break space (`10 000 ₽` stays together when it
///    can), so a long word or URL is moved whole to the next piece where it fits;
/// 4. only as a last resort, the last grapheme-cluster boundary within the limit.
///
/// A cut is never made inside a grapheme cluster, so never inside a UTF-16 surrogate pair, an
/// emoji ZWJ sequence, a flag or a `\r\n`.
///
/// The whitespace at each cut is dropped, and so is whitespace at the very start and end of a text
/// that is split; nothing else is. Every piece is non-empty, and its first and last grapheme
/// clusters are not whitespace. (A whitespace-only text over the limit gives no pieces;
/// [`plan`] refuses such text before splitting.)
///
/// # Errors
///
/// [`ErrorKind::TooLarge`] when one grapheme cluster alone is longer than the limit (only possible
/// with tiny limits or pathological text, such as thousands of combining marks on one letter).
///
/// ```
/// use messenger_core::capabilities::TextLimit;
/// use messenger_core::{plan::split_text, LengthUnit};
///
/// let limit = TextLimit { max_len: 30, unit: LengthUnit::Utf16 };
/// let text = "Первый абзац.\n\nВторое предложение длиннее! А вот и третье.";
/// let parts = split_text(text, limit).unwrap();
/// assert_eq!(parts, ["Первый абзац.", "Второе предложение длиннее!", "А вот и третье."]);
///
/// // Emoji count 2 UTF-16 units each and a family is one cluster of 11 units: never cut inside.
/// let family = "👨\u{200d}👩\u{200d}👧\u{200d}👦";
/// let limit = TextLimit { max_len: 12, unit: LengthUnit::Utf16 };
/// let three = family.repeat(3);
/// let parts = split_text(&three, limit).unwrap();
/// assert_eq!(parts, [family, family, family]);
/// ```
pub fn split_text(text: &str, limit: TextLimit) -> Result<Vec<&str>> {
    if limit.unit.len(text) <= limit.max_len {
        return Ok(vec![text]);
    }
    let mut parts = Vec::new();
    let mut pos = skip_whitespace(text, 0);
    while pos < text.len() {
        let rest = &text[pos..];
        let end = next_cut(rest, limit)?;
        parts.push(&rest[..end]);
        pos = skip_whitespace(text, pos + end);
    }
    Ok(parts)
}

/// The planner's working state.
struct Planner<'a> {
    caps: &'a Capabilities,
    parts: Vec<Part>,
    downgrades: Vec<Downgrade>,
}

impl Planner<'_> {
    fn ensure_text_sendable(&self, what: &str) -> Result<()> {
        if self.caps.kind(ContentKind::Text).direction.can_send() {
            Ok(())
        } else {
            Err(Error::unsupported(format!(
                "the platform cannot send text, so the {what} cannot be sent"
            )))
        }
    }

    /// Pushes `text` as one or more text parts, reporting a split.
    fn push_text(&mut self, text: &str) -> Result<()> {
        let limit = self.caps.text;
        let pieces = split_text(text, limit)?;
        if pieces.len() > 1 {
            self.downgrades.push(Downgrade {
                from: ContentKind::Text,
                to: ContentKind::Text,
                reason: DowngradeReason::TextSplit {
                    parts: pieces.len(),
                    limit: limit.max_len,
                },
            });
        }
        self.parts.extend(pieces.into_iter().map(|piece| Part {
            content: OutgoingContent::text(piece),
            reply_to: None,
            idempotency_key: None,
        }));
        Ok(())
    }

    fn plan_media(
        &mut self,
        asked: ContentKind,
        source: &MediaSource,
        caption: Option<&str>,
        policy: Policy,
    ) -> Result<()> {
        if source.is_empty() {
            return Err(Error::invalid_input(format!(
                "the {asked} upload is empty (0 bytes)"
            )));
        }
        let caption = caption.filter(|c| !is_blank(c));
        let chain = fallback_chain(asked);
        let keeps_kind = matches!(source, MediaSource::Id(_));

        // Walk the chain until a kind fits; remember why each earlier one did not.
        let mut misfits: Vec<(ContentKind, Misfit)> = Vec::new();
        let mut chosen = None;
        for &kind in chain {
            match check_fit(&self.caps.kind(kind), source) {
                Ok(()) => {
                    chosen = Some(kind);
                    break;
                }
                Err(misfit) => misfits.push((kind, misfit)),
            }
            if keeps_kind {
                break;
            }
        }

        if let Some((_, first)) = misfits.first() {
            if keeps_kind {
                return Err(Error::unsupported(format!(
                    "the platform cannot send this {asked} ({}); media already on the platform keeps its kind",
                    first.describe()
                )));
            }
            if policy == Policy::Strict {
                let message = format!(
                    "strict policy: the {asked} cannot be sent as asked ({}) and changing its kind is not allowed",
                    first.describe()
                );
                return Err(match first {
                    Misfit::TooLarge { .. } => Error::too_large(message),
                    _ => Error::unsupported(message),
                });
            }
        }

        let Some(kind) = chosen else {
            return self.nothing_fits(asked, source, caption, &misfits);
        };
        self.push_steps(&misfits, kind);

        let kind_cap = self.caps.kind(kind);
        let (caption_on_media, moved) = match (caption, self.caps.caption) {
            (None, _) => (None, None),
            (Some(c), Some(limit)) if kind_cap.caption => {
                if limit.unit.len(c) <= limit.max_len {
                    (Some(c), None)
                } else {
                    (None, Some((c, limit.max_len)))
                }
            }
            (Some(c), _) => (None, Some((c, 0))),
        };
        let content =
            OutgoingContent::media(kind, source.clone(), caption_on_media.map(str::to_owned))
                .ok_or_else(|| Error::unsupported(format!("{kind} cannot be sent")))?;
        self.parts.push(Part {
            content,
            reply_to: None,
            idempotency_key: None,
        });
        if let Some((text, limit)) = moved {
            self.ensure_text_sendable("caption")?;
            self.downgrades.push(Downgrade {
                from: kind,
                to: ContentKind::Text,
                reason: DowngradeReason::CaptionMoved { limit },
            });
            self.push_text(text)?;
        }
        Ok(())
    }

    /// Records one downgrade per step from the asked kind to `landed`.
    fn push_steps(&mut self, misfits: &[(ContentKind, Misfit)], landed: ContentKind) {
        for (index, (from, misfit)) in misfits.iter().enumerate() {
            let to = misfits.get(index + 1).map_or(landed, |(next, _)| *next);
            self.downgrades.push(Downgrade {
                from: *from,
                to,
                reason: misfit.reason(),
            });
        }
    }

    /// No kind of the chain fits: a URL becomes a link, an upload fails.
    fn nothing_fits(
        &mut self,
        asked: ContentKind,
        source: &MediaSource,
        caption: Option<&str>,
        misfits: &[(ContentKind, Misfit)],
    ) -> Result<()> {
        let tried = misfits
            .iter()
            .map(|(kind, misfit)| format!("{kind}: {}", misfit.describe()))
            .collect::<Vec<_>>()
            .join("; ");
        if let MediaSource::Url(url) = source {
            self.ensure_text_sendable("link")?;
            // Every kind of the chain but the last leads to the next; the last leads to text.
            if let Some(((last, _), steps)) = misfits.split_last() {
                self.push_steps(steps, *last);
                self.downgrades.push(Downgrade {
                    from: *last,
                    to: ContentKind::Text,
                    reason: DowngradeReason::UrlAsLink,
                });
            }
            let link = match caption {
                Some(caption) => format!("{caption}\n{url}"),
                None => url.to_string(),
            };
            return self.push_text(&link);
        }
        let message = format!("the platform cannot send this {asked} in any form ({tried})");
        Err(match misfits.last() {
            Some((_, Misfit::TooLarge { .. })) => Error::too_large(message),
            Some((_, Misfit::Mime(_))) => Error::invalid_input(message),
            _ => Error::unsupported(message),
        })
    }
}

/// The kinds tried for `asked`, in order.
fn fallback_chain(asked: ContentKind) -> &'static [ContentKind] {
    use ContentKind::{Audio, File, Image, Video, Voice};
    match asked {
        Voice => &[Voice, Audio, File],
        Audio => &[Audio, File],
        Image => &[Image, File],
        Video => &[Video, File],
        _ => &[File],
    }
}

/// Why media does not fit a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Misfit {
    /// The kind cannot be sent at all.
    Kind,
    /// The kind cannot be fetched from a URL.
    NotByUrl,
    /// The MIME type is refused.
    Mime(String),
    /// The upload is over the kind's limit.
    TooLarge { size: u64, limit: u64 },
}

impl Misfit {
    fn reason(&self) -> DowngradeReason {
        match self {
            Misfit::Kind => DowngradeReason::KindUnsupported,
            Misfit::NotByUrl => DowngradeReason::ByUrlUnsupported,
            Misfit::Mime(mime) => DowngradeReason::MimeRefused {
                mime_type: mime.clone(),
            },
            Misfit::TooLarge { size, limit } => DowngradeReason::TooLargeForKind {
                size: *size,
                limit: *limit,
            },
        }
    }

    fn describe(&self) -> String {
        match self {
            Misfit::Kind => "not sendable on this platform".to_owned(),
            Misfit::NotByUrl => "cannot be sent by URL".to_owned(),
            Misfit::Mime(mime) => format!("MIME type `{mime}` refused"),
            Misfit::TooLarge { size, limit } => format!(
                "{} over the {} limit",
                human_size(*size),
                human_size(*limit)
            ),
        }
    }
}

/// Whether `source` can go out as a kind with capability `cap`.
fn check_fit(cap: &KindCapability, source: &MediaSource) -> std::result::Result<(), Misfit> {
    if !cap.direction.can_send() {
        return Err(Misfit::Kind);
    }
    match source {
        // The platform fetches the URL itself; its type and size are unknown here.
        MediaSource::Url(_) if !cap.by_url => Err(Misfit::NotByUrl),
        MediaSource::Url(_) | MediaSource::Id(_) => Ok(()),
        MediaSource::Bytes { .. } | MediaSource::Stream { .. } => {
            let mime = source.mime_type().unwrap_or_default();
            if !cap.accepts_mime(mime) {
                // Parameters can name the file (`; name="..."`): only the essence is reported.
                return Err(Misfit::Mime(mime_essence(mime).to_owned()));
            }
            match (source.len(), cap.max_upload) {
                (Some(size), Some(limit)) if size > limit => Err(Misfit::TooLarge { size, limit }),
                _ => Ok(()),
            }
        }
    }
}

/// A size for people: bytes below 1 KiB, else KiB or MiB with one decimal.
fn human_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    // Precision loss above 2^53 bytes does not matter for a message.
    #[allow(clippy::cast_precision_loss)]
    let value = bytes as f64;
    if bytes >= MIB {
        format!("{:.1} MiB", value / MIB as f64)
    } else if bytes >= KIB {
        format!("{:.1} KiB", value / KIB as f64)
    } else {
        format!("{bytes} bytes")
    }
}

/// Empty or only whitespace.
fn is_blank(text: &str) -> bool {
    text.chars().all(char::is_whitespace)
}

/// A grapheme cluster made only of whitespace (a space, `\r\n`, a no-break space...).
fn is_whitespace_cluster(cluster: &str) -> bool {
    cluster.chars().all(char::is_whitespace)
}

/// Spaces that typography uses to keep things together ("10 000 ₽"): cut there only when no
/// ordinary space will do.
fn is_no_break_space(c: char) -> bool {
    matches!(c, '\u{00A0}' | '\u{2007}' | '\u{202F}')
}

/// How many line breaks a whitespace cluster is worth (a paragraph separator counts as two).
fn line_breaks(cluster: &str) -> usize {
    if cluster.contains('\u{2029}') {
        2
    } else if cluster
        .chars()
        .any(|c| matches!(c, '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}'))
    {
        1
    } else {
        0
    }
}

/// What the text just before the current position ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SentenceEnd {
    /// Not a sentence end.
    No,
    /// `.` `!` `?` `…`: a sentence ends if whitespace follows.
    Western,
    /// `。` `！` `？`: a sentence ends here, no whitespace needed.
    FullWidth,
}

fn sentence_end_after(previous: SentenceEnd, cluster: &str) -> SentenceEnd {
    let Some(first) = cluster.chars().next() else {
        return previous;
    };
    match first {
        '.' | '!' | '?' | '…' | '‼' | '⁇' | '⁈' | '⁉' => SentenceEnd::Western,
        '。' | '！' | '？' | '｡' => SentenceEnd::FullWidth,
        c if is_closer(c) => previous,
        _ => SentenceEnd::No,
    }
}

/// Closing quotes and brackets that may follow a sentence end (`«Готово!» Дальше...`).
fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | ')' | ']' | '}' | '»' | '”' | '“' | '’' | '›' | '」' | '』' | '）' | '】'
    )
}

/// Cut classes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Boundary {
    NoBreakSpace = 0,
    Word = 1,
    Sentence = 2,
    Line = 3,
    Paragraph = 4,
}

/// A place where a piece may end: `end` bytes into the window, `used` units long.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    end: usize,
    used: usize,
}

/// A run of whitespace clusters seen while scanning.
#[derive(Debug, Clone, Copy)]
struct WhitespaceRun {
    start: usize,
    used: usize,
    line_breaks: usize,
    breaking: bool,
}

/// The last candidate of each class or better.
#[derive(Debug, Default)]
struct Candidates([Option<Candidate>; 5]);

impl Candidates {
    fn record(&mut self, class: Boundary, candidate: Candidate) {
        // A paragraph break is also a line break, a sentence end and a word break.
        for slot in &mut self.0[..=class as usize] {
            *slot = Some(candidate);
        }
    }

    fn get(&self, class: Boundary) -> Option<Candidate> {
        self.0[class as usize]
    }
}

/// The byte offset just past the whitespace clusters that start `text[pos..]`.
fn skip_whitespace(text: &str, pos: usize) -> usize {
    let mut end = pos;
    for cluster in text[pos..].graphemes(true) {
        if !is_whitespace_cluster(cluster) {
            break;
        }
        end += cluster.len();
    }
    end
}

/// Where the next piece of `rest` ends (a byte offset > 0; the piece holds no whitespace at its
/// end). `rest` starts with a non-whitespace cluster.
fn next_cut(rest: &str, limit: TextLimit) -> Result<usize> {
    let max = limit.max_len;
    let mut used = 0usize;
    let mut candidates = Candidates::default();
    let mut hard: Option<usize> = None;
    let mut run: Option<WhitespaceRun> = None;
    let mut sentence = SentenceEnd::No;

    for (index, cluster) in rest.grapheme_indices(true) {
        if is_whitespace_cluster(cluster) {
            let r = run.get_or_insert(WhitespaceRun {
                start: index,
                used,
                line_breaks: 0,
                breaking: false,
            });
            r.line_breaks += line_breaks(cluster);
            r.breaking |= cluster.chars().any(|c| !is_no_break_space(c));
            used = used.saturating_add(limit.unit.len(cluster));
            continue;
        }
        if let Some(r) = run.take() {
            let class = if r.line_breaks >= 2 {
                Boundary::Paragraph
            } else if r.line_breaks == 1 {
                Boundary::Line
            } else if sentence != SentenceEnd::No && r.breaking {
                Boundary::Sentence
            } else if r.breaking {
                Boundary::Word
            } else {
                Boundary::NoBreakSpace
            };
            candidates.record(
                class,
                Candidate {
                    end: r.start,
                    used: r.used,
                },
            );
        } else if sentence == SentenceEnd::FullWidth
            && sentence_end_after(SentenceEnd::No, cluster) == SentenceEnd::No
            && !cluster.chars().next().is_some_and(is_closer)
        {
            candidates.record(Boundary::Sentence, Candidate { end: index, used });
        }
        used = used.saturating_add(limit.unit.len(cluster));
        if used > max {
            return choose_cut(&candidates, hard, limit);
        }
        hard = Some(index + cluster.len());
        sentence = sentence_end_after(sentence, cluster);
    }
    // The rest fits; only trailing whitespace (if any) is left out.
    Ok(run.map_or(rest.len(), |r| r.start))
}

/// Picks the cut once the window is full.
fn choose_cut(candidates: &Candidates, hard: Option<usize>, limit: TextLimit) -> Result<usize> {
    // A paragraph, line or sentence boundary that keeps at least half of the limit...
    for class in [Boundary::Paragraph, Boundary::Line, Boundary::Sentence] {
        if let Some(c) = candidates.get(class)
            && c.used.saturating_mul(2) >= limit.max_len
        {
            return Ok(c.end);
        }
    }
    // ...else the last of any of them (a short piece beats cutting a sentence), else the last
    // space, else the last no-break space (keeps a long word or URL whole where possible)...
    if let Some(c) = [Boundary::Sentence, Boundary::Word, Boundary::NoBreakSpace]
        .into_iter()
        .find_map(|class| candidates.get(class))
    {
        return Ok(c.end);
    }
    // ...else the last grapheme-cluster boundary within the limit.
    hard.ok_or_else(|| {
        Error::too_large(format!(
            "one grapheme cluster of the text is longer than the limit of {} {}",
            limit.max_len,
            unit_name(limit.unit)
        ))
    })
}

fn unit_name(unit: LengthUnit) -> &'static str {
    match unit {
        LengthUnit::Chars => "characters",
        LengthUnit::Utf16 => "UTF-16 code units",
        LengthUnit::Bytes => "bytes",
    }
}
