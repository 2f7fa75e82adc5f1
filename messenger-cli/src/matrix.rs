//! The capability matrix as Markdown: `messenger capabilities` prints it and the README shows it.

use std::fmt::Write;

use messenger_core::{Capabilities, ContentKind, Direction, KindCapability, LengthUnit, Platform};

pub use crate::registry::has_connector;

/// A size as its source states it: binary (MiB) where the limit is a multiple of 2^20
/// (Telegram's), decimal (MB, GB) where it is a multiple of 10^6 (the others').
fn size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    const MB: u64 = 1_000_000;
    const GB: u64 = 1_000_000_000;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= GB && bytes.is_multiple_of(GB) {
        format!("{} GB", bytes / GB)
    } else if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else {
        format!("{bytes} B")
    }
}

fn unit(u: LengthUnit) -> &'static str {
    match u {
        LengthUnit::Chars => "chars",
        LengthUnit::Utf16 => "UTF-16 units",
        LengthUnit::Bytes => "bytes",
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn kind_cell(k: &KindCapability) -> String {
    let dir = match k.direction {
        Direction::None => return "no".to_owned(),
        Direction::Receive => "receive",
        Direction::Send => "send",
        Direction::Both => "send + receive",
    };
    match (k.direction.can_send(), k.max_upload) {
        (true, Some(max)) => format!("{dir} (≤ {})", size(max)),
        _ => dir.to_owned(),
    }
}

/// Renders the matrix of `caps` (one column per platform) as a Markdown table.
///
/// ```
/// use messenger_core::{Capabilities, Platform};
/// let md = messenger_cli::matrix::render_markdown(&[Capabilities::of(Platform::Telegram)]);
/// assert!(md.starts_with("| | Telegram |"));
/// assert!(md.contains("| Text | 4096 UTF-16 units |"));
/// ```
pub fn render_markdown(caps: &[Capabilities]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&Capabilities) -> String| {
        rows.push((name.to_owned(), caps.iter().map(f).collect()));
    };
    row("Connector", &|c| {
        if has_connector(c.platform) {
            "yes".into()
        } else {
            "planned".into()
        }
    });
    row("Text", &|c| {
        format!("{} {}", c.text.max_len, unit(c.text.unit))
    });
    row("Caption", &|c| match c.caption {
        Some(t) => format!("{} {}", t.max_len, unit(t.unit)),
        None => "no".into(),
    });
    for (name, kind) in [
        ("Image", ContentKind::Image),
        ("File", ContentKind::File),
        ("Voice", ContentKind::Voice),
        ("Audio", ContentKind::Audio),
        ("Video", ContentKind::Video),
        ("Sticker", ContentKind::Sticker),
        ("Location", ContentKind::Location),
        ("Contact", ContentKind::Contact),
    ] {
        row(name, &move |c| kind_cell(&c.kind(kind)));
    }
    row("Statuses", &|c| {
        let s = c.statuses;
        let seen: Vec<&str> = [
            ("sent", s.sent),
            ("delivered", s.delivered),
            ("read", s.read),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| n)
        .collect();
        if seen.is_empty() {
            "none".into()
        } else {
            seen.join(", ")
        }
    });
    row("Mark as read", &|c| yes(c.actions.mark_read).into());
    row("Edit / delete", &|c| {
        format!("{} / {}", yes(c.actions.edit), yes(c.actions.delete))
    });
    row("Reply (quote)", &|c| yes(c.actions.reply).into());
    row("Webhook", &|c| yes(c.intake.webhook).into());
    row("Long polling", &|c| yes(c.intake.long_poll).into());
    row("Rate: per chat", &|c| {
        let r = c.rate_limits;
        match (r.per_chat, r.per_group) {
            (Some(p), Some(g)) if g != p => format!("{p} (group {g})"),
            (Some(p), _) => p.to_string(),
            (None, Some(g)) => format!("group {g}"),
            (None, None) => "—".into(),
        }
    });
    row("Rate: overall", &|c| {
        c.rate_limits
            .overall
            .map(|r| r.to_string())
            .unwrap_or_else(|| "—".into())
    });
    row("Reply window", &|c| match c.reply_window {
        Some(d) if d.as_secs().is_multiple_of(3600) => format!("{} h", d.as_secs() / 3600),
        Some(d) => format!("{} s", d.as_secs()),
        None => "none".into(),
    });
    row("Can write first", &|c| yes(c.can_initiate).into());

    let mut out = String::new();
    out.push_str("| |");
    for c in caps {
        let _ = write!(out, " {} |", c.platform.display_name());
    }
    out.push_str("\n|---|");
    for _ in caps {
        out.push_str("---|");
    }
    out.push('\n');
    for (name, cells) in rows {
        let _ = write!(out, "| {name} |");
        for cell in cells {
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

/// The matrix of all five platforms.
pub fn all_platforms_markdown() -> String {
    let caps: Vec<Capabilities> = Platform::ALL.into_iter().map(Capabilities::of).collect();
    render_markdown(&caps)
}
