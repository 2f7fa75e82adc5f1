//! Shared helpers for the integration tests: every connector against the local sandbox.
//!
//! - [`media`]: small but well-formed sample files (PNG, PDF, OGG, MP3, MP4) whose magic bytes
//!   the sandbox recognises.
//! - [`start_sandbox`] / [`functional_config`]: a sandbox on `127.0.0.1:0`.
//! - [`telegram_bot`] / [`whatsapp`] / [`vk`]: connectors pointed at a sandbox account.
//! - [`Events`]: intake through long polling or a webhook receiver (the CLI's
//!   [`messenger_cli::receiver`]), read with bounded waits ([`WAIT`]).
//! - [`download`], [`sha256_hex`], [`active_consent`], [`requests_except_polling`].
//!
//! Waits are bounded and the helpers panic with a message saying what did not arrive: they are
//! test support, not library code.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use connector_telegram::{TelegramBot, TelegramConfig};
use connector_vk::{Vk, VkConfig};
use connector_whatsapp::{WhatsApp, WhatsAppConfig};
use futures::StreamExt;
use messenger_core::backoff::Backoff;
use messenger_core::consent::{AgreementEdition, Consent};
use messenger_core::window::ReplyWindowStore;
use messenger_core::{
    AccountId, ContactEvent, Error, InboundEvent, MediaRef, MessageEvent, Messenger, Result,
    StatusEvent,
};
use messenger_sandbox::{AccountPatch, Sandbox, SandboxAccount, SandboxConfig};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

/// How long a test waits for one expected event or state change before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Sample media: tiny files that start with the magic bytes of their format.
pub mod media {
    /// A 1x1 PNG.
    pub fn png() -> Vec<u8> {
        vec![
            0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
            0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x04, 0x00, 0x00,
            0x00, 0xb5, 0x1c, 0x0c, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78,
            0xda, 0x63, 0x64, 0x60, 0x00, 0x00, 0x00, 0x06, 0x00, 0x02, 0x30, 0x81, 0xd0, 0x2f,
            0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
        ]
    }

    /// A minimal PDF.
    pub fn pdf() -> Vec<u8> {
        b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec()
    }

    /// An OGG (Opus) voice note: the `OggS` page header and `len` bytes in all.
    pub fn ogg(len: usize) -> Vec<u8> {
        with_magic(
            b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00OpusHead",
            len,
            7,
        )
    }

    /// An MP3 track: an ID3 header and `len` bytes in all.
    pub fn mp3(len: usize) -> Vec<u8> {
        with_magic(b"ID3\x04\x00\x00\x00\x00\x00\x00", len, 13)
    }

    /// An MP4 video: an `ftyp` box and `len` bytes in all.
    pub fn mp4(len: usize) -> Vec<u8> {
        with_magic(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", len, 29)
    }

    /// `magic` followed by a deterministic byte pattern (seeded by `seed`) up to `len` bytes, so
    /// that a truncated or reordered download cannot compare equal.
    fn with_magic(magic: &[u8], len: usize, seed: u8) -> Vec<u8> {
        let mut v = magic.to_vec();
        let mut x = seed;
        while v.len() < len {
            x = x.wrapping_mul(31).wrapping_add(17);
            v.push(x);
        }
        v
    }
}

/// The sandbox settings of the functional tests: no emulated rate limits (the fault tests keep
/// them) and webhook retries 50 ms apart, so a rejected delivery is retried within the test.
pub fn functional_config() -> SandboxConfig {
    SandboxConfig {
        webhook_retry_delay: Duration::from_millis(50),
        ..SandboxConfig::default().without_rate_limits()
    }
}

/// Starts a sandbox on a free loopback port.
///
/// # Panics
/// When the sandbox cannot start.
pub async fn start_sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start_with("127.0.0.1:0", config)
        .await
        .expect("the sandbox starts on 127.0.0.1:0")
}

