//! Connecting an account: the steps a CRM renders ([`ConnectionStep`]) and the flow that walks
//! them ([`ConnectionFlow`]).
//!
//! Most platforms take a token and connect at once ([`DirectConnection`]: `start` answers
//! [`ConnectionStep::Done`]). An OAuth authorization-code flow (Avito) sends the user to the
//! platform's consent page and takes back what the platform redirected the user's browser to
//! ([`AuthorizationCodeFlow`]); a future connector may show a QR code or ask for a one-time code.
//! Every flow is driven the same way:
//!
//! 1. [`start`](ConnectionFlow::start) gives the first step;
//! 2. the CRM renders it (a link to open, a QR code to scan, a field to fill) and calls
//!    [`submit`](ConnectionFlow::submit) with what the user gave ([`ConnectionInput::Text`]),
//!    or with [`ConnectionInput::Continue`] when the step asks for nothing to be typed;
//! 3. until the step is [`ConnectionStep::Done`] with the account's identity.
//!
//! # The `state` of an authorization-code flow
//!
//! [`AuthorizationCodeFlow::start`](ConnectionFlow::start) makes an unguessable `state` (32
//! random bytes, hex) and puts it into the consent URL; the platform sends it back in the
//! redirect. What the user returns with is checked against it in constant time before the code
//! is used, so that a code obtained by someone else (a forged redirect, a CSRF) cannot connect
//! their account in the user's name. The user may return:
//!
//! - the whole redirect URL (`https://crm.example/cb?code=...&state=...`) or its query
//!   (`code=...&state=...`): the `state` **must** be there and match;
//! - the bare code (someone who copied it from the page): accepted unless
//!   [`require_state`](AuthorizationCodeFlow::require_state) is set, since it carries no state;
//! - a redirect with `error=access_denied`: the user declined; `Unauthorized`.
//!
//! A `state` lives [`DEFAULT_STATE_TTL`] (configurable) and is used once.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use messenger_core::connection::{
//!     AuthorizationCodeClient, AuthorizationCodeFlow, ConnectionFlow, ConnectionInput, ConnectionStep,
//! };
//! use messenger_core::redact::Secret;
//! use messenger_core::{AccountInfo, Platform, Result};
//!
//! struct Shop;
//!
//! #[async_trait]
//! impl AuthorizationCodeClient for Shop {
//!     fn platform(&self) -> Platform { Platform::Avito }
//!     fn authorization_url(&self, state: &str) -> Result<url::Url> {
//!         Ok(url::Url::parse(&format!("https://example.invalid/oauth?state={state}")).unwrap())
//!     }
//!     async fn complete(&self, code: Secret<String>) -> Result<AccountInfo> {
//!         assert_eq!(code.expose_str(), "the-code");
//!         Ok(AccountInfo { platform: Platform::Avito, id: "94235311".into(), name: None, username: None })
//!     }
//! }
//!
//! let flow = AuthorizationCodeFlow::new(Arc::new(Shop));
//! let ConnectionStep::OpenUrl { url, state } = flow.start().await.unwrap() else { unreachable!() };
//! assert!(url.as_str().contains(&state));
//! // The user opened the page; the CRM asks for what the platform showed.
//! assert!(matches!(flow.submit(ConnectionInput::Continue).await.unwrap(), ConnectionStep::EnterCode { .. }));
//! // A redirect of another attempt is refused...
//! let forged = ConnectionInput::text("https://crm.example/cb?code=the-code&state=forged");
//! assert!(flow.submit(forged).await.is_err());
//! // ...this attempt's is taken.
//! let redirect = ConnectionInput::text(format!("https://crm.example/cb?code=the-code&state={state}"));
//! let ConnectionStep::Done(account) = flow.submit(redirect).await.unwrap() else { unreachable!() };
//! assert_eq!(account.id.as_str(), "94235311");
//! # });
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::error::{Error, ErrorKind, Result};
use crate::messenger::Messenger;
use crate::model::{AccountInfo, Platform};
use crate::redact::Secret;
use crate::webhook::constant_time_eq;

/// How long the `state` of an [`AuthorizationCodeFlow`] is accepted: 15 minutes.
pub const DEFAULT_STATE_TTL: Duration = Duration::from_secs(15 * 60);

/// The longest input [`AuthorizationCodeFlow`] reads (a redirect URL), in bytes.
pub const MAX_INPUT_LEN: usize = 8 * 1024;

