//! The platform-neutral model: platforms, ids, content, media, messages and inbound events.
//!
//! The JSON form of [`InboundEvent`] is a public contract (it is what `messenger parse` prints, one
//! event a line): field names and tags here must not change without a major version.
//!
//! Message content is personal data. Every type that can hold message text, a caption, a file name,
//! a phone number or a person's name implements `Debug` by hand and prints only lengths or a
//! non-reversible fingerprint, so that a `{:?}` in a log line never leaks content.

use std::fmt;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use crate::redact::{MimeEssence, redacted};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::{Deserialize, Serialize};
use url::Url;

/// A stream of bytes: the body of an upload or a download, never held in memory whole.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static>>;

/// One of the five supported messaging platforms.
///
/// ```
/// use messenger_core::Platform;
/// assert_eq!(serde_json::to_string(&Platform::WhatsApp).unwrap(), "\"whatsapp\"");
/// assert_eq!("vk".parse::<Platform>().unwrap(), Platform::Vk);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Platform {
    /// Telegram Bot API.
    Telegram,
    /// WhatsApp Business Cloud API.
    WhatsApp,
    /// MAX Bot API.
    Max,
    /// VK communities (Bots Long Poll / Callback API).
    Vk,
    /// Avito Messenger API.
    Avito,
}

impl Platform {
    /// Every platform, in the order the capability matrix prints them.
    pub const ALL: [Platform; 5] = [
        Platform::Telegram,
        Platform::WhatsApp,
        Platform::Max,
        Platform::Vk,
        Platform::Avito,
    ];

    /// The lowercase name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Telegram => "telegram",
            Platform::WhatsApp => "whatsapp",
            Platform::Max => "max",
            Platform::Vk => "vk",
            Platform::Avito => "avito",
        }
    }

    /// The name people read: `Telegram`, `WhatsApp`, `MAX`, `VK`, `Avito`.
    pub fn display_name(self) -> &'static str {
        match self {
            Platform::Telegram => "Telegram",
            Platform::WhatsApp => "WhatsApp",
            Platform::Max => "MAX",
            Platform::Vk => "VK",
            Platform::Avito => "Avito",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`Platform`] from a string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform `{0}` (expected one of telegram, whatsapp, max, vk, avito)")]
pub struct UnknownPlatform(pub String);

impl std::str::FromStr for Platform {
    type Err = UnknownPlatform;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownPlatform(s.to_owned()))
    }
}

