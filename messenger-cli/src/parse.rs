//! `messenger parse <platform> <FILE|->`: normalise a webhook body or a poll response into
//! [`InboundEvent`]s, one JSON object a line.

use messenger_core::{Error, InboundEvent, Platform};

/// Parses `body` as `platform` would deliver it (a webhook body, or a long-poll response).
///
/// ```
/// use messenger_core::Platform;
/// let body = br#"{"update_id":1,"message":{"message_id":5,"date":1767225600,
///   "chat":{"id":42,"type":"private"},"text":"hi"}}"#;
/// let events = messenger_cli::parse::parse(Platform::Telegram, body).unwrap();
/// assert_eq!(events.len(), 1);
/// ```
pub fn parse(platform: Platform, body: &[u8]) -> Result<Vec<InboundEvent>, Error> {
    // The connector's one parser: the same function its webhook handler and poller use.
    (crate::registry::entry(platform)?.parse)(body)
}

/// Renders events as JSON Lines (one event a line, with a trailing newline).
pub fn to_json_lines(events: &[InboundEvent]) -> Result<String, Error> {
    let mut out = String::new();
    for event in events {
        out.push_str(&serde_json::to_string(event)?);
        out.push('\n');
    }
    Ok(out)
}
