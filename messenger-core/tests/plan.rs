//! The send planner: splitting, captions, fallback chains, limits, policy and the reply window.
//!
//! Capabilities are built from Telegram's and edited here, so these tests depend on no other
//! platform's data.

use std::collections::HashSet;

use messenger_core::capabilities::TextLimit;
use messenger_core::plan::{Downgrade, DowngradeReason, Plan, ReplyWindow, plan, split_text};
use messenger_core::{
    ByteStream, Capabilities, ContentKind, Direction, ErrorKind, LengthUnit, MediaSource,
    OutgoingContent, OutgoingMessage, Platform, Policy,
};
use proptest::prelude::*;
use unicode_segmentation::UnicodeSegmentation;

const MB: u64 = 1024 * 1024;

fn tg() -> Capabilities {
    Capabilities::of(Platform::Telegram)
}

fn open_plan(msg: &OutgoingMessage, caps: &Capabilities) -> Plan {
    plan(msg, caps, ReplyWindow::NotApplicable).expect("plan")
}

fn plan_err(msg: &OutgoingMessage, caps: &Capabilities) -> messenger_core::Error {
    match plan(msg, caps, ReplyWindow::NotApplicable) {
        Ok(p) => panic!("expected an error, got {} parts", p.parts.len()),
        Err(e) => e,
    }
}

fn texts(p: &Plan) -> Vec<String> {
    p.parts
        .iter()
        .map(|part| match &part.content {
            OutgoingContent::Text { text } => text.clone(),
            other => panic!("expected text, got {:?}", other.kind()),
        })
        .collect()
}

fn kinds(p: &Plan) -> Vec<ContentKind> {
    p.parts.iter().map(|part| part.content.kind()).collect()
}

/// A stream source of `len` bytes that never allocates them.
fn stream(len: u64, mime: &str, name: &str) -> MediaSource {
    MediaSource::stream(len, mime, name, || {
        Box::pin(futures::stream::empty()) as ByteStream
    })
}

fn media(kind: ContentKind, source: MediaSource, caption: Option<&str>) -> OutgoingMessage {
    let content = OutgoingContent::media(kind, source, caption.map(str::to_owned)).unwrap();
    OutgoingMessage::new("100", content)
}

fn url(u: &str) -> MediaSource {
    MediaSource::url(u.parse().unwrap())
}

/// Locates each part in `original` in order, allowing only whitespace to be skipped between
/// parts (and at the ends). Returns the byte range of each part in `original`.
fn locate(original: &str, parts: &[&str]) -> Vec<(usize, usize)> {
    let mut pos = 0;
    let mut ranges = Vec::new();
    for part in parts {
        while !original[pos..].starts_with(part) {
            let c = original[pos..]
                .chars()
                .next()
                .unwrap_or_else(|| panic!("part not found in the original"));
            assert!(
                c.is_whitespace(),
                "non-whitespace {c:?} dropped at byte {pos}"
            );
            pos += c.len_utf8();
        }
        ranges.push((pos, pos + part.len()));
        pos += part.len();
    }
    assert!(
        original[pos..].chars().all(char::is_whitespace),
        "text after the last part was dropped"
    );
    ranges
}

fn grapheme_boundaries(text: &str) -> HashSet<usize> {
    let mut set: HashSet<usize> = text.grapheme_indices(true).map(|(i, _)| i).collect();
    set.insert(text.len());
    set
}

/// Every property a split must have.
fn assert_valid_split(original: &str, parts: &[&str], limit: TextLimit) {
    let boundaries = grapheme_boundaries(original);
    for (start, end) in locate(original, parts) {
        assert!(
            boundaries.contains(&start),
            "part starts inside a grapheme cluster"
        );
        assert!(
            boundaries.contains(&end),
            "part ends inside a grapheme cluster"
        );
    }
    for part in parts {
        assert!(!part.is_empty(), "empty part");
        // Trimmed at its boundaries, cluster by cluster (a space with a combining mark on it,
        // or after a prepended mark, is a visible cluster and stays).
        let is_blank = |g: &str| g.chars().all(char::is_whitespace);
        let first = part.graphemes(true).next().unwrap();
        let last = part.graphemes(true).next_back().unwrap();
        assert!(
            !is_blank(first) && !is_blank(last),
            "part not trimmed at its boundary"
        );
        let len = limit.unit.len(part);
        assert!(len <= limit.max_len, "part of {len} over {}", limit.max_len);
    }
}

