//! The planner and its splitter (`messenger_core::plan::plan`, `split_text`), on any text or
//! caption, each platform's capabilities (or a small limit in any unit, so that short inputs
//! split too), every content kind, media source and reply window. It checks what
//! `split_text` documents:
//!
//! - text within the limit comes back whole and untouched;
//! - longer text: every piece is non-empty and within the limit in the platform's unit; the
//!   first and last grapheme clusters of a piece are not whitespace; the pieces, in order,
//!   with only whitespace clusters between and around them, are the whole text (nothing but
//!   whitespace at a cut, or at the very start and end, is dropped);
//! - every cut is a grapheme-cluster boundary of the text, so never inside a UTF-16 surrogate
//!   pair (Rust strings hold none half), a ZWJ sequence, a flag or a `\r\n`;
//! - `TooLarge` exactly when one non-whitespace cluster alone is over the limit;
//!
//! and what `plan` documents: a closed window refuses first; blank text is `InvalidInput`; a
//! text plan is the splitter's pieces; a caption stays on the media when it fits, else it is
//! the splitter's pieces of the caption right after the media (or of the link text, when a
//! URL is sent as a link); every part is within its limit; `reply_to` is on the first part
//! only and the idempotency key is `<key>#<index>` on each.
#![no_main]

use libfuzzer_sys::fuzz_target;
use messenger_core::capabilities::TextLimit;
use messenger_core::plan::{DowngradeReason, ReplyWindow, plan, split_text};
use messenger_core::{
    Capabilities, ContentKind, ErrorKind, LengthUnit, MediaSource, OutgoingContent,
    OutgoingMessage, Policy,
};
use messenger_fuzz::PLATFORMS;
use unicode_segmentation::UnicodeSegmentation;

const UNITS: [LengthUnit; 3] = [LengthUnit::Utf16, LengthUnit::Chars, LengthUnit::Bytes];
const KINDS: [ContentKind; 5] = [
    ContentKind::Image,
    ContentKind::File,
    ContentKind::Voice,
    ContentKind::Audio,
    ContentKind::Video,
];
const MIMES: [&str; 12] = [
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "audio/ogg",
    "audio/mpeg",
    "audio/wav",
    "video/mp4",
    "application/pdf",
    "text/plain",
    "image/jpeg; name=\"photo.jpg\"",
    "",
];
const WINDOWS: [ReplyWindow; 4] = [
    ReplyWindow::NotApplicable,
    ReplyWindow::Open,
    ReplyWindow::Unknown,
    ReplyWindow::Closed,
];
const URL: &str = "https://cdn.example.com/media/file.bin";

fn is_ws_cluster(cluster: &str) -> bool {
    cluster.chars().all(char::is_whitespace)
}

/// The byte offset past the whitespace clusters at `pos`.
fn skip_ws(text: &str, pos: usize) -> usize {
    pos + text[pos..]
        .graphemes(true)
        .take_while(|c| is_ws_cluster(c))
        .map(str::len)
        .sum::<usize>()
}

/// Checks `pieces` as the split of `text` under `limit` (see the target's docs).
fn check_pieces<S: AsRef<str>>(text: &str, pieces: &[S], limit: TextLimit) {
    let unit = limit.unit;
    if unit.len(text) <= limit.max_len {
        assert_eq!(pieces.len(), 1, "text within the limit is one piece");
        assert_eq!(
            pieces[0].as_ref(),
            text,
            "text within the limit is untouched"
        );
        return;
    }
    let bounds: Vec<usize> = text
        .grapheme_indices(true)
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let mut pos = skip_ws(text, 0);
    for piece in pieces {
        let piece = piece.as_ref();
        assert!(!piece.is_empty(), "an empty piece");
        assert!(unit.len(piece) <= limit.max_len, "a piece over the limit");
        assert!(
            text[pos..].starts_with(piece),
            "the pieces are not the text minus whitespace at the cuts"
        );
        assert!(
            bounds.binary_search(&pos).is_ok(),
            "a piece starts inside a cluster"
        );
        let end = pos + piece.len();
        assert!(
            bounds.binary_search(&end).is_ok(),
            "a cut inside a grapheme cluster"
        );
        let mut clusters = text[pos..end].graphemes(true);
        assert!(
            !clusters.next().is_some_and(is_ws_cluster),
            "a piece starts with whitespace"
        );
        assert!(
            !clusters.next_back().is_some_and(is_ws_cluster),
            "a piece ends with whitespace"
        );
        pos = skip_ws(text, end);
    }
    assert_eq!(pos, text.len(), "text left over after the last piece");
}

/// `split_text`, checked; its pieces, or `None` for `TooLarge`. (On success, `check_pieces`
/// also shows that no cluster is over the limit: every non-whitespace cluster lies in a piece.)
fn split_checked(text: &str, limit: TextLimit) -> Option<Vec<&str>> {
    match split_text(text, limit) {
        Ok(pieces) => {
            check_pieces(text, &pieces, limit);
            Some(pieces)
        }
        Err(err) => {
            assert_eq!(
                err.kind(),
                ErrorKind::TooLarge,
                "split_text fails only as TooLarge"
            );
            let giant = limit.unit.len(text) > limit.max_len
                && text
                    .graphemes(true)
                    .any(|c| !is_ws_cluster(c) && limit.unit.len(c) > limit.max_len);
            assert!(giant, "TooLarge though every cluster fits");
            None
        }
    }
}

fn within(text: &str, limit: Option<TextLimit>) -> bool {
    limit.is_some_and(|l| l.unit.len(text) <= l.max_len)
}

