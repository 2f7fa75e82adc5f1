//! Authentication: passwords (argon2id), bearer tokens (sessions, API keys, one-use event
//! tickets), the sign-in rate limiter, and the extractors routes take.
//!
//! - Every credential travels in `Authorization: Bearer <token>`; nothing is a cookie, so a
//!   page on another site cannot make a browser send one (no CSRF surface).
//! - A token is 32 random bytes from the operating system (base64url, with a prefix naming its
//!   kind: `mss_` session, `msk_` API key, `mst_` ticket); the database keeps its SHA-256 only.
//! - `EventSource` cannot set headers: a page asks `POST /api/auth/ticket` (with its bearer
//!   token) for a ticket valid 60 s and used once, and opens `/api/events?ticket=...`. A ticket
//!   that leaks into a log or the history is dead by the time anyone reads it; it opens an
//!   event stream (ids, no content) and nothing else.
//! - Sign-in is rate limited per client address (a fixed window per minute) and per login
//!   (failures in 15 minutes hold the login); an unknown login costs the same argon2 work as a
//!   known one, so timing does not tell which logins exist.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use messenger_core::webhook::constant_time_eq;
use messenger_inbox::{EmployeeId, TokenKind, WorkspaceId};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::error::ApiError;
use crate::state::ServerState;

/// The shortest password accepted when one is set through the API.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Hashes a password with argon2id (the crate's default parameters: 19 MiB, 2 passes) and a
/// random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| ApiError::internal("the random generator failed"))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|_| ApiError::internal("could not encode a salt"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ApiError::internal("could not hash the password"))
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash no password matches, verified for unknown logins so that they take as long.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password("no password matches this one: it only costs the same time")
            .unwrap_or_default()
    })
}

/// Verifies off the async threads (argon2 takes tens of milliseconds by design).
pub(crate) async fn verify_blocking(hash: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => verify_password(&h, &password),
        None => {
            let _ = verify_password(dummy_hash(), &password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// Hashes off the async threads.
pub(crate) async fn hash_blocking(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| ApiError::internal("could not hash the password"))?
}

/// A new token of `kind`: (the token to hand out once, the SHA-256 hex the inbox keeps).
pub fn new_token(kind: TokenKind) -> Result<(String, String), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| ApiError::internal("the random generator failed"))?;
    let prefix = match kind {
        TokenKind::Session => "mss_",
        TokenKind::ApiKey => "msk_",
        TokenKind::Ticket => "mst_",
    };
    let token = format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// The SHA-256 hex of a token, as the inbox keeps it.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The bearer token of a request, if it has one.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty() && t.len() <= 512)
}

/// The employee a request acts as, from its session or API key.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The employee.
    pub employee: EmployeeId,
    /// Their workspace.
    pub workspace: WorkspaceId,
    /// A session or an API key.
    pub kind: TokenKind,
    /// The token's hash (to sign a session out).
    pub(crate) token_hash: String,
}

impl FromRequestParts<ServerState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| {
            ApiError::unauthenticated("sign in: send Authorization: Bearer <session or API key>")
        })?;
        let hash = token_hash(token);
        let found = state
            .inbox()
            .authenticate(&hash, &[TokenKind::Session, TokenKind::ApiKey])
            .await?;
        match found {
            Some(t) => Ok(Auth {
                employee: t.employee,
                workspace: t.workspace,
                kind: t.kind,
                token_hash: hash,
            }),
            None => {
                state.metrics().count("auth_refused", &[]);
                Err(ApiError::unauthenticated(
                    "the token is unknown, expired or revoked",
                ))
            }
        }
    }
}

/// The service operator (suspending platforms, forwarding subject requests): the configured
/// operator token.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequestParts<ServerState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        let Some(expected) = &state.options().operator_token else {
            return Err(ApiError::unauthenticated(
                "no operator token is configured on this server",
            ));
        };
        let given = bearer(parts).ok_or_else(|| {
            ApiError::unauthenticated("send the operator token as a bearer token")
        })?;
        if constant_time_eq(
            &Sha256::digest(given.as_bytes()),
            &Sha256::digest(expected.expose_str().as_bytes()),
        ) && !expected.is_empty()
        {
            Ok(Operator)
        } else {
            Err(ApiError::unauthenticated(
                "the operator token does not match",
            ))
        }
    }
}

