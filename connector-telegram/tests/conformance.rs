//! Conformance against real public payloads in `shared/fixtures/telegram/` (nutgram's fixtures,
//! MIT; see the folder's licence).
//!
//! `#[ignore]`d by default; run with `cargo test -p connector-telegram -- --ignored`. The folder
//! is `$MESSENGER_FIXTURES/telegram` (default `<CARGO_MANIFEST_DIR>/../../shared/fixtures`);
//! the tests FAIL when it is missing, and each asserts how many fixtures it read, so an empty or
//! truncated folder fails too.
//!
//! The expectations are this file's own: a literal table, one row per fixture, written from the
//! platform sheet (`shared/platforms/telegram.md` §4, §9, §10) and the Bot API 10.1 types
//! (`shared/schemas/telegram/api.json`), never from the lists of the code under test. On top of
//! the table, the fields every message carries (chat, id, sender, text, dates, reply, the
//! largest photo) are checked against the raw JSON of each file.

use std::collections::BTreeSet;
use std::path::PathBuf;

use messenger_core::{ContactChange, ContentKind, ErrorKind, InboundEvent};
use serde_json::Value;

fn fixtures() -> PathBuf {
    let root = std::env::var_os("MESSENGER_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let dir = root.join("telegram");
    assert!(
        dir.join("updates").is_dir(),
        "fixtures folder {} is missing (set MESSENGER_FIXTURES to shared/fixtures)",
        dir.display()
    );
    dir
}

/// The `.json` files of a fixture folder, sorted.
fn json_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// What one fixture must become.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A message of this content kind (and, for `unsupported`, this platform kind).
    Message(ContentKind, Option<&'static str>),
    /// An `other` event of this kind, in this chat (or in none).
    Other(&'static str, Option<i64>),
    /// A contact event `id_changed` from one chat id to another.
    IdChanged { chat: i64, new_chat: i64 },
}

use ContentKind::{File, Image, Location, Text, Unsupported, Video, Voice};
use Expect::{IdChanged, Message, Other};

/// One row per file of `updates/`. Content kinds: telegram.md §10 (text, photo -> image,
/// document -> file, voice, animation and video notes -> video, location). Service messages
/// and update types the core does not model: `other` named after their field (§4 Update), in
/// the chat their payload names (`chat`, `message.chat`, `user_chat_id`), none for inline
/// queries, polls, payments, subscriptions and managed bots.
const TABLE: &[(&str, Expect)] = &[
    ("animation.json", Message(Video, None)),
    (
        "business_connection.json",
        Other("business_connection", Some(12345)),
    ),
    (
        "callback_query_without_message.json",
        Other("callback_query", None),
    ),
    (
        "channel_chat_created.json",
        Other("channel_chat_created", Some(12345)),
    ),
    ("channel_post.json", Message(Text, None)),
    (
        "chat_join_request.json",
        Other("chat_join_request", Some(987654321)),
    ),
    ("chat_member.json", Other("chat_member", Some(987654321))),
    (
        "chat_owner_changed.json",
        Other("chat_owner_changed", Some(12345)),
    ),
    (
        "checklist_tasks_done.json",
        Other("checklist_tasks_done", Some(12345)),
    ),
    (
        "chosen_inline_result.json",
        Other("chosen_inline_result", None),
    ),
    ("command.json", Message(Text, None)),
    ("command_message.json", Message(Text, None)),
    ("command_tag_wrong.json", Message(Text, None)),
    ("command_with_parameters.json", Message(Text, None)),
    // Not a field of Bot API 10.1's Message: an unknown payload is kept as `unsupported`,
    // never dropped.
    (
        "community_chat_removed.json",
        Message(Unsupported, Some("community_chat_removed")),
    ),
    (
        "delete_chat_photo.json",
        Other("delete_chat_photo", Some(12345)),
    ),
    (
        "direct_message_price_changed.json",
        Other("direct_message_price_changed", Some(11111111)),
    ),
    ("document.json", Message(File, None)),
    (
        "edited_business_message.json",
        Other("edited_business_message", Some(456)),
    ),
    ("edited_channel_post.json", Message(Text, None)),
    ("entities.json", Message(Text, None)),
    ("food.json", Message(Text, None)),
    (
        "forum_topic_closed.json",
        Other("forum_topic_closed", Some(11111111)),
    ),
    (
        "forum_topic_created.json",
        Other("forum_topic_created", Some(11111111)),
    ),
    (
        "forum_topic_edited.json",
        Other("forum_topic_edited", Some(11111111)),
    ),
    (
        "giveaway_completed.json",
        Other("giveaway_completed", Some(456)),
    ),
    (
        "giveaway_created.json",
        Other("giveaway_created", Some(456)),
    ),
    // A message announcing winners: content the core does not model.
    (
        "giveaway_winners.json",
        Message(Unsupported, Some("giveaway_winners")),
    ),
    ("guest_message.json", Other("guest_message", Some(12345678))),
    ("inline_query.json", Other("inline_query", None)),
    ("location.json", Message(Location, None)),
    ("managed_bot.json", Other("managed_bot", None)),
    ("message.json", Message(Text, None)),
    (
        "message_auto_delete_timer_changed.json",
        Other("message_auto_delete_timer_changed", Some(12345)),
    ),
    (
        "message_boost_added.json",
        Other("boost_added", Some(11111111)),
    ),
    ("message_different_topic.json", Message(Text, None)),
    ("message_different_topic_reply.json", Message(Text, None)),
    ("message_general_topic.json", Message(Text, None)),
    ("message_general_topic_reply.json", Message(Text, None)),
    ("message_topic.json", Message(Text, None)),
    // In the new supergroup (chat 12345 in this fixture), naming the old group.
    (
        "migrate_from_chat_id.json",
        IdChanged {
            chat: 987654321,
            new_chat: 12345,
        },
    ),
    // creator -> creator: neither a block nor an unblock.
    (
        "my_chat_member.json",
        Other("my_chat_member", Some(987654321)),
    ),
    ("new_chat_photo.json", Other("new_chat_photo", Some(12345))),
    ("new_chat_title.json", Other("new_chat_title", Some(12345))),
    ("not_command.json", Message(Text, None)),
    (
        "paid_media_purchased.json",
        Other("purchased_paid_media", None),
    ),
    (
        "passport_data.json",
        Message(Unsupported, Some("passport_data")),
    ),
    ("photo.json", Message(Image, None)),
    ("pinned_message.json", Other("pinned_message", Some(12345))),
    ("poll.json", Other("poll", None)),
    ("poll_answer.json", Other("poll_answer", None)),
    (
        "poll_option_added.json",
        Other("poll_option_added", Some(12345)),
    ),
    ("pre_checkout_query.json", Other("pre_checkout_query", None)),
    (
        "refunded_payment.json",
        Other("refunded_payment", Some(456)),
    ),
    ("shipping_query.json", Other("shipping_query", None)),
    ("subscription.json", Other("subscription", None)),
    (
        "successful_payment.json",
        Other("successful_payment", Some(456)),
    ),
    ("text.json", Message(Text, None)),
    (
        "video_chat_ended.json",
        Other("video_chat_ended", Some(12345)),
    ),
    (
        "video_chat_scheduled.json",
        Other("video_chat_scheduled", Some(12345)),
    ),
    ("video_note.json", Message(Video, None)),
    ("voice.json", Message(Voice, None)),
];

const MESSAGE_KEYS: [&str; 4] = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
];

/// The fields every message event carries, against the raw JSON.
fn check_message_fields(name: &str, key: &str, message: &Value, m: &messenger_core::MessageEvent) {
    assert_eq!(
        m.chat_id.as_str(),
        message["chat"]["id"].to_string(),
        "{name}"
    );
    assert_eq!(
        m.message_id.as_str(),
        message["message_id"].to_string(),
        "{name}"
    );
    assert_eq!(m.edited, key.starts_with("edited_"), "{name}");
    let date = message["date"].as_i64().unwrap();
    let expected_time = if m.edited {
        message["edit_date"].as_i64().unwrap_or(date)
    } else {
        date
    };
    assert_eq!(m.timestamp.timestamp(), expected_time, "{name}");
    if matches!(
        m.content.kind(),
        Text | Image | File | Voice | ContentKind::Audio | Video
    ) {
        let expected_text = message
            .get("text")
            .or_else(|| message.get("caption"))
            .and_then(Value::as_str);
        assert_eq!(m.content.text(), expected_text, "{name}");
    }
    if let Some(from) = message.get("from") {
        let sender = m.sender.as_ref().unwrap();
        assert_eq!(sender.id.as_str(), from["id"].to_string(), "{name}");
        let first = from["first_name"].as_str().unwrap();
        let full = match from.get("last_name").and_then(Value::as_str) {
            Some(last) => format!("{first} {last}"),
            None => first.to_owned(),
        };
        assert_eq!(sender.name.as_deref(), Some(full.as_str()), "{name}");
    }
    if let Some(reply) = message.get("reply_to_message") {
        assert_eq!(
            m.reply_to.as_ref().unwrap().as_str(),
            reply["message_id"].to_string(),
            "{name}"
        );
    }
    if m.content.kind() == Image {
        // The largest size by pixels.
        let largest = message["photo"]
            .as_array()
            .unwrap()
            .iter()
            .max_by_key(|p| p["width"].as_u64().unwrap() * p["height"].as_u64().unwrap())
            .unwrap();
        assert_eq!(
            m.content.media().unwrap().id.as_str(),
            largest["file_id"],
            "{name}"
        );
    }
}

#[test]
#[ignore = "reads shared/fixtures; run with --ignored"]
fn every_update_fixture_maps_as_the_table_says() {
    let dir = fixtures().join("updates");
    let files = json_files(&dir);
    // The folder and the table list the same files: a fixture added or removed is noticed.
    let on_disk: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let in_table: BTreeSet<String> = TABLE.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(on_disk, in_table, "the fixture folder and the table differ");
    let (mut messages, mut others, mut contacts) = (0, 0, 0);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let expect = TABLE.iter().find(|(n, _)| *n == name).unwrap().1;
        let body = std::fs::read(file).unwrap();
        let raw: Value = serde_json::from_slice(&body).unwrap();
        let events = connector_telegram::parse(&body)
            .unwrap_or_else(|e| panic!("{name}: does not parse: {e}"));
        assert_eq!(events.len(), 1, "{name}: one event per update");
        match (expect, &events[0]) {
            (Message(kind, platform_kind), InboundEvent::Message(m)) => {
                messages += 1;
                assert_eq!(m.content.kind(), kind, "{name}");
                if let Some(expected) = platform_kind {
                    assert_eq!(
                        serde_json::to_value(&m.content).unwrap()["platform_kind"],
                        expected,
                        "{name}"
                    );
                }
                let key = MESSAGE_KEYS
                    .iter()
                    .find(|k| raw.get(**k).is_some())
                    .unwrap_or_else(|| panic!("{name}: a message without a message key"));
                check_message_fields(&name, key, &raw[*key], m);
            }
            (Other(kind, chat), InboundEvent::Other(o)) => {
                others += 1;
                assert_eq!(o.kind, kind, "{name}");
                assert_eq!(
                    o.chat_id.as_ref().map(|c| c.as_str().to_owned()),
                    chat.map(|c| c.to_string()),
                    "{name}: chat"
                );
            }
            (IdChanged { chat, new_chat }, InboundEvent::Contact(c)) => {
                contacts += 1;
                assert_eq!(c.change, ContactChange::IdChanged, "{name}");
                assert_eq!(c.chat_id.as_str(), chat.to_string(), "{name}");
                assert_eq!(
                    c.new_chat_id.as_ref().map(|n| n.as_str().to_owned()),
                    Some(new_chat.to_string()),
                    "{name}"
                );
            }
            (expect, event) => panic!("{name}: expected {expect:?}, got {event:?}"),
        }
    }
    // 62 fixtures at the time of writing: 25 messages, 36 others, 1 id change.
    assert!(files.len() >= 60, "only {} fixtures", files.len());
    assert!(
        messages >= 25 && others >= 30 && contacts >= 1,
        "{messages} messages, {others} others, {contacts} contact events"
    );
}

