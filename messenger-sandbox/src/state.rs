//! The shared model every emulator works on: accounts and their tokens, customers, stored
//! messages, uploaded media, injected faults and the logs the control API reads back. It names
//! no platform: what only one platform has (a bot's update queue, a number's webhook events,
//! Telegram's files, WhatsApp's media ids) lives in [`Ext`] slots that the platform's emulator
//! owns.
//!
//! All of it sits behind one `std::sync::Mutex` that is never held across an `.await`.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use messenger_core::{Error, ErrorKind, Platform, Result};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::{
    DeliveryRecord, ErrorView, Fault, FaultSpec, MediaView, MessageDirection, MessageKind,
    MessageStatus, MessageView, RequestRecord, SandboxUrls,
};
use crate::clock::{Clock, TokenBucket, to_datetime};
use crate::config::SandboxConfig;
use crate::media::{Blob, MediaDir};
use crate::platforms::Emulator;

/// How many request and delivery records an account keeps.
const LOG_CAP: usize = 1000;

/// What every handler, worker and control operation shares.
pub(crate) struct Shared {
    pub config: SandboxConfig,
    pub clock: Clock,
    pub urls: SandboxUrls,
    pub http: reqwest::Client,
    /// Where uploaded media is kept (also reachable from the state, for handlers under the lock).
    pub media: Arc<MediaDir>,
    state: Mutex<State>,
    tasks: Mutex<JoinSet<()>>,
    /// The runtime the sandbox was started on (control calls may come from elsewhere).
    runtime: tokio::runtime::Handle,
}