// ---------------------------------------------------------------- text splitting

/// Russian sentences of varying length with varying terminators, no line breaks.
fn cyrillic_sentences(count: usize) -> String {
    let ends = [".", "!", "?", "…"];
    (0..count)
        .map(|i| {
            format!(
                "Заказ №{i} собран на складе и передан в службу доставки{} Курьер позвонит за час до приезда{}",
                ", проверьте адрес".repeat(i % 4),
                ends[i % ends.len()]
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn cyrillic_text_over_4096_splits_at_sentence_ends() {
    let caps = tg();
    let text = cyrillic_sentences(150);
    assert!(LengthUnit::Utf16.len(&text) > 3 * 4096);
    let p = open_plan(&OutgoingMessage::text("1", text.clone()), &caps);
    let parts = texts(&p);
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    assert!(parts.len() >= 4, "{} parts", parts.len());
    assert_valid_split(&text, &refs, caps.text);
    for (i, part) in parts.iter().enumerate() {
        assert!(
            part.starts_with("Заказ №"),
            "part {i} does not start a sentence"
        );
        assert!(
            part.ends_with(['.', '!', '?', '…']),
            "part {i} does not end a sentence"
        );
        if i + 1 < parts.len() {
            // Cut at the last sentence end that fits, not at an earlier one.
            let next_sentence = parts[i + 1]
                .split_inclusive(['.', '!', '?', '…'])
                .next()
                .unwrap();
            assert!(
                LengthUnit::Utf16.len(part) + 1 + LengthUnit::Utf16.len(next_sentence) > 4096,
                "part {i} could have held one more sentence"
            );
        }
    }
    assert_eq!(
        p.downgrades,
        vec![Downgrade {
            from: ContentKind::Text,
            to: ContentKind::Text,
            reason: DowngradeReason::TextSplit {
                parts: parts.len(),
                limit: 4096
            },
        }]
    );
}

#[test]
fn paragraphs_are_preferred_over_sentences() {
    let paragraphs: Vec<String> = (0..12)
        .map(|i| {
            format!("Раздел {i}. ")
                + &"Это предложение внутри абзаца. ".repeat(25 + i * 3)
                + "Конец абзаца."
        })
        .collect();
    let text = paragraphs.join("\n\n");
    let limit = TextLimit {
        max_len: 4096,
        unit: LengthUnit::Utf16,
    };
    let parts = split_text(&text, limit).unwrap();
    assert!(parts.len() > 1);
    assert_valid_split(&text, &parts, limit);
    // Every part is a run of whole paragraphs.
    let mut next = 0;
    for part in &parts {
        for chunk in part.split("\n\n") {
            assert_eq!(chunk, paragraphs[next].as_str(), "a paragraph was cut");
            next += 1;
        }
    }
    assert_eq!(next, paragraphs.len());
}

#[test]
fn a_short_piece_beats_cutting_a_sentence() {
    // Two run-on sentences that fit one message together (4091 units), after a short one that
    // tips the whole over 4096.
    let run_on = "слово ".repeat(500).trim_end().to_owned() + " " + "текст ".repeat(182).trim_end();
    assert_eq!(LengthUnit::Utf16.len(&run_on), 4091);
    let text = format!("Коротко. {run_on}");
    let limit = TextLimit {
        max_len: 4096,
        unit: LengthUnit::Utf16,
    };
    let parts = split_text(&text, limit).unwrap();
    assert_valid_split(&text, &parts, limit);
    // Not "Коротко. слово ... текст" + "текст": the sentence boundary wins over a fuller piece.
    assert_eq!(parts, vec!["Коротко.", run_on.as_str()]);
}

#[test]
fn line_breaks_are_preferred_over_sentences_and_words() {
    let lines: Vec<String> = (0..200)
        .map(|i| {
            format!(
                "{i}. Позиция заказа: товар номер {i}. Количество {} шт.",
                i % 7 + 1
            )
        })
        .collect();
    let text = lines.join("\n");
    let limit = TextLimit {
        max_len: 500,
        unit: LengthUnit::Chars,
    };
    let parts = split_text(&text, limit).unwrap();
    assert_valid_split(&text, &parts, limit);
    for part in &parts {
        for line in part.split('\n') {
            assert!(lines.iter().any(|l| l == line), "a line was cut: {line:?}");
        }
    }
}

#[test]
fn words_are_kept_whole_when_there_are_no_sentences() {
    let text = "слово длинноеслово ещё-одно_слово ".repeat(300);
    let limit = TextLimit {
        max_len: 100,
        unit: LengthUnit::Utf16,
    };
    let parts = split_text(&text, limit).unwrap();
    assert_valid_split(&text, &parts, limit);
    let words: HashSet<&str> = text.split_whitespace().collect();
    for part in &parts {
        for word in part.split(' ') {
            assert!(words.contains(word), "word cut: {word:?}");
        }
    }
}

#[test]
fn no_break_spaces_are_kept_together_when_a_space_will_do() {
    // "10 000 ₽" uses no-break spaces; the cut must fall at an ordinary space.
    let text = "Итого 10\u{a0}000\u{a0}₽ к оплате ".repeat(50);
    let limit = TextLimit {
        max_len: 64,
        unit: LengthUnit::Chars,
    };
    let parts = split_text(&text, limit).unwrap();
    assert_valid_split(&text, &parts, limit);
    for part in &parts {
        assert!(!part.starts_with("000"), "cut inside 10\u{a0}000: {part:?}");
    }
}

#[test]
fn text_within_the_limit_is_untouched() {
    let caps = tg();
    let text = format!("  {}  ", "я".repeat(4000));
    let p = open_plan(&OutgoingMessage::text("1", text.clone()), &caps);
    assert_eq!(texts(&p), vec![text]);
    assert!(p.downgrades.is_empty());
}

const FAMILY: &str = "👨\u{200d}👩\u{200d}👧\u{200d}👦"; // 11 UTF-16 units, one cluster
const RU_FLAG: &str = "🇷🇺"; // two regional indicators, 4 units
const FLAGS: &str = "🇷🇺🇰🇿🇧🇾"; // three flags in a row: pairing matters

#[test]
fn emoji_text_over_a_utf16_limit_never_breaks_a_cluster() {
    let caps = tg();
    // No spaces at all: only grapheme boundaries are available.
    let blob = format!("{FAMILY}{FLAGS}😀é\u{301}{RU_FLAG}").repeat(300);
    let text = format!("Ура! {blob} Спасибо 🙏 {}", "🎉".repeat(2500));
    assert!(LengthUnit::Utf16.len(&text) > 4096 * 2);
    let p = open_plan(&OutgoingMessage::text("1", text.clone()), &caps);
    let parts = texts(&p);
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    assert!(parts.len() >= 3);
    assert_valid_split(&text, &refs, caps.text);
    // Small limits stress every boundary.
    for max_len in [11, 12, 13, 15, 22, 23] {
        let limit = TextLimit {
            max_len,
            unit: LengthUnit::Utf16,
        };
        let parts = split_text(&blob, limit).unwrap();
        assert_valid_split(&blob, &parts, limit);
        assert!(parts.iter().any(|p| p.contains(FAMILY)));
    }
}

#[test]
fn telegram_counts_utf16_not_chars() {
    let caps = tg();
    // 3000 chars, but 6000 UTF-16 units.
    let text = "😀".repeat(3000);
    let p = open_plan(&OutgoingMessage::text("1", text.clone()), &caps);
    let parts = texts(&p);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts.concat(), text);
    assert!(parts.iter().all(|p| LengthUnit::Utf16.len(p) <= 4096));
}

#[test]
fn a_cluster_longer_than_the_limit_is_too_large_not_broken() {
    let zalgo = format!("a{}", "\u{301}".repeat(50));
    let limit = TextLimit {
        max_len: 20,
        unit: LengthUnit::Chars,
    };
    let err = split_text(&format!("ok {zalgo} ok"), limit).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
}

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<char>().prop_map(String::from),
        2 => Just("a".to_owned()),
        2 => Just("ж".to_owned()),
        2 => Just(" ".to_owned()),
        1 => Just("\n".to_owned()),
        1 => Just("\n\n".to_owned()),
        1 => Just("\r\n".to_owned()),
        1 => Just(". ".to_owned()),
        1 => Just("! ".to_owned()),
        1 => Just("…".to_owned()),
        1 => Just("。".to_owned()),
        1 => Just("\u{a0}".to_owned()),
        1 => Just("😀".to_owned()),
        1 => Just(FAMILY.to_owned()),
        1 => Just(RU_FLAG.to_owned()),
        1 => Just("\u{1f1f7}".to_owned()), // a lone regional indicator
        1 => Just("e\u{301}".to_owned()),
        1 => Just("\u{301}".to_owned()),   // a combining mark after anything
        1 => Just("\u{200d}".to_owned()),  // a stray ZWJ
        1 => Just("\u{600}".to_owned()),   // a prepend mark: clusters with what follows
    ]
}

fn unit() -> impl Strategy<Value = LengthUnit> {
    prop_oneof![
        Just(LengthUnit::Utf16),
        Just(LengthUnit::Chars),
        Just(LengthUnit::Bytes)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_splits_into_valid_parts(
        pieces in prop::collection::vec(piece(), 0..200),
        max_len in 1usize..64,
        unit in unit(),
    ) {
        let text = pieces.concat();
        let limit = TextLimit { max_len, unit };
        match split_text(&text, limit) {
            Ok(parts) => {
                if unit.len(&text) <= max_len {
                    prop_assert_eq!(parts, vec![text.as_str()]);
                } else {
                    assert_valid_split(&text, &parts, limit);
                    if !text.chars().all(char::is_whitespace) {
                        prop_assert!(!parts.is_empty());
                    }
                }
            }
            Err(err) => {
                prop_assert_eq!(err.kind(), ErrorKind::TooLarge);
                // Only when some visible cluster alone cannot fit.
                prop_assert!(text
                    .graphemes(true)
                    .any(|g| !g.chars().all(char::is_whitespace) && unit.len(g) > max_len));
            }
        }
    }

    #[test]
    fn planned_text_reports_exactly_one_split(
        pieces in prop::collection::vec(piece(), 1..200),
        max_len in 8usize..64,
    ) {
        let text = pieces.concat();
        prop_assume!(!text.chars().all(char::is_whitespace));
        let mut caps = tg();
        caps.text.max_len = max_len;
        if let Ok(p) = plan(&OutgoingMessage::text("1", text.clone()).reply_to("5"), &caps, ReplyWindow::Open) {
            let parts = texts(&p);
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            if caps.text.unit.len(&text) <= max_len {
                prop_assert_eq!(refs, vec![text.as_str()]);
            } else {
                assert_valid_split(&text, &refs, caps.text);
            }
            prop_assert_eq!(p.downgrades.len(), usize::from(parts.len() > 1));
            prop_assert!(p.parts[0].reply_to.is_some());
            prop_assert!(p.parts[1..].iter().all(|part| part.reply_to.is_none()));
        }
    }
}

#[test]
fn reply_to_and_idempotency_keys_per_part() {
    let caps = tg();
    let msg = OutgoingMessage::text("1", cyrillic_sentences(100))
        .reply_to("77")
        .idempotency_key("order-5");
    let p = open_plan(&msg, &caps);
    assert!(p.parts.len() > 1);
    assert_eq!(p.parts[0].reply_to.as_ref().unwrap().as_str(), "77");
    for (i, part) in p.parts.iter().enumerate() {
        if i > 0 {
            assert!(part.reply_to.is_none());
        }
        assert_eq!(
            part.idempotency_key.as_deref(),
            Some(format!("order-5#{i}").as_str())
        );
    }
}

// ---------------------------------------------------------------- captions

#[test]
fn caption_over_the_limit_becomes_a_text_part_after_the_media() {
    let caps = tg();
    let caption = "Описание товара. ".repeat(70); // > 1024
    let msg = media(
        ContentKind::Image,
        MediaSource::bytes(vec![1u8; 100], "image/png", "p.png"),
        Some(&caption),
    )
    .reply_to("3");
    let p = open_plan(&msg, &caps);
    assert_eq!(kinds(&p), vec![ContentKind::Image, ContentKind::Text]);
    assert_eq!(p.parts[0].content.caption(), None);
    assert!(p.parts[0].reply_to.is_some() && p.parts[1].reply_to.is_none());
    match &p.parts[1].content {
        OutgoingContent::Text { text } => assert_eq!(text, &caption),
        _ => unreachable!(),
    }
    assert_eq!(
        p.downgrades,
        vec![Downgrade {
            from: ContentKind::Image,
            to: ContentKind::Text,
            reason: DowngradeReason::CaptionMoved { limit: 1024 },
        }]
    );
}

#[test]
fn caption_limit_is_counted_in_its_unit() {
    let caps = tg();
    let src = || MediaSource::bytes(vec![1u8; 100], "image/png", "p.png");
    // Exactly 1024 UTF-16 units: stays.
    let fits = "ю".repeat(1024);
    let p = open_plan(&media(ContentKind::Image, src(), Some(&fits)), &caps);
    assert_eq!(p.parts.len(), 1);
    assert_eq!(p.parts[0].content.caption(), Some(fits.as_str()));
    assert!(p.downgrades.is_empty());
    // 600 emoji: 600 chars but 1200 UTF-16 units: moved.
    let emoji = "😀".repeat(600);
    let p = open_plan(&media(ContentKind::Image, src(), Some(&emoji)), &caps);
    assert_eq!(kinds(&p), vec![ContentKind::Image, ContentKind::Text]);
}

#[test]
fn caption_longer_than_a_text_is_moved_and_split() {
    let caps = tg();
    let caption = cyrillic_sentences(80);
    assert!(LengthUnit::Utf16.len(&caption) > 4096);
    let msg = media(
        ContentKind::Video,
        MediaSource::bytes(vec![1u8; 100], "video/mp4", "v.mp4"),
        Some(&caption),
    );
    let p = open_plan(&msg, &caps);
    assert_eq!(p.parts[0].content.kind(), ContentKind::Video);
    assert!(p.parts.len() >= 3);
    assert!(
        p.parts[1..]
            .iter()
            .all(|x| x.content.kind() == ContentKind::Text)
    );
    let reasons: Vec<_> = p.downgrades.iter().map(|d| d.reason.clone()).collect();
    assert_eq!(
        reasons,
        vec![
            DowngradeReason::CaptionMoved { limit: 1024 },
            DowngradeReason::TextSplit {
                parts: p.parts.len() - 1,
                limit: 4096
            }
        ]
    );
}

#[test]
fn caption_on_a_kind_without_captions_is_moved_with_limit_zero() {
    let mut caps = tg();
    caps.kind_mut(ContentKind::Voice).caption = false;
    let msg = media(
        ContentKind::Voice,
        MediaSource::bytes(vec![1u8; 100], "audio/ogg", "v.ogg"),
        Some("короткая подпись"),
    );
    let p = open_plan(&msg, &caps);
    assert_eq!(kinds(&p), vec![ContentKind::Voice, ContentKind::Text]);
    assert_eq!(p.parts[0].content.caption(), None);
    assert_eq!(
        p.downgrades[0].reason,
        DowngradeReason::CaptionMoved { limit: 0 }
    );

    // A platform without captions at all.
    let mut caps = tg();
    caps.caption = None;
    let p = open_plan(&msg, &caps);
    assert_eq!(kinds(&p), vec![ContentKind::Voice, ContentKind::Text]);
    assert_eq!(
        p.downgrades[0].reason,
        DowngradeReason::CaptionMoved { limit: 0 }
    );
}

#[test]
fn strict_policy_still_moves_captions_and_splits_text() {
    let caps = tg();
    let caption = "Подпись. ".repeat(200);
    let msg = media(
        ContentKind::Image,
        MediaSource::bytes(vec![1u8; 100], "image/jpeg", "p.jpg"),
        Some(&caption),
    )
    .policy(Policy::Strict);
    let p = open_plan(&msg, &caps);
    assert_eq!(kinds(&p), vec![ContentKind::Image, ContentKind::Text]);

    let long = OutgoingMessage::text("1", cyrillic_sentences(100)).policy(Policy::Strict);
    assert!(open_plan(&long, &caps).parts.len() > 1);
}

// ---------------------------------------------------------------- fallback chains

#[test]
fn voice_in_a_refused_format_falls_back_to_audio() {
    let mut caps = tg();
    caps.kind_mut(ContentKind::Voice).mime_types = vec!["audio/ogg".into()];
    let msg = media(
        ContentKind::Voice,
        MediaSource::bytes(vec![1u8; 1000], "audio/mpeg", "v.mp3"),
        Some("послушайте"),
    );
    let p = open_plan(&msg, &caps);
    assert_eq!(kinds(&p), vec![ContentKind::Audio]);
    assert_eq!(p.parts[0].content.caption(), Some("послушайте"));
    assert_eq!(
        p.downgrades,
        vec![Downgrade {
            from: ContentKind::Voice,
            to: ContentKind::Audio,
            reason: DowngradeReason::MimeRefused {
                mime_type: "audio/mpeg".into()
            },
        }]
    );
    let err = plan_err(&msg.clone().policy(Policy::Strict), &caps);
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[test]
fn voice_without_voice_support_goes_audio_then_file() {
    let mut caps = tg();
    caps.kind_mut(ContentKind::Voice).direction = Direction::Receive;
    // OGG: not a voice here, and Telegram's sendAudio takes only MP3/M4A.
    let msg = media(
        ContentKind::Voice,
        MediaSource::bytes(vec![1u8; 1000], "audio/ogg", "v.ogg"),
        None,
    );
    let p = open_plan(&msg, &caps);
    assert_eq!(kinds(&p), vec![ContentKind::File]);
    assert_eq!(
        p.downgrades,
        vec![
            Downgrade {
                from: ContentKind::Voice,
                to: ContentKind::Audio,
                reason: DowngradeReason::KindUnsupported,
            },
            Downgrade {
                from: ContentKind::Audio,
                to: ContentKind::File,
                reason: DowngradeReason::MimeRefused {
                    mime_type: "audio/ogg".into()
                },
            },
        ]
    );
    let err = plan_err(&msg.policy(Policy::Strict), &caps);
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[test]
fn image_too_large_for_image_goes_as_file() {
    let caps = tg();
    let size = 11 * MB;
    let msg = media(
        ContentKind::Image,
        stream(size, "image/jpeg", "big.jpg"),
        Some("фото"),
    );
    let p = open_plan(&msg, &caps);
    assert_eq!(kinds(&p), vec![ContentKind::File]);
    assert_eq!(p.parts[0].content.caption(), Some("фото"));
    assert_eq!(
        p.downgrades,
        vec![Downgrade {
            from: ContentKind::Image,
            to: ContentKind::File,
            reason: DowngradeReason::TooLargeForKind {
                size,
                limit: 10 * MB
            },
        }]
    );
    let err = plan_err(&msg.policy(Policy::Strict), &caps);
    assert_eq!(err.kind(), ErrorKind::TooLarge);
}

#[test]
fn url_on_kinds_without_by_url_becomes_a_link() {
    let mut caps = tg();
    caps.kind_mut(ContentKind::Image).by_url = false;
    caps.kind_mut(ContentKind::File).by_url = false;
    let link = "https://example.com/catalog/item.jpg";
    let msg = media(ContentKind::Image, url(link), Some("Новинка")).reply_to("9");
    let p = open_plan(&msg, &caps);
    assert_eq!(texts(&p), vec![format!("Новинка\n{link}")]);
    assert!(p.parts[0].reply_to.is_some());
    assert_eq!(
        p.downgrades,
        vec![
            Downgrade {
                from: ContentKind::Image,
                to: ContentKind::File,
                reason: DowngradeReason::ByUrlUnsupported,
            },
            Downgrade {
                from: ContentKind::File,
                to: ContentKind::Text,
                reason: DowngradeReason::UrlAsLink,
            },
        ]
    );
    // Without a caption the link is alone.
    let p = open_plan(&media(ContentKind::Image, url(link), None), &caps);
    assert_eq!(texts(&p), vec![link.to_owned()]);

    let err = plan_err(&msg.policy(Policy::Strict), &caps);
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[test]
fn url_falls_back_to_a_kind_that_fetches_urls() {
    let mut caps = tg();
    caps.kind_mut(ContentKind::Image).by_url = false;
    let p = open_plan(
        &media(ContentKind::Image, url("https://example.com/a.png"), None),
        &caps,
    );
    assert_eq!(kinds(&p), vec![ContentKind::File]);
    assert!(matches!(
        p.parts[0].content.media_source(),
        Some(MediaSource::Url(_))
    ));
    assert_eq!(p.downgrades[0].reason, DowngradeReason::ByUrlUnsupported);
}

#[test]
fn media_ids_never_change_kind() {
    let mut caps = tg();
    let msg = media(
        ContentKind::Voice,
        MediaSource::id("AwACAgIAAxkBAAIB"),
        None,
    );
    let p = open_plan(&msg, &caps);
    assert_eq!(kinds(&p), vec![ContentKind::Voice]);
    assert!(p.downgrades.is_empty());

    caps.kind_mut(ContentKind::Voice).direction = Direction::Receive;
    let err = plan_err(&msg, &caps);
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[test]
fn media_over_every_limit_is_too_large() {
    let caps = tg();
    // 60 MB: over voice's and file's 50 MB; audio refuses OGG anyway.
    let msg = media(
        ContentKind::Voice,
        stream(60 * MB, "audio/ogg", "secret-recording.ogg"),
        Some("secret caption"),
    );
    let err = plan_err(&msg, &caps);
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("50.0 MiB"), "{shown}");
    assert!(!shown.contains("secret"), "{shown}");

    let err = plan_err(
        &media(
            ContentKind::Image,
            stream(60 * MB, "image/png", "x.png"),
            None,
        ),
        &caps,
    );
    assert_eq!(err.kind(), ErrorKind::TooLarge);
}

#[test]
fn a_mime_type_no_kind_accepts_is_invalid_input() {
    let mut caps = tg();
    caps.kind_mut(ContentKind::File).mime_types = vec!["application/pdf".into()];
    let err = plan_err(
        &media(
            ContentKind::Image,
            MediaSource::bytes(vec![1u8; 10], "image/tiff", "scan.tiff"),
            None,
        ),
        &caps,
    );
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("image/tiff"));
    assert!(!err.to_string().contains("scan"));
}

#[test]
fn mime_parameters_never_reach_errors_downgrades_or_debug() {
    // A Content-Type may carry the file name in a parameter.
    let mime = "image/tiff; name=\"passport-ivanov.tiff\"";
    let mut caps = tg();
    caps.kind_mut(ContentKind::File).mime_types = vec!["application/pdf".into()];
    let source = MediaSource::bytes(vec![1u8; 10], mime, "scan.tiff");
    assert!(!format!("{source:?}").contains("ivanov"), "{source:?}");
    let err = plan_err(&media(ContentKind::Image, source, None), &caps);
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("image/tiff"), "{err}");
    assert!(!err.to_string().contains("ivanov"), "{err}");
    assert!(!format!("{err:?}").contains("ivanov"));

    // Lenient fallback: the refused type is reported by its essence only.
    let mut caps = tg();
    caps.kind_mut(ContentKind::Image).mime_types = vec!["image/jpeg".into()];
    let p = plan(
        &media(
            ContentKind::Image,
            MediaSource::bytes(vec![1u8; 10], mime, "scan.tiff"),
            None,
        ),
        &caps,
        ReplyWindow::NotApplicable,
    )
    .unwrap();
    assert_eq!(
        p.downgrades[0].reason,
        DowngradeReason::MimeRefused {
            mime_type: "image/tiff".into()
        }
    );
    assert!(!p.downgrades[0].to_string().contains("ivanov"));
}

#[test]
fn nothing_sendable_is_unsupported() {
    let mut caps = tg();
    caps.kind_mut(ContentKind::Video).direction = Direction::Receive;
    caps.kind_mut(ContentKind::File).direction = Direction::None;
    let err = plan_err(
        &media(
            ContentKind::Video,
            MediaSource::bytes(vec![1u8; 10], "video/mp4", "v.mp4"),
            None,
        ),
        &caps,
    );
    assert_eq!(err.kind(), ErrorKind::Unsupported);

    let mut caps = tg();
    caps.kind_mut(ContentKind::Text).direction = Direction::Receive;
    let err = plan_err(&OutgoingMessage::text("1", "привет"), &caps);
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

// ---------------------------------------------------------------- input and window

#[test]
fn empty_text_and_empty_media_are_invalid_input() {
    let caps = tg();
    for text in ["", "   ", "\n\t \u{a0}"] {
        let err = plan_err(&OutgoingMessage::text("1", text), &caps);
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{text:?}");
    }
    let err = plan_err(
        &media(
            ContentKind::Image,
            MediaSource::bytes(Vec::<u8>::new(), "image/png", "e.png"),
            Some("подпись"),
        ),
        &caps,
    );
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = plan_err(
        &media(ContentKind::File, stream(0, "text/plain", "e.txt"), None),
        &caps,
    );
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn a_closed_window_refuses_before_anything_else() {
    let caps = tg();
    let valid = OutgoingMessage::text("1", "Здравствуйте!");
    let invalid = OutgoingMessage::text("1", "");
    for msg in [&valid, &invalid] {
        let err = plan(msg, &caps, ReplyWindow::Closed).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutsideReplyWindow);
    }
    assert!(plan(&valid, &caps, ReplyWindow::Open).is_ok());
    assert!(plan(&valid, &caps, ReplyWindow::NotApplicable).is_ok());
}

#[test]
fn an_unknown_window_is_not_refused_the_platform_decides() {
    // Nobody watched this chat for a whole window: the plan is the open window's, parts,
    // downgrades and all; what the planner refuses for other reasons is still refused.
    let caps = tg();
    let long = OutgoingMessage::text("1", "Подробности доставки. ".repeat(260));
    let unknown =
        plan(&long, &caps, ReplyWindow::Unknown).expect("an unknown window is no refusal");
    let open = plan(&long, &caps, ReplyWindow::Open).unwrap();
    assert!(unknown.parts.len() > 1);
    assert_eq!(unknown.parts.len(), open.parts.len());
    assert_eq!(unknown.downgrades, open.downgrades);
    let blank = OutgoingMessage::text("1", " ");
    assert_eq!(
        plan(&blank, &caps, ReplyWindow::Unknown)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        serde_json::to_value(ReplyWindow::Unknown).unwrap(),
        serde_json::json!("unknown")
    );
}

#[test]
fn a_blank_caption_is_not_moved() {
    let caps = tg();
    let p = open_plan(
        &media(
            ContentKind::File,
            MediaSource::bytes(vec![1u8; 10], "application/pdf", "a.pdf"),
            Some("  "),
        ),
        &caps,
    );
    assert_eq!(kinds(&p), vec![ContentKind::File]);
    assert!(p.downgrades.is_empty());
}

#[test]
fn an_mp3_voice_note_for_vk_fails_before_any_upload() {
    // VK's voice notes take OGG/Opus, audio is receive-only, and documents refuse MP3: no kind
    // on the chain takes the bytes, so the plan fails instead of an upload VK would refuse.
    let caps = Capabilities::of(Platform::Vk);
    let message = OutgoingMessage::new(
        "2000000001",
        OutgoingContent::Voice {
            media: MediaSource::bytes(vec![0u8; 64], "audio/mpeg", "note.mp3"),
            caption: None,
        },
    );
    let err = plan(&message, &caps, ReplyWindow::NotApplicable).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Unsupported | ErrorKind::InvalidInput),
        "{err}"
    );
    assert_eq!(err.delivery(), messenger_core::Delivery::NotSent);
    // A PDF still goes as a document.
    let pdf = OutgoingMessage::new(
        "2000000001",
        OutgoingContent::File {
            media: MediaSource::bytes(vec![0u8; 64], "application/pdf", "a.pdf"),
            caption: None,
        },
    );
    assert!(plan(&pdf, &caps, ReplyWindow::NotApplicable).is_ok());
}