/// A short, stable, non-reversible fingerprint of an identifier (FNV-1a, 32 bits, hex).
///
/// Used by the `Debug` impls of ids, because on some platforms an id is a phone number
/// (a WhatsApp `wa_id`) and must not appear in logs.
pub fn fingerprint(value: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in value.as_bytes() {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Numeric platform ids are rendered in decimal; text ids are kept as they are. `Display`
        /// gives the raw value (it goes into requests); `Debug` gives only a fingerprint, because
        /// an id can be a phone number.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a raw id.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }
            /// The raw id.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The id as a signed integer, where it is one.
            pub fn as_i64(&self) -> Option<i64> {
                self.0.parse().ok()
            }
            /// A non-reversible fingerprint, safe to log.
            pub fn fingerprint(&self) -> String {
                fingerprint(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(#{})", stringify!($name), self.fingerprint())
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
        impl From<i64> for $name {
            fn from(n: i64) -> Self {
                Self(n.to_string())
            }
        }
        impl From<u64> for $name {
            fn from(n: u64) -> Self {
                Self(n.to_string())
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A conversation on a platform (a Telegram chat, a WhatsApp user's number, a VK peer).
    ChatId
);
string_id!(
    /// A message on a platform, unique within its chat.
    MessageId
);
string_id!(
    /// A person or bot on a platform.
    UserId
);
string_id!(
    /// Media already known to a platform (a Telegram `file_id`, a WhatsApp media id).
    MediaId
);
string_id!(
    /// The CRM's own key for one connected account.
    AccountId
);

/// What kind of content a message carries; the key of the capability matrix.
///
/// ```
/// use messenger_core::ContentKind;
/// assert_eq!(serde_json::to_string(&ContentKind::Voice).unwrap(), "\"voice\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentKind {
    /// Plain text.
    Text,
    /// A picture shown inline.
    Image,
    /// Any file, shown as a document.
    File,
    /// A voice note (recorded speech, shown with a waveform where the platform can).
    Voice,
    /// An audio track (music player).
    Audio,
    /// A video.
    Video,
    /// A sticker (inbound only).
    Sticker,
    /// A point on a map (inbound only).
    Location,
    /// A shared contact card (inbound only).
    Contact,
    /// Anything the core does not model (inbound only).
    Unsupported,
}

impl ContentKind {
    /// The kinds that can be sent through [`OutgoingContent`].
    pub const SENDABLE: [ContentKind; 6] = [
        ContentKind::Text,
        ContentKind::Image,
        ContentKind::File,
        ContentKind::Voice,
        ContentKind::Audio,
        ContentKind::Video,
    ];

    /// The lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::Text => "text",
            ContentKind::Image => "image",
            ContentKind::File => "file",
            ContentKind::Voice => "voice",
            ContentKind::Audio => "audio",
            ContentKind::Video => "video",
            ContentKind::Sticker => "sticker",
            ContentKind::Location => "location",
            ContentKind::Contact => "contact",
            ContentKind::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for ContentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Inbound media: what a platform told us about a file a customer sent.
///
/// Turn it into bytes with [`Messenger::download`](crate::Messenger::download).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    /// The platform's media id (Telegram `file_id`, WhatsApp media id).
    pub id: MediaId,
    /// The MIME type, where the platform says it.
    pub mime_type: Option<String>,
    /// The original file name, where the platform keeps it.
    pub file_name: Option<String>,
    /// The size in bytes, where known.
    pub size: Option<u64>,
}

impl MediaRef {
    /// A reference with only an id.
    pub fn new(id: impl Into<MediaId>) -> Self {
        Self {
            id: id.into(),
            mime_type: None,
            file_name: None,
            size: None,
        }
    }
}

impl fmt::Debug for MediaRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaRef")
            .field("id", &self.id)
            .field("mime_type", &MimeEssence(self.mime_type.as_deref()))
            .field("file_name", &redacted(&self.file_name))
            .field("size", &self.size)
            .finish()
    }
}

pub use crate::redact::{Redacted, TextLen, mime_essence};

/// A content body of a received message.
///
/// Serialises as `{"kind": "text", "text": ...}` or
/// `{"kind": "image", "media": {"id", "mime_type", "file_name", "size"}, "caption": ...}`.
///
/// ```
/// use messenger_core::Content;
/// let c = Content::Text { text: "hi".into() };
/// assert_eq!(serde_json::to_value(&c).unwrap(), serde_json::json!({"kind": "text", "text": "hi"}));
/// assert_eq!(format!("{c:?}"), "Text { text: <2 chars> }");
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Content {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// A picture.
    Image {
        /// The picture (the largest size where the platform sends several).
        media: MediaRef,
        /// Its caption.
        caption: Option<String>,
    },
    /// A file.
    File {
        /// The file.
        media: MediaRef,
        /// Its caption.
        caption: Option<String>,
    },
    /// A voice note.
    Voice {
        /// The recording.
        media: MediaRef,
        /// Its caption (Telegram voice notes carry one).
        caption: Option<String>,
    },
    /// An audio track.
    Audio {
        /// The track.
        media: MediaRef,
        /// Its caption.
        caption: Option<String>,
    },
    /// A video.
    Video {
        /// The video.
        media: MediaRef,
        /// Its caption.
        caption: Option<String>,
    },
    /// A sticker.
    Sticker {
        /// The sticker image.
        media: MediaRef,
        /// The emoji the sticker stands for, where given.
        emoji: Option<String>,
    },
    /// A point on a map.
    Location {
        /// Latitude in degrees.
        latitude: f64,
        /// Longitude in degrees.
        longitude: f64,
        /// A place name, where given.
        name: Option<String>,
        /// An address, where given.
        address: Option<String>,
    },
    /// A shared contact card.
    Contact {
        /// The contact's display name.
        name: Option<String>,
        /// The contact's phone number.
        phone: Option<String>,
        /// The contact's user id on the same platform, where given.
        user_id: Option<UserId>,
    },
    /// Content the core does not model (a poll, a dice, a game...).
    ///
    /// Serialised as `{"kind": "unsupported", "platform_kind": "poll"}`: `kind` is the tag.
    Unsupported {
        /// The platform's name for it (`poll`, `dice`, `reaction`...).
        platform_kind: String,
    },
}

impl Content {
    /// The kind of this content.
    pub fn kind(&self) -> ContentKind {
        match self {
            Content::Text { .. } => ContentKind::Text,
            Content::Image { .. } => ContentKind::Image,
            Content::File { .. } => ContentKind::File,
            Content::Voice { .. } => ContentKind::Voice,
            Content::Audio { .. } => ContentKind::Audio,
            Content::Video { .. } => ContentKind::Video,
            Content::Sticker { .. } => ContentKind::Sticker,
            Content::Location { .. } => ContentKind::Location,
            Content::Contact { .. } => ContentKind::Contact,
            Content::Unsupported { .. } => ContentKind::Unsupported,
        }
    }

    /// The text of a text message, or the caption of a media message.
    pub fn text(&self) -> Option<&str> {
        match self {
            Content::Text { text } => Some(text),
            Content::Image { caption, .. }
            | Content::File { caption, .. }
            | Content::Voice { caption, .. }
            | Content::Audio { caption, .. }
            | Content::Video { caption, .. } => caption.as_deref(),
            _ => None,
        }
    }

    /// The media of a media message.
    pub fn media(&self) -> Option<&MediaRef> {
        match self {
            Content::Image { media, .. }
            | Content::File { media, .. }
            | Content::Voice { media, .. }
            | Content::Audio { media, .. }
            | Content::Video { media, .. }
            | Content::Sticker { media, .. } => Some(media),
            _ => None,
        }
    }
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn caption(c: &Option<String>) -> Option<TextLen<'_>> {
            c.as_deref().map(TextLen)
        }
        match self {
            Content::Text { text } => f
                .debug_struct("Text")
                .field("text", &TextLen(text))
                .finish(),
            Content::Image { media, caption: c }
            | Content::File { media, caption: c }
            | Content::Voice { media, caption: c }
            | Content::Audio { media, caption: c }
            | Content::Video { media, caption: c } => {
                let name = match self.kind() {
                    ContentKind::Image => "Image",
                    ContentKind::File => "File",
                    ContentKind::Voice => "Voice",
                    ContentKind::Audio => "Audio",
                    _ => "Video",
                };
                f.debug_struct(name)
                    .field("media", media)
                    .field("caption", &caption(c))
                    .finish()
            }
            Content::Sticker { media, emoji } => f
                .debug_struct("Sticker")
                .field("media", media)
                .field("emoji", emoji)
                .finish(),
            Content::Location { .. } => f.write_str("Location { <redacted> }"),
            Content::Contact { .. } => f.write_str("Contact { <redacted> }"),
            Content::Unsupported { platform_kind } => f
                .debug_struct("Unsupported")
                .field("platform_kind", platform_kind)
                .finish(),
        }
    }
}

/// Opens a fresh byte stream each time it is called (a retry re-reads from the start).
pub type StreamOpener = Arc<dyn Fn() -> ByteStream + Send + Sync>;

/// Where the bytes of outbound media come from.
///
/// ```
/// use messenger_core::MediaSource;
/// let src = MediaSource::bytes(vec![1, 2, 3], "image/png", "a.png");
/// assert_eq!(src.len(), Some(3));
/// assert_eq!(src.mime_type(), Some("image/png"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum MediaSource {
    /// Bytes in memory.
    Bytes {
        /// The content.
        data: Bytes,
        /// Its MIME type.
        mime_type: String,
        /// The file name shown to the recipient.
        file_name: String,
    },
    /// A stream of known length, opened anew for every attempt.
    Stream {
        /// Opens the stream.
        open: StreamOpener,
        /// The exact length in bytes.
        length: u64,
        /// Its MIME type.
        mime_type: String,
        /// The file name shown to the recipient.
        file_name: String,
    },
    /// A public URL the platform fetches itself.
    Url(Url),
    /// Media the platform already has (a Telegram `file_id`, a WhatsApp media id).
    Id(MediaId),
}

impl MediaSource {
    /// Media from bytes in memory.
    pub fn bytes(
        data: impl Into<Bytes>,
        mime_type: impl Into<String>,
        file_name: impl Into<String>,
    ) -> Self {
        MediaSource::Bytes {
            data: data.into(),
            mime_type: mime_type.into(),
            file_name: file_name.into(),
        }
    }

    /// Media from a stream of known length; `open` is called once per attempt.
    pub fn stream(
        length: u64,
        mime_type: impl Into<String>,
        file_name: impl Into<String>,
        open: impl Fn() -> ByteStream + Send + Sync + 'static,
    ) -> Self {
        MediaSource::Stream {
            open: Arc::new(open),
            length,
            mime_type: mime_type.into(),
            file_name: file_name.into(),
        }
    }

    /// Media streamed from a file on disk, read lazily in chunks at each attempt.
    ///
    /// The length is read now; the MIME type is given by the caller.
    pub async fn file(
        path: impl AsRef<Path>,
        mime_type: impl Into<String>,
    ) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let length = tokio::fs::metadata(&path).await?.len();
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_owned());
        Ok(MediaSource::stream(
            length,
            mime_type,
            file_name,
            move || {
                let path = path.clone();
                let open = async move {
                    let file = tokio::fs::File::open(path).await?;
                    Ok::<_, std::io::Error>(tokio_util::io::ReaderStream::new(file))
                };
                let stream = futures::TryFutureExt::try_flatten_stream(open);
                Box::pin(stream) as ByteStream
            },
        ))
    }

    /// Media the platform fetches from a public URL.
    pub fn url(url: Url) -> Self {
        MediaSource::Url(url)
    }

    /// Media the platform already holds.
    pub fn id(id: impl Into<MediaId>) -> Self {
        MediaSource::Id(id.into())
    }

    /// The size in bytes, where known before sending.
    pub fn len(&self) -> Option<u64> {
        match self {
            MediaSource::Bytes { data, .. } => Some(data.len() as u64),
            MediaSource::Stream { length, .. } => Some(*length),
            MediaSource::Url(_) | MediaSource::Id(_) => None,
        }
    }

    /// Whether the media is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The MIME type, where known before sending.
    pub fn mime_type(&self) -> Option<&str> {
        match self {
            MediaSource::Bytes { mime_type, .. } | MediaSource::Stream { mime_type, .. } => {
                Some(mime_type)
            }
            MediaSource::Url(_) | MediaSource::Id(_) => None,
        }
    }

    /// The file name, where known.
    pub fn file_name(&self) -> Option<&str> {
        match self {
            MediaSource::Bytes { file_name, .. } | MediaSource::Stream { file_name, .. } => {
                Some(file_name)
            }
            MediaSource::Url(_) | MediaSource::Id(_) => None,
        }
    }

    /// Whether the bytes travel in the request (an upload), rather than by reference.
    pub fn is_upload(&self) -> bool {
        matches!(self, MediaSource::Bytes { .. } | MediaSource::Stream { .. })
    }

    /// A fresh stream of the bytes of an upload (`None` for a URL or an id).
    pub fn open(&self) -> Option<ByteStream> {
        match self {
            MediaSource::Bytes { data, .. } => {
                let data = data.clone();
                Some(Box::pin(futures::stream::once(async move { Ok(data) })))
            }
            MediaSource::Stream { open, .. } => Some(open()),
            MediaSource::Url(_) | MediaSource::Id(_) => None,
        }
    }
}