impl Shared {
    /// Must be called inside a Tokio runtime (the sandbox's background tasks run on it).
    pub(crate) fn new(config: SandboxConfig, urls: SandboxUrls) -> Result<Arc<Self>> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(config.webhook_timeout)
            .user_agent("messenger-sandbox")
            .build()
            .map_err(|e| Error::transport("cannot build the webhook HTTP client").with_source(e))?;
        let media = MediaDir::create().map_err(|e| {
            Error::transport("the sandbox cannot create its media folder").with_source(e)
        })?;
        Ok(Arc::new(Self {
            config,
            clock: Clock::new(),
            urls,
            http,
            media: media.clone(),
            state: Mutex::new(State::new(media)),
            tasks: Mutex::new(JoinSet::new()),
            runtime: tokio::runtime::Handle::current(),
        }))
    }

    /// Locks the state (a poisoned lock is recovered: the state stays usable).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spawns a background task that [`abort_tasks`](Self::abort_tasks) ends.
    pub(crate) fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        // Reap finished tasks so the set does not grow.
        while tasks.try_join_next().is_some() {}
        tasks.spawn_on(fut, &self.runtime);
    }

    pub(crate) fn abort_tasks(&self) {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .abort_all();
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// The whole sandbox state.
pub(crate) struct State {
    pub accounts: BTreeMap<String, Account>,
    /// Every token (Telegram bot token, WhatsApp access token) -> account id.
    pub tokens: HashMap<String, String>,
    /// Uploaded media by id: each on disk in [`media`](Self::media), never in memory.
    pub blobs: HashMap<u64, Blob>,
    /// The media folder blobs are written to.
    pub media: Arc<MediaDir>,
    next_blob: u64,
    next_seq: u64,
    /// Each emulator's sandbox-wide store (Telegram files, WhatsApp media ids), by type.
    pub stores: Ext,
}

/// Values keyed by their type: the slot where an emulator keeps its own state inside the shared
/// model (an account's platform part, a platform-wide store), so that the model names no
/// platform and a new emulator adds no field here.
#[derive(Default)]
pub(crate) struct Ext(HashMap<TypeId, Box<dyn Any + Send>>);

impl Ext {
    /// Puts `value` in (replacing a value of the same type).
    pub(crate) fn insert<T: Any + Send>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// The value of type `T`, if one was put in.
    pub(crate) fn get<T: Any>(&self) -> Option<&T> {
        self.0.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// The value of type `T`, if one was put in.
    pub(crate) fn get_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.0.get_mut(&TypeId::of::<T>())?.downcast_mut()
    }

    /// The value of type `T`, put in as `T::default()` on first use.
    pub(crate) fn get_or_default<T: Any + Send + Default>(&mut self) -> &mut T {
        self.0
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut()
            .expect("the slot of a type holds a value of that type")
    }
}

impl State {
    /// An empty state whose blobs go to `media`.
    fn new(media: Arc<MediaDir>) -> Self {
        Self {
            accounts: BTreeMap::new(),
            tokens: HashMap::new(),
            blobs: HashMap::new(),
            media,
            next_blob: 0,
            next_seq: 0,
            stores: Ext::default(),
        }
    }

    /// A sequence number unique in this sandbox.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub(crate) fn add_blob(&mut self, blob: Blob) -> u64 {
        self.next_blob += 1;
        self.blobs.insert(self.next_blob, blob);
        self.next_blob
    }

    pub(crate) fn account(&self, id: &str) -> Result<&Account> {
        self.accounts
            .get(id)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such account"))
    }

    pub(crate) fn account_mut(&mut self, id: &str) -> Result<&mut Account> {
        self.accounts
            .get_mut(id)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such account"))
    }

    /// The account a token belongs to, if it is of this platform.
    pub(crate) fn account_by_token(&self, token: &str, platform: Platform) -> Option<&str> {
        let id = self.tokens.get(token)?;
        let account = self.accounts.get(id)?;
        (account.platform() == platform).then_some(account.id.as_str())
    }

    /// Takes the first queued fault matching the operation, if any.
    pub(crate) fn take_fault(&mut self, account: &str, operation: &str) -> Option<Fault> {
        let account = self.accounts.get_mut(account)?;
        let index = account.faults.iter().position(|f| {
            f.operation
                .as_deref()
                .is_none_or(|op| op.eq_ignore_ascii_case(operation))
        })?;
        let entry = &mut account.faults[index];
        let fault = entry.fault;
        entry.count = entry.count.saturating_sub(1);
        if entry.count == 0 {
            account.faults.remove(index);
        }
        Some(fault)
    }

    pub(crate) fn media_view(&self, media: &StoredMedia) -> MediaView {
        let blob = media.blob.and_then(|b| self.blobs.get(&b));
        MediaView {
            size: blob.map(Blob::size),
            mime_type: blob.map(|b| b.mime.clone()).or_else(|| media.mime.clone()),
            file_name: media
                .file_name
                .clone()
                .or_else(|| blob.and_then(|b| b.file_name.clone())),
            sha256: blob.map(Blob::sha256_hex),
            url: media.url.clone(),
            reference: media.reference.clone(),
        }
    }

    pub(crate) fn message_view(&self, m: &StoredMessage) -> MessageView {
        MessageView {
            id: m.id.clone(),
            direction: m.direction,
            kind: m.kind,
            text: m.text.clone(),
            caption: m.caption.clone(),
            media: m.media.as_ref().map(|media| self.media_view(media)),
            status: m.status,
            error: m.error.clone(),
            reply_to: m.reply_to.clone(),
            template: m.template.clone(),
            parse_mode: m.parse_mode.clone(),
            timestamp: to_datetime(m.at_ms),
        }
    }
}

/// One account: a Telegram bot, a WhatsApp business number, ... of the emulator that made it.
pub(crate) struct Account {
    pub id: String,
    /// The emulator of the account's platform (every per-platform call goes through it).
    pub emulator: &'static dyn Emulator,
    pub token: String,
    pub name: String,
    /// Creation order of customers is kept by `seq`.
    pub customers: BTreeMap<String, Customer>,
    pub faults: VecDeque<FaultSpec>,
    pub requests: VecDeque<RequestRecord>,
    pub deliveries: VecDeque<DeliveryRecord>,
    pub last_webhook_error: Option<String>,
    /// Bumped whenever there is something new to deliver or to poll.
    pub wake: watch::Sender<u64>,
    /// The per-account (per bot / per number) rate limit.
    pub bucket: Option<TokenBucket>,
    /// The platform part of the account (Telegram's `BotState`, WhatsApp's `NumberState`),
    /// owned by the emulator.
    pub ext: Ext,
}

impl Account {
    /// A new account of `emulator`'s platform, whose platform part is `platform_state`.
    pub(crate) fn new(
        id: String,
        emulator: &'static dyn Emulator,
        token: String,
        name: String,
        bucket: Option<TokenBucket>,
        platform_state: impl Any + Send,
    ) -> Self {
        let mut ext = Ext::default();
        ext.insert(platform_state);
        Self {
            id,
            emulator,
            token,
            name,
            customers: BTreeMap::new(),
            faults: VecDeque::new(),
            requests: VecDeque::new(),
            deliveries: VecDeque::new(),
            last_webhook_error: None,
            wake: watch::Sender::new(0),
            bucket,
            ext,
        }
    }

