//! `parse` and the mapping of every update and content kind (payloads written from the platform
//! sheet), including the stable JSON of the events.

use connector_telegram::parse;
use messenger_core::{ContactChange, Content, ContentKind, ErrorKind, InboundEvent, MessageEvent};
use serde_json::{Value, json};

fn update_with(key: &str, fields: Value) -> Value {
    let mut message = json!({
        "message_id": 43,
        "from": {"id": 123456789, "is_bot": false, "first_name": "Ivan", "last_name": "Petrov"},
        "chat": {"id": -1001234567890_i64, "type": "supergroup", "title": "Team"},
        "date": 1767225660
    });
    for (k, v) in fields.as_object().unwrap() {
        message[k] = v.clone();
    }
    json!({ "update_id": 812345679, key: message })
}

fn one_message(update: Value) -> MessageEvent {
    let mut events = parse(update.to_string().as_bytes()).unwrap();
    assert_eq!(events.len(), 1);
    match events.remove(0) {
        InboundEvent::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn content(fields: Value) -> Content {
    one_message(update_with("message", fields)).content
}

#[test]
fn text_message_maps_every_field_and_serialises_stably() {
    let m = one_message(update_with(
        "message",
        json!({"text": "hello", "reply_to_message": {"message_id": 41, "date": 1, "chat": {"id": 1, "type": "private"}}}),
    ));
    assert_eq!(
        serde_json::to_value(InboundEvent::Message(m)).unwrap(),
        json!({
            "type": "message",
            "platform": "telegram",
            "chat_id": "-1001234567890",
            "message_id": "43",
            "sender": {"id": "123456789", "name": "Ivan Petrov"},
            "timestamp": "2026-01-01T00:01:00Z",
            "reply_to": "41",
            "edited": false,
            "content": {"kind": "text", "text": "hello"}
        })
    );
}

#[test]
fn photo_takes_the_largest_size_and_the_caption() {
    let c = content(json!({
        "photo": [
            {"file_id": "small", "file_unique_id": "a", "width": 90, "height": 67, "file_size": 1432},
            {"file_id": "large", "file_unique_id": "c", "width": 1280, "height": 960, "file_size": 160233},
            {"file_id": "medium", "file_unique_id": "b", "width": 320, "height": 240, "file_size": 21450}
        ],
        "caption": "receipt"
    }));
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({"kind": "image", "media": {"id": "large", "mime_type": null, "file_name": null, "size": 160233}, "caption": "receipt"})
    );
}

#[test]
fn voice_audio_document_video_map_their_media() {
    let cases = [
        ("voice", ContentKind::Voice),
        ("audio", ContentKind::Audio),
        ("document", ContentKind::File),
        ("video", ContentKind::Video),
        ("video_note", ContentKind::Video),
        ("animation", ContentKind::Video),
    ];
    for (key, kind) in cases {
        let c = content(json!({
            key: {"file_id": format!("{key}-id"), "file_unique_id": "u", "duration": 3,
                  "mime_type": "application/x-test", "file_name": "f.bin", "file_size": 10240},
            "caption": "cap"
        }));
        assert_eq!(c.kind(), kind, "{key}");
        let media = c.media().unwrap();
        assert_eq!(media.id.as_str(), format!("{key}-id"));
        assert_eq!(media.size, Some(10240));
        assert_eq!(media.mime_type.as_deref(), Some("application/x-test"));
        assert_eq!(media.file_name.as_deref(), Some("f.bin"));
        assert_eq!(c.text(), Some("cap"), "{key}");
    }
}

#[test]
fn animation_wins_over_its_compatibility_document() {
    let c = content(json!({
        "animation": {"file_id": "anim", "file_unique_id": "u", "mime_type": "video/mp4"},
        "document": {"file_id": "anim", "file_unique_id": "u", "mime_type": "video/mp4"}
    }));
    assert_eq!(c.kind(), ContentKind::Video);
}

#[test]
fn video_note_is_mp4_video() {
    let c = content(
        json!({"video_note": {"file_id": "vn", "file_unique_id": "u", "length": 384, "duration": 3}}),
    );
    assert_eq!(c.media().unwrap().mime_type.as_deref(), Some("video/mp4"));
}

#[test]
fn sticker_location_venue_contact() {
    let c = content(
        json!({"sticker": {"file_id": "st", "file_unique_id": "u", "type": "regular",
        "width": 512, "height": 512, "is_animated": false, "is_video": false, "emoji": "👍"}}),
    );
    assert_eq!(
        c,
        Content::Sticker {
            media: messenger_core::MediaRef::new("st"),
            emoji: Some("👍".into())
        }
    );
    let c = content(json!({"location": {"latitude": 55.75, "longitude": 37.62}}));
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({"kind": "location", "latitude": 55.75, "longitude": 37.62, "name": null, "address": null})
    );
    let c = content(json!({
        "location": {"latitude": 55.75, "longitude": 37.62},
        "venue": {"location": {"latitude": 55.75, "longitude": 37.62}, "title": "Office", "address": "Tverskaya 1"}
    }));
    assert!(matches!(c, Content::Location { ref name, ref address, .. }
        if name.as_deref() == Some("Office") && address.as_deref() == Some("Tverskaya 1")));
    let c = content(
        json!({"contact": {"phone_number": "+79990000000", "first_name": "Anna", "last_name": "K", "user_id": 555}}),
    );
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({"kind": "contact", "name": "Anna K", "phone": "+79990000000", "user_id": "555"})
    );
}