impl fmt::Debug for MediaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaSource::Bytes {
                data, mime_type, ..
            } => f
                .debug_struct("Bytes")
                .field("len", &data.len())
                .field("mime_type", &mime_essence(mime_type))
                .field("file_name", &Redacted)
                .finish(),
            MediaSource::Stream {
                length, mime_type, ..
            } => f
                .debug_struct("Stream")
                .field("length", length)
                .field("mime_type", &mime_essence(mime_type))
                .field("file_name", &Redacted)
                .finish(),
            // A URL can carry a signature or a personal path: only its host is shown.
            MediaSource::Url(url) => write!(f, "Url({})", url.host_str().unwrap_or("?")),
            MediaSource::Id(id) => f.debug_tuple("Id").field(id).finish(),
        }
    }
}

/// The body of an outbound message.
///
/// ```
/// use messenger_core::{OutgoingContent, ContentKind};
/// let c = OutgoingContent::text("Привет");
/// assert_eq!(c.kind(), ContentKind::Text);
/// assert_eq!(format!("{c:?}"), "Text { text: <6 chars> }");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum OutgoingContent {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// A picture.
    Image {
        /// The picture.
        media: MediaSource,
        /// Its caption.
        caption: Option<String>,
    },
    /// A file.
    File {
        /// The file.
        media: MediaSource,
        /// Its caption.
        caption: Option<String>,
    },
    /// A voice note.
    Voice {
        /// The recording.
        media: MediaSource,
        /// Its caption.
        caption: Option<String>,
    },
    /// An audio track.
    Audio {
        /// The track.
        media: MediaSource,
        /// Its caption.
        caption: Option<String>,
    },
    /// A video.
    Video {
        /// The video.
        media: MediaSource,
        /// Its caption.
        caption: Option<String>,
    },
}

