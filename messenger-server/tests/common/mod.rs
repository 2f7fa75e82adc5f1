//! The servers' test fixture: a sandbox of the platforms, servers started in this process on
//! a fresh SQLite file (or a PostgreSQL schema), secrets in memory, and a small HTTP client.
#![allow(dead_code, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use messenger_core::Platform;
use messenger_core::registry::{BASE_URL, Credentials};
use messenger_inbox::{MemoryResolver, Role, SecretRef};
use messenger_sandbox::{Demo, Sandbox};
use messenger_server::config::{
    AccountConfig, AgreementConfig, EmployeeConfig, GrantConfig, Intake, Right, WorkspaceConfig,
};
use messenger_server::{Connectors, Server, ServerConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The longest any wait in these tests lasts.
pub const WAIT: Duration = Duration::from_secs(20);

pub const OWNER: (&str, &str) = ("anna", "anna-secret-pass-1");
pub const AGENT: (&str, &str) = ("boris", "boris-secret-pass-2");

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        fastrand_u32()
    )
}

fn fastrand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.subsec_nanos() ^ (std::process::id() << 8)
}

pub fn pg_url() -> Option<String> {
    std::env::var("MESSENGER_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

pub fn connectors() -> Connectors {
    Connectors::new([
        connector_telegram::ENTRY,
        connector_whatsapp::ENTRY,
        connector_max::ENTRY,
        connector_vk::ENTRY,
        connector_avito::ENTRY,
    ])
}

/// Whether a credential key is a secret (kept by reference), as the inbox judges it.
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["token", "secret", "password", "key"]
        .iter()
        .any(|w| k.contains(w))
        && k != "phone_number_id"
}

/// Where one test's database lives; dropped with the test.
pub enum Database {
    File(std::path::PathBuf),
    Schema { url: String, schema: String },
}

impl Database {
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join("messenger-server-tests");
        std::fs::create_dir_all(&dir).unwrap();
        Database::File(dir.join(format!("{}.db", unique("s"))))
    }

    pub fn postgres() -> Option<Self> {
        Some(Database::Schema {
            url: pg_url()?,
            schema: unique("srv"),
        })
    }

    pub fn apply(&self, config: &mut ServerConfig) {
        match self {
            Database::File(p) => config.database = format!("sqlite:{}", p.display()),
            Database::Schema { url, schema } => {
                config.database = url.clone();
                config.database_schema = Some(schema.clone());
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        match self {
            Database::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Database::Schema { url, schema } => {
                let (url, schema) = (url.clone(), schema.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        use sqlx_free::drop_schema;
                        drop_schema(&url, &schema).await;
                    });
                })
                .join();
            }
        }
    }
}

/// Dropping a schema without sqlx in this crate's dependencies: through a throwaway inbox
/// connection is not possible either, so `psql` is asked when present; a leftover schema of a
/// test is harmless (its name is unique).
mod sqlx_free {
    pub async fn drop_schema(url: &str, schema: &str) {
        let _ = tokio::process::Command::new("psql")
            .arg(url)
            .arg("-q")
            .arg("-c")
            .arg(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await;
    }
}

/// The sandbox with one demo account per platform, and the secrets of the servers.
pub struct World {
    pub sandbox: Sandbox,
    pub demo: Demo,
    pub secrets: Arc<MemoryResolver>,
}

impl World {
    pub async fn new() -> World {
        let (sandbox, demo) = messenger_sandbox::run("127.0.0.1:0").await.unwrap();
        let secrets = Arc::new(MemoryResolver::new());
        secrets.insert("acceptance-key", "42".repeat(32));
        secrets.insert("owner-password", OWNER.1);
        secrets.insert("agent-password", AGENT.1);
        secrets.insert("operator-token", "operator-token-for-tests");
        World {
            sandbox,
            demo,
            secrets,
        }
    }

    /// The sandbox account of `platform` as a configured account (secrets in memory).
    pub fn account(&self, platform: Platform, intake: Intake) -> AccountConfig {
        let demo = self
            .demo
            .account(platform)
            .expect("the sandbox emulates it");
        let credentials: Credentials = self.sandbox.credentials(&demo.account.id).unwrap();
        let mut settings = BTreeMap::new();
        let mut secrets = BTreeMap::new();
        for key in credentials.keys() {
            let value = credentials.get(key).unwrap_or_default().to_owned();
            if is_secret(key) {
                let r = self
                    .secrets
                    .insert(format!("{platform}-{key}-{}", unique("k")), value);
                secrets.insert(key.to_owned(), r);
            } else {
                settings.insert(key.to_owned(), value);
            }
        }
        assert!(settings.contains_key(BASE_URL));
        AccountConfig {
            name: format!("{} demo", platform.display_name()),
            platform,
            intake,
            activate: true,
            settings,
            secrets,
        }
    }

