//! Plan, then act: the one place a message becomes requests.

use tracing::{debug, warn};

use crate::error::{Delivery, Result};
use crate::messenger::{Messenger, SendReport};
use crate::model::OutgoingMessage;
use crate::plan::plan;

/// Plans `message` against `messenger`'s capabilities and reply window, then sends each part in
/// order through [`Messenger::send_part`].
///
/// Nothing leaves before the whole plan is known to be valid (size, mime, window). When a later
/// part fails, the error carries the ids of the parts already sent ([`crate::Error::sent`]) and
/// is marked [`Delivery::MaybeSent`] if anything went out.
pub async fn execute<M: Messenger + ?Sized>(
    messenger: &M,
    message: &OutgoingMessage,
) -> Result<SendReport> {
    let window = messenger.reply_window(&message.chat).await?;
    let plan = plan(message, messenger.capabilities(), window)
        .map_err(|e| e.with_platform(messenger.platform()))?;
    debug!(
        platform = %messenger.platform(),
        chat = %message.chat.fingerprint(),
        parts = plan.parts.len(),
        downgrades = plan.downgrades.len(),
        "sending planned message"
    );
    let mut sent = Vec::with_capacity(plan.parts.len());
    for (index, part) in plan.parts.iter().enumerate() {
        match messenger.send_part(&message.chat, part).await {
            Ok(p) => sent.push(p),
            Err(err) => {
                warn!(
                    platform = %messenger.platform(),
                    part = index,
                    kind = %err.kind(),
                    "part of a send failed"
                );
                if sent.is_empty() {
                    return Err(err);
                }
                let ids = sent.into_iter().map(|p| p.message_id).collect();
                return Err(err.with_sent(ids).with_delivery(Delivery::MaybeSent));
            }
        }
    }
    Ok(SendReport {
        platform: messenger.platform(),
        chat: message.chat.clone(),
        parts: sent,
        downgrades: plan.downgrades,
    })
}
