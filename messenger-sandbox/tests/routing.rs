//! Each platform is served under its own prefix only: `{base}/telegram/...`,
//! `{base}/whatsapp/...` and `{base}/vk/...`; the paths of one platform mean nothing under another's prefix or at
//! the root, so a new platform's paths (VK's `/method/...`) cannot collide with them.

mod common;

use common::{client, png, sandbox};
use messenger_sandbox::{AccountSpec, CustomerMessage, MediaUpload, MessageKind, NewCustomer};
use serde_json::Value;

#[tokio::test]
async fn platform_paths_live_under_their_prefix_only() {
    let sandbox = sandbox().await;
    let http = client();
    let base = &sandbox.urls().base;
    let bot = sandbox.create_account(&AccountSpec::telegram()).unwrap();
    let number = sandbox.create_account(&AccountSpec::whatsapp()).unwrap();

    // Under the prefix: the platform answers.
    let ok = http
        .get(format!(
            "{}/bot{}/getMe",
            sandbox.urls().telegram(),
            bot.token
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let ok = http
        .get(format!("{}/v25.0/{}", sandbox.urls().whatsapp(), number.id))
        .bearer_auth(&number.token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    // At the root, or under the other platform's prefix: nothing.
    for url in [
        format!("{base}/bot{}/getMe", bot.token),
        format!("{base}/v25.0/{}", number.id),
        format!("{}/bot{}/getMe", sandbox.urls().whatsapp(), bot.token),
        format!("{}/v25.0/{}", sandbox.urls().telegram(), number.id),
        format!("{base}/method/groups.getById"),
        format!("{}/method/groups.getById", sandbox.urls().telegram()),
    ] {
        let resp = http
            .get(&url)
            .bearer_auth(&number.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{url}");
    }
    // Telegram's own 404 shape for any unknown path under its prefix.
    let body: Value = http
        .get(format!(
            "{}/bot{}/a/b",
            sandbox.urls().telegram(),
            bot.token
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["ok"], false);
    assert_eq!(body["error_code"], 404);
}

#[tokio::test]
async fn media_urls_point_under_the_platform_root() {
    let sandbox = sandbox().await;
    let http = client();

    let bot = sandbox.create_account(&AccountSpec::telegram()).unwrap();
    let ivan = sandbox
        .create_customer(&bot.id, &NewCustomer::named("Ivan"))
        .unwrap();
    let image = png(4, 4, 10);
    let receipt = sandbox
        .customer_sends(
            &bot.id,
            &ivan.id,
            &CustomerMessage::media(MediaUpload::new(MessageKind::Image, image.clone())),
        )
        .unwrap();
    let file: Value = http
        .get(format!(
            "{}/bot{}/getFile?file_id={}",
            sandbox.urls().telegram(),
            bot.token,
            receipt.media_id.unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = file["result"]["file_path"].as_str().unwrap();
    let bytes = http
        .get(format!(
            "{}/file/bot{}/{path}",
            sandbox.urls().telegram(),
            bot.token
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), image.as_slice());
    let old = http
        .get(format!(
            "{}/file/bot{}/{path}",
            sandbox.urls().base,
            bot.token
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 404);

    let number = sandbox.create_account(&AccountSpec::whatsapp()).unwrap();
    let maria = sandbox
        .create_customer(&number.id, &NewCustomer::named("Maria"))
        .unwrap();
    let receipt = sandbox
        .customer_sends(
            &number.id,
            &maria.id,
            &CustomerMessage::media(MediaUpload::new(MessageKind::Image, image.clone())),
        )
        .unwrap();
    let info: Value = http
        .get(format!(
            "{}/v25.0/{}",
            sandbox.urls().whatsapp(),
            receipt.media_id.unwrap()
        ))
        .bearer_auth(&number.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = info["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/whatsapp_business/attachments/?",
            sandbox.urls().whatsapp()
        )),
        "{url}"
    );
    let bytes = http
        .get(url)
        .bearer_auth(&number.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), image.as_slice());
}