#[test]
fn poll_dice_game_are_unsupported_with_their_name() {
    for key in ["poll", "dice", "game", "story", "invoice"] {
        let c = content(json!({ key: {"id": "1"} }));
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"kind": "unsupported", "platform_kind": key})
        );
    }
}

#[test]
fn service_messages_are_other_events_in_their_chat() {
    for (key, value) in [
        ("new_chat_title", json!("New title")),
        (
            "pinned_message",
            json!({"message_id": 1, "date": 0, "chat": {"id": 1, "type": "group"}}),
        ),
        (
            "new_chat_members",
            json!([{"id": 1, "is_bot": false, "first_name": "A"}]),
        ),
    ] {
        for container in ["message", "edited_channel_post"] {
            let update = update_with(container, json!({ key: value }));
            let events = parse(update.to_string().as_bytes()).unwrap();
            assert_eq!(
                serde_json::to_value(&events).unwrap(),
                json!([{"type": "other", "platform": "telegram", "kind": key,
                        "chat_id": "-1001234567890"}]),
                "{container} {key}"
            );
        }
    }
}

#[test]
fn a_group_upgraded_to_a_supergroup_is_an_id_change() {
    // In the old group: `migrate_to_chat_id` names the new supergroup.
    let mut update = update_with("message", json!({"migrate_to_chat_id": -1001234567890_i64}));
    update["message"]["chat"] = json!({"id": -4012345678_i64, "type": "group", "title": "Team"});
    let events = parse(update.to_string().as_bytes()).unwrap();
    let expected = json!([{
        "type": "contact", "platform": "telegram", "chat_id": "-4012345678",
        "user_id": "123456789", "change": "id_changed", "new_chat_id": "-1001234567890",
        "timestamp": "2026-01-01T00:01:00Z"
    }]);
    assert_eq!(serde_json::to_value(&events).unwrap(), expected);
    // In the new supergroup: `migrate_from_chat_id` names the old group; the same pair.
    let update = update_with("message", json!({"migrate_from_chat_id": -4012345678_i64}));
    let events = parse(update.to_string().as_bytes()).unwrap();
    assert_eq!(serde_json::to_value(&events).unwrap(), expected);
}

