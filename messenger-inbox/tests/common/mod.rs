//! The test fixture: one suite, two backends.
//!
//! `both! { async fn name(f: Fixture) { ... } }` makes `name::sqlite` (a fresh SQLite file in
//! WAL mode) and `name::postgres` (a fresh schema in the database of `MESSENGER_PG_URL`; when the
//! variable is not set it prints that the PostgreSQL half was skipped and passes). Every test
//! body runs under a time limit.
#![allow(dead_code, clippy::print_stderr)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use messenger_core::consent::{AcceptanceKey, AgreementEdition};
use messenger_core::redact::Secret;
use messenger_core::{
    ChatId, ContactChange, ContactEvent, Content, DeliveryStatus, InboundEvent, MessageEvent,
    Platform, Sender, StatusEvent,
};
use messenger_inbox::{
    Account, DbConfig, Employee, Inbox, InboxBuilder, MemoryResolver, NewAccount, Workspace,
};

/// The longest a test body may take.
pub const LIMIT: Duration = Duration::from_secs(120);

pub const EDITION: &str = "2026-05-31";

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn pg_url() -> Option<String> {
    std::env::var("MESSENGER_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Says, once per test binary and past the test harness's capture, that the PostgreSQL half
/// was skipped.
pub fn pg_skipped(test: &str) {
    use std::io::Write;
    static ONCE: std::sync::Once = std::sync::Once::new();
    let file = test.split("::").next().unwrap_or(test).to_owned();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: the PostgreSQL half of {file} (its `::postgres` tests pass without running): set MESSENGER_PG_URL to run it"
        );
    });
}

pub fn key() -> AcceptanceKey {
    AcceptanceKey::new(Secret::new(vec![0x42; 32])).unwrap()
}