impl OutgoingContent {
    /// Text content.
    pub fn text(text: impl Into<String>) -> Self {
        OutgoingContent::Text { text: text.into() }
    }

    /// Media content of the given kind; `None` for [`ContentKind`]s that cannot be sent.
    pub fn media(kind: ContentKind, media: MediaSource, caption: Option<String>) -> Option<Self> {
        Some(match kind {
            ContentKind::Image => OutgoingContent::Image { media, caption },
            ContentKind::File => OutgoingContent::File { media, caption },
            ContentKind::Voice => OutgoingContent::Voice { media, caption },
            ContentKind::Audio => OutgoingContent::Audio { media, caption },
            ContentKind::Video => OutgoingContent::Video { media, caption },
            _ => return None,
        })
    }

    /// The kind of this content.
    pub fn kind(&self) -> ContentKind {
        match self {
            OutgoingContent::Text { .. } => ContentKind::Text,
            OutgoingContent::Image { .. } => ContentKind::Image,
            OutgoingContent::File { .. } => ContentKind::File,
            OutgoingContent::Voice { .. } => ContentKind::Voice,
            OutgoingContent::Audio { .. } => ContentKind::Audio,
            OutgoingContent::Video { .. } => ContentKind::Video,
        }
    }

    /// The media, for every kind but text.
    pub fn media_source(&self) -> Option<&MediaSource> {
        match self {
            OutgoingContent::Text { .. } => None,
            OutgoingContent::Image { media, .. }
            | OutgoingContent::File { media, .. }
            | OutgoingContent::Voice { media, .. }
            | OutgoingContent::Audio { media, .. }
            | OutgoingContent::Video { media, .. } => Some(media),
        }
    }

