//! Building a connected [`Messenger`] from the environment or from a running sandbox, for any
//! platform in the [registry], and `messenger connect`: walking a connection flow
//! ([`ConnectionFlow`]) in the terminal.

use std::io::Write;
use std::sync::Arc;

use messenger_core::connection::{ConnectionFlow, ConnectionInput, ConnectionStep};
use messenger_core::registry::Credentials;
use messenger_core::{AccountInfo, Error, ErrorKind, Messenger, Platform, Result};
use messenger_sandbox::{Control, SandboxAccount};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::registry::{self, Account};

/// The account of `platform` whose credentials are in the environment (the connector's
/// [`env`](messenger_core::registry::ConnectorEntry::env) variables).
pub fn from_env(platform: Platform) -> Result<Arc<dyn Messenger>> {
    Ok(open_from_env(platform)?.messenger)
}

/// [`from_env`], with the connector's connection flow and polled statuses.
pub fn open_from_env(platform: Platform) -> Result<Account> {
    let entry = registry::entry(platform)?;
    let credentials = entry.credentials_from_env(|name| std::env::var(name).ok())?;
    registry::open(platform, &credentials)
}

/// The first account of `platform` in the sandbox at `root` (e.g. `http://127.0.0.1:8085`, as
/// `messenger sandbox` prints it), built from the credentials the sandbox gives for it.
pub async fn from_sandbox(
    platform: Platform,
    root: &str,
) -> Result<(Arc<dyn Messenger>, SandboxAccount)> {
    let (account, sandbox_account) = open_from_sandbox(platform, root).await?;
    Ok((account.messenger, sandbox_account))
}

/// [`from_sandbox`], with the connector's connection flow and polled statuses.
pub async fn open_from_sandbox(
    platform: Platform,
    root: &str,
) -> Result<(Account, SandboxAccount)> {
    let (credentials, account) = sandbox_credentials(platform, root).await?;
    Ok((registry::open(platform, &credentials)?, account))
}

/// The credentials of the first account of `platform` in the sandbox at `root`.
pub async fn sandbox_credentials(
    platform: Platform,
    root: &str,
) -> Result<(Credentials, SandboxAccount)> {
    registry::entry(platform)?;
    let control = Control::new(format!("{}/control", root.trim_end_matches('/')))?;
    let account = control
        .accounts()
        .await?
        .into_iter()
        .find(|a| a.platform == platform)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "the sandbox at {root} has no {} account",
                    platform.display_name()
                ),
            )
        })?;
    let credentials = control.credentials(&account.id).await?;
    Ok((credentials, account))
}

/// How many times a refused answer (a wrong code, a redirect of another attempt) may be typed
/// again before `walk` gives up.
pub const ATTEMPTS: usize = 3;

/// Walks `flow` in a terminal until the account is connected: each step is printed to `out`
/// (a page to open, a QR code's content, a question) and each answer is read as one line of
/// `input`. Works for every flow: OAuth (`OpenUrl` → `EnterCode` → `Done`), a QR code
/// (`ShowQr`, then Enter), a one-time code (`EnterCode`), or none at all (`Done` at once).
///
/// A refused answer is reported and asked again, at most [`ATTEMPTS`] times; the end of the
/// input, or an attempt that expired, ends the walk with the error.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use messenger_core::connection::{AuthorizationCodeClient, AuthorizationCodeFlow};
/// use messenger_core::redact::Secret;
/// use messenger_core::{AccountInfo, Platform, Result};
///
/// struct App;
/// #[async_trait]
/// impl AuthorizationCodeClient for App {
///     fn platform(&self) -> Platform { Platform::Avito }
///     fn authorization_url(&self, state: &str) -> Result<url::Url> {
///         Ok(format!("http://127.0.0.1:9/oauth?state={state}").parse().unwrap())
///     }
///     async fn complete(&self, code: Secret<String>) -> Result<AccountInfo> {
///         assert_eq!(code.expose_str(), "the-code");
///         Ok(AccountInfo { platform: Platform::Avito, id: "94235311".into(), name: None, username: None })
///     }
/// }
/// let flow = AuthorizationCodeFlow::new(Arc::new(App));
/// let mut out = Vec::new();
/// let account = messenger_cli::connect::walk(&flow, &mut &b"wrong code\nthe-code\n"[..], &mut out)
///     .await
///     .unwrap();
/// assert_eq!(account.id.as_str(), "94235311");
/// let shown = String::from_utf8(out).unwrap();
/// assert!(shown.contains("http://127.0.0.1:9/oauth?state="));
/// # });
/// ```
pub async fn walk(
    flow: &dyn ConnectionFlow,
    input: &mut (dyn AsyncBufRead + Unpin + Send),
    out: &mut dyn Write,
) -> anyhow::Result<AccountInfo> {
    let platform = flow.platform().display_name();
    let mut step = flow.start().await?;
    let mut refused = 0;
    loop {
        step = match step {
            ConnectionStep::Done(account) => return Ok(account),
            ConnectionStep::OpenUrl { url, .. } => {
                writeln!(
                    out,
                    "Open this page in a browser and allow access to the {platform} account:"
                )?;
                writeln!(out, "  {url}")?;
                out.flush()?;
                flow.submit(ConnectionInput::Continue).await?
            }
            ConnectionStep::ShowQr { data } => {
                writeln!(out, "Scan this code with the {platform} app:")?;
                writeln!(out, "  {data}")?;
                writeln!(out, "then press Enter.")?;
                out.flush()?;
                read_line(input).await?;
                flow.submit(ConnectionInput::Continue).await?
            }
            ConnectionStep::EnterCode { prompt } => {
                writeln!(out, "{prompt}:")?;
                out.flush()?;
                let line = read_line(input).await?;
                match flow.submit(ConnectionInput::text(line)).await {
                    Ok(next) => next,
                    Err(err)
                        if refused + 1 < ATTEMPTS
                            && matches!(
                                err.kind(),
                                ErrorKind::InvalidInput | ErrorKind::Unauthorized
                            )
                            && !err.message().contains("expired") =>
                    {
                        refused += 1;
                        writeln!(out, "refused: {err}")?;
                        ConnectionStep::EnterCode { prompt }
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            other => anyhow::bail!("this connection step cannot be shown in a terminal: {other:?}"),
        };
    }
}

/// One line of `input`, trimmed; the end of the input is an error.
async fn read_line(input: &mut (dyn AsyncBufRead + Unpin + Send)) -> anyhow::Result<String> {
    let mut line = String::new();
    let read = input.read_line(&mut line).await?;
    anyhow::ensure!(read > 0, "the input ended before the account was connected");
    Ok(line.trim().to_owned())
}