/// One step of connecting an account, for a CRM to render.
///
/// `Debug` shows no `state`, QR payload or query of a URL.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionStep {
    /// Send the user to `url` (the platform's consent page). The platform sends `state` back
    /// with its redirect; a web CRM may keep it to find this attempt when the redirect comes.
    OpenUrl {
        /// The page to open.
        url: Url,
        /// The attempt's anti-forgery value, also inside `url`.
        state: String,
    },
    /// Show `data` as a QR code for the user to scan with the platform's app.
    ShowQr {
        /// What the QR code encodes.
        data: String,
    },
    /// Ask the user for a code (or a URL) and [`submit`](ConnectionFlow::submit) it.
    EnterCode {
        /// What to ask, in words for the user.
        prompt: String,
    },
    /// Connected: the account's identity.
    Done(AccountInfo),
}

impl fmt::Debug for ConnectionStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionStep::OpenUrl { url, .. } => f
                .debug_struct("OpenUrl")
                .field(
                    "url",
                    &format_args!("{}{}", url.origin().ascii_serialization(), url.path()),
                )
                .field("state", &crate::redact::Redacted)
                .finish(),
            ConnectionStep::ShowQr { .. } => f
                .debug_struct("ShowQr")
                .field("data", &crate::redact::Redacted)
                .finish(),
            ConnectionStep::EnterCode { prompt } => {
                f.debug_struct("EnterCode").field("prompt", prompt).finish()
            }
            ConnectionStep::Done(account) => f.debug_tuple("Done").field(account).finish(),
        }
    }
}

/// What the user gave at a step.
///
/// ```
/// use messenger_core::connection::ConnectionInput;
/// let input = ConnectionInput::text("code=abc&state=def");
/// assert_eq!(format!("{input:?}"), "Text(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionInput {
    /// The user did what the step asked and typed nothing (opened the page, scanned the code).
    Continue,
    /// What the user typed or pasted, or the query a web CRM's redirect handler received. A
    /// code exchanges for tokens: it is kept out of `Debug`.
    Text(Secret<String>),
}

impl ConnectionInput {
    /// [`ConnectionInput::Text`] of `text`.
    pub fn text(text: impl Into<String>) -> Self {
        ConnectionInput::Text(Secret::new(text.into()))
    }
}

impl fmt::Debug for ConnectionInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionInput::Continue => f.write_str("Continue"),
            ConnectionInput::Text(_) => f.write_str("Text(<redacted>)"),
        }
    }
}

/// Connecting one account, step by step; see the [module docs](self).
///
/// Object-safe: a CRM holds `Arc<dyn ConnectionFlow>` whatever the platform. Methods take
/// `&self`: a flow may be shared between the request that started it and the one that brings
/// the user back.
#[async_trait]
pub trait ConnectionFlow: Send + Sync {
    /// The platform being connected.
    fn platform(&self) -> Platform;

    /// Starts (or restarts) the flow and gives the first step. Restarting forgets an earlier
    /// attempt: its `state` is refused from then on.
    async fn start(&self) -> Result<ConnectionStep>;

    /// Takes what the user gave at the current step and gives the next one. An error leaves the
    /// flow at its step (the user may try again), unless it says the attempt expired.
    async fn submit(&self, input: ConnectionInput) -> Result<ConnectionStep>;
}

/// The flow of an account that connects with the credentials it already has (a bot token):
/// [`start`](ConnectionFlow::start) runs [`Messenger::connect`] and answers
/// [`ConnectionStep::Done`].
pub struct DirectConnection {
    messenger: Arc<dyn Messenger>,
}

impl DirectConnection {
    /// The flow of `messenger`.
    pub fn new(messenger: Arc<dyn Messenger>) -> Self {
        Self { messenger }
    }
}

impl fmt::Debug for DirectConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectConnection")
            .field("platform", &self.messenger.platform())
            .finish()
    }
}

#[async_trait]
impl ConnectionFlow for DirectConnection {
    fn platform(&self) -> Platform {
        self.messenger.platform()
    }

    async fn start(&self) -> Result<ConnectionStep> {
        Ok(ConnectionStep::Done(self.messenger.connect().await?))
    }

    /// Connects again; there is nothing to enter.
    async fn submit(&self, input: ConnectionInput) -> Result<ConnectionStep> {
        let _ = input;
        self.start().await
    }
}