/// The client's address, where the server was started with connection info (`messenger
/// serve` is); `None` when the router is mounted without it.
pub(crate) fn client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The sign-in limiter (in this process: with several nodes each node counts its own).
#[derive(Debug)]
pub struct SignInLimiter {
    per_address: u32,
    per_login: u32,
    addresses: Mutex<HashMap<Option<IpAddr>, (Instant, u32)>>,
    logins: Mutex<HashMap<String, Vec<Instant>>>,
}

const ADDRESS_WINDOW: Duration = Duration::from_secs(60);
const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_TRACKED: usize = 50_000;

impl SignInLimiter {
    /// `per_address` attempts a minute per address; `per_login` failures in 15 minutes.
    pub fn new(per_address: u32, per_login: u32) -> Self {
        Self {
            per_address: per_address.max(1),
            per_login: per_login.max(1),
            addresses: Mutex::new(HashMap::new()),
            logins: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt from `address` for `login`; `Err(seconds)` when it must wait.
    pub(crate) fn attempt(&self, address: Option<IpAddr>, login: &str) -> Result<(), u64> {
        let now = Instant::now();
        {
            let mut addresses = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
            if addresses.len() > MAX_TRACKED {
                addresses.retain(|_, (start, _)| now.duration_since(*start) < ADDRESS_WINDOW);
            }
            let entry = addresses.entry(address).or_insert((now, 0));
            if now.duration_since(entry.0) >= ADDRESS_WINDOW {
                *entry = (now, 0);
            }
            if entry.1 >= self.per_address {
                let wait = ADDRESS_WINDOW.saturating_sub(now.duration_since(entry.0));
                return Err(wait.as_secs().max(1));
            }
            entry.1 += 1;
        }
        let mut logins = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        if logins.len() > MAX_TRACKED {
            logins.retain(|_, v| v.iter().any(|t| now.duration_since(*t) < LOGIN_WINDOW));
        }
        if let Some(failures) = logins.get_mut(login) {
            failures.retain(|t| now.duration_since(*t) < LOGIN_WINDOW);
            if failures.len() >= self.per_login as usize {
                let oldest = failures.first().copied().unwrap_or(now);
                let wait = LOGIN_WINDOW.saturating_sub(now.duration_since(oldest));
                return Err(wait.as_secs().max(1));
            }
        }
        Ok(())
    }

    /// Records a failed sign-in for `login`.
    pub(crate) fn failed(&self, login: &str) {
        let mut logins = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        logins
            .entry(login.to_owned())
            .or_default()
            .push(Instant::now());
    }

    /// Forgets the failures of `login` (it signed in).
    pub(crate) fn succeeded(&self, login: &str) {
        self.logins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(login);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse batterY"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn tokens_are_random_and_kept_as_hashes() {
        let (a, ha) = new_token(TokenKind::Session).unwrap();
        let (b, _) = new_token(TokenKind::Session).unwrap();
        assert!(a.starts_with("mss_") && a != b);
        assert_eq!(ha.len(), 64);
        assert_eq!(token_hash(&a), ha);
    }

    #[tokio::test]
    async fn the_limiter_holds_addresses_and_logins() {
        let limiter = SignInLimiter::new(3, 2);
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        assert!(limiter.attempt(ip, "anna").is_ok());
        limiter.failed("anna");
        assert!(limiter.attempt(ip, "anna").is_ok());
        limiter.failed("anna");
        // Two failures: the login is held, from any address.
        assert!(
            limiter
                .attempt(Some(IpAddr::from([127, 0, 0, 2])), "anna")
                .is_err()
        );
        // The address's third attempt is its last this minute, for every login.
        assert!(limiter.attempt(ip, "boris").is_ok());
        assert!(limiter.attempt(ip, "vera").is_err());
        limiter.succeeded("anna");
        assert!(
            limiter
                .attempt(Some(IpAddr::from([127, 0, 0, 3])), "anna")
                .is_ok()
        );
    }
}
