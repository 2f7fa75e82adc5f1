//! OAuth tokens that never lapse: [`OAuthTokens`], where they outlive a process
//! ([`TokenStore`], [`MemoryTokenStore`]), and the one cache that hands out a valid access token
//! ([`TokenCache`]). The platform's own refresh call is a [`TokenRefresher`] its connector
//! implements; everything else (when to refresh, single flight, saving rotations, the retry on a
//! refused token) lives here and nowhere else.
//!
//! # What the cache does
//!
//! - [`access_token`](TokenCache::access_token) hands out the current token while it is more
//!   than the [refresh margin](TokenCache::refresh_margin) from its expiry, and refreshes it
//!   otherwise. An expiry is measured on tokio's clock (so tests with paused time control it);
//!   `expires_at` in the store is wall-clock time, converted when tokens are loaded.
//! - **Single flight**: the refresh runs under the cache's lock, so any number of concurrent
//!   callers that need a new token cause **one** refresh and all get its result.
//! - **Rotation saved first**: the platform may rotate the refresh token on every refresh (Avito
//!   does, and the old one stops working). New tokens go to the [`TokenStore`] **before** the new
//!   access token is handed out; if the store fails, the tokens are kept in memory (they are the
//!   only copy), the call fails with [`ErrorKind::Storage`], and the next call saves them again
//!   before using them.
//! - **A refused token** (the platform answered 401/403): the caller reports the token it used
//!   ([`refresh_after_refusal`](TokenCache::refresh_after_refusal)). If the cache has given out
//!   another token since, that one is returned without a refresh (another caller refreshed
//!   already); a token the cache obtained less than the [grace](TokenCache::refusal_grace) ago
//!   is not refreshed again (a brand-new token refused is a permission problem, not an expiry;
//!   this bounds refreshes to one per grace period whatever the traffic); otherwise one refresh.
//!   [`call`](TokenCache::call) wraps a request with this: once on a refusal, then the
//!   platform's answer as it is.
//! - **A refused refresh** ([`ErrorKind::Unauthorized`] from the refresher: a revoked refresh
//!   token, a wrong client secret) is remembered for the grace period, so a dead account does not
//!   call the token endpoint on every request; its error says what to do.
//! - A refresh that fails for a passing reason (network, 5xx) while the current token has not
//!   expired yet (it is only within the margin) hands out the current token.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//! use async_trait::async_trait;
//! use messenger_core::oauth::{MemoryTokenStore, OAuthTokens, TokenCache, TokenRefresher};
//! use messenger_core::{AccountId, Platform, Result};
//!
//! /// A platform whose token endpoint numbers its tokens.
//! #[derive(Default)]
//! struct Counter(AtomicU32);
//!
//! #[async_trait]
//! impl TokenRefresher for Counter {
//!     async fn refresh(&self, _current: Option<&OAuthTokens>) -> Result<OAuthTokens> {
//!         let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
//!         Ok(OAuthTokens::new(format!("access-{n}"))
//!             .with_refresh_token(format!("refresh-{n}"))
//!             .expiring_in(Duration::from_secs(86_400)))
//!     }
//! }
//!
//! let store = Arc::new(MemoryTokenStore::new());
//! let cache = TokenCache::new(Platform::Avito, AccountId::from("shop-1"), Arc::new(Counter::default()), store.clone());
//! let token = cache.access_token().await.unwrap();
//! assert_eq!(token.expose_str(), "access-1");
//! // Saved before it was handed out:
//! let saved = store.get(&AccountId::from("shop-1")).unwrap();
//! assert_eq!(saved.refresh_token.unwrap().expose_str(), "refresh-1");
//! // The platform refused it after a while: one refresh.
//! tokio::time::pause();
//! tokio::time::advance(Duration::from_secs(3600)).await;
//! let fresh = cache.refresh_after_refusal(&token).await.unwrap().unwrap();
//! assert_eq!(fresh.expose_str(), "access-2");
//! // Another caller that saw the same stale token gets the new one without a refresh.
//! assert_eq!(cache.refresh_after_refusal(&token).await.unwrap().unwrap().expose_str(), "access-2");
//! # });
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{AccountId, Platform};
use crate::redact::{Secret, redacted};