/// What a platform's OAuth authorization-code flow needs from its connector: the consent URL
/// and the exchange of a code. [`AuthorizationCodeFlow`] does the rest (the `state`, parsing
/// what the user returns, the steps).
#[async_trait]
pub trait AuthorizationCodeClient: Send + Sync {
    /// The platform.
    fn platform(&self) -> Platform;

    /// The platform's consent page for this app, carrying `state`.
    fn authorization_url(&self, state: &str) -> Result<Url>;

    /// Exchanges `code` for tokens, keeps them (the connector's token cache saves them to its
    /// store), and returns the connected account's identity.
    async fn complete(&self, code: Secret<String>) -> Result<AccountInfo>;
}

enum Phase {
    Idle,
    Waiting {
        state: Secret<String>,
        started: Instant,
    },
    Done(AccountInfo),
}

/// An OAuth authorization-code flow: `OpenUrl` → (`EnterCode`) → `Done`, with the `state`
/// checked; see the [module docs](self).
pub struct AuthorizationCodeFlow {
    client: Arc<dyn AuthorizationCodeClient>,
    state_ttl: Duration,
    require_state: bool,
    prompt: String,
    phase: Mutex<Phase>,
}

impl fmt::Debug for AuthorizationCodeFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCodeFlow")
            .field("platform", &self.client.platform())
            .field("state_ttl", &self.state_ttl)
            .field("require_state", &self.require_state)
            .finish_non_exhaustive()
    }
}

/// What the user returned with, parsed.
struct Returned {
    code: Option<Secret<String>>,
    state: Option<Secret<String>>,
    error: Option<String>,
    /// A URL or a query (which must carry the state), rather than a bare code.
    redirect: bool,
}

fn unauthorized(platform: Platform, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unauthorized, message).with_platform(platform)
}

/// A fresh `state`: 32 bytes of the operating system's random generator, as 64 hex digits.
///
/// ```
/// let a = messenger_core::connection::new_state().unwrap();
/// assert_eq!(a.len(), 64);
/// assert_ne!(a, messenger_core::connection::new_state().unwrap());
/// ```
pub fn new_state() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::new(
            ErrorKind::Storage,
            format!("the operating system's random generator failed: {e}"),
        )
    })?;
    Ok(hex::encode(bytes))
}

/// Compares two secrets in constant time (their SHA-256 digests, so neither the content nor
/// the length shows in the timing).
fn secrets_match(given: &str, expected: &str) -> bool {
    constant_time_eq(&Sha256::digest(given), &Sha256::digest(expected))
}

fn parse_returned(input: &str) -> Option<Returned> {
    let input = input.trim();
    if input.is_empty() || input.len() > MAX_INPUT_LEN {
        return None;
    }
    let query = if input.contains("://") {
        Some(Url::parse(input).ok()?.query().unwrap_or("").to_owned())
    } else if input.starts_with('?') || input.contains('=') {
        Some(input.trim_start_matches('?').to_owned())
    } else {
        None
    };
    let Some(query) = query else {
        // A bare code: printable ASCII without spaces.
        if !input.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        return Some(Returned {
            code: Some(Secret::new(input.to_owned())),
            state: None,
            error: None,
            redirect: false,
        });
    };
    let mut returned = Returned {
        code: None,
        state: None,
        error: None,
        redirect: true,
    };
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "code" if !value.is_empty() => returned.code = Some(Secret::new(value.into_owned())),
            "state" => returned.state = Some(Secret::new(value.into_owned())),
            // Only a short machine word is kept: `error_description` is free text.
            "error" => {
                let word: String = value
                    .chars()
                    .take(64)
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                returned.error = Some(word);
            }
            _ => {}
        }
    }
    Some(returned)
}

impl AuthorizationCodeFlow {
    /// A flow for `client`, with a `state` valid [`DEFAULT_STATE_TTL`] and bare codes accepted.
    pub fn new(client: Arc<dyn AuthorizationCodeClient>) -> Self {
        Self {
            client,
            state_ttl: DEFAULT_STATE_TTL,
            require_state: false,
            prompt: "Paste the address your browser was sent to after you allowed access (or the code it shows)".to_owned(),
            phase: Mutex::new(Phase::Idle),
        }
    }

    /// How long a `state` is accepted after [`start`](ConnectionFlow::start).
    pub fn state_ttl(mut self, ttl: Duration) -> Self {
        self.state_ttl = ttl;
        self
    }

