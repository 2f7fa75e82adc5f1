//! An echo bot on Telegram, behind the full layer stack.
//!
//! ```sh
//! # against the real Bot API
//! TELEGRAM_TOKEN=123:abc cargo run -p messenger-examples --example echo_bot
//! # or against any Bot API compatible server (a local one, or the SDK's sandbox)
//! TELEGRAM_TOKEN=123:abc TELEGRAM_API_URL=http://127.0.0.1:8081 cargo run -p messenger-examples --example echo_bot
//! ```
//!
//! It echoes every text back, answers media with what it received (kind and size, never the
//! content), and honours opt-outs: a customer who writes `СТОП` or `STOP` hears nothing more.

use std::sync::Arc;

use chrono::Utc;
use connector_telegram::TelegramConfig;
use futures::StreamExt;
use messenger_core::consent::{AgreementEdition, Consent};
use messenger_core::layers::{MessengerExt, RetryPolicy};
use messenger_core::{AccountId, Content, ErrorKind, InboundEvent, Messenger, OutgoingMessage};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();

    let token =
        std::env::var("TELEGRAM_TOKEN").map_err(|_| anyhow::anyhow!("set TELEGRAM_TOKEN"))?;
    let mut config = TelegramConfig::new(token);
    if let Ok(url) = std::env::var("TELEGRAM_API_URL") {
        config = config.base_url(url);
    }
    let bot = config.build()?;
    let me = bot.connect().await?;
    tracing::info!(bot = ?me, "connected");

    // The messenger module's rules: the owner accepts the agreement by activating the module.
    let consent = Arc::new(Consent::builder().build());
    consent
        .publish(AgreementEdition::new(
            "example",
            Utc::now(),
            "https://example.invalid/agreement".parse()?,
            "example agreement",
        ))
        .await?;
    let account = AccountId::new("echo-bot");
    consent
        .activate(
            &account,
            "example",
            "activated by the person running the example",
        )
        .await?;

    // Outermost first: the gate refuses before anything else; every retry passes the limiter.
    let messenger = bot
        .rate_limited()
        .retrying(RetryPolicy::default())
        .gated(account, consent);

    let mut updates = messenger.updates()?;
    while let Some(event) = updates.next().await {
        let InboundEvent::Message(message) = event? else {
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
            .reply_to(message.message_id.clone());
        match messenger.send(&outgoing).await {
            Ok(report) => tracing::info!(parts = report.parts.len(), "echoed"),
            Err(err) if err.kind() == ErrorKind::OptedOut => {
                tracing::info!("customer opted out; not echoing")
            }
            Err(err) => tracing::warn!(kind = %err.kind(), "send failed: {err}"),
        }
    }
    Ok(())
}