/// Refresh this long before the access token expires unless configured: 5 minutes.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A token the cache obtained less than this ago is not refreshed again on a refusal, and a
/// refused refresh is not tried again sooner, unless configured: 60 seconds.
pub const DEFAULT_REFUSAL_GRACE: Duration = Duration::from_secs(60);

/// An OAuth 2 token set.
///
/// `Debug` shows whether the tokens are there, never what they are. There is deliberately no
/// `Serialize`: a [`TokenStore`] writes the fields it keeps itself, so tokens cannot reach a
/// log through `serde_json::to_string`.
///
/// ```
/// use std::time::Duration;
/// use messenger_core::oauth::OAuthTokens;
/// let t = OAuthTokens::new("kChqt9ewQNAcwgbHp4yFd5")
///     .with_refresh_token("QNAcwgbH")
///     .with_scope("messenger:read,messenger:write")
///     .expiring_in(Duration::from_secs(86_400));
/// let debug = format!("{t:?}");
/// assert!(!debug.contains("kChqt9") && !debug.contains("QNAcwgbH"));
/// assert!(debug.contains("messenger:read"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthTokens {
    /// The bearer token of API calls.
    pub access_token: Secret<String>,
    /// The token that obtains the next access token (authorization-code grants), where given.
    pub refresh_token: Option<Secret<String>>,
    /// When the access token expires, where known (`None`: it is used until refused).
    pub expires_at: Option<DateTime<Utc>>,
    /// The scopes granted, as the platform wrote them.
    pub scope: Option<String>,
}

impl OAuthTokens {
    /// An access token without expiry, refresh token or scope.
    pub fn new(access_token: impl Into<String>) -> Self {
        Self {
            access_token: Secret::new(access_token.into()),
            refresh_token: None,
            expires_at: None,
            scope: None,
        }
    }

    /// Only a refresh token (one kept from an earlier connection): the first use refreshes.
    ///
    /// ```
    /// use messenger_core::oauth::OAuthTokens;
    /// let t = OAuthTokens::refresh_only("r-1");
    /// assert!(t.access_token.is_empty());
    /// assert!(t.is_expired());
    /// ```
    pub fn refresh_only(refresh_token: impl Into<String>) -> Self {
        Self {
            access_token: Secret::new(String::new()),
            refresh_token: Some(Secret::new(refresh_token.into())),
            expires_at: Some(DateTime::<Utc>::UNIX_EPOCH),
            scope: None,
        }
    }

    /// Sets the refresh token.
    pub fn with_refresh_token(mut self, refresh_token: impl Into<String>) -> Self {
        self.refresh_token = Some(Secret::new(refresh_token.into()));
        self
    }

    /// Sets the scopes.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Sets the expiry to `lifetime` from now (an answer's `expires_in`).
    pub fn expiring_in(mut self, lifetime: Duration) -> Self {
        let lifetime = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::MAX);
        self.expires_at = Some(
            Utc::now()
                .checked_add_signed(lifetime)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        );
        self
    }

    /// Sets the expiry.
    pub fn expiring_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// How long the access token has left by the wall clock (`None`: no known expiry; zero:
    /// expired or empty).
    pub fn remaining(&self) -> Option<Duration> {
        if self.access_token.is_empty() {
            return Some(Duration::ZERO);
        }
        let at = self.expires_at?;
        Some((at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
    }

    /// Whether the access token is empty or past its expiry by the wall clock.
    pub fn is_expired(&self) -> bool {
        self.remaining() == Some(Duration::ZERO)
    }
}

impl fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthTokens")
            .field("access_token", &self.access_token)
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Where an account's tokens outlive the process, keyed by the CRM's [`AccountId`].
///
/// A refresh token that rotates must be saved at every rotation, or a restart loses the
/// connection: [`TokenCache`] calls [`save`](Self::save) before it uses new tokens. A database
/// store keeps the tokens encrypted or in a secret store, and never logs them.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// The tokens of `account`, if any were saved.
    async fn load(&self, account: &AccountId) -> Result<Option<OAuthTokens>>;

    /// Saves (replaces) the tokens of `account`.
    async fn save(&self, account: &AccountId, tokens: &OAuthTokens) -> Result<()>;

    /// Forgets the tokens of `account` (disconnecting it).
    async fn remove(&self, account: &AccountId) -> Result<()>;
}