    /// Refuses a bare code: only a redirect URL or query carrying the `state` is taken (a web
    /// CRM whose redirect handler passes the query on should set this).
    pub fn require_state(mut self, require: bool) -> Self {
        self.require_state = require;
        self
    }

    /// The words of the [`ConnectionStep::EnterCode`] step.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = prompt.into();
        self
    }

    /// Checks what the user returned against the attempt's `state`; gives the code.
    fn check(&self, returned: Returned, expected: &Secret<String>) -> Result<Secret<String>> {
        let platform = self.client.platform();
        if let Some(error) = returned.error {
            return Err(unauthorized(
                platform,
                format!(
                    "the platform did not grant access ({}); start again and allow access",
                    if error.is_empty() {
                        "no reason given"
                    } else {
                        &error
                    }
                ),
            ));
        }
        match (&returned.state, returned.redirect) {
            (Some(given), _) => {
                if !secrets_match(given.expose_str(), expected.expose_str()) {
                    return Err(unauthorized(
                        platform,
                        "the state of this redirect does not match this connection attempt (an older attempt, or a forged link); use the link of the latest attempt",
                    ));
                }
            }
            (None, true) => {
                return Err(unauthorized(
                    platform,
                    "the redirect carries no state, so it cannot be matched to this connection attempt",
                ));
            }
            (None, false) if self.require_state => {
                return Err(Error::invalid_input(
                    "a bare code is not accepted here: paste the whole address the browser was sent to",
                )
                .with_platform(platform));
            }
            (None, false) => {}
        }
        returned.code.ok_or_else(|| {
            Error::invalid_input("the redirect carries no code").with_platform(platform)
        })
    }
}

#[async_trait]
impl ConnectionFlow for AuthorizationCodeFlow {
    fn platform(&self) -> Platform {
        self.client.platform()
    }

    async fn start(&self) -> Result<ConnectionStep> {
        let state = new_state()?;
        let url = self.client.authorization_url(&state)?;
        *self.phase.lock().await = Phase::Waiting {
            state: Secret::new(state.clone()),
            started: Instant::now(),
        };
        tracing::debug!(platform = %self.client.platform(), "authorization flow started");
        Ok(ConnectionStep::OpenUrl { url, state })
    }

