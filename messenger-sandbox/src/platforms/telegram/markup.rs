//! Telegram's `parse_mode` handling: the text a customer sees after entity parsing (the text
//! limit counts it), and the `can't parse entities` errors for malformed markup.
//!
//! A faithful subset: HTML tags and entities, MarkdownV2 markers, escapes and reserved
//! characters, legacy Markdown markers. Custom emoji and nested-entity rules are not checked.

/// Why markup was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MarkupError {
    /// The `parse_mode` value is not one Telegram knows.
    UnsupportedMode,
    /// The text does not parse; the string follows `Bad Request: can't parse entities: `.
    Parse(String),
}

/// The visible text of `text` under `mode` (`None` or empty: the text as it is).
pub(crate) fn visible_text(text: &str, mode: Option<&str>) -> Result<String, MarkupError> {
    match mode.map(str::trim).unwrap_or("") {
        "" => Ok(text.to_string()),
        m if m.eq_ignore_ascii_case("html") => html(text).map_err(MarkupError::Parse),
        m if m.eq_ignore_ascii_case("markdownv2") => markdown_v2(text).map_err(MarkupError::Parse),
        m if m.eq_ignore_ascii_case("markdown") => markdown(text).map_err(MarkupError::Parse),
        _ => Err(MarkupError::UnsupportedMode),
    }
}

const HTML_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
];

fn html(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut open: Vec<String> = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let c = rest.chars().next().unwrap_or_default();
        if c == '<' {
            let Some(end) = rest.find('>') else {
                return Err(format!("Unclosed start tag at byte offset {i}"));
            };
            let inner = rest[1..end].trim();
            if let Some(name) = inner.strip_prefix('/') {
                let name = name.trim().to_ascii_lowercase();
                match open.pop() {
                    Some(top) if top == name => {}
                    Some(top) => {
                        return Err(format!(
                            "Unmatched end tag at byte offset {i}, expected \"</{top}>\", found \"</{name}>\""
                        ));
                    }
                    None => {
                        return Err(format!("Unexpected end tag at byte offset {i}"));
                    }
                }
            } else {
                let name: String = inner
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '/')
                    .collect::<String>()
                    .to_ascii_lowercase();
                if !HTML_TAGS.contains(&name.as_str()) {
                    return Err(format!(
                        "Unsupported start tag \"{name}\" at byte offset {i}"
                    ));
                }
                open.push(name);
            }
            i += end + 1;
        } else if c == '&' {
            let (decoded, used) = html_entity(rest);
            out.push_str(&decoded);
            i += used;
        } else {
            out.push(c);
            i += c.len_utf8();
        }
    }
    if let Some(top) = open.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{top}\""
        ));
    }
    Ok(out)
}

/// Decodes an entity at the start of `rest` (which starts with `&`); unknown ones stay as they
/// are.
fn html_entity(rest: &str) -> (String, usize) {
    if let Some(end) = rest[1..].find(';').map(|e| e + 1).filter(|e| *e <= 10) {
        let name = &rest[1..end];
        let decoded = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        if let Some(c) = decoded {
            return (c.to_string(), end + 1);
        }
    }
    ("&".to_string(), 1)
}

const MDV2_RESERVED: &str = "_*[]()~`>#+-=|{}.!";

fn entity_name(marker: &str) -> &'static str {
    match marker {
        "*" => "Bold",
        "_" => "Italic",
        "__" => "Underline",
        "~" => "Strikethrough",
        "||" => "Spoiler",
        "[" => "TextUrl",
        _ => "Code",
    }
}

fn markdown_v2(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut open: Vec<(&'static str, usize)> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut line_start = true;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or_default();
        let next = bytes.get(i + 1).copied();
        match c {
            '\\' => {
                let Some(escaped) = text[i + 1..].chars().next() else {
                    return Err(
                        "Character '\\' is reserved and must be escaped with the preceding '\\'"
                            .to_string(),
                    );
                };
                out.push(escaped);
                i += 1 + escaped.len_utf8();
                line_start = false;
                continue;
            }
            '`' => {
                let pre = text[i..].starts_with("```");
                let (open_len, close) = if pre { (3, "```") } else { (1, "`") };
                let body_start = i + open_len;
                let Some(rel_end) = find_unescaped(&text[body_start..], close) else {
                    return Err(format!(
                        "Can't find end of {} entity at byte offset {i}",
                        if pre { "Pre" } else { "Code" }
                    ));
                };
                let mut body = unescape_code(&text[body_start..body_start + rel_end]);
                if pre {
                    // The first line may name the language.
                    if let Some(nl) = body.find('\n')
                        && !body[..nl].contains(char::is_whitespace)
                    {
                        body = body[nl + 1..].to_string();
                    }
                }
                out.push_str(&body);
                i = body_start + rel_end + close.len();
            }
            '*' | '~' => {
                toggle(&mut open, if c == '*' { "*" } else { "~" }, i);
                i += 1;
            }
            '_' => {
                if next == Some(b'_') {
                    toggle(&mut open, "__", i);
                    i += 2;
                } else {
                    toggle(&mut open, "_", i);
                    i += 1;
                }
            }
            '|' if next == Some(b'|') => {
                toggle(&mut open, "||", i);
                i += 2;
            }
            '[' => {
                open.push(("[", i));
                i += 1;
            }
            ']' if open.last().is_some_and(|(m, _)| *m == "[") => {
                open.pop();
                if next != Some(b'(') {
                    return Err(
                        "Character ']' is reserved and must be escaped with the preceding '\\'"
                            .to_string(),
                    );
                }
                let url_start = i + 2;
                let Some(rel_end) = find_unescaped(&text[url_start..], ")") else {
                    return Err(format!(
                        "Can't find end of a URL at byte offset {url_start}"
                    ));
                };
                i = url_start + rel_end + 1;
            }
            '>' if line_start => {
                i += 1;
            }
            c if MDV2_RESERVED.contains(c) => {
                return Err(format!(
                    "Character '{c}' is reserved and must be escaped with the preceding '\\'"
                ));
            }
            c => {
                out.push(c);
                i += c.len_utf8();
            }
        }
        line_start = text[..i].ends_with('\n');
    }
    if let Some((marker, at)) = open.first() {
        return Err(format!(
            "Can't find end of {} entity at byte offset {at}",
            entity_name(marker)
        ));
    }
    Ok(out)
}