    /// The caption, for media kinds.
    pub fn caption(&self) -> Option<&str> {
        match self {
            OutgoingContent::Text { .. } => None,
            OutgoingContent::Image { caption, .. }
            | OutgoingContent::File { caption, .. }
            | OutgoingContent::Voice { caption, .. }
            | OutgoingContent::Audio { caption, .. }
            | OutgoingContent::Video { caption, .. } => caption.as_deref(),
        }
    }
}

impl fmt::Debug for OutgoingContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutgoingContent::Text { text } => f
                .debug_struct("Text")
                .field("text", &TextLen(text))
                .finish(),
            other => {
                let name = match other.kind() {
                    ContentKind::Image => "Image",
                    ContentKind::File => "File",
                    ContentKind::Voice => "Voice",
                    ContentKind::Audio => "Audio",
                    _ => "Video",
                };
                f.debug_struct(name)
                    .field("media", &other.media_source())
                    .field("caption", &other.caption().map(TextLen))
                    .finish()
            }
        }
    }
}

/// How the planner treats what a platform cannot do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Policy {
    /// Degrade along the fallback chains and report every [`Downgrade`](crate::plan::Downgrade).
    #[default]
    Lenient,
    /// Fail with [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) instead of degrading
    /// the content kind (splitting long text is still allowed: nothing is lost by it).
    Strict,
}

