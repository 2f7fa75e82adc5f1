//! Group chats of a bot: basic groups, supergroups and channels, with customers of the bot as
//! members (telegram.md §2 `Chat`; §7 rate limits).
//!
//! A group has a negative id (`-4…` for a basic group, `-100…` for a supergroup or a channel),
//! its own message ids, and two limits on top of the bot's: the per-chat one every chat has
//! ([`SandboxConfig::telegram_per_chat`](crate::SandboxConfig::telegram_per_chat)) and the
//! group's "no more than 20 messages per minute", a sliding window
//! ([`SandboxConfig::telegram_per_group`](crate::SandboxConfig::telegram_per_group)). A
//! member's message is a `message` update whose `chat.type` is `group` or `supergroup`; a
//! channel's post is a `channel_post` signed by the channel (`sender_chat`, no `from`).

use messenger_core::{Error, ErrorKind, Result};
use serde_json::{Value, json};

use super::customer::{Inbound, inbound_content, user_json};
use super::updates::push_update;
use super::{BotState, bot, bot_mut};
use crate::api::{
    Group, GroupKind, GroupMessage, InboundReceipt, MessageDirection, MessageView, NewGroup,
};
use crate::clock::TokenBucket;
use crate::state::{Account, Shared, State, StoredMessage};

/// Ids from here down are supergroups and channels (`-100` followed by ten digits).
const SUPERGROUP_FLOOR: i64 = -1_000_000_000_000;

/// A group chat of a bot.
pub(super) struct TgGroup {
    pub id: i64,
    /// Creation order.
    pub seq: u64,
    pub kind: GroupKind,
    pub title: String,
    /// Customer ids, in the order they joined.
    pub members: Vec<String>,
    /// Everything posted, the bot's messages included, in order.
    pub messages: Vec<StoredMessage>,
    pub next_message_id: i64,
    /// The per-chat limit every chat has.
    pub chat_limit: Option<TokenBucket>,
    /// The group's own "20 messages per minute".
    pub group_limit: Option<TokenBucket>,
}

impl TgGroup {
    /// The `Chat` object.
    pub(super) fn chat_json(&self) -> Value {
        json!({ "id": self.id, "title": self.title, "type": self.kind.as_str() })
    }

    fn view(&self, account: &str) -> Group {
        Group {
            id: self.id.to_string(),
            account: account.to_string(),
            kind: self.kind,
            title: self.title.clone(),
            members: self.members.clone(),
        }
    }
}

fn no_such_group() -> Error {
    Error::new(ErrorKind::NotFound, "no such group")
}

/// The group `id` of a bot (`id` as the control API names it: the chat id in decimal).
fn group<'a>(bot: &'a BotState, id: &str) -> Result<&'a TgGroup> {
    let id: i64 = id.trim().parse().map_err(|_| no_such_group())?;
    bot.groups.get(&id).ok_or_else(no_such_group)
}

/// Creates a group chat with customers of the bot as members.
pub(super) fn create_group(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    new: &NewGroup,
) -> Result<Group> {
    let supergroup = new.kind != GroupKind::Group;
    let seq = state.next_seq();
    let id = match new.id.as_deref() {
        Some(id) => {
            let id: i64 =
                id.trim().parse().ok().filter(|id| *id < 0).ok_or_else(|| {
                    Error::invalid_input("a Telegram group id is a negative number")
                })?;
            if supergroup != (id <= SUPERGROUP_FLOOR) {
                return Err(Error::invalid_input(
                    "supergroup and channel ids start with -100; basic group ids do not",
                ));
            }
            id
        }
        None => {
            let seq = i64::try_from(seq).unwrap_or(i64::MAX / 4);
            if supergroup {
                SUPERGROUP_FLOOR - 2_000_000_000 - seq
            } else {
                -4_000_000_000 - seq
            }
        }
    };
    let now = shared.now_ms();
    let account = state.account_mut(account_id)?;
    for member in &new.members {
        account.customer(member)?;
    }
    let mut members: Vec<String> = Vec::new();
    for member in &new.members {
        if !members.contains(member) {
            members.push(member.clone());
        }
    }
    let config = &shared.config;
    let group = TgGroup {
        id,
        seq,
        kind: new.kind,
        title: new
            .title
            .clone()
            .unwrap_or_else(|| format!("Sandbox {}", new.kind.as_str())),
        members,
        messages: Vec::new(),
        next_message_id: 1,
        chat_limit: config
            .telegram_per_chat
            .map(|limit| TokenBucket::new(limit, now)),
        group_limit: config
            .telegram_per_group
            .map(|limit| TokenBucket::new(limit, now)),
    };
    let bot = bot_mut(account).ok_or_else(|| Error::invalid_input("not a Telegram account"))?;
    if bot.groups.contains_key(&id) {
        return Err(Error::new(
            ErrorKind::Conflict,
            "a group with this id exists",
        ));
    }
    let view = group.view(account_id);
    bot.groups.insert(id, group);
    tracing::debug!(account = %account_id, kind = new.kind.as_str(), "sandbox telegram: group created");
    Ok(view)
}

