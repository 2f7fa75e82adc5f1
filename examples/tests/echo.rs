//! The echo bot of `examples/echo_bot.rs` runs against the sandbox: on VK, Telegram and MAX, the
//! customer writes and their phone shows the echo; media is answered with its kind and size; a
//! customer who writes `СТОП` hears nothing more; the stop signal ends the loop.

use std::time::Duration;

use messenger_core::Platform;
use messenger_sandbox::{
    AccountSpec, CustomerMessage, MediaUpload, MessageKind, MessageView, NewCustomer, Sandbox,
};
use tokio::sync::oneshot;

/// How long the test waits for one thing to happen.
const WAIT: Duration = Duration::from_secs(15);

/// A 1x1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x04, 0x00, 0x00, 0x00, 0xb5, 0x1c, 0x0c,
    0x02, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x64, 0x60, 0x00, 0x00,
    0x00, 0x06, 0x00, 0x02, 0x30, 0x81, 0xd0, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

/// Waits until the customer's phone shows `count` messages from the bot.
async fn phone_shows(
    sandbox: &Sandbox,
    account: &str,
    customer: &str,
    count: usize,
) -> Vec<MessageView> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let received = sandbox.received(account, customer).unwrap();
        if received.len() >= count {
            return received;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the phone shows {} messages, not {count}, after {WAIT:?}",
            received.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn echo_on(platform: Platform, spec: AccountSpec, customer: NewCustomer) {
    let sandbox = Sandbox::start("127.0.0.1:0").await.unwrap();
    let account = sandbox.create_account(&spec).unwrap().id;
    let customer = sandbox.create_customer(&account, &customer).unwrap().id;

    // Exactly what `ECHO_PLATFORM=... ECHO_SANDBOX=... cargo run --example echo_bot` does.
    let bot = messenger_examples::connector(platform, Some(&sandbox.urls().base))
        .await
        .unwrap();
    let messenger = messenger_examples::stack(bot, "echo-test").await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(messenger_examples::echo(messenger, async {
        let _ = stopped.await;
    }));

    sandbox
        .customer_sends(&account, &customer, &CustomerMessage::text("привет, бот"))
        .unwrap();
    let received = phone_shows(&sandbox, &account, &customer, 1).await;
    let echo = received[0].text.as_deref().unwrap();
    assert!(
        echo.starts_with("привет, бот"),
        "{platform}: the echo (with the first contact's opt-out notice): {echo}"
    );
    let question = &sandbox.messages(&account, &customer).unwrap()[0];
    assert_eq!(received[0].reply_to.as_deref(), Some(question.id.as_str()));

    sandbox
        .customer_sends(
            &account,
            &customer,
            &CustomerMessage::media(
                MediaUpload::new(MessageKind::Image, PNG).mime_type("image/png"),
            ),
        )
        .unwrap();
    let received = phone_shows(&sandbox, &account, &customer, 2).await;
    // Telegram gives the photo's size; VK and MAX give none for photos.
    let size = if platform == Platform::Telegram {
        68
    } else {
        0
    };
    assert_eq!(
        received[1].text.as_deref(),
        Some(format!("got a image of {size} bytes").as_str()),
        "{platform}"
    );

    // СТОП: the stop word is not echoed (the gate refuses), and nothing more comes.
    sandbox
        .customer_sends(&account, &customer, &CustomerMessage::text("СТОП"))
        .unwrap();
    sandbox
        .customer_sends(&account, &customer, &CustomerMessage::text("ещё"))
        .unwrap();
    // Give the bot time to see both (a refusal makes no request there is to wait for).
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.send(()).unwrap();
    let stats = tokio::time::timeout(WAIT, task)
        .await
        .expect("the echo bot stops when told")
        .unwrap()
        .unwrap();
    assert_eq!(
        sandbox.received(&account, &customer).unwrap().len(),
        2,
        "{platform}: nothing after СТОП"
    );
    assert_eq!(stats.echoed, 2, "{platform}: {stats:?}");
    assert!(stats.skipped <= 2, "{platform}: {stats:?}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_bot_answers_on_vk_in_the_sandbox() {
    echo_on(
        Platform::Vk,
        AccountSpec::vk(),
        NewCustomer::named("Anna").allows_messages(true),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_bot_answers_on_telegram_in_the_sandbox() {
    echo_on(
        Platform::Telegram,
        AccountSpec::telegram(),
        NewCustomer::named("Ivan"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_bot_answers_on_max_in_the_sandbox() {
    echo_on(
        Platform::Max,
        AccountSpec::new(Platform::Max),
        NewCustomer::named("Anna"),
    )
    .await;
}
