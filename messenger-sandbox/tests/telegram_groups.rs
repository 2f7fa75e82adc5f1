//! Telegram group chats in the sandbox: groups, supergroups and channels made through the
//! control API, members' messages as updates, the bot's sends to them, and the group limits
//! (the per-chat bucket every chat has, the group's 20 a minute as a sliding window, the bot's
//! 30/s) answered as Telegram does, 429 with `retry_after`.

mod common;

use std::time::Duration;

use common::{client, sandbox, sandbox_with};
use messenger_core::ErrorKind;
use messenger_sandbox::{
    AccountSpec, CustomerMessage, GroupKind, GroupMessage, MessageDirection, NewCustomer, NewGroup,
    RateLimit, Sandbox, SandboxAccount, SandboxConfig,
};
use serde_json::{Value, json};

struct Bot {
    sandbox: Sandbox,
    bot: SandboxAccount,
    members: Vec<String>,
    http: reqwest::Client,
}

impl Bot {
    fn with(sandbox: Sandbox) -> Self {
        let bot = sandbox.create_account(&AccountSpec::telegram()).unwrap();
        let members = ["Ivan", "Olga"]
            .into_iter()
            .map(|name| {
                sandbox
                    .create_customer(&bot.id, &NewCustomer::named(name))
                    .unwrap()
                    .id
            })
            .collect();
        Self {
            sandbox,
            bot,
            members,
            http: client(),
        }
    }

    fn group(&self, kind: GroupKind) -> i64 {
        let mut new = NewGroup::new(kind).title("Support");
        for m in &self.members {
            new = new.member(m);
        }
        let group = self.sandbox.create_group(&self.bot.id, &new).unwrap();
        group.id.parse().unwrap()
    }