/// A message to send.
///
/// ```
/// use messenger_core::{OutgoingMessage, Policy};
/// let msg = OutgoingMessage::text("123", "Hello")
///     .reply_to("42")
///     .idempotency_key("order-17-confirmation")
///     .policy(Policy::Strict);
/// assert_eq!(msg.chat.as_str(), "123");
/// ```
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// The conversation to send to.
    pub chat: ChatId,
    /// What to send.
    pub content: OutgoingContent,
    /// The message this one answers, if any.
    pub reply_to: Option<MessageId>,
    /// The caller's key. Connectors of platforms that drop repeats under a key (VK's
    /// `random_id`) forward it, and only there is a send that may have gone through retried
    /// (see [`crate::layers::RetryPolicy::platform_deduplicates`]).
    pub idempotency_key: Option<String>,
    /// Degrade or fail where the platform lacks a feature.
    pub policy: Policy,
}

impl OutgoingMessage {
    /// A message with the given content.
    pub fn new(chat: impl Into<ChatId>, content: OutgoingContent) -> Self {
        Self {
            chat: chat.into(),
            content,
            reply_to: None,
            idempotency_key: None,
            policy: Policy::default(),
        }
    }

    /// A text message.
    pub fn text(chat: impl Into<ChatId>, text: impl Into<String>) -> Self {
        Self::new(chat, OutgoingContent::text(text))
    }

    /// Sets the message this one replies to.
    pub fn reply_to(mut self, message: impl Into<MessageId>) -> Self {
        self.reply_to = Some(message.into());
        self
    }

    /// Sets the caller's idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Sets the degradation policy.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
}

/// A pre-approved message template: the one kind WhatsApp accepts outside its 24-hour reply
/// window. Sent with [`Messenger::send_template`](crate::Messenger::send_template), which the
/// gate checks like any send (opt-outs, module state).
///
/// `components` is passed to the platform as it is (WhatsApp: the array of header, body and
/// button components); it can carry a customer's data, so `Debug` does not show it.
///
/// ```
/// use messenger_core::Template;
/// let t = Template::new("order_shipped", "ru")
///     .components(serde_json::json!([{"type": "body", "parameters": [{"type": "text", "text": "Иван"}]}]));
/// assert_eq!(t.name, "order_shipped");
/// assert!(!format!("{t:?}").contains("Иван"));
/// ```
#[derive(Clone, PartialEq)]
pub struct Template {
    /// The template's name, as approved.
    pub name: String,
    /// Its language code (`en_US`, `ru`).
    pub language: String,
    /// Its parameters, in the platform's shape; `Null` for none.
    pub components: serde_json::Value,
}

impl Template {
    /// A template without parameters.
    pub fn new(name: impl Into<String>, language: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            language: language.into(),
            components: serde_json::Value::Null,
        }
    }

    /// Sets the parameters.
    pub fn components(mut self, components: serde_json::Value) -> Self {
        self.components = components;
        self
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .field("language", &self.language)
            .field("components", &Redacted)
            .finish()
    }
}

/// Who sent an inbound message.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    /// The sender's platform id.
    pub id: UserId,
    /// The sender's display name, where the platform gives one.
    pub name: Option<String>,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("id", &self.id)
            .field("name", &redacted(&self.name))
            .finish()
    }
}

/// What a message has reached, in the order a message goes through them.
///
/// `Pending < Sent < Delivered < Read`; `Failed` stands apart (see
/// [`StatusTracker`](crate::status::StatusTracker)).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// Not yet accepted by the platform.
    Pending,
    /// Accepted by the platform.
    Sent,
    /// On the recipient's device.
    Delivered,
    /// Seen by the recipient (a WhatsApp voice note `played` counts as read).
    Read,
    /// Failed; the reason says why.
    Failed,
}