/// Drops the test's database (file or schema) when the test ends, even by a panic.
pub enum Cleanup {
    File(PathBuf),
    Schema { url: String, schema: String },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Schema { url, schema } => {
                let (url, schema) = (url.clone(), schema.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        use sqlx::Connection;
                        if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                                .execute(&mut c)
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

pub struct Fixture {
    /// Where another process finds the database: a URL, and a schema on PostgreSQL.
    pub target: (String, Option<String>),
    pub inbox: Inbox,
    pub db: DbConfig,
    pub secrets: Arc<MemoryResolver>,
    pub backend: &'static str,
    _cleanup: Arc<Cleanup>,
}

impl Fixture {
    pub fn unique(prefix: &str) -> String {
        format!(
            "{prefix}_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            fastrand::u32(..)
        )
    }

    pub async fn sqlite() -> Fixture {
        let dir = std::env::temp_dir().join("messenger-inbox-tests");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.db", Self::unique("t")));
        let db = DbConfig::sqlite_file(&path);
        let mut f = Self::open_with(db, "sqlite", Cleanup::File(path.clone())).await;
        f.target = (format!("sqlite:{}", path.display()), None);
        f
    }

    pub async fn postgres() -> Option<Fixture> {
        let url = pg_url()?;
        let schema = Self::unique("t");
        let db = DbConfig::postgres(url.clone())
            .schema(schema.clone())
            .max_connections(4);
        let mut f = Self::open_with(
            db,
            "postgres",
            Cleanup::Schema {
                url: url.clone(),
                schema: schema.clone(),
            },
        )
        .await;
        f.target = (url, Some(schema));
        Some(f)
    }

    async fn open_with(db: DbConfig, backend: &'static str, cleanup: Cleanup) -> Fixture {
        let secrets = Arc::new(MemoryResolver::new());
        let inbox = Self::builder_for(&db, &secrets).open().await.unwrap();
        Fixture {
            target: (String::new(), None),
            inbox,
            db,
            secrets,
            backend,
            _cleanup: Arc::new(cleanup),
        }
    }

    fn builder_for(db: &DbConfig, secrets: &Arc<MemoryResolver>) -> InboxBuilder {
        Inbox::builder(db.clone(), key()).secret_resolver(secrets.clone())
    }

    /// A builder on the same database (another process would open it the same way).
    pub fn builder(&self) -> InboxBuilder {
        Self::builder_for(&self.db, &self.secrets)
    }

    /// Another inbox on the same database: a restart, or a second process.
    pub async fn reopen(&self) -> Inbox {
        self.builder().open().await.unwrap()
    }

    pub fn target(&self) -> (String, Option<String>) {
        self.target.clone()
    }

    pub fn is_pg(&self) -> bool {
        self.backend == "postgres"
    }

    /// A workspace with its owner, the current edition published, and one active Telegram
    /// account.
    pub async fn seed(&self) -> Seed {
        self.inbox.publish_edition(edition()).await.unwrap();
        let (workspace, owner) = self.inbox.create_workspace("Shop", "Anna").await.unwrap();
        let account = self.account(&owner, Platform::Telegram, "Shop bot").await;
        Seed {
            workspace,
            owner,
            account,
        }
    }

    /// An active account of `owner`'s workspace (a token under `mem:`).
    pub async fn account(&self, owner: &Employee, platform: Platform, name: &str) -> Account {
        let token = self
            .secrets
            .insert(Self::unique("tok"), "123456:SECRET-TOKEN");
        let account = self
            .inbox
            .add_account(
                owner.id,
                NewAccount::new(platform, name).secret("token", token),
            )
            .await
            .unwrap();
        self.inbox
            .activate_account(
                owner.id,
                account.id,
                EDITION,
                "ticked Activate on /settings",
            )
            .await
            .unwrap();
        self.inbox.account_unchecked(account.id).await.unwrap()
    }
}

pub struct Seed {
    pub workspace: Workspace,
    pub owner: Employee,
    pub account: Account,
}

pub fn edition() -> AgreementEdition {
    AgreementEdition::new(
        EDITION,
        DateTime::parse_from_rfc3339("2026-05-31T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        "https://ipascal.ru/legal".parse().unwrap(),
        "ДОПОЛНИТЕЛЬНОЕ СОГЛАШЕНИЕ ОБ ИНТЕГРАЦИИ С МЕССЕНДЖЕРАМИ",
    )
}

pub fn msg(platform: Platform, chat: &str, id: &str, text: &str) -> InboundEvent {
    InboundEvent::Message(MessageEvent {
        platform,
        chat_id: chat.into(),
        message_id: id.into(),
        sender: Some(Sender {
            id: chat.into(),
            name: Some("Ivan Petrov".into()),
        }),
        timestamp: Utc::now(),
        reply_to: None,
        edited: false,
        content: Content::Text { text: text.into() },
    })
}

pub fn tg(chat: &str, id: &str, text: &str) -> InboundEvent {
    msg(Platform::Telegram, chat, id, text)
}

pub fn status(platform: Platform, chat: &str, id: &str, status: DeliveryStatus) -> InboundEvent {
    InboundEvent::Status(StatusEvent {
        platform,
        chat_id: chat.into(),
        message_id: id.into(),
        status,
        timestamp: Utc::now(),
        error: None,
    })
}

pub fn contact(platform: Platform, chat: &str, change: ContactChange) -> InboundEvent {
    InboundEvent::Contact(ContactEvent::new(platform, chat, chat, change, Utc::now()))
}

pub fn id_changed(platform: Platform, old: &str, new: &str) -> InboundEvent {
    let mut c = ContactEvent::new(platform, old, old, ContactChange::IdChanged, Utc::now());
    c.new_chat_id = Some(ChatId::new(new));
    InboundEvent::Contact(c)
}

/// Waits (bounded) until `check` is true.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Instantiates each test body for SQLite and for PostgreSQL.
#[macro_export]
macro_rules! both {
    ($(async fn $name:ident($f:ident: Fixture) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn body($f: $crate::common::Fixture) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let f = $crate::common::Fixture::sqlite().await;
                tokio::time::timeout($crate::common::LIMIT, body(f)).await.expect("the test timed out");
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::common::Fixture::postgres().await {
                    Some(f) => tokio::time::timeout($crate::common::LIMIT, body(f)).await.expect("the test timed out"),
                    None => $crate::common::pg_skipped(module_path!()),
                }
            }
        }
    )*};
}

// ---- an in-process platform ---------------------------------------------------------------

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use async_trait::async_trait;
use messenger_core::layers::{RetryPolicy, Stack};
use messenger_core::plan::Part;
use messenger_core::{
    AccountInfo, ByteStream, Capabilities, MediaRef, Messenger, OutgoingContent, SentPart,
};
use messenger_inbox::{AccountKey, MessengerProvider};

/// A platform in the test process: records what it was asked to send, answers at once.
#[derive(Debug)]
pub struct Stub {
    /// While true, sends never answer (a request in flight when its worker dies).
    pub hang: Arc<std::sync::atomic::AtomicBool>,
    platform: Platform,
    caps: Capabilities,
    next: AtomicU64,
    pub sent: Mutex<Vec<(String, String)>>,
}

impl Stub {
    pub fn new(platform: Platform) -> Self {
        Self {
            hang: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            platform,
            caps: Capabilities::of(platform),
            next: AtomicU64::new(1),
            sent: Mutex::new(Vec::new()),
        }
    }
    pub fn texts(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t)| t.clone())
            .collect()
    }
}

