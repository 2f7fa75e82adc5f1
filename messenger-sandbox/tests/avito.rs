//! The Avito emulation, exercised with plain reqwest as a connector would: OAuth (three grants,
//! expiry on the sandbox clock, refresh rotation, the consent page, scopes), `accounts/self`,
//! chats and messages (`unread_only`, `is_read`, `read`), text and image sends, deletes within
//! the hour, chat reads, voice links that expire, webhook v3 subscriptions and deliveries with
//! the URL token, faults, credentials and the demo account.

mod common;

use std::time::Duration;

use common::{Receiver, client, ogg, pdf, png, sandbox};
use messenger_core::Platform;
use messenger_core::registry::BASE_URL;
use messenger_sandbox::{
    AccountPatch, AccountSpec, CustomerMessage, Fault, FaultSpec, MediaUpload, MessageKind,
    MessageStatus, NewCustomer, Sandbox, SandboxAccount,
};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const DAY: Duration = Duration::from_secs(24 * 3600);

struct Shop {
    sandbox: Sandbox,
    account: SandboxAccount,
    chat: String,
    http: reqwest::Client,
}

impl Shop {
    async fn new() -> Self {
        let sandbox = sandbox().await;
        let account = sandbox
            .create_account(&AccountSpec::new(Platform::Avito).name("Магазин"))
            .unwrap();
        let chat = sandbox
            .create_customer(&account.id, &NewCustomer::named("Marina"))
            .unwrap()
            .id;
        Self {
            sandbox,
            account,
            chat,
            http: client(),
        }
    }

    fn root(&self) -> String {
        self.sandbox
            .urls()
            .platform(Platform::Avito)
            .unwrap()
            .to_string()
    }

    fn secret(&self) -> String {
        self.account.app_secret.clone().unwrap()
    }

    async fn token_form(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/token", self.root()))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// A client-credentials access token.
    async fn token(&self) -> String {
        let (status, body) = self
            .token_form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &self.account.token),
                ("client_secret", &self.secret()),
            ])
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// `{root}/messenger/{version}/accounts/{user}/{rest}`.
    fn account_url(&self, version: &str, rest: &str) -> String {
        format!(
            "{}/messenger/{version}/accounts/{}/{rest}",
            self.root(),
            self.account.id
        )
    }

    async fn call(
        &self,
        method: Method,
        url: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn messages(&self, token: &str) -> Vec<Value> {
        let url = self.account_url("v3", &format!("chats/{}/messages/", self.chat));
        let (status, body) = self.call(Method::GET, &url, token, None).await;
        assert_eq!(status, 200, "{body}");
        body.as_array().unwrap().clone()
    }

    async fn send_text(&self, token: &str, text: &str) -> (StatusCode, Value) {
        let url = self.account_url("v1", &format!("chats/{}/messages", self.chat));
        self.call(
            Method::POST,
            &url,
            token,
            Some(json!({"message": {"text": text}, "type": "text"})),
        )
        .await
    }

    async fn upload(&self, token: &str, field: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let form = Form::new().part(field.to_string(), Part::bytes(bytes).file_name("photo.png"));
        let response = self
            .http
            .post(self.account_url("v1", "uploadImages"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn client_credentials_tokens_expire_on_the_sandbox_clock() {
    let shop = Shop::new().await;
    let (status, body) = shop
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &shop.account.token),
            ("client_secret", &shop.secret()),
        ])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], 86_400);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let token = body["access_token"].as_str().unwrap();

    let me = format!("{}/core/v1/accounts/self", shop.root());
    let (status, body) = shop.call(Method::GET, &me, token, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"].to_string(), shop.account.id);
    assert_eq!(body["name"], "Магазин");

    // A day later the token answers 403 (avito.md §1); a new one works.
    shop.sandbox.advance_clock(DAY - Duration::from_secs(1));
    assert_eq!(shop.call(Method::GET, &me, token, None).await.0, 200);
    shop.sandbox.advance_clock(Duration::from_secs(2));
    let (status, body) = shop.call(Method::GET, &me, token, None).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], 403);
    let fresh = shop.token().await;
    assert_eq!(shop.call(Method::GET, &me, &fresh, None).await.0, 200);

    // No token, or one never issued: 401.
    assert_eq!(shop.call(Method::GET, &me, "made-up", None).await.0, 401);
    let response = shop.http.get(&me).send().await.unwrap();
    assert_eq!(response.status(), 401);

    // Bad client credentials and grants, in the OAuth 2 shape.
    for (form, status, error) in [
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", shop.account.token.as_str()),
                ("client_secret", "wrong"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "nobody"),
                ("client_secret", "x"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", shop.account.token.as_str()),
                ("client_secret", shop.account.app_secret.as_deref().unwrap()),
            ],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", shop.account.token.as_str()),
                ("client_secret", shop.account.app_secret.as_deref().unwrap()),
                ("refresh_token", "never-issued"),
            ],
            400,
            "invalid_grant",
        ),
    ] {
        let (got, body) = shop.token_form(&form).await;
        assert_eq!(
            (got.as_u16(), body["error"].as_str()),
            (status, Some(error))
        );
    }
    // Nothing logged a token.
    let requests = shop.sandbox.requests(&shop.account.id).unwrap();
    assert!(requests.iter().any(|r| r.operation == "token"));
    assert!(requests.iter().any(|r| r.operation == "getUserInfoSelf"
        && r.status == 403
        && r.error.as_deref() == Some("403")));
}

