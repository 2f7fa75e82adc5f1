//! `messenger plan`: a dry run of the send planner, printing each part and each downgrade.

use std::fmt::Write;

use messenger_core::plan::{Plan, ReplyWindow, plan};
use messenger_core::{
    Capabilities, ContentKind, LengthUnit, OutgoingContent, OutgoingMessage, Result,
};

/// Plans `message` for `caps` and renders the plan for people.
///
/// Texts are shown by length and, only when `show_text` is set, in full: a dry run of a real
/// customer message should not end up in a terminal log by default. A closed `window` refuses
/// (`outside_reply_window`); an unknown one is planned like an open one, and says so.
pub fn render(
    message: &OutgoingMessage,
    caps: &Capabilities,
    window: ReplyWindow,
    show_text: bool,
) -> Result<String> {
    let p = plan(message, caps, window)?;
    let mut out = render_plan(&p, caps, show_text);
    if window == ReplyWindow::Unknown {
        out.push_str(
            "  reply window unknown: the platform decides (outside it, the message fails later)\n",
        );
    }
    Ok(out)
}

fn describe_text(out: &mut String, label: &str, text: &str, unit: LengthUnit, show_text: bool) {
    let _ = write!(out, "{label} {} {}", unit.len(text), unit_name(unit));
    if show_text {
        let _ = write!(out, ": {text:?}");
    }
}

fn unit_name(u: LengthUnit) -> &'static str {
    match u {
        LengthUnit::Chars => "chars",
        LengthUnit::Utf16 => "UTF-16 units",
        LengthUnit::Bytes => "bytes",
    }
}

/// Renders an already computed plan.
pub fn render_plan(p: &Plan, caps: &Capabilities, show_text: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} part{}, {} downgrade{}",
        caps.platform.display_name(),
        p.parts.len(),
        if p.parts.len() == 1 { "" } else { "s" },
        p.downgrades.len(),
        if p.downgrades.len() == 1 { "" } else { "s" },
    );
    for (i, part) in p.parts.iter().enumerate() {
        let _ = write!(out, "  part {}: {}", i + 1, part.content.kind());
        match &part.content {
            OutgoingContent::Text { text } => {
                describe_text(&mut out, ",", text, caps.text.unit, show_text);
            }
            other => {
                if let Some(media) = other.media_source() {
                    match (media.len(), media.mime_type()) {
                        (Some(len), Some(mime)) => {
                            let _ = write!(out, ", upload {len} bytes, {mime}");
                        }
                        _ if matches!(media, messenger_core::MediaSource::Url(_)) => {
                            out.push_str(", by URL");
                        }
                        _ => out.push_str(", by platform media id"),
                    }
                }
                if let Some(caption) = other.caption() {
                    let unit = caps.caption.map(|c| c.unit).unwrap_or(caps.text.unit);
                    describe_text(&mut out, ", caption", caption, unit, show_text);
                }
            }
        }
        if part.reply_to.is_some() {
            out.push_str(", as a reply");
        }
        out.push('\n');
    }
    for d in &p.downgrades {
        let _ = writeln!(out, "  downgrade: {d}");
    }
    out
}

/// The content kind named on the command line.
pub fn kind_from_flag(flag: &str) -> Option<ContentKind> {
    Some(match flag {
        "image" => ContentKind::Image,
        "file" => ContentKind::File,
        "voice" => ContentKind::Voice,
        "audio" => ContentKind::Audio,
        "video" => ContentKind::Video,
        "text" => ContentKind::Text,
        _ => return None,
    })
}