#[test]
fn service_updates_carry_the_chat_they_concern() {
    let chat = json!({"id": -1001234567890_i64, "type": "supergroup", "title": "Team"});
    let user = json!({"id": 123456789, "is_bot": false, "first_name": "Ivan"});
    let message = json!({"message_id": 9, "date": 1767225600, "chat": chat, "text": "hi"});
    let member = json!({"status": "member", "user": user});
    let cases = [
        // Payload shapes from the Bot API 10.1 types (CallbackQuery, ChatMemberUpdated,
        // ChatJoinRequest, MessageReactionUpdated, ...).
        (
            "callback_query",
            json!({"id": "4", "from": user, "chat_instance": "1", "data": "d", "message": message}),
        ),
        (
            "callback_query",
            json!({"id": "4", "from": user, "chat_instance": "1",
            "message": {"chat": chat, "message_id": 9, "date": 0}}),
        ),
        (
            "chat_member",
            json!({"chat": chat, "from": user, "date": 1767225600,
            "old_chat_member": {"status": "left", "user": user}, "new_chat_member": member}),
        ),
        (
            "chat_join_request",
            json!({"chat": chat, "from": user, "user_chat_id": 123456789, "date": 1767225600}),
        ),
        (
            "message_reaction",
            json!({"chat": chat, "message_id": 9, "user": user, "date": 1767225600,
            "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}]}),
        ),
        (
            "message_reaction_count",
            json!({"chat": chat, "message_id": 9, "date": 1767225600, "reactions": []}),
        ),
        (
            "chat_boost",
            json!({"chat": chat, "boost": {"boost_id": "b"}}),
        ),
        (
            "removed_chat_boost",
            json!({"chat": chat, "boost_id": "b", "remove_date": 1}),
        ),
        ("business_message", message.clone()),
        ("edited_business_message", message.clone()),
        (
            "deleted_business_messages",
            json!({"business_connection_id": "c", "chat": chat, "message_ids": [1]}),
        ),
        ("guest_message", message.clone()),
    ];
    for (key, payload) in cases {
        let update = json!({"update_id": 5, key: payload});
        let events = parse(update.to_string().as_bytes()).unwrap();
        assert_eq!(
            serde_json::to_value(&events).unwrap(),
            json!([{"type": "other", "platform": "telegram", "kind": key, "chat_id": "-1001234567890"}]),
            "{key}"
        );
    }
    // A business connection concerns the private chat with the business user.
    let update = json!({"update_id": 6, "business_connection": {"id": "c", "user": user,
        "user_chat_id": 123456789, "date": 1767225600, "is_enabled": true}});
    assert_eq!(
        serde_json::to_value(parse(update.to_string().as_bytes()).unwrap()).unwrap(),
        json!([{"type": "other", "platform": "telegram", "kind": "business_connection", "chat_id": "123456789"}])
    );
}

#[test]
fn chat_less_updates_have_no_chat() {
    let user = json!({"id": 123456789, "is_bot": false, "first_name": "Ivan"});
    for (key, payload) in [
        (
            "inline_query",
            json!({"id": "1", "from": user, "query": "pizza", "offset": "", "chat_type": "private"}),
        ),
        (
            "chosen_inline_result",
            json!({"result_id": "r", "from": user, "query": "q"}),
        ),
        (
            "callback_query",
            json!({"id": "4", "from": user, "chat_instance": "1", "inline_message_id": "m"}),
        ),
        (
            "callback_query",
            json!({"id": "4", "from": user, "chat_instance": "1", "message": null}),
        ),
        (
            "poll",
            json!({"id": "p", "question": "?", "options": [], "total_voter_count": 0}),
        ),
        (
            "poll_answer",
            json!({"poll_id": "p", "user": user, "option_ids": [0]}),
        ),
        (
            "shipping_query",
            json!({"id": "s", "from": user, "invoice_payload": "x"}),
        ),
        (
            "pre_checkout_query",
            json!({"id": "s", "from": user, "currency": "RUB", "total_amount": 1}),
        ),
        (
            "purchased_paid_media",
            json!({"from": user, "paid_media_payload": "x"}),
        ),
    ] {
        let update = json!({"update_id": 7, key: payload});
        assert_eq!(
            serde_json::to_value(parse(update.to_string().as_bytes()).unwrap()).unwrap(),
            json!([{"type": "other", "platform": "telegram", "kind": key}]),
            "{key}"
        );
    }
}

#[test]
fn edits_and_channel_posts() {
    let m = one_message(update_with(
        "edited_message",
        json!({"text": "fixed", "edit_date": 1767225700}),
    ));
    assert!(m.edited);
    assert_eq!(m.timestamp.timestamp(), 1767225700);
    let m = one_message(update_with("channel_post", json!({"text": "news"})));
    assert!(!m.edited);
    assert_eq!(m.timestamp.timestamp(), 1767225660);
    let m = one_message(update_with(
        "edited_channel_post",
        json!({"text": "news!", "edit_date": 1767225999}),
    ));
    assert!(m.edited);
}

#[test]
fn channel_post_without_from_uses_the_sender_chat() {
    let update = json!({"update_id": 1, "channel_post": {
        "message_id": 5, "date": 1767225600,
        "chat": {"id": -1009, "type": "channel", "title": "News"},
        "sender_chat": {"id": -1009, "type": "channel", "title": "News"},
        "text": "hi"}});
    let m = one_message(update);
    let sender = m.sender.unwrap();
    assert_eq!(sender.id.as_str(), "-1009");
    assert_eq!(sender.name.as_deref(), Some("News"));
}

fn member_update(chat_type: &str, old: &str, new: &str) -> Value {
    json!({"update_id": 2, "my_chat_member": {
        "chat": {"id": 123456789, "type": chat_type, "first_name": "Ivan"},
        "from": {"id": 123456789, "is_bot": false, "first_name": "Ivan"},
        "date": 1767225600,
        "old_chat_member": {"status": old, "user": {"id": 7000000001_i64, "is_bot": true, "first_name": "MyBot"}},
        "new_chat_member": {"status": new, "user": {"id": 7000000001_i64, "is_bot": true, "first_name": "MyBot"}, "until_date": 0}
    }})
}

#[test]
fn my_chat_member_in_private_chats_is_block_and_unblock() {
    let events = parse(
        member_update("private", "member", "kicked")
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&events).unwrap(),
        json!([{"type": "contact", "platform": "telegram", "chat_id": "123456789",
                "user_id": "123456789", "change": "blocked", "timestamp": "2026-01-01T00:00:00Z"}])
    );
    let events = parse(
        member_update("private", "kicked", "member")
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let InboundEvent::Contact(c) = &events[0] else {
        panic!()
    };
    assert_eq!(c.change, ContactChange::Unblocked);
    // In a group, the bot's membership is not a customer's block.
    let events = parse(
        member_update("group", "member", "kicked")
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&events).unwrap(),
        json!([{"type": "other", "platform": "telegram", "kind": "my_chat_member",
                "chat_id": "123456789"}])
    );
}

#[test]
fn other_update_types_are_other_with_their_name() {
    for key in [
        "callback_query",
        "chat_member",
        "inline_query",
        "poll_answer",
        "message_reaction",
        "business_message",
        "never_seen_before",
    ] {
        let update = json!({"update_id": 3, key: {"id": "x"}});
        let events = parse(update.to_string().as_bytes()).unwrap();
        assert_eq!(
            serde_json::to_value(&events).unwrap(),
            json!([{"type": "other", "platform": "telegram", "kind": key}])
        );
    }
}

#[test]
fn get_updates_answers_and_arrays_are_accepted() {
    let updates = json!([
        update_with("message", json!({"text": "one"})),
        {"update_id": 812345680, "poll": {"id": "p"}},
        update_with("message", json!({"text": "two"}))
    ]);
    let response = json!({"ok": true, "result": updates});
    let events = parse(response.to_string().as_bytes()).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events, parse(updates.to_string().as_bytes()).unwrap());
    let InboundEvent::Message(m) = &events[2] else {
        panic!()
    };
    assert_eq!(m.content.text(), Some("two"));
    assert!(parse(br#"{"ok":true,"result":[]}"#).unwrap().is_empty());
}

#[test]
fn error_answers_are_their_mapped_error() {
    let err = parse(br#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
}

#[test]
fn malformed_input_is_decode_never_a_panic() {
    for body in [
        &b""[..],
        b"{",
        b"null",
        b"42",
        b"\"update\"",
        b"{\"update_id\":\"x\"}",
        b"{\"message\":{\"text\":\"no update id\"}}",
        b"{\"update_id\":1,\"message\":{\"message_id\":1}}",
        b"{\"update_id\":1,\"message\":{\"message_id\":1,\"date\":1,\"chat\":{\"id\":1},\"photo\":{}}}",
        b"{\"ok\":true}",
        b"{\"ok\":true,\"result\":{}}",
        b"[1,2]",
        b"\xff\xfe\xfd",
    ] {
        let err = parse(body).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{:?}", String::from_utf8_lossy(body));
        // Each says what failed, never "line 0 column 0".
        assert!(!err.message().contains("line 0"), "{err}");
        assert!(err.message().len() > 20, "{err}");
    }
}

#[test]
fn decode_errors_say_what_failed() {
    let cases: [(&[u8], &str); 5] = [
        (b"", "the body is not a Telegram update: the body is empty"),
        (
            br#"{"update_id":1,"message":{"message_id":1}}"#,
            "the body is not a Telegram update: missing field `chat` at line 1 column 41",
        ),
        (
            br#"[{"update_id":1,"poll":{}},{"message":{}}]"#,
            "update 1: the body is not a Telegram update: missing field `message_id` at line 1 column 13",
        ),
        (
            br#"{"ok":true,"result":{}}"#,
            "the body is not a getUpdates answer: a value of the wrong type (expected a sequence) at line 1 column 20",
        ),
        (
            b"42",
            "expected a Telegram Update, an array of updates or a getUpdates answer",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(parse(body).unwrap_err().message(), message);
    }
}

#[test]
fn decode_errors_do_not_quote_the_body() {
    let err = parse(br#"{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":1},"text":["private words"]}}"#)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(!err.to_string().contains("private"), "{err}");
}