impl DeliveryStatus {
    /// The rank of a progress status (`Pending` 0 ... `Read` 3); `None` for `Failed`.
    pub fn rank(&self) -> Option<u8> {
        match self {
            DeliveryStatus::Pending => Some(0),
            DeliveryStatus::Sent => Some(1),
            DeliveryStatus::Delivered => Some(2),
            DeliveryStatus::Read => Some(3),
            DeliveryStatus::Failed => None,
        }
    }
}

/// Why a message failed, as a platform reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StatusError {
    /// The error class callers branch on.
    pub kind: crate::error::ErrorKind,
    /// The platform's own code, as text.
    pub code: Option<String>,
    /// The platform's description (never message content).
    pub message: Option<String>,
}

/// A change in a customer's relation to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContactChange {
    /// The customer blocked the bot / account.
    Blocked,
    /// The customer unblocked it.
    Unblocked,
    /// The customer refused further messages (a stop word or a platform signal).
    OptedOut,
    /// The customer agreed to messages again.
    OptedIn,
    /// The customer's id changed (a WhatsApp number or identity change, a Telegram group that
    /// became a supergroup): the conversation continues under
    /// [`ContactEvent::new_chat_id`], and the CRM relinks it.
    IdChanged,
}

/// The state of a connected account, reported as an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccountHealth {
    /// The platform answers and accepts the credentials.
    Connected,
    /// The credentials were refused.
    Unauthorized,
    /// The platform asks us to slow down.
    RateLimited,
    /// The operator suspended the platform, or the platform suspended the account.
    Suspended,
    /// The platform cannot be reached.
    Unavailable,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEvent {
    /// Where it came from.
    pub platform: Platform,
    /// The conversation.
    pub chat_id: ChatId,
    /// The message id.
    pub message_id: MessageId,
    /// Who sent it.
    pub sender: Option<Sender>,
    /// When it was sent (RFC 3339, UTC).
    pub timestamp: DateTime<Utc>,
    /// The message it answers.
    pub reply_to: Option<MessageId>,
    /// Whether this is an edit of an earlier message.
    pub edited: bool,
    /// What it says.
    pub content: Content,
}

/// A change of an outbound message's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEvent {
    /// Where it came from.
    pub platform: Platform,
    /// The conversation.
    pub chat_id: ChatId,
    /// The outbound message.
    pub message_id: MessageId,
    /// Its new status.
    pub status: DeliveryStatus,
    /// When the platform recorded it.
    pub timestamp: DateTime<Utc>,
    /// Why it failed, for `failed`.
    pub error: Option<StatusError>,
}

/// A change in a customer's relation to the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactEvent {
    /// Where it came from.
    pub platform: Platform,
    /// The conversation.
    pub chat_id: ChatId,
    /// The customer.
    pub user_id: UserId,
    /// What changed.
    pub change: ContactChange,
    /// The conversation's new id, for [`ContactChange::IdChanged`] (absent from the JSON
    /// otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_chat_id: Option<ChatId>,
    /// When.
    pub timestamp: DateTime<Utc>,
}

impl ContactEvent {
    /// A contact event without a new chat id.
    pub fn new(
        platform: Platform,
        chat_id: impl Into<ChatId>,
        user_id: impl Into<UserId>,
        change: ContactChange,
        timestamp: DateTime<Utc>,
    ) -> Self {
        Self {
            platform,
            chat_id: chat_id.into(),
            user_id: user_id.into(),
            change,
            new_chat_id: None,
            timestamp,
        }
    }
}

/// A change in the connected account's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountEvent {
    /// Where it came from.
    pub platform: Platform,
    /// The new state.
    pub health: AccountHealth,
    /// When it was observed.
    pub timestamp: DateTime<Utc>,
}

/// An update the core does not model; never an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherEvent {
    /// Where it came from.
    pub platform: Platform,
    /// The platform's name for it (`callback_query`, `poll`, `chat_member`...).
    pub kind: String,
    /// The conversation it concerns, wherever there is one (absent from the JSON otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<ChatId>,
}