/// The in-memory [`TokenStore`]: one entry per account, gone with the process. For a
/// connection that must survive a restart, back the trait with a database.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use messenger_core::oauth::{MemoryTokenStore, OAuthTokens, TokenStore};
/// use messenger_core::AccountId;
/// let store = MemoryTokenStore::new();
/// let shop = AccountId::from("shop-1");
/// store.save(&shop, &OAuthTokens::new("a")).await.unwrap();
/// assert_eq!(store.load(&shop).await.unwrap().unwrap().access_token.expose_str(), "a");
/// store.remove(&shop).await.unwrap();
/// assert!(store.load(&shop).await.unwrap().is_none());
/// # });
/// ```
#[derive(Default)]
pub struct MemoryTokenStore {
    tokens: std::sync::Mutex<HashMap<AccountId, OAuthTokens>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tokens of `account` now (a synchronous look, for tests and tools).
    pub fn get(&self, account: &AccountId) -> Option<OAuthTokens> {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
            .cloned()
    }

    /// How many accounts have tokens.
    pub fn len(&self) -> usize {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no account has tokens.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTokenStore")
            .field("accounts", &self.len())
            .finish()
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, account: &AccountId) -> Result<Option<OAuthTokens>> {
        Ok(self.get(account))
    }

    async fn save(&self, account: &AccountId, tokens: &OAuthTokens) -> Result<()> {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account.clone(), tokens.clone());
        Ok(())
    }

    async fn remove(&self, account: &AccountId) -> Result<()> {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(account);
        Ok(())
    }
}

/// The platform's token call: new tokens in place of the current ones. A connector implements
/// it (Avito: `POST /token` with `grant_type=refresh_token`, or `client_credentials` for the
/// business's own account).
#[async_trait]
pub trait TokenRefresher: Send + Sync {
    /// New tokens. `current` is what the cache holds (`None` when it holds nothing: a grant
    /// that needs no earlier token, such as client credentials, can still obtain one).
    ///
    /// A refusal of the grant (a revoked or rotated-away refresh token, a wrong client secret)
    /// is [`ErrorKind::Unauthorized`] with a message that says what to do; a passing failure is
    /// a retryable error.
    async fn refresh(&self, current: Option<&OAuthTokens>) -> Result<OAuthTokens>;
}

/// An access token handed out by a [`TokenCache`]; report it back with
/// [`refresh_after_refusal`](TokenCache::refresh_after_refusal) when the platform refuses it.
#[derive(Clone)]
pub struct AccessToken {
    token: Secret<String>,
    generation: u64,
}

impl AccessToken {
    /// The bearer token. Never log it.
    pub fn expose_str(&self) -> &str {
        self.token.expose_str()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &self.token)
            .field("generation", &self.generation)
            .finish()
    }
}

/// Whether an error is the platform refusing the access token (so that a refresh may help).
pub type RefusalCheck = fn(&Error) -> bool;

fn any_unauthorized(err: &Error) -> bool {
    err.kind() == ErrorKind::Unauthorized
}

#[derive(Default)]
struct CacheState {
    loaded: bool,
    tokens: Option<OAuthTokens>,
    /// When the access token expires on tokio's clock (`None`: no known expiry).
    valid_until: Option<Instant>,
    /// When this cache obtained the tokens from the refresher (`None`: loaded or installed).
    obtained: Option<Instant>,
    generation: u64,
    /// Tokens not yet in the store: not handed out until saved.
    unsaved: bool,
    /// A refused refresh and until when it is not tried again.
    refused: Option<(Instant, Error)>,
}

