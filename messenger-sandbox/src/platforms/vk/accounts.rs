//! Communities: built from an [`AccountSpec`] (the community id is the account id), patched by
//! the control API, shown in its account view, the credentials a connector needs for them,
//! and `groups.getById`.

use std::collections::HashMap;

use messenger_core::registry::{BASE_URL, Credentials};
use messenger_core::{Error, Platform, Result};
use serde_json::{Value, json};

use super::envelope::{Params, VkError};
use super::{Community, Vk, bucket, community, community_mut, updates, webhook};
use crate::api::{AccountPatch, AccountSpec, SandboxAccount};
use crate::state::{Account, Shared, State, random_alnum, random_digits};

/// Builds a new community account from a spec.
pub(super) fn new_account(
    shared: &Shared,
    state: &mut State,
    spec: &AccountSpec,
) -> Result<Account> {
    let group_id: i64 = match &spec.id {
        Some(id) => id
            .trim()
            .trim_start_matches('-')
            .parse()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| Error::invalid_input("a VK community id is a positive number"))?,
        None => format!("2{}", random_digits(8))
            .parse()
            .unwrap_or_else(|_| 200_000_000 + i64::try_from(state.next_seq()).unwrap_or(0)),
    };
    let token = spec
        .token
        .clone()
        .unwrap_or_else(|| format!("vk1.a.{}", random_alnum(84)));
    if token.trim().is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid_input(
            "a VK access token has no spaces or control characters",
        ));
    }
    let secret = match &spec.webhook_secret {
        Some(secret) => Some(secret.clone()).filter(|s| !s.is_empty()),
        None => Some(random_alnum(24)),
    };
    if secret.as_ref().is_some_and(|s| s.chars().count() > 50) {
        return Err(Error::invalid_input(
            "a VK Callback secret has at most 50 characters",
        ));
    }
    let confirmation = spec
        .verify_token
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| hex::encode(fastrand::u32(..).to_be_bytes()));
    let mut community = Community {
        group_id,
        screen_name: spec
            .username
            .clone()
            .unwrap_or_else(|| format!("club{group_id}")),
        secret,
        confirmation,
        next_message_id: 1,
        sent: HashMap::new(),
        poll: updates::LongPoll::default(),
        callback: webhook::Callback::default(),
    };
    if let Some(url) = spec.webhook_url.as_deref().filter(|u| !u.is_empty()) {
        crate::webhook::check_url(url)?;
        community.callback.set_url(Some(url.to_string()));
    }
    Ok(Account::new(
        group_id.to_string(),
        &Vk,
        token,
        spec.name
            .clone()
            .unwrap_or_else(|| "Sandbox Community".to_string()),
        bucket(shared),
        community,
    ))
}

/// Applies the VK parts of an account patch: the Callback server (a new URL must be
/// confirmed again), its secret, the confirmation string. Other platforms' fields are ignored.
pub(super) fn patch_account(account: &mut Account, patch: &AccountPatch) -> Result<()> {
    if let Some(url) = patch.webhook_url.as_deref().filter(|u| !u.is_empty()) {
        crate::webhook::check_url(url)?;
    }
    if patch
        .webhook_secret
        .as_ref()
        .is_some_and(|s| s.chars().count() > 50)
    {
        return Err(Error::invalid_input(
            "a VK Callback secret has at most 50 characters",
        ));
    }
    let Some(community) = community_mut(account) else {
        return Err(Error::invalid_input("not a VK account"));
    };
    if let Some(url) = &patch.webhook_url {
        community
            .callback
            .set_url(Some(url.clone()).filter(|u| !u.is_empty()));
    }
    if let Some(secret) = &patch.webhook_secret {
        community.secret = Some(secret.clone()).filter(|s| !s.is_empty());
    }
    if let Some(confirmation) = &patch.verify_token {
        if confirmation.is_empty() {
            return Err(Error::invalid_input(
                "a confirmation string cannot be empty",
            ));
        }
        community.confirmation.clone_from(confirmation);
    }
    account.wake();
    Ok(())
}

/// The VK fields of the control view: the screen name, the Callback server, its secret and
/// confirmation string (as `verify_token`), and what is pending (Callback events while a
/// server is set, unconfirmed Long Poll events otherwise).
pub(super) fn describe(account: &Account, view: &mut SandboxAccount) {
    let Some(community) = community(account) else {
        return;
    };
    view.username = Some(community.screen_name.clone());
    view.webhook_url.clone_from(&community.callback.url);
    view.webhook_secret.clone_from(&community.secret);
    view.verify_token = Some(community.confirmation.clone());
    view.pending = if community.callback.url.is_some() {
        community.callback.pending()
    } else {
        community.poll.pending()
    };
}

/// `token`, `group_id`, `base_url` (the sandbox's VK root), `secret` (if set) and
/// `confirmation`.
pub(super) fn credentials(account: &Account, root: &str) -> Credentials {
    let mut credentials = Credentials::new()
        .with("token", account.token.clone())
        .with("group_id", account.id.clone())
        .with(BASE_URL, root);
    if let Some(community) = community(account) {
        if let Some(secret) = &community.secret {
            credentials.set("secret", secret.clone());
        }
        credentials.set("confirmation", community.confirmation.clone());
    }
    credentials
}

/// The `groups_group_full` object of a community (the fields a connector reads).
fn group_json(account: &Account, community: &Community) -> Value {
    json!({
        "id": community.group_id,
        "name": account.name,
        "screen_name": community.screen_name,
        "is_closed": 0,
        "type": "group",
    })
}

/// `groups.getById`: without parameters the token's own community; with `group_id` or
/// `group_ids` (ids or screen names, comma-separated) those communities of the sandbox.
/// Answered in the 5.199 shape `{"groups": [...], "profiles": []}`.
pub(super) fn get_by_id(
    shared: &Shared,
    account_id: &str,
    params: &Params,
) -> Result<Value, VkError> {
    let state = shared.lock();
    let wanted: Vec<String> = [params.non_empty("group_ids"), params.non_empty("group_id")]
        .into_iter()
        .flatten()
        .flat_map(|list| list.split(','))
        .map(|g| g.trim().trim_start_matches('-').to_string())
        .filter(|g| !g.is_empty())
        .collect();
    let mut groups = Vec::new();
    if wanted.is_empty() {
        let account = state
            .account(account_id)
            .map_err(|_| VkError::auth_invalid())?;
        let community = community(account).ok_or_else(VkError::auth_invalid)?;
        groups.push(group_json(account, community));
    } else {
        for id in &wanted {
            let found = state
                .accounts
                .values()
                .filter(|a| a.platform() == Platform::Vk)
                .find_map(|a| {
                    let c = community(a)?;
                    (c.group_id.to_string() == *id || c.screen_name == *id)
                        .then(|| group_json(a, c))
                })
                .ok_or_else(|| VkError::param("group_ids is undefined"))?;
            groups.push(found);
        }
    }
    Ok(json!({ "groups": groups, "profiles": [] }))
}