impl OtherEvent {
    /// An event of `kind` that concerns no particular conversation.
    pub fn new(platform: Platform, kind: impl Into<String>) -> Self {
        Self {
            platform,
            kind: kind.into(),
            chat_id: None,
        }
    }

    /// The same event, about the conversation `chat`.
    pub fn in_chat(mut self, chat: impl Into<ChatId>) -> Self {
        self.chat_id = Some(chat.into());
        self
    }
}

/// Something that happened on a platform, normalised.
///
/// Serialised with a `"type"` tag: `message`, `status`, `contact`, `account`, `other`.
///
/// ```
/// use messenger_core::{InboundEvent, OtherEvent, Platform};
/// let e = InboundEvent::Other(OtherEvent::new(Platform::Telegram, "poll"));
/// assert_eq!(
///     serde_json::to_string(&e).unwrap(),
///     r#"{"type":"other","platform":"telegram","kind":"poll"}"#
/// );
/// let e = InboundEvent::Other(OtherEvent::new(Platform::Telegram, "poll").in_chat("-100123"));
/// assert_eq!(
///     serde_json::to_string(&e).unwrap(),
///     r#"{"type":"other","platform":"telegram","kind":"poll","chat_id":"-100123"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InboundEvent {
    /// A received message.
    Message(MessageEvent),
    /// A status change of an outbound message.
    Status(StatusEvent),
    /// A customer blocked, unblocked, opted out or opted in.
    Contact(ContactEvent),
    /// The account's health changed.
    Account(AccountEvent),
    /// Anything else.
    Other(OtherEvent),
}

impl InboundEvent {
    /// The platform the event came from.
    pub fn platform(&self) -> Platform {
        match self {
            InboundEvent::Message(e) => e.platform,
            InboundEvent::Status(e) => e.platform,
            InboundEvent::Contact(e) => e.platform,
            InboundEvent::Account(e) => e.platform,
            InboundEvent::Other(e) => e.platform,
        }
    }

    /// The conversation the event belongs to, where it has one.
    pub fn chat_id(&self) -> Option<&ChatId> {
        match self {
            InboundEvent::Message(e) => Some(&e.chat_id),
            InboundEvent::Status(e) => Some(&e.chat_id),
            InboundEvent::Contact(e) => Some(&e.chat_id),
            InboundEvent::Other(e) => e.chat_id.as_ref(),
            InboundEvent::Account(_) => None,
        }
    }

    /// A key that is the same for two deliveries of the same event, for de-duplication.
    ///
    /// `None` for events that carry no platform id (`account`, `other`).
    pub fn dedup_key(&self) -> Option<String> {
        match self {
            InboundEvent::Message(e) => Some(format!(
                "{}:m:{}:{}:{}:{}",
                e.platform,
                e.chat_id,
                e.message_id,
                e.edited,
                e.timestamp.timestamp()
            )),
            InboundEvent::Status(e) => Some(format!(
                "{}:s:{}:{}:{:?}",
                e.platform, e.chat_id, e.message_id, e.status
            )),
            InboundEvent::Contact(e) => Some(format!(
                "{}:c:{}:{}:{:?}:{}",
                e.platform,
                e.chat_id,
                e.user_id,
                e.change,
                e.timestamp.timestamp()
            )),
            InboundEvent::Account(_) | InboundEvent::Other(_) => None,
        }
    }
}

/// The identity of a connected account, as the platform reports it on connect.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// The platform.
    pub platform: Platform,
    /// The account's id on the platform (bot id, phone-number id, community id).
    pub id: UserId,
    /// Its display name.
    pub name: Option<String>,
    /// Its public handle (a bot's `@username`), where there is one.
    pub username: Option<String>,
}

impl fmt::Debug for AccountInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An account's name and handle are the business's, not a customer's: shown.
        f.debug_struct("AccountInfo")
            .field("platform", &self.platform)
            .field("id", &self.id.as_str())
            .field("name", &self.name)
            .field("username", &self.username)
            .finish()
    }
}
