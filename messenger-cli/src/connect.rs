//! Building a connected [`Messenger`] from the environment or a running sandbox.

use std::sync::Arc;

use connector_telegram::{TelegramBot, TelegramConfig};
use connector_whatsapp::{WhatsApp, WhatsAppConfig};
use messenger_core::{Error, Messenger, Platform, Result};

/// Credentials and endpoints for one account.
#[derive(Clone, Default)]
pub struct Endpoint {
    /// Telegram bot token, or WhatsApp access token.
    pub token: String,
    /// WhatsApp phone-number id.
    pub phone_number_id: Option<String>,
    /// WhatsApp app secret (webhook signatures).
    pub app_secret: Option<String>,
    /// Telegram webhook secret.
    pub webhook_secret: Option<String>,
    /// The API root, where not the platform's own.
    pub base_url: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Endpoint {
    /// Reads `TELEGRAM_TOKEN` (+ `TELEGRAM_API_URL`, `TELEGRAM_WEBHOOK_SECRET`) or
    /// `WHATSAPP_TOKEN`, `WHATSAPP_PHONE_NUMBER_ID` (+ `WHATSAPP_APP_SECRET`, `WHATSAPP_API_URL`).
    pub fn from_env(platform: Platform) -> Result<Self> {
        let missing = |v: &str| Error::invalid_input(format!("set {v} (or use --sandbox URL)"));
        match platform {
            Platform::Telegram => Ok(Self {
                token: env("TELEGRAM_TOKEN").ok_or_else(|| missing("TELEGRAM_TOKEN"))?,
                webhook_secret: env("TELEGRAM_WEBHOOK_SECRET"),
                base_url: env("TELEGRAM_API_URL"),
                ..Self::default()
            }),
            Platform::WhatsApp => Ok(Self {
                token: env("WHATSAPP_TOKEN").ok_or_else(|| missing("WHATSAPP_TOKEN"))?,
                phone_number_id: Some(
                    env("WHATSAPP_PHONE_NUMBER_ID")
                        .ok_or_else(|| missing("WHATSAPP_PHONE_NUMBER_ID"))?,
                ),
                app_secret: env("WHATSAPP_APP_SECRET"),
                base_url: env("WHATSAPP_API_URL"),
                ..Self::default()
            }),
            other => Err(unsupported(other)),
        }
    }

    /// The demo account a sandbox started by `messenger sandbox` seeds, at `root`
    /// (e.g. `http://127.0.0.1:8085`).
    pub fn sandbox(platform: Platform, root: &str) -> Result<Self> {
        let root = root.trim_end_matches('/');
        match platform {
            Platform::Telegram => Ok(Self {
                token: messenger_sandbox::DEMO_TELEGRAM_TOKEN.into(),
                base_url: Some(root.to_owned()),
                ..Self::default()
            }),
            Platform::WhatsApp => Ok(Self {
                token: messenger_sandbox::DEMO_WHATSAPP_TOKEN.into(),
                phone_number_id: Some(messenger_sandbox::DEMO_WHATSAPP_PHONE_NUMBER_ID.into()),
                app_secret: Some(messenger_sandbox::DEMO_WHATSAPP_APP_SECRET.into()),
                base_url: Some(root.to_owned()),
                ..Self::default()
            }),
            other => Err(unsupported(other)),
        }
    }

    /// A Telegram bot for this endpoint.
    pub fn telegram(&self) -> Result<TelegramBot> {
        let mut config = TelegramConfig::new(self.token.clone());
        if let Some(url) = &self.base_url {
            config = config.base_url(url.clone());
        }
        if let Some(secret) = &self.webhook_secret {
            config = config.webhook_secret(secret.clone());
        }
        config.build()
    }

    /// A WhatsApp number for this endpoint.
    pub fn whatsapp(&self) -> Result<WhatsApp> {
        let id = self
            .phone_number_id
            .clone()
            .ok_or_else(|| Error::invalid_input("a WhatsApp phone-number id is needed"))?;
        let mut config = WhatsAppConfig::new(self.token.clone(), id);
        if let Some(url) = &self.base_url {
            config = config.base_url(url.clone());
        }
        if let Some(secret) = &self.app_secret {
            config = config.app_secret(secret.clone());
        }
        WhatsApp::new(config)
    }

    /// The connector for `platform`, as a trait object.
    pub fn messenger(&self, platform: Platform) -> Result<Arc<dyn Messenger>> {
        Ok(match platform {
            Platform::Telegram => Arc::new(self.telegram()?),
            Platform::WhatsApp => Arc::new(self.whatsapp()?),
            other => return Err(unsupported(other)),
        })
    }
}

fn unsupported(p: Platform) -> Error {
    Error::unsupported(format!(
        "no {} connector in this release yet (telegram and whatsapp are available)",
        p.display_name()
    ))
}