/// The one token cache; see the [module docs](self).
pub struct TokenCache {
    platform: Platform,
    account: AccountId,
    refresher: Arc<dyn TokenRefresher>,
    store: Arc<dyn TokenStore>,
    margin: Duration,
    grace: Duration,
    seed: Option<OAuthTokens>,
    is_refusal: RefusalCheck,
    state: Mutex<CacheState>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("platform", &self.platform)
            .field("account", &self.account)
            .field("margin", &self.margin)
            .field("grace", &self.grace)
            .field("seeded", &self.seed.is_some())
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache of `account`'s tokens on `platform`, obtained through `refresher` and kept in
    /// `store`. Nothing is loaded or requested until the first token is asked for.
    pub fn new(
        platform: Platform,
        account: AccountId,
        refresher: Arc<dyn TokenRefresher>,
        store: Arc<dyn TokenStore>,
    ) -> Self {
        Self {
            platform,
            account,
            refresher,
            store,
            margin: DEFAULT_REFRESH_MARGIN,
            grace: DEFAULT_REFUSAL_GRACE,
            seed: None,
            is_refusal: any_unauthorized,
            state: Mutex::new(CacheState::default()),
        }
    }

    /// Refreshes this long before the access token expires ([`DEFAULT_REFRESH_MARGIN`] unless
    /// set).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// A token obtained less than `grace` ago is not refreshed on a refusal, and a refused
    /// refresh is not tried again sooner ([`DEFAULT_REFUSAL_GRACE`] unless set).
    pub fn refusal_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Tokens to start from when the store has none for the account (a refresh token from the
    /// environment). Saved tokens win: after a rotation the seed's refresh token is dead.
    pub fn seed(mut self, tokens: OAuthTokens) -> Self {
        self.seed = Some(tokens);
        self
    }

    /// Which errors of a call mean "this access token is refused" (any
    /// [`ErrorKind::Unauthorized`] unless set). A connector narrows it to the platform's
    /// answers for a stale token, so that a refusal for another reason (Avito's 402: a paid
    /// tier is needed) does not cost a refresh.
    pub fn refusal_check(mut self, check: RefusalCheck) -> Self {
        self.is_refusal = check;
        self
    }

    /// The account the tokens belong to.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// A valid access token: the current one, or a new one when it is within the margin of
    /// its expiry (one refresh however many callers wait for it).
    pub async fn access_token(&self) -> Result<AccessToken> {
        let mut state = self.state.lock().await;
        self.ensure_loaded(&mut state).await?;
        self.ensure_saved(&mut state).await?;
        let now = Instant::now();
        let usable = state
            .tokens
            .as_ref()
            .is_some_and(|t| !t.access_token.is_empty());
        let due = match state.valid_until {
            Some(until) => now + self.margin >= until,
            None => false,
        };
        if usable && !due {
            return Ok(Self::hand_out(&state));
        }
        match self.refresh_locked(&mut state).await {
            Ok(token) => Ok(token),
            // Within the margin but not expired: the current token still works.
            Err(err)
                if err.is_retryable()
                    && usable
                    && state.valid_until.is_some_and(|until| now < until) =>
            {
                tracing::warn!(platform = %self.platform, kind = %err.kind(), "token refresh failed; the current token is still valid");
                Ok(Self::hand_out(&state))
            }
            Err(err) => Err(err),
        }
    }

    /// The platform refused `stale`: a token to try again with, or `None` when a refresh
    /// cannot help (the refused token is brand new, so the refusal is not about its age).
    ///
    /// Callers that saw the same stale token concurrently cause one refresh; a caller whose
    /// token was already replaced gets the replacement without a refresh.
    pub async fn refresh_after_refusal(&self, stale: &AccessToken) -> Result<Option<AccessToken>> {
        let mut state = self.state.lock().await;
        self.ensure_loaded(&mut state).await?;
        self.ensure_saved(&mut state).await?;
        if state.generation != stale.generation
            && state
                .tokens
                .as_ref()
                .is_some_and(|t| !t.access_token.is_empty())
        {
            return Ok(Some(Self::hand_out(&state)));
        }
        if state.obtained.is_some_and(|at| at.elapsed() < self.grace) {
            tracing::debug!(platform = %self.platform, "a fresh token was refused; not refreshing again");
            return Ok(None);
        }
        tracing::info!(platform = %self.platform, "the platform refused the access token; refreshing");
        self.refresh_locked(&mut state).await.map(Some)
    }

    /// Runs `request` with a valid token; when the platform refuses it (the
    /// [refusal check](Self::refusal_check)), refreshes once (see
    /// [`refresh_after_refusal`](Self::refresh_after_refusal)) and runs it once more. A second
    /// refusal is returned as it is: the connector's error says what the account must change.
    pub async fn call<T, F, Fut>(&self, mut request: F) -> Result<T>
    where
        F: FnMut(AccessToken) -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
        T: Send,
    {
        let token = self.access_token().await?;
        match request(token.clone()).await {
            Err(err) if (self.is_refusal)(&err) => {
                match self.refresh_after_refusal(&token).await? {
                    Some(fresh) => request(fresh).await,
                    None => Err(err),
                }
            }
            other => other,
        }
    }

    /// Installs tokens obtained outside a refresh (an authorization code exchanged): saved to
    /// the store first, then used.
    pub async fn install(&self, tokens: OAuthTokens) -> Result<()> {
        let mut state = self.state.lock().await;
        self.store
            .save(&self.account, &tokens)
            .await
            .map_err(|e| self.storage_error(e))?;
        state.loaded = true;
        state.valid_until = Self::deadline(&tokens);
        state.tokens = Some(tokens);
        state.obtained = Some(Instant::now());
        state.generation = state.generation.wrapping_add(1);
        state.unsaved = false;
        state.refused = None;
        Ok(())
    }

    /// Forgets the account's tokens, here and in the store (disconnecting it).
    pub async fn forget(&self) -> Result<()> {
        let mut state = self.state.lock().await;
        self.store
            .remove(&self.account)
            .await
            .map_err(|e| self.storage_error(e))?;
        *state = CacheState {
            loaded: true,
            generation: state.generation.wrapping_add(1),
            ..CacheState::default()
        };
        Ok(())
    }

    fn hand_out(state: &CacheState) -> AccessToken {
        AccessToken {
            token: state
                .tokens
                .as_ref()
                .map(|t| t.access_token.clone())
                .unwrap_or_default(),
            generation: state.generation,
        }
    }

    fn deadline(tokens: &OAuthTokens) -> Option<Instant> {
        tokens.remaining().map(|left| Instant::now() + left)
    }

    fn storage_error(&self, err: Error) -> Error {
        Error::new(
            ErrorKind::Storage,
            format!(
                "the OAuth tokens could not be saved ({}); they are kept in memory and saved again before use",
                err.message()
            ),
        )
        .with_platform(self.platform)
        .with_retryable(true)
    }

    async fn ensure_loaded(&self, state: &mut CacheState) -> Result<()> {
        if state.loaded {
            return Ok(());
        }
        let loaded = self.store.load(&self.account).await.map_err(|e| {
            Error::new(
                ErrorKind::Storage,
                format!("the OAuth tokens could not be loaded: {}", e.message()),
            )
            .with_platform(self.platform)
            .with_retryable(true)
        })?;
        let tokens = loaded.or_else(|| self.seed.clone());
        tracing::debug!(platform = %self.platform, found = tokens.is_some(), "oauth tokens loaded");
        state.valid_until = tokens.as_ref().and_then(Self::deadline);
        state.tokens = tokens;
        state.loaded = true;
        Ok(())
    }

    async fn ensure_saved(&self, state: &mut CacheState) -> Result<()> {
        if !state.unsaved {
            return Ok(());
        }
        if let Some(tokens) = &state.tokens {
            self.store
                .save(&self.account, tokens)
                .await
                .map_err(|e| self.storage_error(e))?;
        }
        state.unsaved = false;
        Ok(())
    }

    async fn refresh_locked(&self, state: &mut CacheState) -> Result<AccessToken> {
        if let Some((until, err)) = &state.refused {
            if Instant::now() < *until {
                return Err(err.clone_refusal());
            }
            state.refused = None;
        }
        let mut fresh = match self.refresher.refresh(state.tokens.as_ref()).await {
            Ok(fresh) => fresh,
            Err(err) => {
                tracing::warn!(platform = %self.platform, kind = %err.kind(), "token refresh failed");
                if err.kind() == ErrorKind::Unauthorized {
                    state.refused = Some((Instant::now() + self.grace, err.clone_refusal()));
                }
                return Err(err);
            }
        };
        if fresh.access_token.is_empty() {
            return Err(
                Error::decode("the token endpoint answered an empty access token")
                    .with_platform(self.platform),
            );
        }
        // A grant that does not rotate keeps the refresh token it had.
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = state.tokens.as_ref().and_then(|t| t.refresh_token.clone());
        }
        state.valid_until = Self::deadline(&fresh);
        state.tokens = Some(fresh);
        state.obtained = Some(Instant::now());
        state.generation = state.generation.wrapping_add(1);
        state.unsaved = true;
        tracing::debug!(platform = %self.platform, generation = state.generation, "access token refreshed");
        // Saved before the new access token is used.
        self.ensure_saved(state).await?;
        Ok(Self::hand_out(state))
    }
}

