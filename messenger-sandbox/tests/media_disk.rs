//! Uploaded media is kept on disk, in a folder of the sandbox's own that goes with it: an upload
//! becomes one file of exactly its bytes in [`Sandbox::media_dir`], is served back from that
//! file with its length announced, leaves nothing behind when it is refused, and the folder is
//! removed on shutdown and on drop. (That the sandbox's memory stays flat while it does so is
//! measured with 100 MB files in `tests/tests/memory.rs` of the integration tests.)

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use messenger_sandbox::{
    AccountSpec, CustomerMessage, MediaUpload, MessageKind, NewCustomer, Sandbox,
};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// The files in the media folder.
fn files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("the media folder exists")
        .map(|entry| entry.expect("a folder entry").path())
        .collect()
}

/// `len` bytes of a PDF: the magic bytes, then a pattern that no shifted or truncated copy
/// matches.
fn pdf(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    let mut x: u32 = 7;
    while bytes.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        bytes.push((x >> 16) as u8);
    }
    bytes.truncate(len);
    bytes
}

/// `bytes` as a streamed request body (no length known up front, sent in 64 KiB chunks).
fn streamed(bytes: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures::stream::iter(chunks))
}

#[tokio::test]
async fn an_upload_is_one_file_of_its_bytes_served_back_and_removed_on_shutdown() {
    let sandbox = common::sandbox().await;
    let dir = sandbox.media_dir().to_path_buf();
    assert!(dir.is_dir(), "the media folder is created on start");
    assert!(files(&dir).is_empty());
    let number = sandbox
        .create_account(&AccountSpec::whatsapp())
        .expect("a number");
    let http = common::client();
    let graph = |path: &str| format!("{}/v25.0/{path}", sandbox.urls().whatsapp());

    // A 3 MB document, streamed in chunks.
    let bytes = pdf(3_000_000);
    let form = Form::new()
        .text("messaging_product", "whatsapp")
        .text("type", "application/pdf")
        .part(
            "file",
            Part::stream(streamed(bytes.clone()))
                .file_name("report.pdf")
                .mime_str("application/pdf")
                .expect("a MIME type"),
        );
    let answer: Value = http
        .post(graph(&format!("{}/media", number.id)))
        .bearer_auth(&number.token)
        .multipart(form)
        .send()
        .await
        .expect("the upload is answered")
        .json()
        .await
        .expect("a JSON answer");
    let media_id = answer["id"].as_str().expect("a media id").to_owned();

    // On disk: one file, exactly the bytes.
    let stored = files(&dir);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        std::fs::read(&stored[0]).expect("the file reads"),
        bytes,
        "the file holds the upload's bytes"
    );

    // Served back from the file, its length announced.
    let info: Value = http
        .get(graph(&media_id))
        .bearer_auth(&number.token)
        .send()
        .await
        .expect("the media id is answered")
        .json()
        .await
        .expect("a JSON answer");
    assert_eq!(info["file_size"], 3_000_000);
    let download = http
        .get(info["url"].as_str().expect("a media URL"))
        .bearer_auth(&number.token)
        .send()
        .await
        .expect("the download is answered");
    assert_eq!(download.status(), 200);
    assert_eq!(download.content_length(), Some(3_000_000));
    let got = download.bytes().await.expect("the whole body");
    assert!(
        got.as_ref() == bytes.as_slice(),
        "the download is the upload"
    );

    sandbox.shutdown().await;
    assert!(!dir.exists(), "the media folder is removed on shutdown");
}

