//! Avito's OAuth 2: the token endpoint as the core's [`TokenRefresher`], and the
//! authorization-code flow's two platform pieces ([`AuthorizationCodeClient`]).
//!
//! This file is the eighth of the connector (the others have seven): Avito is the first
//! platform whose tokens expire, so the grants have a place of their own. When to refresh,
//! single flight, saving rotations and the retry on a refused token live in the core
//! ([`messenger_core::oauth`]); the `state` check in [`messenger_core::connection`].
//!
//! `POST {token_url}` (`https://api.avito.ru/token`), `application/x-www-form-urlencoded`, the
//! fields in the order of the official examples ([O Авторизация], [A auth.md]):
//!
//! | grant | body | answer |
//! |---|---|---|
//! | client credentials | `grant_type=client_credentials&client_id=…&client_secret=…` | `access_token`, `expires_in` (86 400), `token_type` |
//! | authorization code | `grant_type=authorization_code&client_id=…&client_secret=…&code=…` | and `refresh_token`, `scope` |
//! | refresh | `grant_type=refresh_token&client_id=…&client_secret=…&refresh_token=…` | a new access **and** refresh token |
//!
//! An answer without `expires_in` is taken as [`TOKEN_LIFETIME`]. The
//! consent page is `https://avito.ru/oauth?response_type=code&pro_users_flow=true&client_id=…&scope=…&state=…`;
//! Avito redirects to the redirect URI registered with the app, adding `code` and `state`.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use messenger_core::connection::AuthorizationCodeClient;
use messenger_core::oauth::{OAuthTokens, TokenRefresher};
use messenger_core::redact::Secret;
use messenger_core::{AccountInfo, Error, ErrorKind, Messenger, Platform, Result};
use messenger_http::HttpClient;
use url::Url;

use crate::wire::{TokenForm, TokenResponse};
use crate::{Avito, AvitoConfig, Grant, TOKEN_LIFETIME, error};

const AVITO: Platform = Platform::Avito;

/// The token endpoint of one app: the core cache's [`TokenRefresher`].
pub struct AvitoTokens {
    http: HttpClient,
    token_url: Url,
    client_id: String,
    client_secret: Secret<String>,
    grant: Grant,
}

impl fmt::Debug for AvitoTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvitoTokens")
            .field("grant", &self.grant)
            .finish_non_exhaustive()
    }
}

impl AvitoTokens {
    pub(crate) fn new(config: &AvitoConfig, http: HttpClient, token_url: Url) -> Self {
        Self {
            http,
            token_url,
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            grant: config.grant,
        }
    }

    /// One call of the token endpoint.
    pub(crate) async fn request(
        &self,
        grant_type: &'static str,
        code: Option<&str>,
        refresh_token: Option<&str>,
    ) -> Result<OAuthTokens> {
        let form = TokenForm {
            grant_type,
            client_id: &self.client_id,
            client_secret: self.client_secret.expose_str(),
            code,
            refresh_token,
        };
        let request = self
            .http
            .post(self.token_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form);
        let answer = self.http.execute(request).await?;
        if !answer.is_success() {
            let err = error::token_refusal(answer.status, &answer.headers, &answer.body);
            tracing::warn!(grant = grant_type, kind = %err.kind(), code = err.platform_code().unwrap_or(""), "avito token request refused");
            return Err(err);
        }
        let token: TokenResponse = serde_json::from_slice(&answer.body)
            .map_err(|e| Error::from(e).with_platform(AVITO))?;
        if token.access_token.trim().is_empty() {
            return Err(
                Error::decode("the token endpoint answered without an access token")
                    .with_platform(AVITO),
            );
        }
        let lifetime = token
            .expires_in
            .filter(|s| *s > 0)
            .and_then(|s| u64::try_from(s).ok())
            .map_or(TOKEN_LIFETIME, Duration::from_secs);
        let mut tokens = OAuthTokens::new(token.access_token).expiring_in(lifetime);
        if let Some(refresh) = token.refresh_token.filter(|r| !r.is_empty()) {
            tokens = tokens.with_refresh_token(refresh);
        }
        if let Some(scope) = token.scope.filter(|s| !s.is_empty()) {
            tokens = tokens.with_scope(scope);
        }
        tracing::debug!(
            grant = grant_type,
            expires_in = lifetime.as_secs(),
            refresh_token = tokens.refresh_token.is_some(),
            "avito token obtained"
        );
        Ok(tokens)
    }
}

#[async_trait]
impl TokenRefresher for AvitoTokens {
    /// The refresh token where there is one; client credentials for the business's own account;
    /// otherwise `Unauthorized`: the account must be connected through the flow.
    async fn refresh(&self, current: Option<&OAuthTokens>) -> Result<OAuthTokens> {
        if let Some(refresh) = current.and_then(|t| t.refresh_token.as_ref()) {
            return self
                .request("refresh_token", None, Some(refresh.expose_str()))
                .await;
        }
        match self.grant {
            Grant::ClientCredentials => self.request("client_credentials", None, None).await,
            Grant::AuthorizationCode => Err(Error::new(
                ErrorKind::Unauthorized,
                "no Avito tokens for this account: connect it through the authorization flow (Avito::connection_flow), or configure a refresh token",
            )
            .with_platform(AVITO)),
        }
    }
}

/// The platform pieces of Avito's authorization-code flow: the consent URL and the code
/// exchange (tokens installed in the cache, and so saved, before `accounts/self` is called).
pub struct Authorization {
    avito: Avito,
}

impl Authorization {
    /// The flow's client for `avito`.
    pub fn new(avito: Avito) -> Self {
        Self { avito }
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization").finish_non_exhaustive()
    }
}

#[async_trait]
impl AuthorizationCodeClient for Authorization {
    fn platform(&self) -> Platform {
        AVITO
    }

    /// `{oauth_url}?response_type=code&pro_users_flow=true&client_id=…&scope=…&state=…`.
    fn authorization_url(&self, state: &str) -> Result<Url> {
        let config = self.avito.config();
        let mut url = self.avito.inner.oauth_url.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("pro_users_flow", "true")
            .append_pair("client_id", &config.client_id)
            .append_pair("scope", &config.scope)
            .append_pair("state", state);
        Ok(url)
    }

    async fn complete(&self, code: Secret<String>) -> Result<AccountInfo> {
        let inner = &self.avito.inner;
        let refresher =
            AvitoTokens::new(&inner.config, inner.http.clone(), inner.token_url.clone());
        let tokens = refresher
            .request("authorization_code", Some(code.expose_str()), None)
            .await?;
        if tokens.refresh_token.is_none() {
            tracing::warn!("avito answered the authorization code without a refresh token");
        }
        inner.tokens.install(tokens).await?;
        self.avito.connect().await
    }
}
