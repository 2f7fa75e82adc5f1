//! `messenger demo`: the sandbox in-process, every connector connected to it, and a scripted
//! conversation on each platform, printed as a transcript and a summary table.
//!
//! Everything goes through the real stack: every connector of the [registry]
//! whose platform the sandbox emulates, over HTTP on loopback, wrapped by
//! [`Stack`] in `Deduplicated<Gated<Retrying<RateLimited<_>>>>`, with the consent rules of the
//! messenger module. The texts in the transcript are the demo's own scripted lines.
//!
//! The script is the same on every platform; what differs comes from the platform itself: its
//! capabilities (which kinds go out, which statuses come back, whether it has a reply window),
//! its connector's polled statuses ([`Messenger::status_updates`]), and the sandbox's
//! request log, which shows every attempt the platform refused before it accepted one (MAX's
//! `attachment.not.ready` while an upload is processed) and every send refused before any
//! request.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::Utc;
use futures::StreamExt;
use messenger_core::consent::{AgreementEdition, Consent};
use messenger_core::layers::{Gated, RetryPolicy, Stack};
use messenger_core::plan::ReplyWindow;
use messenger_core::status::StatusTracker;
use messenger_core::{
    AccountId, ChatId, Content, ContentKind, DeliveryStatus, ErrorKind, InboundEvent, MediaSource,
    MessageEvent, MessageId, Messenger, OutgoingContent, OutgoingMessage, Platform, Rate, Template,
};
use messenger_sandbox::{
    AccountPatch, CustomerMessage, MediaUpload, MessageKind, NewCustomer, RequestRecord, Sandbox,
};

use crate::intake::Intake;
use crate::registry::{self, Account};

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
    /// Where the platform has a reply window: a free-form send to a customer who never wrote
    /// was refused, by the SDK without a request where it knew the window closed, else by the
    /// platform (WhatsApp: accepted, then a `failed` status; VK: at once).
    pub window_enforced: Option<bool>,
    /// The refusal came from the platform itself (a request was made), with the error kind and
    /// code it answered (WhatsApp: `outside_reply_window`, 131047, in a `failed` status; VK:
    /// `opted_out`, 901), because the SDK did not know the window closed.
    pub window_refused_by_platform: Option<String>,
    /// Requests the platform refused before it accepted the send they were part of (MAX:
    /// `attachment.not.ready` while an upload was processed), retried by the stack.
    pub retried: usize,
    /// Replies refused before any request: the platform cannot take their kind in any form.
    pub refused_unsent: usize,
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

    // Every platform plays at once (each against its own sandbox account); the transcripts
    // are printed in registry order, each as soon as it and those before it are done.
    let plays = registry::CONNECTORS.iter().map(|entry| {
        let (sandbox, demo, consent) = (&sandbox, &demo, &consent);
        async move {
            let platform = entry.platform;
            let mut transcript = Vec::new();
            let result = async {
                line(&mut transcript, format_args!(""))?;
                line(
                    &mut transcript,
                    format_args!("== {} ==", platform.display_name()),
                )?;
                let Some(seeded) = demo.account(platform) else {
                    line(
                        &mut transcript,
                        format_args!("(the sandbox has no emulator of this platform yet)"),
                    )?;
                    return Ok(None);
                };
                let account = registry::open(platform, &sandbox.credentials(&seeded.account.id)?)?;
                play(
                    &mut transcript,
                    sandbox,
                    consent,
                    platform,
                    account,
                    &seeded.account.id,
                    &seeded.customer.id,
                )
                .await
                .map(Some)
                .with_context(|| format!("the {} part of the demo failed", platform.display_name()))
            }
            .await;
            (transcript, result)
        }
    });
    let mut ordered = futures::stream::iter(plays).buffered(registry::CONNECTORS.len().max(1));
    let mut summaries = Vec::new();
    while let Some((transcript, result)) = ordered.next().await {
        out.write_all(&transcript)?;
        out.flush()?;
        summaries.extend(result?);
    }
    drop(ordered);

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
        "| platform | received | downloaded | sent | downgrades | refused unsent | retried | best status | opt-out enforced | inactive module refused | 24 h window |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for s in summaries {
        let yes = |b: bool| if b { "yes" } else { "NO" };
        let _ = writeln!(
            t,
            "| {} | {} | {} B | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.platform.map(|p| p.display_name()).unwrap_or("?"),
            s.received,
            s.downloaded,
            s.sent,
            s.downgrades,
            s.refused_unsent,
            s.retried,
            s.best_status,
            yes(s.opt_out_enforced),
            yes(s.inactive_refused),
            match (s.window_enforced, &s.window_refused_by_platform) {
                (Some(true), Some(by)) => format!("yes, by the platform ({by})"),
                (Some(b), _) => yes(b).to_owned(),
                (None, _) => "none on this platform".to_owned(),
            }
        );
    }
    t
}

