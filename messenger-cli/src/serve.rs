//! `messenger serve`: the messenger module as a running service ([`messenger_server`]).
//!
//! - `messenger serve --config server.toml`: the server of a configuration file (listen
//!   address, database, public URL, accounts with secret references, the acceptance key, the
//!   first employees; see `messenger_server::config`).
//! - `messenger serve --sandbox [--port 8080] [--db FILE]`: the sandbox of the platform APIs
//!   in this process, its demo account on every emulated platform connected and activated, an
//!   owner and an agent to sign in as, the server on a SQLite file; it prints the URL, the
//!   sign-ins and how to play the customer.
//!
//! Either runs until Ctrl-C or SIGTERM, then stops gracefully (the sends in flight finish).
//! Logs go to standard error (`RUST_LOG`, default `info`); they hold ids, kinds and counts,
//! never message content, tokens or passwords.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use messenger_core::registry::Credentials;
use messenger_core::{Capabilities, Platform};
use messenger_inbox::{MemoryResolver, Role, SecretRef};
use messenger_server::config::{
    AccountConfig, AgreementConfig, EmployeeConfig, GrantConfig, Intake, Right, WorkspaceConfig,
};
use messenger_server::{Connectors, MemorySecretSink, Server, ServerConfig};

/// `messenger serve` arguments.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("mode").required(true).multiple(false))]
pub struct ServeArgs {
    /// The configuration file (TOML).
    #[arg(long, group = "mode")]
    pub config: Option<PathBuf>,
    /// Start the sandbox in this process with its demo accounts connected, and the server on
    /// SQLite, on 127.0.0.1.
    #[arg(long, group = "mode")]
    pub sandbox: bool,
    /// With --sandbox: the server's port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080, requires = "sandbox")]
    pub port: u16,
    /// With --sandbox: the sandbox's own port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0, requires = "sandbox")]
    pub sandbox_port: u16,
    /// With --sandbox: the SQLite file (default: a new one in a temporary directory).
    #[arg(long, requires = "sandbox")]
    pub db: Option<PathBuf>,
}

/// The demo employees of `--sandbox`: (role, login, name, password).
pub const SANDBOX_OWNER: (&str, &str, &str) = ("anna", "Anna", "sandbox-anna");
/// The agent of `--sandbox`, granted some accounts only.
pub const SANDBOX_AGENT: (&str, &str, &str) = ("boris", "Boris", "sandbox-boris");
/// The platforms the `--sandbox` agent may read and answer.
const AGENT_PLATFORMS: [Platform; 2] = [Platform::Telegram, Platform::WhatsApp];

/// How long a stop waits for the sends in flight.
const GRACE: Duration = Duration::from_secs(30);

fn connectors() -> Connectors {
    Connectors::new(messenger_cli::registry::CONNECTORS.iter().copied())
}

/// Runs `messenger serve` until a signal; prints to `out`.
pub async fn run(args: ServeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    // The server runs on a runtime of its own, with a worker per core; this thread prints.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("messenger-serve")
        .build()
        .context("cannot start the server's runtime")?;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<String>();
    let task = runtime.spawn(async move {
        let result = if args.sandbox {
            sandbox_mode(args, started_tx).await
        } else {
            config_mode(args, started_tx).await
        };
        result.map_err(|e| format!("{e:#}"))
    });
    let printed = match started_rx.await {
        Ok(text) => {
            out.write_all(text.as_bytes())?;
            out.flush()?;
            true
        }
        Err(_) => false,
    };
    let result = task.await;
    runtime.shutdown_background();
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => bail!("{e}"),
        Err(e) if !printed => bail!("the server failed to start: {e}"),
        Err(e) => bail!("the server stopped: {e}"),
    }
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
async fn stop_requested() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn config_mode(
    args: ServeArgs,
    started: tokio::sync::oneshot::Sender<String>,
) -> anyhow::Result<()> {
    let path = args.config.context("give --config FILE or --sandbox")?;
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let config = ServerConfig::from_toml(&text).map_err(anyhow::Error::msg)?;
    let server = Server::builder(config, connectors())
        .start()
        .await
        .context("the server did not start")?;
    let mut text = format!(
        "messenger server listening on {} (node {})\n",
        server.url(),
        server.node()
    );
    let accounts = server
        .inbox()
        .accounts_unchecked()
        .await
        .unwrap_or_default();
    for account in &accounts {
        let intake = server.state().intake_of(account);
        let how = match intake {
            Intake::Webhook => format!(
                "webhook {}",
                server.state().webhook_url(account).unwrap_or_default()
            ),
            _ => "long polling".to_owned(),
        };
        text.push_str(&format!(
            "  account {} {} ({}): {}, {how}\n",
            account.id,
            account.platform.display_name(),
            account.display_name,
            account.state.as_str(),
        ));
    }
    text.push_str("Ctrl-C stops it.\n");
    let _ = started.send(text);
    stop_requested().await;
    server.shutdown(GRACE).await;
    Ok(())
}