#[tokio::test]
async fn the_media_folder_goes_when_the_sandbox_is_dropped() {
    let sandbox = common::sandbox().await;
    let dir = sandbox.media_dir().to_path_buf();
    let bot = sandbox
        .create_account(&AccountSpec::telegram())
        .expect("a bot");
    let customer = sandbox
        .create_customer(&bot.id, &NewCustomer::named("Anna"))
        .expect("a customer");
    // A customer's media from the control API goes to disk as well.
    sandbox
        .customer_sends(
            &bot.id,
            &customer.id,
            &CustomerMessage::media(MediaUpload::new(MessageKind::File, pdf(100_000))),
        )
        .expect("the customer sends a file");
    let stored = files(&dir);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        std::fs::metadata(&stored[0]).expect("a file").len(),
        100_000
    );

    drop(sandbox);
    assert!(!dir.exists(), "the media folder is removed on drop");
}

#[tokio::test]
async fn a_refused_upload_leaves_no_file() {
    let sandbox = common::sandbox().await;
    let dir = sandbox.media_dir().to_path_buf();
    let bot = sandbox
        .create_account(&AccountSpec::telegram())
        .expect("a bot");
    let customer = sandbox
        .create_customer(&bot.id, &NewCustomer::named("Anna"))
        .expect("a customer");
    let http = common::client();
    let url = format!(
        "{}/bot{}/sendDocument",
        sandbox.urls().telegram(),
        bot.token
    );

    // Over Telegram's 50 MB: refused after it arrived; its file is gone with the request.
    let form = Form::new().text("chat_id", customer.id.clone()).part(
        "document",
        Part::stream(streamed(pdf(50 * 1024 * 1024 + 1))).file_name("huge.pdf"),
    );
    let refused = http
        .post(&url)
        .multipart(form)
        .send()
        .await
        .expect("the upload is answered");
    assert_eq!(refused.status(), 413);

    // A connection that fails mid-upload: the partial file is removed too.
    let failing = futures::stream::iter([
        Ok(vec![b'%'; 256 * 1024]),
        Err(std::io::Error::other("the client gave up")),
    ]);
    let form = Form::new().text("chat_id", customer.id.clone()).part(
        "document",
        Part::stream(reqwest::Body::wrap_stream(failing)).file_name("cut.pdf"),
    );
    assert!(http.post(&url).multipart(form).send().await.is_err());

    // The handler may still be unwinding the cut request: wait (bounded) for the folder to
    // empty.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !files(&dir).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "files left behind: {:?}",
            files(&dir)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        sandbox
            .received(&bot.id, &customer.id)
            .expect("the chat")
            .is_empty()
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn two_sandboxes_have_two_folders() {
    let a = Sandbox::start("127.0.0.1:0").await.expect("a sandbox");
    let b = Sandbox::start("127.0.0.1:0").await.expect("a sandbox");
    assert_ne!(a.media_dir(), b.media_dir());
    let kept = b.media_dir().to_path_buf();
    a.shutdown().await;
    assert!(
        kept.is_dir(),
        "one sandbox's shutdown leaves the other's media"
    );
    b.shutdown().await;
}

#[tokio::test]
async fn folders_of_sandboxes_whose_process_is_gone_are_removed_on_start() {
    // A process that has ended: its pid names no running process any more.
    let mut gone = std::process::Command::new("true")
        .spawn()
        .expect("a short process");
    let pid = gone.id();
    gone.wait().expect("it ends");
    let orphan = std::env::temp_dir().join(format!("messenger-sandbox-{pid}-0000000000000000"));
    std::fs::create_dir_all(&orphan).expect("a folder");
    std::fs::write(orphan.join("0.blob"), b"left behind").expect("a file");
    // One of a running process (this one) stays.
    let alive = std::env::temp_dir().join(format!(
        "messenger-sandbox-{}-ffffffffffffffff",
        std::process::id()
    ));
    std::fs::create_dir_all(&alive).expect("a folder");

    let sandbox = common::sandbox().await;
    assert!(
        !orphan.exists(),
        "the folder of a process that is gone is removed"
    );
    assert!(alive.exists(), "the folder of a running process is kept");
    std::fs::remove_dir_all(&alive).expect("cleaned up");
    sandbox.shutdown().await;
}
