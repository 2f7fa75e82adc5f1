//! `messenger demo`: the sandbox in-process, every connector connected to it, and a scripted
//! conversation on each platform, printed as a transcript and a summary table.
//!
//! Everything goes through the real stack: the connector over HTTP on loopback, wrapped in
//! `Gated<Retrying<RateLimited<_>>>`, with the consent rules of the messenger module. The
//! texts in the transcript are the demo's own scripted lines.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::Utc;
use futures::StreamExt;
use messenger_core::consent::{AgreementEdition, Consent};
use messenger_core::layers::{MessengerExt, RateLimited, RetryPolicy};
use messenger_core::status::StatusTracker;
use messenger_core::{
    AccountId, ChatId, Content, DeliveryStatus, ErrorKind, InboundEvent, MediaSource, MessageId,
    Messenger, OutgoingContent, OutgoingMessage, Platform, Rate, Result as CoreResult,
};
use messenger_sandbox::{
    AccountPatch, CustomerMessage, MediaUpload, MessageKind, NewCustomer, Sandbox,
};
use tokio::sync::mpsc;

use crate::connect::Endpoint;

/// A 1x1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x04, 0x00, 0x00, 0x00, 0xb5, 0x1c, 0x0c,
    0x02, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x64, 0x60, 0x00, 0x00,
    0x00, 0x06, 0x00, 0x02, 0x30, 0x81, 0xd0, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

const WAIT: Duration = Duration::from_secs(10);

/// What happened on one platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformSummary {
    /// The platform.
    pub platform: Option<Platform>,
    /// Messages received from the customer.
    pub received: usize,
    /// Media downloaded (bytes).
    pub downloaded: u64,
    /// Messages the platform accepted from the operator.
    pub sent: usize,
    /// Downgrades reported by the planner.
    pub downgrades: usize,
    /// The highest status observed for the operator's messages.
    pub best_status: String,
    /// The customer opted out, and the next send was refused without a request.
    pub opt_out_enforced: bool,
    /// A send from an account without the module activated was refused without a request.
    pub inactive_refused: bool,
    /// WhatsApp: a free-form send outside the window was refused and a template went through.
    pub window_enforced: Option<bool>,
}

/// Runs the whole demo, writing the transcript to `out`.
pub async fn run(out: &mut dyn Write) -> anyhow::Result<Vec<PlatformSummary>> {
    let (sandbox, demo) = messenger_sandbox::run("127.0.0.1:0").await?;
    line(out, format_args!("sandbox listening at {}", demo.urls.base))?;

    let consent = Arc::new(Consent::builder().build());
    consent
        .publish(AgreementEdition::new(
            "2026-11",
            Utc::now() - chrono::Duration::days(1),
            "https://crm.example/messenger-agreement/2026-11".parse()?,
            "The messenger module agreement, edition 2026-11.",
        ))
        .await?;

    let mut summaries = Vec::new();
    for platform in [Platform::Telegram, Platform::WhatsApp] {
        line(out, format_args!(""))?;
        line(out, format_args!("== {} ==", platform.display_name()))?;
        let summary = match platform {
            Platform::Telegram => {
                let customer = demo.telegram_customer.id.clone();
                play(
                    out,
                    &sandbox,
                    &consent,
                    platform,
                    &demo.telegram.id,
                    &customer,
                )
                .await
            }
            _ => {
                let customer = demo.whatsapp_customer.id.clone();
                play(
                    out,
                    &sandbox,
                    &consent,
                    platform,
                    &demo.whatsapp.id,
                    &customer,
                )
                .await
            }
        }
        .with_context(|| format!("the {} part of the demo failed", platform.display_name()))?;
        summaries.push(summary);
    }

    line(out, format_args!(""))?;
    write!(out, "{}", summary_table(&summaries))?;
    sandbox.shutdown().await;
    Ok(summaries)
}

fn line(out: &mut dyn Write, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    writeln!(out, "{args}")?;
    out.flush()
}

/// The summary as a Markdown table.
pub fn summary_table(summaries: &[PlatformSummary]) -> String {
    let mut t = String::from(
        "| platform | received | downloaded | sent | downgrades | best status | opt-out enforced | inactive module refused | 24 h window |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for s in summaries {
        let yes = |b: bool| if b { "yes" } else { "NO" };
        let _ = writeln!(
            t,
            "| {} | {} | {} B | {} | {} | {} | {} | {} | {} |",
            s.platform.map(|p| p.display_name()).unwrap_or("?"),
            s.received,
            s.downloaded,
            s.sent,
            s.downgrades,
            s.best_status,
            yes(s.opt_out_enforced),
            yes(s.inactive_refused),
            match s.window_enforced {
                Some(b) => yes(b),
                None => "none on this platform",
            }
        );
    }
    t
}

type Events = mpsc::UnboundedReceiver<CoreResult<InboundEvent>>;