/// A Telegram connector for a sandbox bot: 1 s long polls and a quick long-poll backoff.
pub fn telegram_config(sandbox: &Sandbox, account: &SandboxAccount) -> TelegramConfig {
    TelegramConfig::new(account.token.clone())
        .base_url(sandbox.urls().telegram())
        .poll_timeout(Duration::from_secs(1))
        .backoff(Backoff::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
}

/// [`telegram_config`], built.
///
/// # Panics
/// When the connector refuses the configuration.
pub fn telegram_bot(sandbox: &Sandbox, account: &SandboxAccount) -> TelegramBot {
    telegram_config(sandbox, account)
        .build()
        .expect("the Telegram connector accepts the sandbox configuration")
}

/// A WhatsApp connector for a sandbox number, with the number's app secret and, where given, a
/// shared reply-window store.
///
/// # Panics
/// When the connector refuses the configuration.
pub fn whatsapp(
    sandbox: &Sandbox,
    account: &SandboxAccount,
    window_store: Option<Arc<dyn ReplyWindowStore>>,
) -> WhatsApp {
    let mut config = WhatsAppConfig::new(account.token.clone(), account.id.clone())
        .base_url(sandbox.urls().whatsapp());
    if let Some(secret) = &account.app_secret {
        config = config.app_secret(secret.clone());
    }
    if let Some(store) = window_store {
        config = config.window_store(store);
    }
    WhatsApp::new(config).expect("the WhatsApp connector accepts the sandbox configuration")
}

/// A VK connector for a sandbox community, with the community's Callback secret and
/// confirmation string and 1 s long polls (events wake a poll at once).
///
/// # Panics
/// When the sandbox does not know the account.
pub fn vk_config(sandbox: &Sandbox, account: &SandboxAccount) -> VkConfig {
    let credentials = sandbox
        .credentials(&account.id)
        .expect("the sandbox gives the community's credentials");
    let group_id = account.id.parse().expect("a VK community id is a number");
    let mut config = VkConfig::new(account.token.clone(), group_id)
        .base_url(
            sandbox
                .urls()
                .platform(messenger_core::Platform::Vk)
                .expect("the sandbox emulates VK"),
        )
        .poll_wait(Duration::from_secs(1));
    if let Some(secret) = credentials.get("secret") {
        config = config.secret(secret);
    }
    if let Some(confirmation) = credentials.get("confirmation") {
        config = config.confirmation(confirmation);
    }
    config
}

/// [`vk_config`], built.
///
/// # Panics
/// When the connector refuses the configuration.
pub fn vk(sandbox: &Sandbox, account: &SandboxAccount) -> Vk {
    vk_config(sandbox, account)
        .build()
        .expect("the VK connector accepts the sandbox configuration")
}

/// Inbound events of one account, from long polling or from a webhook receiver.
pub struct Events {
    rx: mpsc::UnboundedReceiver<Result<InboundEvent>>,
    _keep: Box<dyn Any + Send>,
    url: Option<String>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("webhook", &self.url.is_some())
            .finish_non_exhaustive()
    }
}

/// Aborts the forwarding task when the [`Events`] are dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Events {
    /// Long-polls `messenger` ([`Messenger::updates`]) in a task; the items arrive in order.
    ///
    /// # Panics
    /// When the messenger has no long polling.
    pub fn poll(messenger: &dyn Messenger) -> Self {
        let mut stream = messenger.updates().expect("the messenger has long polling");
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                if tx.send(item).is_err() {
                    break;
                }
            }
        });
        Self {
            rx,
            _keep: Box::new(AbortOnDrop(task)),
            url: None,
        }
    }

    /// Starts the CLI's webhook receiver for `messenger` on a free loopback port. Every request
    /// goes through [`Messenger::handle_webhook`]; a rejected one arrives here as an `Err`.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn webhook(messenger: Arc<dyn Messenger>) -> Self {
        let mut receiver = messenger_cli::receiver::start(messenger, "127.0.0.1:0")
            .await
            .expect("the webhook receiver binds a loopback port");
        let url = receiver.url();
        let rx = std::mem::replace(&mut receiver.events, mpsc::unbounded_channel().1);
        Self {
            rx,
            _keep: Box::new(receiver),
            url: Some(url),
        }
    }

    /// The URL to register as the webhook (`None` for long polling).
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Registers this receiver as the WhatsApp callback URL of `account` in the sandbox.
    ///
    /// # Panics
    /// When these events come from long polling, or the sandbox refuses the URL.
    pub fn register_whatsapp(&self, sandbox: &Sandbox, account: &str) {
        self.register(sandbox, account);
    }

    /// Registers this receiver as the webhook of `account` in the sandbox (the WhatsApp
    /// callback URL, the VK Callback server, which the sandbox then confirms).
    ///
    /// # Panics
    /// When these events come from long polling, or the sandbox refuses the URL.
    pub fn register(&self, sandbox: &Sandbox, account: &str) {
        let url = self.url.clone().expect("a webhook receiver has a URL");
        sandbox
            .update_account(
                account,
                &AccountPatch {
                    webhook_url: Some(url),
                    ..AccountPatch::default()
                },
            )
            .expect("the sandbox takes a loopback webhook URL");
    }

    /// The next item (an event, or the error of a rejected delivery / a fatal poll error).
    ///
    /// # Panics
    /// When nothing arrives within [`WAIT`] or the source stopped.
    pub async fn next_item(&mut self) -> Result<InboundEvent> {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no inbound event within {WAIT:?}"))
            .expect("the event source stopped")
    }

    /// The next event that `wanted` accepts; other events are skipped.
    ///
    /// # Panics
    /// On an `Err` item, or when no such event arrives within [`WAIT`].
    pub async fn next_matching(
        &mut self,
        what: &str,
        mut wanted: impl FnMut(&InboundEvent) -> bool,
    ) -> InboundEvent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let item = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
                .unwrap_or_else(|| panic!("the event source stopped before {what}"));
            let event = item.unwrap_or_else(|e| panic!("an error while waiting for {what}: {e}"));
            if wanted(&event) {
                return event;
            }
        }
    }

    /// The next message event (other events are skipped).
    ///
    /// # Panics
    /// See [`next_matching`](Self::next_matching).
    pub async fn message(&mut self) -> MessageEvent {
        match self
            .next_matching("a message event", |e| matches!(e, InboundEvent::Message(_)))
            .await
        {
            InboundEvent::Message(m) => m,
            _ => unreachable!("next_matching returned a message"),
        }
    }

    /// The next status event (other events are skipped).
    ///
    /// # Panics
    /// See [`next_matching`](Self::next_matching).
    pub async fn status(&mut self) -> StatusEvent {
        match self
            .next_matching("a status event", |e| matches!(e, InboundEvent::Status(_)))
            .await
        {
            InboundEvent::Status(s) => s,
            _ => unreachable!("next_matching returned a status"),
        }
    }

    /// The next contact event (other events are skipped).
    ///
    /// # Panics
    /// See [`next_matching`](Self::next_matching).
    pub async fn contact(&mut self) -> ContactEvent {
        match self
            .next_matching("a contact event", |e| matches!(e, InboundEvent::Contact(_)))
            .await
        {
            InboundEvent::Contact(c) => c,
            _ => unreachable!("next_matching returned a contact event"),
        }
    }

    /// The next `Err` item (a rejected webhook delivery), skipping events.
    ///
    /// # Panics
    /// When no error arrives within [`WAIT`].
    pub async fn rejection(&mut self) -> Error {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let item = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no rejected delivery within {WAIT:?}"))
                .expect("the event source stopped before a rejection");
            match item {
                Err(e) => return e,
                Ok(InboundEvent::Message(m)) => {
                    panic!("a message was accepted while deliveries should be rejected: {m:?}")
                }
                Ok(_) => {}
            }
        }
    }

    /// Everything already queued, without waiting.
    pub fn drain(&mut self) -> Vec<Result<InboundEvent>> {
        let mut out = Vec::new();
        while let Ok(item) = self.rx.try_recv() {
            out.push(item);
        }
        out
    }
}