fn toggle(open: &mut Vec<(&'static str, usize)>, marker: &'static str, at: usize) {
    if let Some(pos) = open.iter().rposition(|(m, _)| *m == marker) {
        open.remove(pos);
    } else {
        open.push((marker, at));
    }
}

/// The byte offset of the first `needle` in `hay` not preceded by a backslash escape.
fn find_unescaped(hay: &str, needle: &str) -> Option<usize> {
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with('\\') {
            i += 1 + hay[i + 1..].chars().next().map_or(0, char::len_utf8);
            continue;
        }
        if hay[i..].starts_with(needle) {
            return Some(i);
        }
        i += hay[i..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

fn unescape_code(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some('`' | '\\')) {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn markdown(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<(char, usize)> = None;
    let mut i = 0;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or_default();
        match c {
            '\\' if text[i + 1..].starts_with(['_', '*', '`', '[']) => {
                out.push(text[i + 1..].chars().next().unwrap_or_default());
                i += 2;
                continue;
            }
            '`' if open.is_none() => {
                let Some(end) = text[i + 1..].find('`') else {
                    return Err(format!(
                        "Can't find end of the entity starting at byte offset {i}"
                    ));
                };
                out.push_str(&text[i + 1..i + 1 + end]);
                i += end + 2;
                continue;
            }
            '*' | '_' => {
                match open {
                    Some((m, _)) if m == c => open = None,
                    None => open = Some((c, i)),
                    Some(_) => out.push(c),
                }
                i += 1;
                continue;
            }
            '[' if open.is_none() => {
                if let Some(close) = text[i..].find("](") {
                    let label = &text[i + 1..i + close];
                    if let Some(end) = text[i + close..].find(')') {
                        out.push_str(label);
                        i += close + end + 1;
                        continue;
                    }
                }
                out.push(c);
            }
            _ => out.push(c),
        }
        i += c.len_utf8();
    }
    if let Some((_, at)) = open {
        return Err(format!(
            "Can't find end of the entity starting at byte offset {at}"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_strips_tags_and_decodes_entities() {
        assert_eq!(
            visible_text(
                "Hi <b>there</b> &lt;3 &amp; <a href=\"x\">link</a>",
                Some("HTML")
            )
            .unwrap(),
            "Hi there <3 & link"
        );
        assert!(matches!(
            visible_text("<x>a</x>", Some("HTML")),
            Err(MarkupError::Parse(m)) if m.contains("Unsupported start tag \"x\"")
        ));
        assert!(matches!(
            visible_text("<b>a", Some("HTML")),
            Err(MarkupError::Parse(_))
        ));
    }

    #[test]
    fn markdown_v2_requires_escapes() {
        assert_eq!(
            visible_text(
                "*bold* _it_ \\. [link](http://x.y/a\\)b) `co\\`de`",
                Some("MarkdownV2")
            )
            .unwrap(),
            "bold it . link co`de"
        );
        assert!(matches!(
            visible_text("Price 1.5", Some("MarkdownV2")),
            Err(MarkupError::Parse(m)) if m.contains("Character '.' is reserved")
        ));
        assert!(matches!(
            visible_text("*open", Some("MarkdownV2")),
            Err(MarkupError::Parse(m)) if m.contains("Bold")
        ));
    }

    #[test]
    fn legacy_markdown_and_unknown_mode() {
        assert_eq!(visible_text("*a* [b](c)", Some("Markdown")).unwrap(), "a b");
        assert_eq!(
            visible_text("x", Some("BBCode")),
            Err(MarkupError::UnsupportedMode)
        );
        assert_eq!(visible_text("<b>", None).unwrap(), "<b>");
    }
}