#[async_trait]
impl Messenger for Stub {
    fn platform(&self) -> Platform {
        self.platform
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    async fn connect(&self) -> messenger_core::Result<AccountInfo> {
        Ok(AccountInfo {
            platform: self.platform,
            id: "1".into(),
            name: None,
            username: None,
        })
    }
    async fn send_part(&self, chat: &ChatId, part: &Part) -> messenger_core::Result<SentPart> {
        while self.hang.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let text = match &part.content {
            OutgoingContent::Text { text } => text.clone(),
            other => format!("[{}] {}", other.kind(), other.caption().unwrap_or("")),
        };
        self.sent
            .lock()
            .unwrap()
            .push((chat.as_str().to_owned(), text));
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        Ok(SentPart {
            message_id: format!("p{n}").into(),
            timestamp: Utc::now(),
        })
    }
    async fn download(&self, _media: &MediaRef) -> messenger_core::Result<ByteStream> {
        Ok(Box::pin(futures::stream::once(async {
            Ok(bytes::Bytes::from_static(b"media-bytes"))
        })))
    }
}

/// Builds every account on a [`Stub`] of its platform, through the real layer stack.
#[derive(Debug, Default)]
pub struct StubProvider {
    pub stubs: Mutex<HashMap<AccountKey, Arc<Stub>>>,
    /// Shared by every stub: while true, sends hang.
    pub hang: Arc<std::sync::atomic::AtomicBool>,
}

impl StubProvider {
    pub fn stub(&self, account: AccountKey) -> Arc<Stub> {
        self.stubs
            .lock()
            .unwrap()
            .get(&account)
            .cloned()
            .expect("no stub built yet")
    }
}

#[async_trait]
impl MessengerProvider for StubProvider {
    async fn messenger(
        &self,
        inbox: &Inbox,
        account: &Account,
    ) -> messenger_inbox::Result<Arc<dyn Messenger>> {
        let stub = self
            .stubs
            .lock()
            .unwrap()
            .entry(account.id)
            .or_insert_with(|| {
                let mut stub = Stub::new(account.platform);
                stub.hang = self.hang.clone();
                Arc::new(stub)
            })
            .clone();
        let stack = Stack::new(stub, account.id.core_id(), inbox.consent().clone())
            .seen_events(inbox.seen_events())
            .retry_policy(RetryPolicy::default().max_attempts(1))
            .per_chat(None)
            .overall(None)
            .build();
        Ok(Arc::new(stack))
    }
}

pub fn with_stubs(inbox: &Inbox) -> Arc<StubProvider> {
    let p = Arc::new(StubProvider::default());
    inbox.set_provider(p.clone());
    p
}

// ---- the sandbox ----------------------------------------------------------------------------

use messenger_sandbox::{AccountSpec, Customer, NewCustomer, Sandbox, SandboxAccount};

/// A Telegram bot on a fresh sandbox, connected to the inbox as an active account (its token a
/// `mem:` secret, its base URL a setting), with `customers` customers who each wrote once.
pub struct Tg {
    pub sandbox: Sandbox,
    pub bot: SandboxAccount,
    pub account: Account,
    pub customers: Vec<Customer>,
}

impl Tg {
    pub fn received(&self, customer: &Customer) -> Vec<String> {
        self.sandbox
            .received(&self.bot.id, &customer.id)
            .unwrap()
            .into_iter()
            .map(|m| m.text.or(m.caption).unwrap_or_default())
            .collect()
    }
}

pub async fn telegram(f: &Fixture, owner: &Employee, customers: usize) -> Tg {
    let sandbox = Sandbox::start("127.0.0.1:0").await.unwrap();
    let bot = sandbox.create_account(&AccountSpec::telegram()).unwrap();
    let credentials = sandbox.credentials(&bot.id).unwrap();
    let mut new = messenger_inbox::NewAccount::new(Platform::Telegram, "Sandbox bot");
    for key in credentials.keys() {
        let value = credentials.get(key).unwrap().to_owned();
        if key == messenger_core::registry::BASE_URL {
            new = new.setting(key, value);
        } else {
            new = new.secret(key, f.secrets.insert(Fixture::unique("sb"), value));
        }
    }
    let account = f.inbox.add_account(owner.id, new).await.unwrap();
    f.inbox
        .activate_account(owner.id, account.id, EDITION, "ticked Activate")
        .await
        .unwrap();
    let account = f.inbox.account_unchecked(account.id).await.unwrap();
    let mut list = Vec::new();
    for i in 0..customers {
        let c = sandbox
            .create_customer(&bot.id, &NewCustomer::named(format!("Customer {i}")))
            .unwrap();
        f.inbox
            .ingest(account.id, &[tg(&c.id, "1", "hello")])
            .await
            .unwrap();
        list.push(c);
    }
    Tg {
        sandbox,
        bot,
        account,
        customers: list,
    }
}

/// The registry provider with one attempt per send (the outbox does the retrying).
pub fn registry(inbox: &Inbox) {
    inbox.set_provider(Arc::new(
        messenger_inbox::StackProvider::new([connector_telegram::ENTRY, connector_vk::ENTRY])
            .retry_policy(RetryPolicy::default().max_attempts(1)),
    ));
}

pub async fn conversation_of(
    f: &Fixture,
    owner: &Employee,
    account: &Account,
    chat: &str,
) -> messenger_inbox::ConversationId {
    let list = f
        .inbox
        .conversations(
            owner.id,
            messenger_inbox::ConversationFilter::default()
                .account(account.id)
                .limit(1000),
        )
        .await
        .unwrap();
    for c in list {
        if f.inbox
            .customer(owner.id, c.customer)
            .await
            .unwrap()
            .chat_id
            .as_deref()
            == Some(chat)
        {
            return c.id;
        }
    }
    panic!("no conversation for the chat");
}