/// Starts intake for `messenger`: long polling where the platform has it, else a webhook
/// receiver registered with the sandbox. Returns the event channel and what keeps it alive.
async fn intake(
    sandbox: &Sandbox,
    account: &str,
    messenger: Arc<dyn Messenger>,
) -> anyhow::Result<(Events, Box<dyn std::any::Any + Send>)> {
    if messenger.capabilities().intake.long_poll {
        let mut stream = messenger.updates()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                if tx.send(item).is_err() {
                    break;
                }
            }
        });
        struct Abort(tokio::task::JoinHandle<()>);
        impl Drop for Abort {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        Ok((rx, Box::new(Abort(task))))
    } else {
        let mut receiver = crate::receiver::start(messenger, "127.0.0.1:0").await?;
        sandbox.update_account(
            account,
            &AccountPatch {
                webhook_url: Some(receiver.url()),
                ..AccountPatch::default()
            },
        )?;
        let rx = std::mem::replace(&mut receiver.events, mpsc::unbounded_channel().1);
        Ok((rx, Box::new(receiver)))
    }
}

async fn next_event(
    events: &mut Events,
    mut wanted: impl FnMut(&InboundEvent) -> bool,
) -> anyhow::Result<InboundEvent> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let item = tokio::time::timeout_at(deadline, events.recv())
            .await
            .map_err(|_| anyhow!("no matching event within {WAIT:?}"))?
            .ok_or_else(|| anyhow!("the event source stopped"))?;
        let event = item?;
        if wanted(&event) {
            return Ok(event);
        }
    }
}

fn requests(sandbox: &Sandbox, account: &str) -> anyhow::Result<usize> {
    Ok(sandbox.requests(account)?.len())
}