/// Starts intake for `messenger` ([`Intake`]) and registers a webhook receiver with the
/// sandbox where the platform takes its events by webhook.
async fn intake(
    sandbox: &Sandbox,
    account: &str,
    messenger: Arc<dyn Messenger>,
) -> anyhow::Result<Intake> {
    let intake = Intake::start(messenger, "127.0.0.1:0").await?;
    if let Some(url) = intake.webhook_url() {
        sandbox.update_account(
            account,
            &AccountPatch {
                webhook_url: Some(url.to_owned()),
                ..AccountPatch::default()
            },
        )?;
    }
    Ok(intake)
}

async fn next_event(
    intake: &mut Intake,
    mut wanted: impl FnMut(&InboundEvent) -> bool,
) -> anyhow::Result<InboundEvent> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let item = tokio::time::timeout_at(deadline, intake.events.recv())
            .await
            .map_err(|_| anyhow!("no matching event within {WAIT:?}"))?
            .ok_or_else(|| anyhow!("the event source stopped"))?;
        let event = item?;
        if wanted(&event) {
            return Ok(event);
        }
    }
}

/// The customer's next message of `kind`; the texts that come before it (a platform that
/// sends an image's caption as a message of its own) are shown as they come. Every message is
/// counted as received.
async fn customer_message(
    out: &mut dyn Write,
    intake: &mut Intake,
    summary: &mut PlatformSummary,
    kind: ContentKind,
) -> anyhow::Result<MessageEvent> {
    loop {
        let event = next_event(intake, |e| matches!(e, InboundEvent::Message(_))).await?;
        let InboundEvent::Message(m) = event else {
            unreachable!("next_event returned a message")
        };
        summary.received += 1;
        if m.content.kind() == kind {
            if let Content::Text { text } = &m.content {
                line(out, format_args!("customer  > {text}"))?;
            }
            return Ok(m);
        }
        match &m.content {
            Content::Text { text } => line(out, format_args!("customer  > {text}"))?,
            other => bail!("expected the customer's {kind}, got {}", other.kind()),
        }
    }
}

/// Downloads inbound media and counts its bytes.
async fn download(
    messenger: &dyn Messenger,
    media: &messenger_core::MediaRef,
) -> anyhow::Result<u64> {
    let mut stream = messenger.download(media).await?;
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        bytes += chunk?.len() as u64;
    }
    Ok(bytes)
}

fn requests(sandbox: &Sandbox, account: &str) -> anyhow::Result<usize> {
    Ok(sandbox.requests(account)?.len())
}

/// The requests of `account` from the `from`-th on (the log keeps the last 1000; the demo
/// makes far fewer).
fn requests_since(
    sandbox: &Sandbox,
    account: &str,
    from: usize,
) -> anyhow::Result<Vec<RequestRecord>> {
    Ok(sandbox.requests(account)?.into_iter().skip(from).collect())
}