    /// The account's platform.
    pub(crate) fn platform(&self) -> Platform {
        self.emulator.platform()
    }

    pub(crate) fn wake(&self) {
        self.wake.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub(crate) fn customer(&self, id: &str) -> Result<&Customer> {
        self.customers
            .get(id)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such customer"))
    }

    pub(crate) fn customer_mut(&mut self, id: &str) -> Result<&mut Customer> {
        self.customers
            .get_mut(id)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such customer"))
    }

    pub(crate) fn log_request(&mut self, record: RequestRecord) {
        if self.requests.len() >= LOG_CAP {
            self.requests.pop_front();
        }
        self.requests.push_back(record);
    }

    pub(crate) fn log_delivery(&mut self, record: DeliveryRecord) {
        if self.deliveries.len() >= LOG_CAP {
            self.deliveries.pop_front();
        }
        self.deliveries.push_back(record);
    }
}

/// A customer of one account.
pub(crate) struct Customer {
    pub id: String,
    pub seq: u64,
    pub name: String,
    pub username: Option<String>,
    pub language_code: Option<String>,
    pub blocked: bool,
    pub online: bool,
    pub messages: Vec<StoredMessage>,
    /// When the customer last wrote (opens the WhatsApp window).
    pub last_inbound_ms: Option<i64>,
    /// Telegram: the next `message_id` in this private chat.
    pub next_message_id: i64,
    /// The per-chat (Telegram) or pair (WhatsApp) rate limit.
    pub bucket: Option<TokenBucket>,
}

impl Customer {
    pub(crate) fn new(id: String, seq: u64, name: String, bucket: Option<TokenBucket>) -> Self {
        Self {
            id,
            seq,
            name,
            username: None,
            language_code: None,
            blocked: false,
            online: true,
            messages: Vec::new(),
            last_inbound_ms: None,
            next_message_id: 1,
            bucket,
        }
    }

    pub(crate) fn message(&self, id: &str) -> Option<&StoredMessage> {
        self.messages.iter().find(|m| m.id == id)
    }
}

/// A message in a conversation.
#[derive(Clone)]
pub(crate) struct StoredMessage {
    pub id: String,
    pub direction: MessageDirection,
    pub kind: MessageKind,
    pub text: Option<String>,
    pub caption: Option<String>,
    pub media: Option<StoredMedia>,
    pub status: MessageStatus,
    pub error: Option<ErrorView>,
    pub reply_to: Option<String>,
    pub template: Option<String>,
    pub parse_mode: Option<String>,
    pub at_ms: i64,
    /// Telegram: the `Message` object as returned or delivered (for `reply_to_message`).
    pub raw: Option<serde_json::Value>,
}

impl StoredMessage {
    pub(crate) fn new(
        id: String,
        direction: MessageDirection,
        kind: MessageKind,
        at_ms: i64,
    ) -> Self {
        Self {
            id,
            direction,
            kind,
            text: None,
            caption: None,
            media: None,
            status: match direction {
                MessageDirection::Inbound => MessageStatus::Received,
                MessageDirection::Outbound => MessageStatus::Sent,
            },
            error: None,
            reply_to: None,
            template: None,
            parse_mode: None,
            at_ms,
            raw: None,
        }
    }
}

/// The media of a stored message.
#[derive(Clone, Default)]
pub(crate) struct StoredMedia {
    pub blob: Option<u64>,
    pub mime: Option<String>,
    pub file_name: Option<String>,
    pub url: Option<String>,
    pub reference: Option<String>,
}

/// A random string of `len` characters from `[A-Za-z0-9]`.
pub(crate) fn random_alnum(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(CHARS[fastrand::usize(..CHARS.len())]))
        .collect()
}

/// A random string of `len` decimal digits, not starting with 0.
pub(crate) fn random_digits(len: usize) -> String {
    (0..len)
        .map(|i| {
            let d = if i == 0 {
                fastrand::u8(1..10)
            } else {
                fastrand::u8(0..10)
            };
            char::from(b'0' + d)
        })
        .collect()
}

/// Bytes that are a JSON document, for a response body.
pub(crate) fn json_bytes(value: &serde_json::Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}