fuzz_target!(|data: &[u8]| {
    let [
        platform,
        mode,
        small,
        unit,
        repeat,
        mime,
        size_hi,
        size_lo,
        rest @ ..,
    ] = data
    else {
        return;
    };
    let mut caps = Capabilities::of(PLATFORMS[*platform as usize % PLATFORMS.len()]);
    let real_limits = mode & 0x80 == 0;
    if !real_limits {
        let unit = UNITS[*unit as usize % UNITS.len()];
        caps.text = TextLimit {
            max_len: 1 + (*small as usize % 64),
            unit,
        };
        caps.caption = (small & 0x40 == 0).then_some(TextLimit {
            max_len: 1 + (*small as usize % 16),
            unit,
        });
    }
    let piece = String::from_utf8_lossy(rest);
    // With the platforms' limits (thousands of units), repeat a short input to cross them, up
    // to about twice the text limit (the cost of a run grows with the text).
    let times = if real_limits {
        let unit_len = caps.text.unit.len(&piece).max(1);
        (1 + *repeat as usize).min(1 + 2 * caps.text.max_len / unit_len)
    } else {
        1
    };
    let text = piece.repeat(times);

    // The splitter alone, under the text limit and the caption limit.
    let pieces = split_checked(&text, caps.text);
    if let Some(caption) = caps.caption.filter(|c| *c != caps.text) {
        split_checked(&text, caption);
    }

    let window = WINDOWS[(mode >> 5) as usize % WINDOWS.len()];
    let policy = if mode & 0x10 == 0 {
        Policy::default()
    } else {
        Policy::Strict
    };
    let kind = KINDS[(mode >> 1) as usize % KINDS.len()];
    let size = u64::from(u16::from_be_bytes([*size_hi, *size_lo])) << (mime >> 4);
    let source = match (mode >> 2) & 3 {
        0 => None,
        1 => Some(MediaSource::stream(
            size,
            MIMES[*mime as usize % MIMES.len()],
            "file.bin",
            || Box::pin(futures::stream::empty()),
        )),
        2 => Some(MediaSource::url(URL.parse().expect("url"))),
        _ => Some(MediaSource::id("media-id-1")),
    };
    let content = match &source {
        None => OutgoingContent::text(text.as_str()),
        Some(media) => {
            OutgoingContent::media(kind, media.clone(), Some(text.clone())).expect("a media kind")
        }
    };
    let message = OutgoingMessage::new("42", content)
        .reply_to("7")
        .idempotency_key("k")
        .policy(policy);

    let result = plan(&message, &caps, window);
    if window == ReplyWindow::Closed {
        let err = result.expect_err("a closed window refuses");
        assert_eq!(err.kind(), ErrorKind::OutsideReplyWindow);
        return;
    }
    let blank = text.chars().all(char::is_whitespace);
    let plan = match result {
        Ok(plan) => plan,
        Err(err) => {
            let kind = err.kind();
            assert!(
                matches!(
                    kind,
                    ErrorKind::InvalidInput | ErrorKind::Unsupported | ErrorKind::TooLarge
                ),
                "plan failed as {kind:?}"
            );
            if source.is_none() {
                if blank {
                    assert_eq!(kind, ErrorKind::InvalidInput, "blank text");
                } else if caps.kind(ContentKind::Text).direction.can_send() {
                    assert!(
                        kind == ErrorKind::TooLarge && pieces.is_none(),
                        "text that splits was refused"
                    );
                }
            }
            return;
        }
    };
    assert!(!plan.parts.is_empty(), "a plan sends something");
    assert!(source.is_some() || !blank, "blank text was planned");
    for (index, part) in plan.parts.iter().enumerate() {
        assert_eq!(
            part.reply_to.is_some(),
            index == 0,
            "reply_to on the first part only"
        );
        assert_eq!(
            part.idempotency_key.as_deref(),
            Some(format!("k#{index}").as_str())
        );
        match &part.content {
            OutgoingContent::Text { text } => {
                assert!(within(text, Some(caps.text)), "a text part over the limit")
            }
            media => {
                assert_eq!(index, 0, "the media goes first");
                if let Some(c) = media.caption() {
                    assert!(within(c, caps.caption), "a caption over the limit");
                    assert!(
                        caps.kind(media.kind()).caption,
                        "a caption on a kind without"
                    );
                }
            }
        }
    }
    let texts: Vec<&str> = plan
        .parts
        .iter()
        .filter_map(|p| match &p.content {
            OutgoingContent::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let media = plan.parts[0]
        .content
        .media_source()
        .map(|_| &plan.parts[0].content);
    let split = plan
        .downgrades
        .iter()
        .any(|d| matches!(d.reason, DowngradeReason::TextSplit { .. }));
    match (&source, media) {
        (None, _) => {
            let pieces = pieces.expect("planned text splits");
            assert_eq!(texts, pieces, "a text plan is the splitter's pieces");
            assert_eq!(split, pieces.len() > 1, "a split is reported");
        }
        (Some(_), Some(media)) => match media.caption() {
            Some(c) => {
                assert_eq!(c, text, "the caption on the media is the caller's");
                assert!(texts.is_empty(), "a kept caption is not sent twice");
            }
            None if blank => assert!(texts.is_empty(), "a blank caption is left out"),
            None => {
                assert_eq!(
                    Some(texts),
                    pieces,
                    "a moved caption is the splitter's pieces"
                );
                let moved = plan
                    .downgrades
                    .iter()
                    .any(|d| matches!(d.reason, DowngradeReason::CaptionMoved { .. }));
                assert!(moved, "a moved caption is reported");
            }
        },
        (Some(_), None) => {
            let link = if blank {
                URL.to_owned()
            } else {
                format!("{text}\n{URL}")
            };
            check_pieces(&link, &texts, caps.text);
        }
    }
});