/// The bot's groups, in creation order.
pub(super) fn groups(state: &State, account_id: &str) -> Result<Vec<Group>> {
    let account = state.account(account_id)?;
    let bot = bot(account).ok_or_else(|| Error::invalid_input("not a Telegram account"))?;
    let mut groups: Vec<&TgGroup> = bot.groups.values().collect();
    groups.sort_by_key(|g| g.seq);
    Ok(groups.into_iter().map(|g| g.view(account_id)).collect())
}

/// Everything posted in a group, in order.
pub(super) fn group_messages(
    state: &State,
    account_id: &str,
    group_id: &str,
) -> Result<Vec<MessageView>> {
    let account = state.account(account_id)?;
    let bot = bot(account).ok_or_else(|| Error::invalid_input("not a Telegram account"))?;
    let group = group(bot, group_id)?;
    Ok(group
        .messages
        .iter()
        .map(|m| state.message_view(m))
        .collect())
}

/// A member writes in a group, or a channel posts: the message is stored and a `message`
/// (`channel_post`) update is queued.
pub(super) fn group_sends(
    shared: &Shared,
    state: &mut State,
    account_id: &str,
    group_id: &str,
    post: &GroupMessage,
) -> Result<InboundReceipt> {
    let now = shared.now_ms();
    let (id, channel) = {
        let account = state.account(account_id)?;
        let bot = bot(account).ok_or_else(|| Error::invalid_input("not a Telegram account"))?;
        let group = group(bot, group_id)?;
        let channel = group.kind == GroupKind::Channel;
        match (&post.from, channel) {
            (Some(_), true) => {
                return Err(Error::invalid_input(
                    "members do not write in a channel; a channel post has no `from`",
                ));
            }
            (None, false) => {
                return Err(Error::invalid_input(
                    "a group message needs `from`, the member who writes",
                ));
            }
            (Some(member), false) if !group.members.contains(member) => {
                return Err(Error::invalid_input(
                    "the customer is not a member of the group",
                ));
            }
            _ => {}
        }
        (group.id, channel)
    };
    let Inbound {
        content,
        kind,
        media,
        media_id,
    } = inbound_content(state, account_id, &post.message)?;
    let account = state.account_mut(account_id)?;
    let from = match &post.from {
        Some(member) => Some(user_json(account.customer(member)?)),
        None => None,
    };
    let bot = bot_mut(account).ok_or_else(|| Error::invalid_input("not a Telegram account"))?;
    let group = bot.groups.get_mut(&id).ok_or_else(no_such_group)?;
    let reply_raw = match &post.message.reply_to {
        Some(reply) => Some(
            group
                .messages
                .iter()
                .find(|m| m.id == *reply)
                .and_then(|m| m.raw.clone())
                .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such message to reply to"))?,
        ),
        None => None,
    };
    let message_id = group.next_message_id;
    group.next_message_id += 1;
    let mut msg = json!({
        "message_id": message_id,
        "chat": group.chat_json(),
        "date": now.div_euclid(1000),
    });
    match from {
        Some(from) => msg["from"] = from,
        None => msg["sender_chat"] = group.chat_json(),
    }
    if let Some(reply) = reply_raw {
        msg["reply_to_message"] = reply;
    }
    for (k, v) in content {
        msg[k] = v;
    }
    let mut stored =
        StoredMessage::new(message_id.to_string(), MessageDirection::Inbound, kind, now);
    stored.text = post.message.text.clone().filter(|_| media.is_none());
    stored.caption = post.message.caption.clone().filter(|_| media.is_some());
    stored.media = media;
    stored.reply_to = post.message.reply_to.clone();
    stored.raw = Some(msg.clone());
    group.messages.push(stored);
    let update = if channel { "channel_post" } else { "message" };
    let update_id = push_update(account, update, msg, now);
    tracing::debug!(
        account = %account_id,
        kind = kind.as_str(),
        "sandbox telegram: group message queued"
    );
    Ok(InboundReceipt {
        message_id: message_id.to_string(),
        update_id,
        media_id,
    })
}

/// The bot's own message in a group: `from` the bot, or `sender_chat` the channel.
pub(super) fn outbound_in_group(
    account: &mut Account,
    group_id: i64,
    from: Value,
    now_ms: i64,
) -> Option<(i64, Value, &mut TgGroup)> {
    let bot = bot_mut(account)?;
    let group = bot.groups.get_mut(&group_id)?;
    let message_id = group.next_message_id;
    group.next_message_id += 1;
    let mut msg = json!({
        "message_id": message_id,
        "chat": group.chat_json(),
        "date": now_ms.div_euclid(1000),
    });
    if group.kind == GroupKind::Channel {
        msg["sender_chat"] = group.chat_json();
    } else {
        msg["from"] = from;
    }
    Some((message_id, msg, group))
}