    /// A configuration: an owner, an agent granted `agent_accounts` (by name), `accounts`.
    pub fn config(
        &self,
        db: &Database,
        accounts: Vec<AccountConfig>,
        agent_accounts: &[&str],
    ) -> ServerConfig {
        let mut config = ServerConfig::new(SecretRef::parse("mem:acceptance-key").unwrap());
        config.listen = "127.0.0.1:0".to_owned();
        db.apply(&mut config);
        config.operator_token = Some(SecretRef::parse("mem:operator-token").unwrap());
        config.outbox_workers = 2;
        config.polling.lease_seconds = 2;
        config.outbox_lease_seconds = 2;
        config.agreement = Some(AgreementConfig {
            edition: "2026-05".to_owned(),
            published: "2026-05-01T00:00:00Z".parse().unwrap(),
            url: "https://crm.example/agreement".parse().unwrap(),
            text_file: None,
            text: Some("the agreement".to_owned()),
        });
        config.workspace = Some(WorkspaceConfig {
            name: "Shop".to_owned(),
        });
        config.employees = vec![
            EmployeeConfig {
                login: OWNER.0.to_owned(),
                name: "Anna".to_owned(),
                role: Role::Owner,
                password: Some(SecretRef::parse("mem:owner-password").unwrap()),
                password_hash: None,
                grants: Vec::new(),
            },
            EmployeeConfig {
                login: AGENT.0.to_owned(),
                name: "Boris".to_owned(),
                role: Role::Agent,
                password: Some(SecretRef::parse("mem:agent-password").unwrap()),
                password_hash: None,
                grants: agent_accounts
                    .iter()
                    .map(|a| GrantConfig {
                        account: (*a).to_owned(),
                        rights: vec![Right::Read, Right::Reply],
                    })
                    .collect(),
            },
        ];
        config.accounts = accounts;
        config
    }

    pub async fn start(&self, config: ServerConfig) -> Server {
        Server::builder(config, connectors())
            .resolver(self.secrets.clone())
            .start()
            .await
            .unwrap()
    }
}

/// A small JSON client of one server.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

impl Api {
    pub fn new(base: impl Into<String>) -> Api {
        Api {
            base: base.into(),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            token: None,
        }
    }

    pub async fn signed_in(base: impl Into<String>, who: (&str, &str)) -> Api {
        let mut api = Api::new(base);
        let (status, body) = api
            .call(
                Method::POST,
                "/api/auth/sign-in",
                Some(json!({"login": who.0, "password": who.1})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "sign-in of {}: {body}", who.0);
        api.token = Some(body["token"].as_str().unwrap().to_owned());
        api
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let response = req.send().await.unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `GET` that must answer 200.
    pub async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// The conversation of an account's customer, once it appears.
    pub async fn conversation_of(&self, account: i64) -> i64 {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let list = self
                .ok(&format!("/api/conversations?account={account}"))
                .await;
            if let Some(c) = list["conversations"].as_array().and_then(|a| a.first()) {
                return c["id"].as_i64().unwrap();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no conversation appeared on account {account}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The id of the account named `name`.
    pub async fn account_id(&self, name: &str) -> i64 {
        let accounts = self.ok("/api/accounts").await;
        accounts["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["display_name"] == name)
            .unwrap_or_else(|| panic!("no account {name}: {accounts}"))["id"]
            .as_i64()
            .unwrap()
    }

    /// Opens the event stream with a one-use ticket (as a browser's EventSource would).
    pub async fn events(&self) -> Events {
        let (status, t) = self.post("/api/auth/ticket", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        let url = format!("{}{}", self.base, t["url"].as_str().unwrap());
        Events::open(&self.http, &url, None).await
    }
}

/// A server-sent-event stream.
pub struct Events {
    rx: tokio::sync::mpsc::UnboundedReceiver<(String, Value)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Events {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Events {
    pub async fn open(http: &reqwest::Client, url: &str, bearer: Option<&str>) -> Events {
        let mut req = http.get(url).timeout(Duration::from_secs(3600));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let response = req.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "the event stream did not open"
        );
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut stream = response.bytes_stream();
            let mut buffer = String::new();
            let (mut event, mut data) = (String::new(), String::new());
            while let Some(Ok(chunk)) = stream.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(i) = buffer.find('\n') {
                    let line = buffer[..i].trim_end_matches('\r').to_owned();
                    buffer.drain(..=i);
                    if line.is_empty() {
                        if !event.is_empty() || !data.is_empty() {
                            let value = serde_json::from_str(&data).unwrap_or(Value::Null);
                            let _ = tx.send((std::mem::take(&mut event), value));
                            data.clear();
                        }
                    } else if let Some(e) = line.strip_prefix("event:") {
                        event = e.trim().to_owned();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
            }
        });
        Events { rx, task }
    }

    /// The next event named `name` (others are skipped), within [`WAIT`].
    pub async fn next_named(&mut self, name: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no `{name}` event within {WAIT:?}"))
                .unwrap_or_else(|| panic!("the event stream ended before `{name}`"));
            if next.0 == name {
                return next.1;
            }
        }
    }

    /// Whether the stream ends within `within`.
    pub async fn ends_within(&mut self, within: Duration) -> bool {
        tokio::time::timeout(within, async { while self.rx.recv().await.is_some() {} })
            .await
            .is_ok()
    }
}

/// Waits until `check` holds, within [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