trait CloneRefusal {
    fn clone_refusal(&self) -> Error;
}

impl CloneRefusal for Error {
    /// The error without its source (sources are not `Clone`).
    fn clone_refusal(&self) -> Error {
        let mut err = Error::new(self.kind(), self.message()).with_retryable(self.is_retryable());
        if let Some(platform) = self.platform() {
            err = err.with_platform(platform);
        }
        if let Some(code) = self.platform_code() {
            err = err.with_code(code);
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    /// Numbers its tokens; counts calls; can be told to refuse or fail; takes a second.
    #[derive(Default)]
    struct Refresher {
        calls: AtomicU32,
        refuse: AtomicBool,
        fail: AtomicBool,
        seen_refresh_tokens: std::sync::Mutex<Vec<Option<String>>>,
    }

    #[async_trait]
    impl TokenRefresher for Refresher {
        async fn refresh(&self, current: Option<&OAuthTokens>) -> Result<OAuthTokens> {
            self.seen_refresh_tokens.lock().unwrap().push(
                current
                    .and_then(|t| t.refresh_token.as_ref())
                    .map(|r| r.expose_str().to_owned()),
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.refuse.load(Ordering::SeqCst) {
                return Err(Error::new(
                    ErrorKind::Unauthorized,
                    "refresh token revoked: connect again",
                ));
            }
            if self.fail.load(Ordering::SeqCst) {
                return Err(Error::transport("token endpoint unreachable"));
            }
            Ok(OAuthTokens::new(format!("access-{n}"))
                .with_refresh_token(format!("refresh-{n}"))
                .expiring_in(DAY))
        }
    }

    /// A store that records every save and can be told to fail.
    #[derive(Default)]
    struct Recording {
        inner: MemoryTokenStore,
        saves: std::sync::Mutex<Vec<String>>,
        fail: AtomicBool,
    }

    #[async_trait]
    impl TokenStore for Recording {
        async fn load(&self, account: &AccountId) -> Result<Option<OAuthTokens>> {
            self.inner.load(account).await
        }
        async fn save(&self, account: &AccountId, tokens: &OAuthTokens) -> Result<()> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(Error::new(ErrorKind::Storage, "disk full"));
            }
            self.saves.lock().unwrap().push(
                tokens
                    .refresh_token
                    .as_ref()
                    .map(|r| r.expose_str().to_owned())
                    .unwrap_or_default(),
            );
            self.inner.save(account, tokens).await
        }
        async fn remove(&self, account: &AccountId) -> Result<()> {
            self.inner.remove(account).await
        }
    }

    fn cache(refresher: &Arc<Refresher>, store: &Arc<Recording>) -> Arc<TokenCache> {
        Arc::new(TokenCache::new(
            Platform::Avito,
            AccountId::from("acc"),
            refresher.clone(),
            store.clone(),
        ))
    }

    async fn within<F: Future>(f: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(600), f)
            .await
            .expect("the test waited too long")
    }

