//! Credentials are never stored in clear: an account keeps a [`SecretRef`] per credential, and
//! a [`SecretResolver`] outside the database turns it into the value when a connector is built.
//!
//! Why references rather than values encrypted with a key outside the database: the database
//! (and every dump, replica and backup of it) then holds nothing that unlocks an account, with
//! no key to manage, rotate or lose in the inbox; rotating a token is a change in the secret
//! store alone; and the server's configuration file names the same references. A CRM that keeps
//! its secrets in a vault implements [`SecretResolver`] for its own scheme (`vault:path`).
//!
//! A reference is `scheme:rest`, the scheme one of the resolver's. A bare token (`123:ABC`,
//! `vk1.a.…`) is not a reference and is refused, so a token pasted into the wrong field is never
//! written to the database.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use messenger_core::redact::Secret;
use serde::{Deserialize, Serialize};

use crate::error::{InboxError, Result};

/// A reference to a secret: `env:NAME`, `file:/absolute/path`, or a scheme of a custom
/// resolver. `Debug` shows the scheme only.
///
/// ```
/// use messenger_inbox::SecretRef;
/// let r = SecretRef::parse("env:SHOP_TELEGRAM_TOKEN").unwrap();
/// assert_eq!(r.scheme(), "env");
/// assert_eq!(r.rest(), "SHOP_TELEGRAM_TOKEN");
/// assert!(SecretRef::parse("123456:ABC-DEF").is_err()); // a token, not a reference
/// assert!(SecretRef::parse("vk1.a.token").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretRef(String);

impl SecretRef {
    /// Parses `scheme:rest`, where `scheme` is a lowercase letter followed by lowercase letters,
    /// digits, `+`, `-` or `.`, and `rest` is not empty.
    pub fn parse(s: &str) -> Result<Self> {
        let Some((scheme, rest)) = s.split_once(':') else {
            return Err(InboxError::invalid(
                "a secret reference is scheme:name (env:NAME, file:/path): credentials are never stored in clear",
            ));
        };
        let mut chars = scheme.chars();
        let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
        if !scheme_ok || rest.is_empty() || s.len() > 1024 {
            return Err(InboxError::invalid(
                "a secret reference is scheme:name (env:NAME, file:/path): credentials are never stored in clear",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The scheme (`env`, `file`...).
    pub fn scheme(&self) -> &str {
        self.0.split_once(':').map_or("", |(s, _)| s)
    }

    /// What follows the scheme.
    pub fn rest(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, r)| r)
    }

    /// The whole reference.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretRef({}:…)", self.scheme())
    }
}

impl TryFrom<String> for SecretRef {
    type Error = InboxError;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}

impl From<SecretRef> for String {
    fn from(r: SecretRef) -> String {
        r.0
    }
}

/// Turns references into secrets. Implement it for a vault; [`EnvFileResolver`] reads the
/// process environment and files.
#[async_trait]
pub trait SecretResolver: Send + Sync + fmt::Debug {
    /// Whether this resolver understands the reference's scheme (checked before an account is
    /// stored, so that only resolvable references are kept).
    fn accepts(&self, reference: &SecretRef) -> bool;

    /// The secret. Errors must not contain it.
    async fn resolve(&self, reference: &SecretRef) -> Result<Secret<String>>;
}

/// Resolves `env:NAME` from the process environment and `file:/absolute/path` from a file (its
/// content without a trailing newline).
///
/// ```
/// use messenger_inbox::{EnvFileResolver, SecretRef, SecretResolver};
/// let r = EnvFileResolver;
/// assert!(r.accepts(&SecretRef::parse("file:/run/secrets/tg").unwrap()));
/// assert!(!r.accepts(&SecretRef::parse("file:relative/path").unwrap()));
/// assert!(!r.accepts(&SecretRef::parse("vault:kv/tg").unwrap()));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvFileResolver;

#[async_trait]
impl SecretResolver for EnvFileResolver {
    fn accepts(&self, reference: &SecretRef) -> bool {
        match reference.scheme() {
            "env" => reference
                .rest()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "file" => reference.rest().starts_with('/'),
            _ => false,
        }
    }

    async fn resolve(&self, reference: &SecretRef) -> Result<Secret<String>> {
        if !self.accepts(reference) {
            return Err(InboxError::invalid(format!(
                "the resolver cannot read {} references",
                reference.scheme()
            )));
        }
        match reference.scheme() {
            "env" => std::env::var(reference.rest())
                .map(Secret::new)
                .map_err(|_| {
                    InboxError::not_found("the environment variable named by a secret reference")
                }),
            _ => {
                let text = tokio::fs::read_to_string(reference.rest())
                    .await
                    .map_err(|e| {
                        InboxError::not_found(&format!(
                            "the file named by a secret reference ({})",
                            e.kind()
                        ))
                    })?;
                Ok(Secret::new(text.trim_end_matches(['\n', '\r']).to_owned()))
            }
        }
    }
}

/// Secrets held in this process's memory under `mem:NAME` (a development server, tests, or a
/// CRM that loads its secrets at start-up); it also delegates `env:` and `file:` to
/// [`EnvFileResolver`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use messenger_inbox::{MemoryResolver, SecretRef, SecretResolver};
/// let r = MemoryResolver::new();
/// r.insert("shop-bot", "123:ABC");
/// let secret = r.resolve(&SecretRef::parse("mem:shop-bot").unwrap()).await.unwrap();
/// assert_eq!(secret.expose(), "123:ABC");
/// # });
/// ```
#[derive(Default)]
pub struct MemoryResolver {
    secrets: Mutex<BTreeMap<String, Secret<String>>>,
}

impl MemoryResolver {
    /// An empty resolver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `value` under `mem:name`; returns the reference.
    pub fn insert(&self, name: impl Into<String>, value: impl Into<String>) -> SecretRef {
        let name = name.into();
        let reference = SecretRef(format!("mem:{name}"));
        self.secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, Secret::new(value.into()));
        reference
    }
}

impl fmt::Debug for MemoryResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.secrets.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("MemoryResolver").field("len", &n).finish()
    }
}

#[async_trait]
impl SecretResolver for MemoryResolver {
    fn accepts(&self, reference: &SecretRef) -> bool {
        reference.scheme() == "mem" || EnvFileResolver.accepts(reference)
    }

    async fn resolve(&self, reference: &SecretRef) -> Result<Secret<String>> {
        if reference.scheme() != "mem" {
            return EnvFileResolver.resolve(reference).await;
        }
        self.secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(reference.rest())
            .cloned()
            .ok_or_else(|| InboxError::not_found("the secret named by a mem: reference"))
    }
}