/// The requests the platform refused (no injected fault), as `HTTP 400 \`code\` x2` notes.
fn refusals(records: &[RequestRecord]) -> (usize, Vec<String>) {
    let mut seen: Vec<(u16, Option<String>, usize)> = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.fault.is_none() && r.status >= 400)
    {
        match seen
            .iter_mut()
            .find(|(status, error, _)| *status == r.status && *error == r.error)
        {
            Some(entry) => entry.2 += 1,
            None => seen.push((r.status, r.error.clone(), 1)),
        }
    }
    let total = seen.iter().map(|(_, _, n)| n).sum();
    let notes = seen
        .into_iter()
        .map(|(status, error, n)| {
            let code = error.map(|e| format!(" `{e}`")).unwrap_or_default();
            let times = if n == 1 {
                String::new()
            } else {
                format!(" x{n}")
            };
            format!("HTTP {status}{code}{times}")
        })
        .collect();
    (total, notes)
}

#[allow(clippy::too_many_lines)]
async fn play(
    out: &mut dyn Write,
    sandbox: &Sandbox,
    consent: &Arc<Consent>,
    platform: Platform,
    connected: Account,
    account: &str,
    customer: &str,
) -> anyhow::Result<PlatformSummary> {
    let connector = connected.messenger.clone();
    let mut summary = PlatformSummary {
        platform: Some(platform),
        ..PlatformSummary::default()
    };

    // The owner activates the module: that is the acceptance of the current edition.
    let owner = AccountId::new(format!("demo-{platform}"));
    consent
        .activate(
            &owner,
            "2026-11",
            "demo: the owner activated the module in settings",
        )
        .await?;
    // The layers in their one safe order. Pace within the sandbox's per-chat flood control;
    // retries honour the platform's retry-after.
    let stack: Arc<dyn Messenger> = Arc::new(
        Stack::new(connector.clone(), owner.clone(), consent.clone())
            .per_chat(Some(Rate::per_second(4)))
            .retry_policy(RetryPolicy::default())
            .build(),
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
    let mut events = intake(sandbox, account, stack.clone()).await?;

    // 1. The customer writes; then sends a photo and a voice note (where the platform
    // delivers them), which the operator downloads.
    let hello = "Здравствуйте! Где мой заказ №1042?";
    sandbox.customer_sends(account, customer, &CustomerMessage::text(hello))?;
    let first = customer_message(out, &mut events, &mut summary, ContentKind::Text).await?;
    // The operator answers in the chat the customer wrote from (a MAX dialog has a chat id of
    // its own; elsewhere it is the customer's id).
    let chat = first.chat_id.clone();
    sandbox.customer_sends(
        account,
        customer,
        &CustomerMessage::media(MediaUpload::new(MessageKind::Image, PNG).mime_type("image/png"))
            .caption("Вот чек"),
    )?;
    let image = customer_message(out, &mut events, &mut summary, ContentKind::Image).await?;
    if let Content::Image { media, caption } = &image.content {
        let bytes = download(stack.as_ref(), media).await?;
        summary.downloaded += bytes;
        line(
            out,
            format_args!(
                "customer  > [image, {bytes} bytes downloaded]{}",
                caption
                    .as_deref()
                    .map(|c| format!(" {c}"))
                    .unwrap_or_default()
            ),
        )?;
    }
    if caps.kind(ContentKind::Voice).direction.can_receive() {
        sandbox.customer_sends(
            account,
            customer,
            &CustomerMessage::media(
                MediaUpload::new(MessageKind::Voice, ogg()).mime_type("audio/ogg"),
            ),
        )?;
        let voice = customer_message(out, &mut events, &mut summary, ContentKind::Voice).await?;
        if let Content::Voice { media, .. } = &voice.content {
            let bytes = download(stack.as_ref(), media).await?;
            summary.downloaded += bytes;
            line(
                out,
                format_args!(
                    "customer  > [voice note, {bytes} bytes downloaded{}]",
                    media
                        .mime_type
                        .as_deref()
                        .map(|m| format!(", {m}"))
                        .unwrap_or_default()
                ),
            )?;
        }
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
        let before = requests(sandbox, account)?;
        let report = match stack.send(&message).await {
            Ok(report) => report,
            // Refused: by the planner (no request left: the platform cannot take this kind in
            // any form) or by the platform (the planner let it through). Shown as it is.
            Err(err)
                if err.platform_code().is_some()
                    || matches!(err.kind(), ErrorKind::InvalidInput | ErrorKind::Unsupported) =>
            {
                let requested = requests(sandbox, account)? > before;
                let by = if requested {
                    format!("refused by {}", platform.display_name())
                } else {
                    summary.refused_unsent += 1;
                    "refused before any request".to_owned()
                };
                line(
                    out,
                    format_args!(
                        "operator  < {label}: {by} ({}{}): {}",
                        err.kind(),
                        err.platform_code()
                            .map(|c| format!(", code {c}"))
                            .unwrap_or_default(),
                        err.message()
                    ),
                )?;
                // What the planner had made of it, so the reader sees why it went that way.
                if let Ok(planned) =
                    messenger_core::plan::plan(&message, &caps, ReplyWindow::NotApplicable)
                {
                    for d in &planned.downgrades {
                        line(out, format_args!("            planned downgrade: {d}"))?;
                    }
                }
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        let (retried, notes) = refusals(&requests_since(sandbox, account, before)?);
        summary.retried += retried;
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
        if retried > 0 {
            line(
                out,
                format_args!(
                    "            {} refused {retried} attempt{} first ({}); retried until it was accepted",
                    platform.display_name(),
                    if retried == 1 { "" } else { "s" },
                    notes.join(", ")
                ),
            )?;
        }
    }

    // 3. Statuses, where the platform reports them. A read receipt for a message covers the
    // ones sent before it (WhatsApp sends one per message, VK one for the last message read).
    let tracker = StatusTracker::default();
    if caps.statuses.read {
        sandbox.set_online(account, customer, true)?;
        sandbox.customer_reads(account, customer, None)?;
        // Where the platform pushes no read receipts, the connector polls for them: the stream
        // starts now and its first poll finds what the customer read.
        let polled = connected.polled_statuses(&[]);
        let polling = polled.is_some();
        if let Some(stream) = polled {
            events.add(stream);
        }
        let mut remaining: Vec<MessageId> = sent_ids.clone();
        let mut receipts = 0;
        while !remaining.is_empty() {
            let event = next_event(&mut events, |e| matches!(e, InboundEvent::Status(_))).await?;
            if let InboundEvent::Status(s) = &event {
                tracker.apply(s).await?;
                if s.status == DeliveryStatus::Read {
                    receipts += 1;
                    // A polled status is one message's own; a pushed receipt may cover the
                    // messages before it (VK's says the last message read).
                    if let Some(at) = remaining.iter().position(|id| *id == s.message_id) {
                        if polling {
                            remaining.remove(at);
                        } else {
                            remaining.drain(..=at);
                        }
                    }
                }
            }
        }
        summary.best_status = "read".into();
        let chain = if caps.statuses.delivered {
            "sent -> delivered -> read"
        } else {
            "sent -> read"
        };
        line(
            out,
            format_args!(
                "statuses  : all {} messages went {chain} ({receipts} read {}{})",
                sent_ids.len(),
                if polling { "status" } else { "receipt" },
                match (receipts == 1, polling) {
                    (true, false) => "",
                    (false, false) => "s",
                    (true, true) => ", found by polling",
                    (false, true) => "es, found by polling",
                }
            ),
        )?;
    } else if caps.statuses.delivered {
        bail!(
            "{} reports deliveries but not reads; the demo has no script for that",
            platform.display_name()
        );
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

    // 4. The reply window: a customer who never wrote. Where the stack knows the window is
    // closed, the SDK refuses without a request. This process has watched the account for
    // seconds, not a whole window, so it cannot know (WhatsApp: `Unknown`) or has no window to
    // know (VK enforces its own rules: `NotApplicable`): the send goes and the platform decides,
    // at once (VK) or later in a `failed` status (WhatsApp). Each is shown as it is.
    if caps.reply_window.is_some() {
        let stranger = sandbox.create_customer(account, &NewCustomer::named("Oleg"))?;
        let stranger_chat = ChatId::new(stranger.id.as_str());
        let window = stack.reply_window(&stranger_chat).await?;
        let before = requests(sandbox, account)?;
        let sent = stack
            .send(&OutgoingMessage::text(
                stranger_chat.clone(),
                "Здравствуйте!",
            ))
            .await;
        let requested = requests(sandbox, account)? > before;
        match sent {
            Err(err) if window == ReplyWindow::Closed => {
                summary.window_enforced =
                    Some(err.kind() == ErrorKind::OutsideReplyWindow && !requested);
                line(
                    out,
                    format_args!(
                        "operator  < text to a customer who never wrote: refused ({}), no request made",
                        err.kind()
                    ),
                )?;
            }
            Err(err) => {
                let code = err.platform_code().unwrap_or("none").to_owned();
                let refused = requested
                    && matches!(
                        err.kind(),
                        ErrorKind::OptedOut | ErrorKind::OutsideReplyWindow
                    );
                summary.window_enforced = Some(refused);
                summary.window_refused_by_platform = Some(format!("{} {code}", err.kind()));
                line(
                    out,
                    format_args!(
                        "operator  < text to a customer who never wrote: the SDK sees no window here ({window:?}); {} refused it ({}, code {code})",
                        platform.display_name(),
                        err.kind()
                    ),
                )?;
            }
            Ok(report) => {
                // Accepted: the platform's verdict comes back as the message's status.
                let id = report
                    .first_message_id()
                    .cloned()
                    .context("a send that went out has a message id")?;
                let failed = next_event(&mut events, |e| {
                    matches!(e, InboundEvent::Status(s)
                        if s.message_id == id && s.status == DeliveryStatus::Failed)
                })
                .await
                .context("the platform accepted a free-form message to a customer who never wrote and reported no failure")?;
                let InboundEvent::Status(failed) = failed else {
                    unreachable!("next_event returned a status")
                };
                let (kind, code) = failed
                    .error
                    .as_ref()
                    .map(|e| (e.kind, e.code.clone().unwrap_or_else(|| "none".into())))
                    .unwrap_or((ErrorKind::Platform, "none".into()));
                summary.window_enforced = Some(kind == ErrorKind::OutsideReplyWindow);
                summary.window_refused_by_platform = Some(format!("{kind} {code}"));
                line(
                    out,
                    format_args!(
                        "operator  < text to a customer who never wrote: the SDK cannot know the window yet ({window:?}: this process has watched for less than a day), so {} decides",
                        platform.display_name()
                    ),
                )?;
                line(
                    out,
                    format_args!(
                        "            {} accepted it, then reported it `failed` ({kind}, code {code})",
                        platform.display_name()
                    ),
                )?;
            }
        }
        // Through the gate, like any send: opt-outs and the module state apply.
        match stack
            .send_template(&stranger_chat, &Template::new("order_update", "ru"))
            .await
        {
            Ok(_) => line(
                out,
                format_args!("operator  < template `order_update` to the same customer: sent"),
            )?,
            Err(err) => line(
                out,
                format_args!(
                    "operator  < template `order_update` to the same customer: {} ({})",
                    err.message(),
                    err.kind()
                ),
            )?,
        }
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
    let inactive = Gated::new(
        connector.clone(),
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

/// A few bytes that start like an OGG (Opus) voice note.
fn ogg() -> Vec<u8> {
    let mut v = b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00OpusHead".to_vec();
    v.extend(std::iter::repeat_n(0u8, 1000));
    v
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
