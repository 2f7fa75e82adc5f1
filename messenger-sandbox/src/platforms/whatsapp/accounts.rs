//! Business numbers: built from an [`AccountSpec`] (the phone-number id is
//! the account id), patched by the control API, shown in its account view, the credentials a
//! connector needs for them, and Graph's phone-number object.

use std::collections::{HashMap, VecDeque};

use axum::http::Method;
use messenger_core::registry::{BASE_URL, Credentials};
use messenger_core::{Error, Result};
use serde_json::{Value, json};

use super::envelope::GraphError;
use super::{NumberState, WhatsApp, digits_only, number, number_mut};
use crate::api::{AccountPatch, AccountSpec, SandboxAccount};
use crate::clock::TokenBucket;
use crate::state::{Account, Shared, random_alnum, random_digits};

/// Builds a new business number account from a spec.
pub(super) fn new_account(shared: &Shared, spec: &AccountSpec) -> Result<Account> {
    let id = match &spec.phone_number_id {
        Some(id) => digits_only(id)
            .filter(|d| d.len() == id.len())
            .ok_or_else(|| Error::invalid_input("a phone-number id is digits"))?,
        None => random_digits(15),
    };
    let token = spec
        .token
        .clone()
        .unwrap_or_else(|| format!("EAAG{}", random_alnum(60)));
    if token.is_empty() || token.chars().any(char::is_whitespace) {
        return Err(Error::invalid_input("an access token has no spaces"));
    }
    let display = match &spec.display_phone_number {
        Some(n) => digits_only(n)
            .ok_or_else(|| Error::invalid_input("a display phone number is digits"))?,
        None => format!("1555{}", random_digits(7)),
    };
    if let Some(url) = &spec.webhook_url {
        crate::webhook::check_url(url)?;
    }
    let number = NumberState {
        display_phone_number: display,
        waba_id: random_digits(15),
        app_secret: spec
            .app_secret
            .clone()
            .unwrap_or_else(|| hex::encode(fastrand::u128(..).to_be_bytes())),
        verify_token: spec.verify_token.clone(),
        webhook_url: spec.webhook_url.clone().filter(|u| !u.is_empty()),
        out_of_order: false,
        events: VecDeque::new(),
        next_event: 0,
    };
    let bucket = shared
        .config
        .whatsapp_per_number
        .map(|limit| TokenBucket::new(limit, shared.now_ms()));
    Ok(Account::new(
        id,
        &WhatsApp,
        token,
        spec.name
            .clone()
            .unwrap_or_else(|| "Sandbox Business".to_string()),
        bucket,
        number,
    ))
}

/// Applies the WhatsApp parts of an account patch.
pub(super) fn patch_account(account: &mut Account, patch: &AccountPatch) -> Result<()> {
    if let Some(url) = &patch.webhook_url
        && !url.is_empty()
    {
        crate::webhook::check_url(url)?;
    }
    let Some(number) = number_mut(account) else {
        return Err(Error::invalid_input("not a WhatsApp account"));
    };
    if let Some(url) = &patch.webhook_url {
        number.webhook_url = Some(url.clone()).filter(|u| !u.is_empty());
    }
    if let Some(secret) = &patch.app_secret {
        if secret.is_empty() {
            return Err(Error::invalid_input("an app secret cannot be empty"));
        }
        number.app_secret = secret.clone();
    }
    if let Some(token) = &patch.verify_token {
        number.verify_token = Some(token.clone()).filter(|t| !t.is_empty());
    }
    if let Some(flag) = patch.out_of_order_statuses {
        number.out_of_order = flag;
    }
    account.wake();
    Ok(())
}

/// The WhatsApp fields of the control view of a number.
pub(super) fn describe(account: &Account, view: &mut SandboxAccount) {
    let Some(number) = number(account) else {
        return;
    };
    view.phone_number_id = Some(account.id.clone());
    view.display_phone_number = Some(number.display_phone_number.clone());
    view.waba_id = Some(number.waba_id.clone());
    view.app_secret = Some(number.app_secret.clone());
    view.verify_token.clone_from(&number.verify_token);
    view.webhook_url.clone_from(&number.webhook_url);
    view.out_of_order_statuses = number.out_of_order;
    view.pending = number.events.len();
}

/// `token`, `phone_number_id`, `app_secret`, `verify_token` (if set) and `base_url`.
pub(super) fn credentials(account: &Account, root: &str) -> Credentials {
    let mut credentials = Credentials::new()
        .with("token", account.token.clone())
        .with("phone_number_id", account.id.clone())
        .with(BASE_URL, root);
    if let Some(number) = number(account) {
        credentials.set("app_secret", number.app_secret.clone());
        if let Some(verify_token) = &number.verify_token {
            credentials.set("verify_token", verify_token.clone());
        }
    }
    credentials
}

/// `GET /{version}/{phone-number-id}`: the number (`fields` selects).
pub(super) fn phone_number(
    shared: &Shared,
    account_id: &str,
    id: &str,
    query: &HashMap<String, String>,
) -> Result<Value, GraphError> {
    if id != account_id {
        return Err(GraphError::no_object(&Method::GET, id));
    }
    let state = shared.lock();
    let account = state
        .account(account_id)
        .map_err(|_| GraphError::no_object(&Method::GET, id))?;
    let number = number(account).ok_or_else(|| GraphError::no_object(&Method::GET, id))?;
    let d = &number.display_phone_number;
    let display = if d.len() == 11 && d.starts_with('1') {
        format!("+1 {}-{}-{}", &d[1..4], &d[4..7], &d[7..])
    } else {
        format!("+{d}")
    };
    let full = json!({
        "verified_name": account.name,
        "code_verification_status": "VERIFIED",
        "display_phone_number": display,
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": { "level": "STANDARD" },
        "id": account.id,
    });
    match query.get("fields").filter(|f| !f.is_empty()) {
        None => Ok(full),
        Some(fields) => {
            let mut out = json!({ "id": account.id });
            for field in fields.split(',').map(str::trim) {
                if let Some(v) = full.get(field) {
                    out[field] = v.clone();
                }
            }
            Ok(out)
        }
    }
}