    async fn call(&self, method: &str, body: Value) -> (u16, Value) {
        let url = format!(
            "{}/bot{}/{method}",
            self.sandbox.urls().telegram(),
            self.bot.token
        );
        let resp = self.http.post(url).json(&body).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    async fn send(&self, chat: i64, text: &str) -> (u16, Value) {
        self.call("sendMessage", json!({ "chat_id": chat, "text": text }))
            .await
    }

    async fn updates(&self) -> Vec<Value> {
        let (status, body) = self.call("getUpdates", json!({})).await;
        assert_eq!(status, 200);
        body["result"].as_array().unwrap().clone()
    }
}

/// Only the group's own limit, so that a test counts it alone.
fn only_the_group_limit() -> SandboxConfig {
    SandboxConfig {
        telegram_per_group: Some(RateLimit::quota(20, Duration::from_secs(60))),
        ..SandboxConfig::default().without_rate_limits()
    }
}

#[tokio::test]
async fn groups_supergroups_and_channels_have_negative_ids_and_their_members() {
    let t = Bot::with(sandbox().await);
    let group = t.group(GroupKind::Group);
    let supergroup = t.group(GroupKind::Supergroup);
    let channel = t.group(GroupKind::Channel);
    assert!(group < 0 && group > -1_000_000_000_000, "{group}");
    assert!(supergroup.to_string().starts_with("-100"), "{supergroup}");
    assert!(channel.to_string().starts_with("-100"), "{channel}");

    let groups = t.sandbox.groups(&t.bot.id).unwrap();
    let kinds: Vec<GroupKind> = groups.iter().map(|g| g.kind).collect();
    assert_eq!(
        kinds,
        [GroupKind::Group, GroupKind::Supergroup, GroupKind::Channel]
    );
    assert!(groups.iter().all(|g| g.members == t.members));
    assert_eq!(groups[0].title, "Support");
    let one = t.sandbox.group(&t.bot.id, &supergroup.to_string()).unwrap();
    assert_eq!(one, groups[1]);

    // A chosen id must look like its kind's.
    let chosen = t
        .sandbox
        .create_group(
            &t.bot.id,
            &NewGroup::new(GroupKind::Supergroup).id("-1001234567890"),
        )
        .unwrap();
    assert_eq!(chosen.id, "-1001234567890");
    let err = t
        .sandbox
        .create_group(
            &t.bot.id,
            &NewGroup::new(GroupKind::Supergroup).id("-1001234567890"),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    for (kind, id) in [
        (GroupKind::Supergroup, "-4001"),
        (GroupKind::Group, "-1001234567891"),
        (GroupKind::Group, "42"),
    ] {
        let err = t
            .sandbox
            .create_group(&t.bot.id, &NewGroup::new(kind).id(id))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{id}");
    }
    // Members are customers of the bot.
    let err = t
        .sandbox
        .create_group(
            &t.bot.id,
            &NewGroup::new(GroupKind::Group).member("999999999"),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn members_messages_become_updates_with_the_group_chat_type() {
    let t = Bot::with(sandbox().await);
    let group = t.group(GroupKind::Group);
    let supergroup = t.group(GroupKind::Supergroup);
    let channel = t.group(GroupKind::Channel);
    let ivan = &t.members[0];
    t.sandbox
        .group_sends(
            &t.bot.id,
            &group.to_string(),
            &GroupMessage::from_member(ivan, CustomerMessage::text("hello group")),
        )
        .unwrap();
    let receipt = t
        .sandbox
        .group_sends(
            &t.bot.id,
            &supergroup.to_string(),
            &GroupMessage::from_member(&t.members[1], CustomerMessage::text("/start@bot")),
        )
        .unwrap();
    assert_eq!(
        receipt.message_id, "1",
        "each group numbers its own messages"
    );
    t.sandbox
        .group_sends(
            &t.bot.id,
            &channel.to_string(),
            &GroupMessage::channel_post(CustomerMessage::text("news")),
        )
        .unwrap();

    let updates = t.updates().await;
    assert_eq!(updates.len(), 3);
    let m = &updates[0]["message"];
    assert_eq!(m["chat"]["type"], "group");
    assert_eq!(m["chat"]["id"], group);
    assert_eq!(m["chat"]["title"], "Support");
    assert_eq!(m["from"]["id"], ivan.parse::<i64>().unwrap());
    assert_eq!(m["text"], "hello group");
    let m = &updates[1]["message"];
    assert_eq!(m["chat"]["type"], "supergroup");
    assert_eq!(m["chat"]["id"], supergroup);
    assert_eq!(m["entities"][0]["type"], "bot_command");
    assert_eq!(
        updates[1]["update_id"],
        updates[0]["update_id"].as_i64().unwrap() + 1
    );
    let post = &updates[2]["channel_post"];
    assert_eq!(post["chat"]["type"], "channel");
    assert_eq!(post["sender_chat"]["id"], channel);
    assert!(post.get("from").is_none());

    // Who may write where.
    for (group, message) in [
        (
            channel,
            GroupMessage::from_member(ivan, CustomerMessage::text("x")),
        ),
        (
            group,
            GroupMessage::channel_post(CustomerMessage::text("x")),
        ),
    ] {
        let err = t
            .sandbox
            .group_sends(&t.bot.id, &group.to_string(), &message)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
    let outsider = t
        .sandbox
        .create_customer(&t.bot.id, &NewCustomer::named("Petr"))
        .unwrap();
    let err = t
        .sandbox
        .group_sends(
            &t.bot.id,
            &group.to_string(),
            &GroupMessage::from_member(&outsider.id, CustomerMessage::text("x")),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = t
        .sandbox
        .group_sends(
            &t.bot.id,
            "-42",
            &GroupMessage::from_member(ivan, CustomerMessage::text("x")),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn the_bot_sends_and_replies_to_groups_and_posts_in_channels() {
    let t = Bot::with(sandbox().await);
    let group = t.group(GroupKind::Supergroup);
    let channel = t.group(GroupKind::Channel);
    let asked = t
        .sandbox
        .group_sends(
            &t.bot.id,
            &group.to_string(),
            &GroupMessage::from_member(&t.members[0], CustomerMessage::text("when?")),
        )
        .unwrap();

    let (status, body) = t
        .call(
            "sendMessage",
            json!({
                "chat_id": group.to_string(),
                "text": "tomorrow",
                "reply_parameters": { "message_id": asked.message_id.parse::<i64>().unwrap() },
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let sent = &body["result"];
    assert_eq!(sent["chat"]["id"], group);
    assert_eq!(sent["chat"]["type"], "supergroup");
    assert_eq!(sent["from"]["is_bot"], true);
    assert_eq!(sent["message_id"], 2);
    assert_eq!(sent["reply_to_message"]["text"], "when?");

    let (status, body) = t.send(channel, "news").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["sender_chat"]["id"], channel);
    assert!(body["result"].get("from").is_none());

    let (status, _) = t
        .call(
            "sendChatAction",
            json!({ "chat_id": group, "action": "typing" }),
        )
        .await;
    assert_eq!(status, 200);

    let messages = t
        .sandbox
        .group_messages(&t.bot.id, &group.to_string())
        .unwrap();
    let directions: Vec<MessageDirection> = messages.iter().map(|m| m.direction).collect();
    assert_eq!(
        directions,
        [MessageDirection::Inbound, MessageDirection::Outbound]
    );
    assert_eq!(messages[1].text.as_deref(), Some("tomorrow"));
    assert_eq!(messages[1].reply_to.as_deref(), Some("1"));

    // A group the bot is not in, and an unknown chat, are "chat not found".
    let (status, body) = t.send(-1_009_999_999_999, "x").await;
    assert_eq!(status, 400);
    assert_eq!(body["description"], "Bad Request: chat not found");
}

#[tokio::test]
async fn a_group_takes_twenty_a_minute_as_a_sliding_window() {
    let t = Bot::with(sandbox_with(only_the_group_limit()).await);
    let group = t.group(GroupKind::Supergroup);
    let other = t.group(GroupKind::Group);
    // A burst of 20 goes at once.
    for i in 0..20 {
        let (status, body) = t.send(group, &format!("m{i}")).await;
        assert_eq!(status, 200, "send {i}: {body}");
    }
    // The 21st is flood control, with Telegram's shape, until the oldest has left the minute.
    let (status, body) = t.send(group, "m20").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["ok"], false);
    assert_eq!(body["error_code"], 429);
    let retry_after = body["parameters"]["retry_after"].as_u64().unwrap();
    assert!((59..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        body["description"],
        format!("Too Many Requests: retry after {retry_after}")
    );
    // Another group has its own window; a private chat has no group limit.
    let (status, _) = t.send(other, "elsewhere").await;
    assert_eq!(status, 200);
    for _ in 0..25 {
        let (status, _) = t.send(t.members[0].parse().unwrap(), "private").await;
        assert_eq!(status, 200);
    }

    // A minute later (sandbox clock) the whole window has moved on: 20 more, then 429 again.
    t.sandbox.advance_clock(Duration::from_secs(60));
    for i in 0..20 {
        let (status, body) = t.send(group, &format!("n{i}")).await;
        assert_eq!(status, 200, "send {i}: {body}");
    }
    let (status, _) = t.send(group, "n20").await;
    assert_eq!(status, 429);
    let sent = t
        .sandbox
        .group_messages(&t.bot.id, &group.to_string())
        .unwrap();
    assert_eq!(sent.len(), 40, "a refused send stores nothing");
}

#[tokio::test]
async fn a_group_has_the_per_chat_limit_of_every_chat_too() {
    // The defaults: a bucket of 5 per chat at 1/s, 20 a minute per group, 30/s per bot.
    let t = Bot::with(sandbox_with(SandboxConfig::default()).await);
    let group = t.group(GroupKind::Supergroup);
    let mut ok = 0;
    let mut refused = None;
    for i in 0..10 {
        let (status, body) = t.send(group, &format!("m{i}")).await;
        if status == 429 {
            refused = Some(body);
            break;
        }
        ok += 1;
    }
    let body = refused.expect("a sustained burst in one group is flood control");
    assert!(ok >= 5, "the chat's burst tolerance: {ok} went through");
    assert_eq!(body["parameters"]["retry_after"], 1);
}

#[tokio::test]
async fn the_bots_limit_counts_group_sends_with_the_rest() {
    let config = SandboxConfig {
        telegram_per_bot: Some(RateLimit::new(3, Duration::from_secs(3600))),
        ..SandboxConfig::default().without_rate_limits()
    };
    let t = Bot::with(sandbox_with(config).await);
    let group = t.group(GroupKind::Group);
    let private: i64 = t.members[0].parse().unwrap();
    assert_eq!(t.send(group, "a").await.0, 200);
    assert_eq!(t.send(private, "b").await.0, 200);
    assert_eq!(t.send(group, "c").await.0, 200);
    let (status, body) = t.send(private, "d").await;
    assert_eq!(status, 429);
    assert!(body["parameters"]["retry_after"].as_u64().unwrap() > 1000);
}

#[tokio::test]
async fn groups_over_the_control_api_and_elsewhere_unsupported() {
    let sandbox = sandbox().await;
    let control = sandbox.control().unwrap();
    let bot = control
        .create_account(&AccountSpec::telegram())
        .await
        .unwrap();
    let ivan = control
        .create_customer(&bot.id, &NewCustomer::named("Ivan"))
        .await
        .unwrap();
    let group = control
        .create_group(
            &bot.id,
            &NewGroup::new(GroupKind::Group)
                .title("Team")
                .member(&ivan.id),
        )
        .await
        .unwrap();
    assert_eq!(group.kind, GroupKind::Group);
    assert_eq!(group.account, bot.id);
    assert_eq!(
        control.groups(&bot.id).await.unwrap(),
        std::slice::from_ref(&group)
    );
    assert_eq!(control.group(&bot.id, &group.id).await.unwrap(), group);
    let receipt = control
        .group_sends(
            &bot.id,
            &group.id,
            &GroupMessage::from_member(&ivan.id, CustomerMessage::text("hi")),
        )
        .await
        .unwrap();
    assert!(receipt.update_id.is_some());
    let messages = control.group_messages(&bot.id, &group.id).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text.as_deref(), Some("hi"));
    let err = control.group(&bot.id, "-1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // A platform whose emulator has no group chats says so, over HTTP too.
    let wa = control
        .create_account(&AccountSpec::whatsapp())
        .await
        .unwrap();
    let err = control
        .create_group(&wa.id, &NewGroup::new(GroupKind::Group))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let err = sandbox.groups(&wa.id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}
