//! Small programs a newcomer copies from; see `examples/`.
//!
//! The echo bot (`examples/echo_bot.rs`) is three calls of this library, so that a test can run
//! the very same code against the sandbox (`tests/echo.rs`):
//!
//! - [`connector`]: the platform's connector, from the environment or from a running sandbox;
//! - [`stack`]: the layers in their one safe order, with the module activated;
//! - [`echo`]: the loop, until a stop signal.
//!
//! The README's Rust snippets are compiled as doctests here too, so the quick start cannot
//! drift from the API.

use std::future::Future;
use std::sync::Arc;

use chrono::Utc;
use futures::StreamExt;
use messenger_core::consent::{AgreementEdition, Consent};
use messenger_core::layers::{RetryPolicy, Stack, Stacked};
use messenger_core::registry::ConnectorEntry;
use messenger_core::{
    AccountId, Content, ErrorKind, InboundEvent, Messenger, OutgoingMessage, Platform,
};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The connectors the examples can run on.
pub const CONNECTORS: &[ConnectorEntry] = &[
    connector_telegram::ENTRY,
    connector_whatsapp::ENTRY,
    connector_max::ENTRY,
    connector_vk::ENTRY,
];

/// The connector of `platform`: from its environment variables, or, with `sandbox` (the root
/// of a sandbox such as `http://127.0.0.1:8085`), the sandbox's first account of the platform
/// with the credentials it gives.
pub async fn connector(
    platform: Platform,
    sandbox: Option<&str>,
) -> anyhow::Result<Arc<dyn Messenger>> {
    let entry = CONNECTORS
        .iter()
        .find(|e| e.platform == platform)
        .ok_or_else(|| anyhow::anyhow!("no connector for {platform} in the examples"))?;
    let Some(root) = sandbox else {
        return Ok(entry.from_env()?);
    };
    let control =
        messenger_sandbox::Control::new(format!("{}/control", root.trim_end_matches('/')))?;
    let account = control
        .accounts()
        .await?
        .into_iter()
        .find(|a| a.platform == platform)
        .ok_or_else(|| anyhow::anyhow!("the sandbox has no {platform} account"))?;
    Ok((entry.build)(
        &control.credentials(&account.id).await?,
        &messenger_core::registry::AccountStores::new(),
    )?)
}

/// Connects `bot` and wraps it in the layers, in their one safe order (dedup, gate, retry,
/// rate limit, connector), under the messenger module's rules: the owner `account` accepts the
/// agreement by activating the module.
pub async fn stack(
    bot: Arc<dyn Messenger>,
    account: &str,
) -> anyhow::Result<Stacked<Arc<dyn Messenger>>> {
    let me = bot.connect().await?;
    tracing::info!(bot = ?me, "connected");
    let consent = Arc::new(Consent::builder().build());
    consent
        .publish(AgreementEdition::new(
            "example",
            Utc::now(),
            "https://example.invalid/agreement".parse()?,
            "example agreement",
        ))
        .await?;
    let account = AccountId::new(account);
    consent
        .activate(
            &account,
            "example",
            "activated by the person running the example",
        )
        .await?;
    Ok(Stack::new(bot, account, consent)
        .retry_policy(RetryPolicy::default())
        .build())
}

/// What [`echo`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EchoStats {
    /// Messages answered.
    pub echoed: usize,
    /// Messages not answered because the customer opted out (or a send failed).
    pub skipped: usize,
}

/// The echo bot: answers every customer message on `messenger`'s long polling, as a reply (a
/// text with the same text; media with what was received, kind and size, never the content),
/// until `stop` completes or the updates end. A customer who opted out (`СТОП`, `STOP`, a
/// platform's block or denial) hears nothing more: the gate of the [`stack`] refuses them.
///
/// Every answer carries an idempotency key made of the chat and the message, so that on a
/// platform that drops repeats (VK) a retried answer is never shown twice.
pub async fn echo(
    messenger: impl Messenger,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<EchoStats> {
    if !messenger.capabilities().intake.long_poll {
        anyhow::bail!(
            "{} has no long polling; the echo bot needs it (use a webhook)",
            messenger.platform()
        );
    }
    let mut stats = EchoStats::default();
    let mut updates = messenger.updates()?;
    tokio::pin!(stop);
    loop {
        let event = tokio::select! {
            () = &mut stop => break,
            event = updates.next() => match event {
                Some(event) => event?,
                None => break,
            },
        };
        let InboundEvent::Message(message) = event else {
            continue;
        };
        let reply = match &message.content {
            Content::Text { text } => text.clone(),
            other => format!(
                "got a {} of {} bytes",
                other.kind(),
                other.media().and_then(|m| m.size).unwrap_or(0)
            ),
        };
        let outgoing = OutgoingMessage::text(message.chat_id.clone(), reply)
            .reply_to(message.message_id.clone())
            .idempotency_key(format!("echo-{}-{}", message.chat_id, message.message_id));
        match messenger.send(&outgoing).await {
            Ok(report) => {
                stats.echoed += 1;
                tracing::info!(parts = report.parts.len(), "echoed");
            }
            Err(err) if err.kind() == ErrorKind::OptedOut => {
                stats.skipped += 1;
                tracing::info!("customer opted out; not echoing");
            }
            Err(err) => {
                stats.skipped += 1;
                tracing::warn!(kind = %err.kind(), "send failed: {err}");
            }
        }
    }
    Ok(stats)
}