    async fn submit(&self, input: ConnectionInput) -> Result<ConnectionStep> {
        let platform = self.client.platform();
        // Held through the exchange: two submits of one code do not race.
        let mut phase = self.phase.lock().await;
        let (expected, started) = match &*phase {
            Phase::Idle => {
                return Err(Error::invalid_input(
                    "the connection flow was not started (or its attempt expired): start it first",
                )
                .with_platform(platform));
            }
            Phase::Done(account) => return Ok(ConnectionStep::Done(account.clone())),
            Phase::Waiting { state, started } => (state.clone(), *started),
        };
        if started.elapsed() > self.state_ttl {
            *phase = Phase::Idle;
            return Err(unauthorized(
                platform,
                "this connection attempt expired; start again",
            ));
        }
        let text = match input {
            ConnectionInput::Continue => {
                return Ok(ConnectionStep::EnterCode {
                    prompt: self.prompt.clone(),
                });
            }
            ConnectionInput::Text(text) => text,
        };
        let returned = parse_returned(text.expose_str()).ok_or_else(|| {
            Error::invalid_input(
                "expected the address the browser was sent to, its query, or the code",
            )
            .with_platform(platform)
        })?;
        let code = match self.check(returned, &expected) {
            Ok(code) => code,
            Err(err) => {
                tracing::warn!(platform = %platform, kind = %err.kind(), "authorization response refused");
                return Err(err);
            }
        };
        let account = self.client.complete(code).await?;
        tracing::info!(platform = %platform, "account connected through the authorization flow");
        *phase = Phase::Done(account.clone());
        Ok(ConnectionStep::Done(account))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Default)]
    struct Client {
        completed: AtomicUsize,
        codes: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait]
    impl AuthorizationCodeClient for Client {
        fn platform(&self) -> Platform {
            Platform::Avito
        }
        fn authorization_url(&self, state: &str) -> Result<Url> {
            let mut url = Url::parse("https://example.invalid/oauth?client_id=app").unwrap();
            url.query_pairs_mut().append_pair("state", state);
            Ok(url)
        }
        async fn complete(&self, code: Secret<String>) -> Result<AccountInfo> {
            self.completed.fetch_add(1, Ordering::SeqCst);
            self.codes
                .lock()
                .unwrap()
                .push(code.expose_str().to_owned());
            Ok(AccountInfo {
                platform: Platform::Avito,
                id: "1".into(),
                name: None,
                username: None,
            })
        }
    }

    async fn started(client: Arc<Client>) -> (AuthorizationCodeFlow, String) {
        let flow = AuthorizationCodeFlow::new(client);
        let ConnectionStep::OpenUrl { url, state } = flow.start().await.unwrap() else {
            panic!("expected OpenUrl");
        };
        assert!(url.query_pairs().any(|(k, v)| k == "state" && v == state));
        (flow, state)
    }

    #[tokio::test]
    async fn a_wrong_or_missing_state_is_refused_and_the_flow_waits() {
        let client = Arc::new(Client::default());
        let (flow, state) = started(client.clone()).await;
        for input in [
            "https://crm.example/cb?code=c1&state=nope".to_owned(),
            format!("code=c1&state={}", &state[..63]),
            "https://crm.example/cb?code=c1".to_owned(),
            "?code=c1".to_owned(),
        ] {
            let err = flow.submit(ConnectionInput::text(input)).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
            assert!(!err.to_string().contains("c1"), "{err}");
        }
        assert_eq!(client.completed.load(Ordering::SeqCst), 0);
        // The right one still works.
        let step = flow
            .submit(ConnectionInput::text(format!("?state={state}&code=c%2B1")))
            .await
            .unwrap();
        assert!(matches!(step, ConnectionStep::Done(_)));
        assert_eq!(*client.codes.lock().unwrap(), ["c+1"]);
        // Done is final: a second submit does not exchange again.
        flow.submit(ConnectionInput::text("other")).await.unwrap();
        assert_eq!(client.completed.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_restart_invalidates_the_old_state() {
        let client = Arc::new(Client::default());
        let (flow, old) = started(client.clone()).await;
        flow.start().await.unwrap();
        let err = flow
            .submit(ConnectionInput::text(format!("code=c&state={old}")))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
    }

    #[tokio::test]
    async fn bare_codes_unless_required_and_declines() {
        let client = Arc::new(Client::default());
        let (flow, _) = started(client.clone()).await;
        let err = flow
            .submit(ConnectionInput::text(
                "https://crm.example/cb?error=access_denied&error_description=Secret+words",
            ))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert!(err.to_string().contains("access_denied"), "{err}");
        assert!(!err.to_string().contains("Secret"), "{err}");
        assert!(
            flow.submit(ConnectionInput::text("two words"))
                .await
                .is_err()
        );
        assert!(matches!(
            flow.submit(ConnectionInput::Continue).await.unwrap(),
            ConnectionStep::EnterCode { .. }
        ));
        let done = flow
            .submit(ConnectionInput::text("  bare-code \n"))
            .await
            .unwrap();
        assert!(matches!(done, ConnectionStep::Done(_)));
        assert_eq!(*client.codes.lock().unwrap(), ["bare-code"]);

        let strict = AuthorizationCodeFlow::new(client.clone()).require_state(true);
        strict.start().await.unwrap();
        let err = strict
            .submit(ConnectionInput::text("bare-code"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[tokio::test(start_paused = true)]
    async fn a_state_expires() {
        let client = Arc::new(Client::default());
        let (flow, state) = started(client.clone()).await;
        tokio::time::advance(DEFAULT_STATE_TTL + Duration::from_secs(1)).await;
        let err = flow
            .submit(ConnectionInput::text(format!("code=c&state={state}")))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert!(err.to_string().contains("expired"), "{err}");
        // Forgotten: not even the right state is taken now.
        let err = flow
            .submit(ConnectionInput::text(format!("code=c&state={state}")))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(client.completed.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn steps_do_not_show_secrets() {
        let client = Arc::new(Client::default());
        let (flow, state) = started(client).await;
        let step = ConnectionStep::OpenUrl {
            url: Url::parse(&format!("https://avito.ru/oauth?state={state}")).unwrap(),
            state: state.clone(),
        };
        let debug = format!(
            "{step:?} {:?}",
            ConnectionStep::ShowQr {
                data: "qr-secret".into()
            }
        );
        assert!(
            !debug.contains(&state) && !debug.contains("qr-secret"),
            "{debug}"
        );
        assert!(debug.contains("https://avito.ru/oauth"), "{debug}");
        assert!(!format!("{flow:?}").contains(&state));
    }
}