#[tokio::test]
async fn the_authorization_code_flow_rotates_refresh_tokens() {
    let shop = Shop::new().await;
    let browser = no_redirects();
    let consent = format!(
        "{}/oauth?response_type=code&pro_users_flow=true&client_id={}&scope=messenger:read,messenger:write,user:read&state=st-1",
        shop.root(),
        shop.account.token
    );
    let response = browser.get(&consent).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/oauth/callback?", shop.root())),
        "{location}"
    );
    let params = query_of(&location);
    assert_eq!(params["state"], "st-1");
    let code = params["code"].clone();
    // The callback page shows what a user pastes.
    let page: Value = client()
        .get(&location)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page, json!({"code": code, "state": "st-1"}));

    let exchange = |code: String| {
        let shop = &shop;
        async move {
            shop.token_form(&[
                ("grant_type", "authorization_code"),
                ("client_id", &shop.account.token),
                ("client_secret", &shop.secret()),
                ("code", &code),
            ])
            .await
        }
    };
    let (status, tokens) = exchange(code.clone()).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "messenger:read,messenger:write,user:read");
    let refresh_1 = tokens["refresh_token"].as_str().unwrap().to_string();
    let access_1 = tokens["access_token"].as_str().unwrap().to_string();
    // A code is used once.
    let (status, body) = exchange(code).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // A day later the access token is refused; the refresh gives a new pair and the old
    // refresh token is refused from then on.
    shop.sandbox.advance_clock(DAY + Duration::from_secs(1));
    let me = format!("{}/core/v1/accounts/self", shop.root());
    assert_eq!(shop.call(Method::GET, &me, &access_1, None).await.0, 403);
    let refresh = |token: String| {
        let shop = &shop;
        async move {
            shop.token_form(&[
                ("grant_type", "refresh_token"),
                ("client_id", &shop.account.token),
                ("client_secret", &shop.secret()),
                ("refresh_token", &token),
            ])
            .await
        }
    };
    let (status, tokens) = refresh(refresh_1.clone()).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh_2 = tokens["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh_2, refresh_1, "rotated");
    let access_2 = tokens["access_token"].as_str().unwrap();
    let (status, body) = shop.call(Method::GET, &me, access_2, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"].to_string(), shop.account.id);
    let (status, body) = refresh(refresh_1).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(refresh(refresh_2).await.0, 200);

    // A declined consent redirects with the error; a narrower scope is enforced.
    let response = browser
        .get(format!(
            "{consent}&decision=deny&redirect_uri=https://crm.example/cb"
        ))
        .send()
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("https://crm.example/cb?"),
        "{location}"
    );
    assert_eq!(query_of(&location)["error"], "access_denied");
    let read_only = format!(
        "{}/oauth?response_type=code&client_id={}&scope=messenger:read&state=s",
        shop.root(),
        shop.account.token
    );
    let location = browser.get(&read_only).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let (_, tokens) = exchange(query_of(&location)["code"].clone()).await;
    let narrow = tokens["access_token"].as_str().unwrap();
    let (status, body) = shop.send_text(narrow, "hi").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("messenger:write")
    );
    assert_eq!(shop.call(Method::GET, &me, narrow, None).await.0, 403);
    assert_eq!(shop.messages(narrow).await.len(), 0);

    // A third-party app: another account logs in on this app's consent page.
    let other = shop
        .sandbox
        .create_account(&AccountSpec::new(Platform::Avito).id("51000001"))
        .unwrap();
    let location = browser
        .get(format!("{consent}&login={}", other.id))
        .send()
        .await
        .unwrap()
        .headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let (_, tokens) = exchange(query_of(&location)["code"].clone()).await;
    let (_, body) = shop
        .call(
            Method::GET,
            &me,
            tokens["access_token"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(body["id"], 51_000_001);
}

#[tokio::test]
async fn chats_messages_reads_and_sends() {
    let shop = Shop::new().await;
    assert!(
        shop.chat.starts_with("u2i-") && shop.chat.len() == 26,
        "{}",
        shop.chat
    );
    let token = shop.token().await;
    let chats_url = |query: &str| format!("{}?{query}", shop.account_url("v2", "chats"));

    let (_, chats) = shop
        .call(Method::GET, &chats_url("unread_only=true"), &token, None)
        .await;
    assert_eq!(chats["chats"], json!([]));

    shop.sandbox
        .customer_sends(
            &shop.account.id,
            &shop.chat,
            &CustomerMessage::text("Ещё продаётся?"),
        )
        .unwrap();
    let (status, chats) = shop
        .call(
            Method::GET,
            &chats_url("unread_only=true&chat_types=u2i,u2u&limit=100&offset=0"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let chat = &chats["chats"][0];
    assert_eq!(chat["id"], shop.chat.as_str());
    assert_eq!(chat["context"]["type"], "item");
    assert_eq!(chat["users"][0]["id"].to_string(), shop.account.id);
    assert_eq!(chat["users"][1]["name"], "Marina");
    assert_eq!(chat["last_message"]["content"]["text"], "Ещё продаётся?");
    // A profile-chat filter leaves it out.
    let (_, none) = shop
        .call(Method::GET, &chats_url("chat_types=u2u"), &token, None)
        .await;
    assert_eq!(none["chats"], json!([]));

    let messages = shop.messages(&token).await;
    assert_eq!(messages.len(), 1);
    let inbound = &messages[0];
    assert_eq!(inbound["direction"], "in");
    assert_eq!(inbound["is_read"], false);
    assert_eq!(inbound["read"], Value::Null);
    assert_ne!(inbound["author_id"].to_string(), shop.account.id);
    assert_eq!(inbound["id"].as_str().unwrap().len(), 32);

    // Reading the messages does not mark the chat read; chatRead does.
    let (_, still) = shop
        .call(Method::GET, &chats_url("unread_only=true"), &token, None)
        .await;
    assert_eq!(still["chats"].as_array().unwrap().len(), 1);
    let read_url = shop.account_url("v1", &format!("chats/{}/read", shop.chat));
    let (status, body) = shop.call(Method::POST, &read_url, &token, None).await;
    assert_eq!((status.as_u16(), body), (200, json!({"ok": true})));
    let (_, after) = shop
        .call(Method::GET, &chats_url("unread_only=true"), &token, None)
        .await;
    assert_eq!(after["chats"], json!([]));
    assert_eq!(shop.messages(&token).await[0]["is_read"], true);

    // The account answers; its message's `read` advances when the customer reads.
    let (status, sent) = shop.send_text(&token, "Да, в наличии").await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["direction"], "out");
    assert_eq!(sent["content"]["text"], "Да, в наличии");
    let id = sent["id"].as_str().unwrap().to_string();
    let newest = &shop.messages(&token).await[0];
    assert_eq!(
        (newest["id"].as_str(), newest["read"].clone()),
        (Some(id.as_str()), Value::Null)
    );
    assert_eq!(
        newest["is_read"], true,
        "the account has read its own message"
    );
    shop.sandbox.advance_clock(Duration::from_secs(90));
    let outcome = shop
        .sandbox
        .customer_reads(&shop.account.id, &shop.chat, None)
        .unwrap();
    assert_eq!(outcome.read, 1);
    let read_at = shop.messages(&token).await[0]["read"].as_i64().unwrap();
    let now = shop.sandbox.clock().now.timestamp();
    assert!((now - 5..=now).contains(&read_at), "{read_at} vs {now}");
    let received = shop.sandbox.received(&shop.account.id, &shop.chat).unwrap();
    assert_eq!(received[0].status, MessageStatus::Read);
    assert_eq!(received[0].text.as_deref(), Some("Да, в наличии"));

    // What Avito refuses.
    let long = "я".repeat(1001);
    let (status, body) = shop.send_text(&token, &long).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["fields"]["message.text"].is_string(),
        "{body}"
    );
    assert_eq!(shop.send_text(&token, &"я".repeat(1000)).await.0, 200);
    let url = shop.account_url("v1", "chats/u2i-nope/messages");
    let (status, _) = shop
        .call(
            Method::POST,
            &url,
            &token,
            Some(json!({"message": {"text": "x"}, "type": "text"})),
        )
        .await;
    assert_eq!(status, 404);
    let other_user = format!(
        "{}/messenger/v1/accounts/1/chats/{}/messages",
        shop.root(),
        shop.chat
    );
    let (status, _) = shop
        .call(
            Method::POST,
            &other_user,
            &token,
            Some(json!({"message": {"text": "x"}, "type": "text"})),
        )
        .await;
    assert_eq!(status, 403);
    shop.sandbox.block(&shop.account.id, &shop.chat).unwrap();
    assert_eq!(shop.send_text(&token, "x").await.0, 400);
}

#[tokio::test]
async fn images_upload_send_and_download() {
    let shop = Shop::new().await;
    let token = shop.token().await;
    let image = png(640, 480, 100);
    let (status, uploaded) = shop.upload(&token, "uploadfile[]", image.clone()).await;
    assert_eq!(status, 200, "{uploaded}");
    let (image_id, sizes) = uploaded.as_object().unwrap().iter().next().unwrap();
    assert!(image_id.contains('.'), "{image_id}");
    assert_eq!(sizes.as_object().unwrap().len(), 4);
    let big_url = sizes["1280x960"].as_str().unwrap();
    let got = client()
        .get(big_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &image[..]);

    let url = shop.account_url("v1", &format!("chats/{}/messages/image", shop.chat));
    let (status, sent) = shop
        .call(
            Method::POST,
            &url,
            &token,
            Some(json!({"image_id": image_id})),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["type"], "image");
    assert_eq!(sent["content"]["image"]["sizes"]["1280x960"], big_url);
    let received = shop.sandbox.received(&shop.account.id, &shop.chat).unwrap();
    assert_eq!(received[0].kind, MessageKind::Image);
    assert_eq!(
        received[0].media.as_ref().unwrap().size,
        Some(image.len() as u64)
    );

    // Refused: another field, a PDF, an unknown image id, over 24 MB.
    assert_eq!(shop.upload(&token, "file", png(1, 1, 0)).await.0, 400);
    assert_eq!(shop.upload(&token, "uploadfile[]", pdf(100)).await.0, 400);
    let (status, _) = shop
        .call(
            Method::POST,
            &url,
            &token,
            Some(json!({"image_id": "1.2abc"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = shop
        .upload(&token, "uploadfile[]", png(10, 10, 24_000_000))
        .await;
    assert_eq!(status, 413, "{body}");
}

#[tokio::test]
async fn customer_media_arrive_and_voice_links_expire_after_an_hour() {
    let shop = Shop::new().await;
    let token = shop.token().await;
    let image = png(2, 2, 10);
    let receipt = shop
        .sandbox
        .customer_sends(
            &shop.account.id,
            &shop.chat,
            &CustomerMessage::media(MediaUpload::new(MessageKind::Image, image.clone()))
                .caption("чек"),
        )
        .unwrap();
    let voice = ogg(300);
    let voice_receipt = shop
        .sandbox
        .customer_sends(
            &shop.account.id,
            &shop.chat,
            &CustomerMessage::media(MediaUpload::new(MessageKind::Voice, voice.clone())),
        )
        .unwrap();
    shop.sandbox
        .customer_sends(
            &shop.account.id,
            &shop.chat,
            &CustomerMessage::media(MediaUpload::new(MessageKind::File, pdf(50))),
        )
        .unwrap();

    let messages = shop.messages(&token).await;
    let kinds: Vec<&str> = messages
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    // Newest first: the file, the voice note, the caption as its own text, the image.
    assert_eq!(kinds, ["file", "voice", "text", "image"]);
    assert_eq!(messages[0]["content"], json!({}));
    assert_eq!(messages[2]["content"]["text"], "чек");
    assert_eq!(messages[3]["id"], receipt.message_id.as_str());
    let largest = messages[3]["content"]["image"]["sizes"]["1280x960"]
        .as_str()
        .unwrap();
    assert_eq!(receipt.media_id.as_deref(), Some(largest));
    let got = client()
        .get(largest)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &image[..]);

    let voice_id = messages[1]["content"]["voice"]["voice_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(voice_receipt.media_id.as_deref(), Some(voice_id.as_str()));
    for query in [
        format!("voice_ids={voice_id}"),
        format!("voice_ids={voice_id},unknown"),
        format!("voice_ids[]={voice_id}&voice_ids[]=unknown"),
    ] {
        let url = format!("{}?{query}", shop.account_url("v1", "getVoiceFiles"));
        let (status, body) = shop.call(Method::GET, &url, &token, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["voices_urls"].as_object().unwrap().len(), 1, "{body}");
    }
    let url = format!(
        "{}?voice_ids={voice_id}",
        shop.account_url("v1", "getVoiceFiles")
    );
    let (_, body) = shop.call(Method::GET, &url, &token, None).await;
    let link = body["voices_urls"][&voice_id].as_str().unwrap().to_string();
    let got = client().get(&link).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(&got.bytes().await.unwrap()[..], &voice[..]);
    // An hour later the link is gone; a new one works.
    shop.sandbox.advance_clock(Duration::from_secs(3601));
    assert_eq!(client().get(&link).send().await.unwrap().status(), 404);
    let token = shop.token().await;
    let (_, body) = shop.call(Method::GET, &url, &token, None).await;
    let fresh = body["voices_urls"][&voice_id].as_str().unwrap();
    assert_eq!(client().get(fresh).send().await.unwrap().status(), 200);
    let (status, _) = shop
        .call(
            Method::GET,
            &shop.account_url("v1", "getVoiceFiles"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn own_messages_can_be_deleted_within_the_hour() {
    let shop = Shop::new().await;
    let token = shop.token().await;
    let delete = |id: String| {
        let shop = &shop;
        let token = token.clone();
        async move {
            let url = shop.account_url("v1", &format!("chats/{}/messages/{id}", shop.chat));
            shop.call(Method::POST, &url, &token, None).await
        }
    };
    let (_, first) = shop.send_text(&token, "опечатка").await;
    let (status, body) = delete(first["id"].as_str().unwrap().to_string()).await;
    assert_eq!((status.as_u16(), body), (200, json!({})));
    let newest = &shop.messages(&token).await[0];
    assert_eq!(
        (newest["type"].as_str(), newest["content"].clone()),
        (Some("deleted"), json!({}))
    );
    let (_, second) = shop.send_text(&token, "поздно").await;
    shop.sandbox.advance_clock(Duration::from_secs(3601));
    let token = shop.token().await;
    let url = shop.account_url(
        "v1",
        &format!(
            "chats/{}/messages/{}",
            shop.chat,
            second["id"].as_str().unwrap()
        ),
    );
    assert_eq!(shop.call(Method::POST, &url, &token, None).await.0, 400);
    let receipt = shop
        .sandbox
        .customer_sends(&shop.account.id, &shop.chat, &CustomerMessage::text("моё"))
        .unwrap();
    let url = shop.account_url(
        "v1",
        &format!("chats/{}/messages/{}", shop.chat, receipt.message_id),
    );
    assert_eq!(shop.call(Method::POST, &url, &token, None).await.0, 400);
}

#[tokio::test]
async fn webhook_subscriptions_deliver_every_message_with_the_url_token() {
    let shop = Shop::new().await;
    let token = shop.token().await;
    let receiver = Receiver::start().await;
    let hook = format!("{}?token=secret-in-url", receiver.url);
    let url = format!("{}/messenger/v3/webhook", shop.root());
    let (status, body) = shop
        .call(Method::POST, &url, &token, Some(json!({"url": hook})))
        .await;
    assert_eq!((status.as_u16(), body), (200, json!({"ok": true})));
    // The probe came first.
    let probe = receiver.next().await;
    assert_eq!(&probe.body[..], b"{}");

    let receipt = shop
        .sandbox
        .customer_sends(
            &shop.account.id,
            &shop.chat,
            &CustomerMessage::text("Здравствуйте"),
        )
        .unwrap();
    let delivery = receiver.next().await;
    assert_eq!(delivery.query.as_deref(), Some("token=secret-in-url"));
    assert!(delivery.header("x-avito-messenger-signature").is_some());
    let body = delivery.json();
    assert_eq!(body["payload"]["type"], "message");
    let value = &body["payload"]["value"];
    assert_eq!(value["id"], receipt.message_id.as_str());
    assert_eq!(value["chat_id"], shop.chat.as_str());
    assert_eq!(value["chat_type"], "u2i");
    assert_eq!(value["user_id"].to_string(), shop.account.id);
    assert_eq!(value["type"], "text");
    assert_eq!(value["content"]["text"], "Здравствуйте");
    assert!(value["item_id"].is_i64());
    // The account's own message is pushed too, with its own id as author.
    shop.send_text(&token, "Добрый день").await;
    let own = receiver.next().await.json();
    assert_eq!(
        own["payload"]["value"]["author_id"],
        own["payload"]["value"]["user_id"]
    );

    let list = format!("{}/messenger/v1/subscriptions", shop.root());
    let (_, subs) = shop.call(Method::POST, &list, &token, None).await;
    assert_eq!(
        subs,
        json!({"subscriptions": [{"url": hook, "version": "3"}]})
    );
    let off = format!("{}/messenger/v1/webhook/unsubscribe", shop.root());
    let (_, body) = shop
        .call(Method::POST, &off, &token, Some(json!({"url": hook})))
        .await;
    assert_eq!(body, json!({"ok": true}));
    let (_, body) = shop
        .call(Method::POST, &off, &token, Some(json!({"url": hook})))
        .await;
    assert_eq!(body, json!({"ok": false}));
    shop.sandbox
        .customer_sends(&shop.account.id, &shop.chat, &CustomerMessage::text("ещё"))
        .unwrap();
    assert!(receiver.nothing_more().await);

    // A URL the sandbox cannot reach, or one that fails the probe, is not subscribed.
    let (status, _) = shop
        .call(
            Method::POST,
            &url,
            &token,
            Some(json!({"url": "https://crm.example/hook"})),
        )
        .await;
    assert_eq!(status, 400);
    let failing = Receiver::start_failing(1, "x").await;
    let (status, _) = shop
        .call(
            Method::POST,
            &url,
            &token,
            Some(json!({"url": failing.url})),
        )
        .await;
    assert_eq!(status, 400);

    // The control API's webhook URL carries the account's webhook token.
    let control_receiver = Receiver::start().await;
    let account = shop
        .sandbox
        .update_account(
            &shop.account.id,
            &AccountPatch {
                webhook_url: Some(control_receiver.url.clone()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    let webhook_token = account.webhook_secret.clone().unwrap();
    assert_eq!(
        account.webhook_url.as_deref(),
        Some(format!("{}?token={webhook_token}", control_receiver.url).as_str())
    );
    shop.sandbox
        .customer_sends(
            &shop.account.id,
            &shop.chat,
            &CustomerMessage::text("и ещё"),
        )
        .unwrap();
    let delivery = control_receiver.next().await;
    assert_eq!(delivery.query, Some(format!("token={webhook_token}")));
    let log = shop.sandbox.deliveries(&shop.account.id).unwrap();
    assert!(log.iter().all(|d| d.kind == "message"));
}

#[tokio::test]
async fn credentials_faults_and_the_demo_account() {
    let shop = Shop::new().await;
    let credentials = shop.sandbox.credentials(&shop.account.id).unwrap();
    assert_eq!(
        credentials.keys().collect::<Vec<_>>(),
        vec![BASE_URL, "client_id", "client_secret", "webhook_token"]
    );
    assert_eq!(credentials.get(BASE_URL), Some(shop.root().as_str()));
    assert!(shop.root().ends_with("/avito"));
    assert_eq!(
        credentials.get("client_id"),
        Some(shop.account.token.as_str())
    );
    assert_eq!(
        credentials.get("client_secret"),
        shop.account.app_secret.as_deref()
    );
    assert_eq!(
        credentials.get("webhook_token"),
        shop.account.webhook_secret.as_deref()
    );
    let control = shop.sandbox.control().unwrap();
    assert_eq!(
        control.credentials(&shop.account.id).await.unwrap(),
        credentials
    );

    let token = shop.token().await;
    shop.sandbox
        .inject_fault(
            &shop.account.id,
            &FaultSpec::new(Fault::ServerError { status: 502 }).operation("postSendMessage"),
        )
        .unwrap();
    let (status, body) = shop.send_text(&token, "x").await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], 502);
    shop.sandbox
        .inject_fault(
            &shop.account.id,
            &FaultSpec::new(Fault::RateLimited { retry_after: 3 }),
        )
        .unwrap();
    let response = shop
        .http
        .get(format!("{}/core/v1/accounts/self", shop.root()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    assert!(
        shop.sandbox
            .received(&shop.account.id, &shop.chat)
            .unwrap()
            .is_empty()
    );
    let faulted: Vec<_> = shop
        .sandbox
        .requests(&shop.account.id)
        .unwrap()
        .into_iter()
        .filter(|r| r.fault.is_some())
        .map(|r| (r.operation, r.status))
        .collect();
    assert_eq!(
        faulted,
        [
            ("postSendMessage".to_string(), 502),
            ("getUserInfoSelf".to_string(), 429)
        ]
    );

    // A customer id is a chat id.
    let err = shop
        .sandbox
        .create_customer(&shop.account.id, &NewCustomer::named("x").id("12345"))
        .unwrap_err();
    assert_eq!(err.kind(), messenger_core::ErrorKind::InvalidInput);
    let profile = shop
        .sandbox
        .create_customer(
            &shop.account.id,
            &NewCustomer::named("y").id("u2u-Profile_1"),
        )
        .unwrap();
    assert_eq!(profile.id, "u2u-Profile_1");

    let (sandbox, demo) = messenger_sandbox::run("127.0.0.1:0").await.unwrap();
    let seeded = demo.account(Platform::Avito).unwrap();
    assert_eq!(seeded.account.id, "94235311");
    assert!(seeded.customer.id.starts_with("u2i-"));
    let credentials = sandbox.credentials(&seeded.account.id).unwrap();
    assert!(credentials.get("webhook_token").is_some());
    sandbox.shutdown().await;
}

#[derive(Clone, Default)]
struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// A current-thread runtime: every task of the sandbox runs on this thread and sees the
// thread-local subscriber.
#[tokio::test]
async fn a_full_avito_cycle_logs_no_content_or_secrets() {
    const CLIENT_ID: &str = "SECRETclientIdValue";
    const CLIENT_SECRET: &str = "SECRETclientSecretValue";
    const WEBHOOK_TOKEN: &str = "SECRETwebhookTokenValue";
    const TEXT: &str = "SECRET-TEXT-4242";
    const CAPTION: &str = "SECRET-CAPTION-77";
    const FILE_NAME: &str = "secret-file-name.png";

    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("messenger_sandbox=trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sandbox = sandbox().await;
    let receiver = Receiver::start().await;
    let account = sandbox
        .create_account(
            &AccountSpec::new(Platform::Avito)
                .token(CLIENT_ID)
                .app_secret(CLIENT_SECRET)
                .webhook_secret(WEBHOOK_TOKEN)
                .webhook_url(receiver.url.clone()),
        )
        .unwrap();
    let chat = sandbox
        .create_customer(&account.id, &NewCustomer::named("Marina"))
        .unwrap()
        .id;
    let shop = Shop {
        sandbox,
        account,
        chat,
        http: client(),
    };
    // In: a text, an image with a caption, a voice note; out: a text and an image; the code
    // flow and a refresh; a voice link.
    for message in [
        CustomerMessage::text(TEXT),
        CustomerMessage::media(
            MediaUpload::new(MessageKind::Image, png(1, 1, 0)).file_name(FILE_NAME),
        )
        .caption(CAPTION),
        CustomerMessage::media(MediaUpload::new(MessageKind::Voice, ogg(100))),
    ] {
        shop.sandbox
            .customer_sends(&shop.account.id, &shop.chat, &message)
            .unwrap();
    }
    for _ in 0..4 {
        receiver.next().await;
    }
    let token = shop.token().await;
    shop.send_text(&token, TEXT).await;
    let (_, uploaded) = shop.upload(&token, "uploadfile[]", png(2, 2, 0)).await;
    let image_id = uploaded.as_object().unwrap().keys().next().unwrap().clone();
    let url = shop.account_url("v1", &format!("chats/{}/messages/image", shop.chat));
    shop.call(
        Method::POST,
        &url,
        &token,
        Some(json!({"image_id": image_id})),
    )
    .await;
    let voice_id = shop.messages(&token).await.iter().find_map(|m| {
        m["content"]["voice"]["voice_id"]
            .as_str()
            .map(str::to_string)
    });
    let url = format!(
        "{}?voice_ids={}",
        shop.account_url("v1", "getVoiceFiles"),
        voice_id.unwrap()
    );
    shop.call(Method::GET, &url, &token, None).await;
    let consent = format!(
        "{}/oauth?response_type=code&client_id={CLIENT_ID}&state=SECRETstate",
        shop.root()
    );
    let location = no_redirects().get(&consent).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let code = query_of(&location)["code"].clone();
    let (_, tokens) = shop
        .token_form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code", &code),
        ])
        .await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    shop.token_form(&[
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("refresh_token", &refresh),
    ])
    .await;

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("sandbox avito"),
        "the cycle was traced: {logs}"
    );
    for secret in [
        CLIENT_ID,
        CLIENT_SECRET,
        WEBHOOK_TOKEN,
        TEXT,
        CAPTION,
        FILE_NAME,
        token.as_str(),
        code.as_str(),
        refresh.as_str(),
        "SECRETstate",
    ] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
}