    #[tokio::test(start_paused = true)]
    async fn refreshes_within_the_margin_before_expiry_only() {
        let refresher = Arc::new(Refresher::default());
        let store = Arc::new(Recording::default());
        let cache = cache(&refresher, &store);
        assert_eq!(
            within(cache.access_token()).await.unwrap().expose_str(),
            "access-1"
        );
        // 23 h 54 min later: still more than 5 minutes left.
        tokio::time::advance(DAY - Duration::from_secs(6 * 60)).await;
        assert_eq!(
            within(cache.access_token()).await.unwrap().expose_str(),
            "access-1"
        );
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
        // Two more minutes: within the margin.
        tokio::time::advance(Duration::from_secs(2 * 60)).await;
        assert_eq!(
            within(cache.access_token()).await.unwrap().expose_str(),
            "access-2"
        );
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 2);
        // The rotation went to the store, and the refresher got the rotated token.
        assert_eq!(*store.saves.lock().unwrap(), ["refresh-1", "refresh-2"]);
        assert_eq!(
            *refresher.seen_refresh_tokens.lock().unwrap(),
            [None, Some("refresh-1".to_owned())]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_passing_failure_within_the_margin_keeps_the_valid_token() {
        let refresher = Arc::new(Refresher::default());
        let store = Arc::new(Recording::default());
        let cache = cache(&refresher, &store);
        within(cache.access_token()).await.unwrap();
        tokio::time::advance(DAY - Duration::from_secs(60)).await;
        refresher.fail.store(true, Ordering::SeqCst);
        assert_eq!(
            within(cache.access_token()).await.unwrap().expose_str(),
            "access-1"
        );
        // Past the expiry the failure is the caller's.
        tokio::time::advance(Duration::from_secs(120)).await;
        let err = within(cache.access_token()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport);
    }

    #[tokio::test(start_paused = true)]
    async fn many_concurrent_refusals_of_one_token_refresh_once() {
        let refresher = Arc::new(Refresher::default());
        let store = Arc::new(Recording::default());
        let cache = cache(&refresher, &store);
        let stale = within(cache.access_token()).await.unwrap();
        tokio::time::advance(Duration::from_secs(3600)).await;
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let cache = cache.clone();
                let stale = stale.clone();
                tokio::spawn(async move { cache.refresh_after_refusal(&stale).await })
            })
            .collect();
        for task in tasks {
            let fresh = within(task).await.unwrap().unwrap().unwrap();
            assert_eq!(fresh.expose_str(), "access-2");
        }
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 2);
        assert_eq!(*store.saves.lock().unwrap(), ["refresh-1", "refresh-2"]);
    }

    #[tokio::test(start_paused = true)]
    async fn many_concurrent_callers_of_an_expired_token_refresh_once() {
        let refresher = Arc::new(Refresher::default());
        let store = Arc::new(Recording::default());
        let cache = cache(&refresher, &store);
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.access_token().await })
            })
            .collect();
        for task in tasks {
            assert_eq!(
                within(task).await.unwrap().unwrap().expose_str(),
                "access-1"
            );
        }
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn call_refreshes_once_on_a_refusal_then_gives_the_answer() {
        let refresher = Arc::new(Refresher::default());
        let store = Arc::new(Recording::default());
        let cache = cache(&refresher, &store);
        within(cache.access_token()).await.unwrap();
        tokio::time::advance(Duration::from_secs(3600)).await;
        // Refused with the old token, accepted with the new one.
        let used = std::sync::Mutex::new(Vec::new());
        let answer = within(cache.call(|token| {
            used.lock().unwrap().push(token.expose_str().to_owned());
            let ok = token.expose_str() == "access-2";
            async move {
                if ok {
                    Ok(7)
                } else {
                    Err(Error::new(ErrorKind::Unauthorized, "403"))
                }
            }
        }))
        .await
        .unwrap();
        assert_eq!(answer, 7);
        assert_eq!(*used.lock().unwrap(), ["access-1", "access-2"]);
        // Always refused: one refresh, then the refusal.
        tokio::time::advance(Duration::from_secs(3600)).await;
        let attempts = AtomicU32::new(0);
        let err = within(cache.call(|_| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(Error::new(ErrorKind::Unauthorized, "still refused")) }
        }))
        .await
        .unwrap_err();
        assert_eq!(err.message(), "still refused");
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 3);
        // At once again: the token is brand new, so no refresh this time.
        let err = within(cache.call(|_| async {
            Err::<(), _>(Error::new(ErrorKind::Unauthorized, "still refused"))
        }))
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 3);
        // Other errors never refresh.
        tokio::time::advance(Duration::from_secs(3600)).await;
        let err = within(cache.call(|_| async { Err::<(), _>(Error::transport("reset")) }))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport);
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_refresh_is_unauthorized_and_not_hammered() {
        let refresher = Arc::new(Refresher::default());
        let store = Arc::new(Recording::default());
        let cache = cache(&refresher, &store);
        refresher.refuse.store(true, Ordering::SeqCst);
        for _ in 0..5 {
            let err = within(cache.access_token()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unauthorized);
            assert!(err.message().contains("connect again"), "{err}");
        }
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(DEFAULT_REFUSAL_GRACE).await;
        refresher.refuse.store(false, Ordering::SeqCst);
        assert_eq!(
            within(cache.access_token()).await.unwrap().expose_str(),
            "access-2"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_unsaved_rotation_is_not_used_until_saved() {
        let refresher = Arc::new(Refresher::default());
        let store = Arc::new(Recording::default());
        let cache = cache(&refresher, &store);
        store.fail.store(true, Ordering::SeqCst);
        let err = within(cache.access_token()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(err.is_retryable());
        assert!(store.saves.lock().unwrap().is_empty());
        store.fail.store(false, Ordering::SeqCst);
        // Saved now, then used; no second refresh (the rotated token was kept).
        assert_eq!(
            within(cache.access_token()).await.unwrap().expose_str(),
            "access-1"
        );
        assert_eq!(*store.saves.lock().unwrap(), ["refresh-1"]);
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn saved_tokens_win_over_the_seed_and_survive_a_restart() {
        let refresher = Arc::new(Refresher::default());
        let store = Arc::new(Recording::default());
        let seeded = |store: &Arc<Recording>| {
            TokenCache::new(
                Platform::Avito,
                AccountId::from("acc"),
                refresher.clone(),
                store.clone(),
            )
            .seed(OAuthTokens::refresh_only("seed-refresh"))
        };
        // First process: the seed is refreshed, the rotation saved.
        let first = seeded(&store);
        assert_eq!(
            within(first.access_token()).await.unwrap().expose_str(),
            "access-1"
        );
        assert_eq!(
            *refresher.seen_refresh_tokens.lock().unwrap(),
            [Some("seed-refresh".to_owned())]
        );
        // A restart: the saved token is used, not the stale seed.
        let second = seeded(&store);
        assert_eq!(
            within(second.access_token()).await.unwrap().expose_str(),
            "access-1"
        );
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(DAY).await;
        within(second.access_token()).await.unwrap();
        assert_eq!(
            refresher
                .seen_refresh_tokens
                .lock()
                .unwrap()
                .last()
                .cloned()
                .flatten()
                .as_deref(),
            Some("refresh-1")
        );
    }

    #[tokio::test]
    async fn install_saves_first_and_forget_removes() {
        let refresher = Arc::new(Refresher::default());
        let store = Arc::new(Recording::default());
        let cache = cache(&refresher, &store);
        store.fail.store(true, Ordering::SeqCst);
        let tokens = OAuthTokens::new("installed")
            .with_refresh_token("r0")
            .expiring_in(DAY);
        assert_eq!(
            cache.install(tokens.clone()).await.unwrap_err().kind(),
            ErrorKind::Storage
        );
        store.fail.store(false, Ordering::SeqCst);
        cache.install(tokens).await.unwrap();
        assert_eq!(
            cache.access_token().await.unwrap().expose_str(),
            "installed"
        );
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 0);
        cache.forget().await.unwrap();
        assert!(store.inner.is_empty());
    }

    #[test]
    fn debug_hides_tokens() {
        let t = OAuthTokens::new("acc-secret").with_refresh_token("ref-secret");
        let a = AccessToken {
            token: Secret::new("acc-secret".into()),
            generation: 1,
        };
        let debug = format!("{t:?} {a:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }
}