#[test]
#[ignore = "reads shared/fixtures; run with --ignored"]
fn a_message_fixture_is_read_inside_an_update() {
    let dir = fixtures().join("messages");
    let files = json_files(&dir);
    // One row per file: the content kind and Telegram's field name.
    let table: &[(&str, &str)] = &[("rich_message.json", "rich_message")];
    assert_eq!(files.len(), table.len(), "{}", dir.display());
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let (_, platform_kind) = table
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name}: not in the table"));
        let message = std::fs::read_to_string(file).unwrap();
        // Embedded verbatim, not through a `Value`.
        let body = format!(r#"{{"update_id":1,"message":{message}}}"#);
        let events = connector_telegram::parse(body.as_bytes()).unwrap();
        let [InboundEvent::Message(m)] = events.as_slice() else {
            panic!("{name}: {events:?}")
        };
        assert_eq!(m.content.kind(), Unsupported, "{name}");
        assert_eq!(
            serde_json::to_value(&m.content).unwrap()["platform_kind"],
            *platform_kind,
            "{name}"
        );
    }
    assert!(!files.is_empty(), "no message fixtures");
}

#[test]
#[ignore = "reads shared/fixtures; run with --ignored"]
fn response_fixtures_map_as_the_table_says() {
    let dir = fixtures().join("responses");
    let files = json_files(&dir);
    // One row per file: `None` for a success, else the kind, the code and the retry-after.
    type Row = (&'static str, Option<(ErrorKind, &'static str, Option<u64>)>);
    let table: &[Row] = &[
        ("ChatAdministratorRights.json", None),
        ("chat_members.json", None),
        ("too_long.json", Some((ErrorKind::TooLarge, "400", None))),
        (
            "too_many_requests.json",
            Some((ErrorKind::RateLimited, "429", Some(14))),
        ),
        (
            "user_deactivated.json",
            Some((ErrorKind::RecipientBlocked, "403", None)),
        ),
        (
            "wrong_file_id.json",
            Some((ErrorKind::NotFound, "400", None)),
        ),
    ];
    let names: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let rows: BTreeSet<String> = table.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(names, rows, "the fixture folder and the table differ");
    let mut checked = 0;
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let expect = table.iter().find(|(n, _)| *n == name).unwrap().1;
        let body = std::fs::read(file).unwrap();
        let raw: Value = serde_json::from_slice(&body).unwrap();
        match expect {
            None => {
                let result: Value = connector_telegram::error::decode_response(200, &body).unwrap();
                assert_eq!(result, raw["result"], "{name}");
            }
            Some((kind, code, retry_after)) => {
                // The HTTP status equals the code (telegram.md §2).
                let status: u16 = code.parse().unwrap();
                let err =
                    connector_telegram::error::decode_response::<Value>(status, &body).unwrap_err();
                assert_eq!(err.kind(), kind, "{name}");
                assert_eq!(err.platform_code(), Some(code), "{name}");
                assert_eq!(
                    err.retry_after(),
                    retry_after.map(std::time::Duration::from_secs),
                    "{name}"
                );
                // Without an HTTP status (as `messenger parse` reads it), the same class.
                let parsed = connector_telegram::parse(&body).unwrap_err();
                assert_eq!(parsed.kind(), kind, "{name}: parse");
            }
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} response fixtures");
}