/// Whether a credential key is a secret, kept by reference (the inbox refuses such keys as
/// settings).
fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["token", "secret", "password", "key"]
        .iter()
        .any(|w| k.contains(w))
        && k != "phone_number_id"
}

/// The acceptance key beside the database: made once, reused when the database is (a key that
/// changed would make the acceptance log unverifiable).
fn acceptance_key_file(db: &Path) -> anyhow::Result<PathBuf> {
    let path = db.with_extension("acceptance-key");
    if !path.exists() {
        // 32 bytes of the operating system's generator, in hex.
        let hex = messenger_core::connection::new_state()
            .map_err(|e| anyhow::anyhow!("the random generator failed: {e}"))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options
            .open(&path)
            .and_then(|mut f| f.write_all(hex.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    std::path::absolute(&path).context("the key file has no absolute path")
}

async fn sandbox_mode(
    args: ServeArgs,
    started: tokio::sync::oneshot::Sender<String>,
) -> anyhow::Result<()> {
    let (sandbox, demo) = messenger_sandbox::run(&format!("127.0.0.1:{}", args.sandbox_port))
        .await
        .context("the sandbox did not start")?;
    let db = match args.db {
        Some(path) => path,
        None => {
            let dir = std::env::temp_dir().join(format!(
                "messenger-serve-{}-{}",
                std::process::id(),
                chrono::Utc::now().timestamp_millis()
            ));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.join("inbox.db")
        }
    };
    let db = std::path::absolute(&db).context("the database path")?;
    let key_file = acceptance_key_file(&db)?;
    let secrets = Arc::new(MemoryResolver::new());
    secrets.insert("owner-password", SANDBOX_OWNER.2);
    secrets.insert("agent-password", SANDBOX_AGENT.2);

    let mut accounts = Vec::new();
    let mut seeded = Vec::new();
    for d in &demo.accounts {
        if !messenger_cli::registry::has_connector(d.platform) {
            continue;
        }
        let credentials: Credentials = sandbox.credentials(&d.account.id)?;
        let mut settings = BTreeMap::new();
        let mut refs = BTreeMap::new();
        for key in credentials.keys() {
            let value = credentials.get(key).unwrap_or_default().to_owned();
            if is_secret(key) {
                let name = format!("{}-{key}", d.platform.as_str());
                refs.insert(key.to_owned(), secrets.insert(name, value));
            } else {
                settings.insert(key.to_owned(), value);
            }
        }
        let name = format!("{} sandbox", d.platform.display_name());
        accounts.push(AccountConfig {
            name: name.clone(),
            platform: d.platform,
            intake: Intake::Auto,
            activate: true,
            settings,
            secrets: refs,
        });
        seeded.push((d, name, credentials));
    }
    let mut config = ServerConfig::new(SecretRef::parse(&format!("file:{}", key_file.display()))?);
    config.listen = format!("127.0.0.1:{}", args.port);
    config.database = format!("sqlite:{}", db.display());
    config.agreement = Some(AgreementConfig {
        edition: "sandbox-1".to_owned(),
        published: "2026-01-01T00:00:00Z".parse()?,
        url: "https://example.invalid/messenger-module-agreement".parse()?,
        text_file: None,
        text: Some("The sandbox's stand-in for the messenger module agreement.".to_owned()),
    });
    config.workspace = Some(WorkspaceConfig {
        name: "Sandbox shop".to_owned(),
    });
    config.employees = vec![
        EmployeeConfig {
            login: SANDBOX_OWNER.0.to_owned(),
            name: SANDBOX_OWNER.1.to_owned(),
            role: Role::Owner,
            password: Some(SecretRef::parse("mem:owner-password")?),
            password_hash: None,
            grants: Vec::new(),
        },
        EmployeeConfig {
            login: SANDBOX_AGENT.0.to_owned(),
            name: SANDBOX_AGENT.1.to_owned(),
            role: Role::Agent,
            password: Some(SecretRef::parse("mem:agent-password")?),
            password_hash: None,
            grants: seeded
                .iter()
                .filter(|(d, _, _)| AGENT_PLATFORMS.contains(&d.platform))
                .map(|(_, name, _)| GrantConfig {
                    account: name.clone(),
                    rights: vec![Right::Read, Right::Reply],
                })
                .collect(),
        },
    ];
    config.accounts = accounts;
    let server = Server::builder(config, connectors())
        .resolver(secrets.clone())
        .secret_sink(Arc::new(MemorySecretSink(secrets)))
        .start()
        .await
        .context("the server did not start")?;
    let url = server.url();
    let stored = server.inbox().accounts_unchecked().await?;

    let mut text = String::new();
    text.push_str(&format!("messenger server listening on {url}\n\n"));
    text.push_str(&format!("  web inbox:     {url}/\n"));
    text.push_str(&format!(
        "  operator API:  {url}/api   (OpenAPI: {url}/api/openapi.json)\n"
    ));
    text.push_str(&format!("  database:      {} (SQLite)\n", db.display()));
    text.push_str(&format!("  sandbox:       {}\n\n", demo.urls.base));
    text.push_str("Sign in as:\n");
    let agent_sees: Vec<&str> = AGENT_PLATFORMS
        .iter()
        .filter(|p| seeded.iter().any(|(d, _, _)| d.platform == **p))
        .map(|p| p.display_name())
        .collect();
    text.push_str(&format!(
        "  owner  {:<6} password {:<14} (every account)\n",
        SANDBOX_OWNER.0, SANDBOX_OWNER.2
    ));
    text.push_str(&format!(
        "  agent  {:<6} password {:<14} ({} only)\n\n",
        SANDBOX_AGENT.0,
        SANDBOX_AGENT.2,
        agent_sees.join(" and ")
    ));
    text.push_str("Accounts (connected to the sandbox, module activated):\n");
    let control = &demo.urls.control;
    let mut examples = Vec::new();
    for (d, name, credentials) in &seeded {
        let Some(account) = stored
            .iter()
            .find(|a| a.platform == d.platform && &a.display_name == name)
        else {
            continue;
        };
        let intake = if Capabilities::of(d.platform).intake.long_poll {
            "long polling".to_owned()
        } else {
            // The platform pushes: register this server's webhook URL with the sandbox.
            let mut hook = format!("{url}/webhooks/{}/{}", d.platform.as_str(), account.id);
            // A platform whose deliveries authenticate by a token in the URL (Avito).
            if let Some(token) = credentials.get("webhook_token") {
                hook.push_str("?token=");
                hook.push_str(token);
            }
            sandbox.update_account(
                &d.account.id,
                &messenger_sandbox::AccountPatch {
                    webhook_url: Some(hook),
                    ..Default::default()
                },
            )?;
            format!(
                "webhook {url}/webhooks/{}/{}",
                d.platform.as_str(),
                account.id
            )
        };
        text.push_str(&format!(
            "  {:<9} account {}  {intake}; customer {} (\"{}\")\n",
            d.platform.display_name(),
            account.id,
            d.customer.id,
            d.customer.name
        ));
        examples.push((d.platform, d.account.id.clone(), d.customer.id.clone()));
    }
    text.push_str(&format!(
        "\nPlay the customer through the sandbox's control API ({control}):\n"
    ));
    for (platform, account, customer) in examples.iter().take(2) {
        text.push_str(&format!(
            "  # {}: the customer writes; then see what they received\n  curl -X POST -H 'Content-Type: application/json' -d '{{\"text\":\"hello\"}}' {control}/accounts/{account}/customers/{customer}/messages\n  curl '{control}/accounts/{account}/customers/{customer}/messages?direction=outbound'\n",
            platform.display_name()
        ));
    }
    text.push_str(&format!(
        "\nOr the API as a person would:\n  curl -s -H 'Content-Type: application/json' -d '{{\"login\":\"{}\",\"password\":\"{}\"}}' {url}/api/auth/sign-in\n  curl -H 'Authorization: Bearer <token>' {url}/api/conversations\n\nCtrl-C stops it.\n",
        SANDBOX_OWNER.0, SANDBOX_OWNER.2
    ));
    let _ = started.send(text);
    stop_requested().await;
    server.shutdown(GRACE).await;
    sandbox.shutdown().await;
    Ok(())
}
