//! `editMessageText` and `deleteMessage`: exact requests, refusals, and checks made before any
//! request.

mod common;

use common::{bot, fail, ok, path, sent_message};
use messenger_core::{ErrorKind, Messenger};
use mockito::Matcher;
use serde_json::json;

#[tokio::test]
async fn edit_text_is_edit_message_text_in_plain_json() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", path("editMessageText").as_str())
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({
            "chat_id": -1001234567890_i64, "message_id": 45, "text": "Fixed <b>text</b>"
        })))
        .with_body(ok(sent_message(45, -1001234567890, 1767225800)))
        .expect(1)
        .create_async()
        .await;
    bot(&server)
        .edit_text(&"-1001234567890".into(), &"45".into(), "Fixed <b>text</b>")
        .await
        .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn editing_to_the_same_text_is_success() {
    // A retried edit (the first answer was lost) finds the text already changed.
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", path("editMessageText").as_str())
        .with_status(400)
        .with_body(fail(
            400,
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        ))
        .create_async()
        .await;
    bot(&server)
        .edit_text(&"5".into(), &"45".into(), "same")
        .await
        .unwrap();
}

#[tokio::test]
async fn edit_refusals_are_mapped() {
    for (status, description, kind) in [
        (
            400,
            "Bad Request: message to edit not found",
            ErrorKind::NotFound,
        ),
        (
            400,
            "Bad Request: message can't be edited",
            ErrorKind::InvalidInput,
        ),
        (
            403,
            "Forbidden: bot was blocked by the user",
            ErrorKind::RecipientBlocked,
        ),
    ] {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("POST", path("editMessageText").as_str())
            .with_status(status)
            .with_body(fail(status as u16, description))
            .create_async()
            .await;
        let err = bot(&server)
            .edit_text(&"5".into(), &"45".into(), "new")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{description}");
    }
}

#[tokio::test]
async fn bad_edits_fail_before_any_request() {
    let mut server = mockito::Server::new_async().await;
    let any = server
        .mock("POST", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let bot = bot(&server);
    let cases = [
        ("5", "45", String::new(), ErrorKind::InvalidInput),
        // 4097 UTF-16 code units: 2048 emoji (2 each) and one letter.
        (
            "5",
            "45",
            format!("{}a", "😀".repeat(2048)),
            ErrorKind::TooLarge,
        ),
        ("not-a-chat", "45", "x".to_owned(), ErrorKind::InvalidInput),
        ("5", "abc", "x".to_owned(), ErrorKind::InvalidInput),
    ];
    for (chat, message, text, kind) in cases {
        let err = bot
            .edit_text(&chat.into(), &message.into(), &text)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{chat} {message}");
    }
    // 4096 code units exactly is within the limit (the request is made and refused here).
    any.assert_async().await;
}

#[tokio::test]
async fn a_text_at_the_limit_is_sent() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", path("editMessageText").as_str())
        .with_body(ok(sent_message(45, 5, 1767225800)))
        .expect(1)
        .create_async()
        .await;
    bot(&server)
        .edit_text(&"5".into(), &"45".into(), &"😀".repeat(2048))
        .await
        .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn delete_message_is_delete_message() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", path("deleteMessage").as_str())
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(
            json!({"chat_id": "@my_channel", "message_id": 7}),
        ))
        .with_body(ok(json!(true)))
        .expect(1)
        .create_async()
        .await;
    bot(&server)
        .delete_message(&"@my_channel".into(), &"7".into())
        .await
        .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn delete_refusals_are_mapped() {
    for (description, kind) in [
        (
            "Bad Request: message to delete not found",
            ErrorKind::NotFound,
        ),
        (
            "Bad Request: message can't be deleted",
            ErrorKind::InvalidInput,
        ),
    ] {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("POST", path("deleteMessage").as_str())
            .with_status(400)
            .with_body(fail(400, description))
            .create_async()
            .await;
        let err = bot(&server)
            .delete_message(&"5".into(), &"7".into())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{description}");
    }
}

#[tokio::test]
async fn an_unreadable_answer_to_an_edit_may_have_been_done() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", path("deleteMessage").as_str())
        .with_body("<html>captive portal</html>")
        .create_async()
        .await;
    let err = bot(&server)
        .delete_message(&"5".into(), &"7".into())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.delivery(), messenger_core::Delivery::MaybeSent);
}