/// Downloads inbound media through `messenger` and returns every byte.
///
/// # Panics
/// When the download fails.
pub async fn download(messenger: &dyn Messenger, media: &MediaRef) -> Vec<u8> {
    let mut stream = tokio::time::timeout(WAIT, messenger.download(media))
        .await
        .expect("the download starts in time")
        .unwrap_or_else(|e| panic!("download of {:?} failed: {e}", media.id));
    let mut bytes = Vec::new();
    while let Some(chunk) = tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("the download streams in time")
    {
        bytes.extend_from_slice(&chunk.expect("a download chunk"));
    }
    bytes
}

/// The hex SHA-256 of `bytes` (the sandbox reports media hashes this way).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A [`Consent`] with one published edition and the module activated for every owner given.
///
/// # Panics
/// When publishing or activating fails.
pub async fn active_consent(owners: &[&AccountId]) -> Arc<Consent> {
    let consent = Arc::new(Consent::builder().build());
    consent
        .publish(AgreementEdition::new(
            "2026-01",
            Utc::now() - chrono::Duration::days(1),
            "https://crm.example/messenger-agreement/2026-01"
                .parse()
                .expect("a valid URL"),
            "The messenger module agreement, edition 2026-01.",
        ))
        .await
        .expect("the edition is published");
    for owner in owners {
        consent
            .activate(
                owner,
                "2026-01",
                "integration test: the owner activated the module",
            )
            .await
            .expect("the module is activated");
    }
    consent
}

/// The platform requests an account made, except long polling (Telegram's `getUpdates`, VK's
/// `groups.getLongPollServer` and `a_check`): a long poll runs alongside the sends, and its
/// requests say nothing about what was sent.
///
/// # Panics
/// When the account does not exist.
pub fn requests_except_polling(sandbox: &Sandbox, account: &str) -> usize {
    sandbox
        .requests(account)
        .expect("the account exists")
        .iter()
        .filter(|r| {
            !["getUpdates", "groups.getLongPollServer", "a_check"]
                .iter()
                .any(|op| r.operation.eq_ignore_ascii_case(op))
        })
        .count()
}

/// Polls `check` every 20 ms until it returns `Some`, for at most [`WAIT`].
///
/// # Panics
/// When `check` never returns `Some` in time.
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