#[allow(clippy::too_many_lines)]
async fn play(
    out: &mut dyn Write,
    sandbox: &Sandbox,
    consent: &Arc<Consent>,
    platform: Platform,
    account: &str,
    customer: &str,
) -> anyhow::Result<PlatformSummary> {
    let mut summary = PlatformSummary {
        platform: Some(platform),
        ..PlatformSummary::default()
    };
    let endpoint = Endpoint::sandbox(platform, &sandbox.urls().base)?;
    let connector = endpoint.messenger(platform)?;

    // The owner activates the module: that is the acceptance of the current edition.
    let owner = AccountId::new(format!("demo-{platform}"));
    consent
        .activate(
            &owner,
            "2026-11",
            "demo: the owner activated the module in settings",
        )
        .await?;
    // Pace within the sandbox's per-chat flood control; retries honour the platform's retry-after.
    let stack: Arc<dyn Messenger> = Arc::new(
        RateLimited::builder(connector.clone())
            .per_chat(Some(Rate::per_second(4)))
            .build()
            .retrying(RetryPolicy::default())
            .gated(owner.clone(), consent.clone()),
    );

    let me = stack.connect().await?;
    line(
        out,
        format_args!(
            "connected as {} (id {}), module active for {owner}",
            me.name.as_deref().unwrap_or("?"),
            me.id
        ),
    )?;
    let caps = stack.capabilities().clone();
    let (mut events, _keep) = intake(sandbox, account, stack.clone()).await?;
    let chat = ChatId::new(customer);

    // 1. The customer writes; then sends a photo, which the operator downloads.
    let hello = "Здравствуйте! Где мой заказ №1042?";
    sandbox.customer_sends(account, customer, &CustomerMessage::text(hello))?;
    let event = next_event(&mut events, |e| matches!(e, InboundEvent::Message(_))).await?;
    let InboundEvent::Message(first) = event else {
        unreachable!()
    };
    summary.received += 1;
    line(out, format_args!("customer  > {hello}"))?;
    sandbox.customer_sends(
        account,
        customer,
        &CustomerMessage::media(MediaUpload::new(MessageKind::Image, PNG).mime_type("image/png"))
            .caption("Вот чек"),
    )?;
    let event = next_event(&mut events, |e| matches!(e, InboundEvent::Message(_))).await?;
    if let InboundEvent::Message(m) = &event
        && let Content::Image { media, .. } = &m.content
    {
        summary.received += 1;
        let mut stream = stack.download(media).await?;
        let mut bytes = 0u64;
        while let Some(chunk) = stream.next().await {
            bytes += chunk?.len() as u64;
        }
        summary.downloaded += bytes;
        line(
            out,
            format_args!("customer  > [image, {bytes} bytes downloaded] Вот чек"),
        )?;
    } else {
        bail!("expected the customer's image, got {event:?}");
    }

    // 2. The operator answers with every kind.
    let long = "Подробности доставки. ".repeat(260);
    let replies: Vec<(&str, OutgoingContent)> = vec![
        (
            "text",
            OutgoingContent::text("Добрый день! Заказ №1042 уже в пути."),
        ),
        (
            "image",
            OutgoingContent::Image {
                media: MediaSource::bytes(PNG, "image/png", "route.png"),
                caption: Some("Маршрут курьера".into()),
            },
        ),
        (
            "voice note (MP3)",
            OutgoingContent::Voice {
                media: MediaSource::bytes(mp3(), "audio/mpeg", "note.mp3"),
                caption: None,
            },
        ),
        (
            "file (PDF)",
            OutgoingContent::File {
                media: MediaSource::bytes(pdf(), "application/pdf", "invoice-1042.pdf"),
                caption: Some("Счёт".into()),
            },
        ),
        ("long text", OutgoingContent::text(long)),
    ];
    let mut sent_ids: Vec<MessageId> = Vec::new();
    for (i, (label, content)) in replies.into_iter().enumerate() {
        let mut message = OutgoingMessage::new(chat.clone(), content);
        if i == 0 {
            message = message.reply_to(first.message_id.clone());
        }
        let report = stack.send(&message).await?;
        summary.sent += report.parts.len();
        summary.downgrades += report.downgrades.len();
        sent_ids.extend(report.parts.iter().map(|p| p.message_id.clone()));
        line(
            out,
            format_args!(
                "operator  < {label}: {} message{} sent",
                report.parts.len(),
                if report.parts.len() == 1 { "" } else { "s" }
            ),
        )?;
        if i == 0 {
            line(
                out,
                format_args!("            (first contact: the opt-out notice was appended)"),
            )?;
        }
        for d in &report.downgrades {
            line(out, format_args!("            downgrade: {d}"))?;
        }
    }

    // 3. Statuses, where the platform reports them.
    let tracker = StatusTracker::default();
    if caps.statuses.delivered || caps.statuses.read {
        sandbox.set_online(account, customer, true)?;
        sandbox.customer_reads(account, customer, None)?;
        let mut remaining: Vec<MessageId> = sent_ids.clone();
        while !remaining.is_empty() {
            let event = next_event(&mut events, |e| matches!(e, InboundEvent::Status(_))).await?;
            if let InboundEvent::Status(s) = &event {
                tracker.apply(s).await?;
                if s.status == DeliveryStatus::Read {
                    remaining.retain(|id| *id != s.message_id);
                }
            }
        }
        summary.best_status = "read".into();
        line(
            out,
            format_args!(
                "statuses  : all {} messages went sent -> delivered -> read",
                sent_ids.len()
            ),
        )?;
    } else {
        summary.best_status = "sent".into();
        line(
            out,
            format_args!(
                "statuses  : {} reports no delivery or read receipts to bots; statuses stop at `sent`",
                platform.display_name()
            ),
        )?;
    }

    // 4. The 24-hour window: a customer who never wrote.
    if caps.reply_window.is_some() {
        let stranger = sandbox.create_customer(account, &NewCustomer::named("Oleg"))?;
        let before = requests(sandbox, account)?;
        let err = stack
            .send(&OutgoingMessage::text(
                stranger.id.as_str(),
                "Здравствуйте!",
            ))
            .await
            .expect_err("a free-form message outside the window must be refused");
        let refused =
            err.kind() == ErrorKind::OutsideReplyWindow && requests(sandbox, account)? == before;
        line(
            out,
            format_args!(
                "operator  < text to a customer who never wrote: refused ({}), no request made",
                err.kind()
            ),
        )?;
        endpoint
            .whatsapp()?
            .send_template(
                &ChatId::new(stranger.id.as_str()),
                "order_update",
                "ru",
                serde_json::Value::Null,
            )
            .await?;
        line(
            out,
            format_args!("operator  < template `order_update` to the same customer: sent"),
        )?;
        summary.window_enforced = Some(refused);
    }

    // 5. The customer opts out; the next send is refused without a request.
    sandbox.customer_sends(account, customer, &CustomerMessage::text("СТОП"))?;
    next_event(&mut events, |e| {
        matches!(e, InboundEvent::Contact(c) if c.change == messenger_core::ContactChange::OptedOut)
    })
    .await?;
    line(out, format_args!("customer  > СТОП   (opted out)"))?;
    let before = requests(sandbox, account)?;
    let err = stack
        .send(&OutgoingMessage::text(chat.clone(), "Ещё одно предложение"))
        .await
        .expect_err("a send to an opted-out customer must be refused");
    summary.opt_out_enforced =
        err.kind() == ErrorKind::OptedOut && requests(sandbox, account)? == before;
    line(
        out,
        format_args!(
            "operator  < text: refused ({}), no request made",
            err.kind()
        ),
    )?;

    // 6. An account whose owner never activated the module.
    let inactive = connector.clone().gated(
        AccountId::new(format!("inactive-{platform}")),
        consent.clone(),
    );
    let before = requests(sandbox, account)?;
    let err = inactive
        .send(&OutgoingMessage::text(chat.clone(), "Привет"))
        .await
        .expect_err("an account without the module must be refused");
    summary.inactive_refused =
        err.kind() == ErrorKind::ModuleInactive && requests(sandbox, account)? == before;
    line(
        out,
        format_args!(
            "other account without the module activated: refused ({}), no request made",
            err.kind()
        ),
    )?;

    let received: Vec<_> = sandbox.received(account, customer)?;
    line(
        out,
        format_args!(
            "sandbox   : the customer's phone shows {} messages from the operator, kinds: {}",
            received.len(),
            received
                .iter()
                .map(|m| m.kind.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )?;
    Ok(summary)
}

/// A few bytes that start like an MP3 file (an ID3 header).
fn mp3() -> Vec<u8> {
    let mut v = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    v.extend(std::iter::repeat_n(0u8, 2048));
    v
}

/// A tiny PDF.
fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec()
}
