//! The registry entry and the configuration checks, root certificates included.

mod common;

use common::*;
use connector_max::{ENTRY, MaxConfig};
use messenger_core::{ErrorKind, Messenger, Platform};

fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[tokio::test]
async fn the_entry_builds_a_bot_from_the_environment() {
    let mut server = mockito::Server::new_async().await;
    let m = server
        .mock("GET", "/me")
        .match_header("authorization", TOKEN)
        .with_body(r#"{"user_id":5,"first_name":"Bot","username":"b_bot","is_bot":true}"#)
        .create_async()
        .await;
    let url = server.url();
    let vars = [
        ("MAX_TOKEN", TOKEN),
        ("MAX_API_URL", url.as_str()),
        ("MAX_WEBHOOK_SECRET", "Hook_Secret-1"),
        ("MAX_ROOT_CA_PEM", TEST_ROOT_PEM),
    ];
    assert_eq!(ENTRY.platform, Platform::Max);
    let credentials = ENTRY.credentials_from_env(env(&vars)).unwrap();
    let debug = format!("{credentials:?}");
    assert!(
        !debug.contains(TOKEN) && !debug.contains("Hook_Secret"),
        "{debug}"
    );
    let bot = (ENTRY.build)(
        &credentials,
        &messenger_core::registry::AccountStores::new(),
    )
    .unwrap();
    assert_eq!(bot.platform(), Platform::Max);
    assert_eq!(
        bot.connect().await.unwrap().username.as_deref(),
        Some("b_bot")
    );
    m.assert_async().await;

    let missing = ENTRY.credentials_from_env(|_| None).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::InvalidInput);
    assert!(missing.to_string().contains("MAX_TOKEN"));
}

#[test]
fn the_entry_parses_with_the_one_parser() {
    let body = text_update("mid.r", "hi").to_string();
    assert_eq!(
        (ENTRY.parse)(body.as_bytes()).unwrap(),
        connector_max::parse(body.as_bytes()).unwrap()
    );
    assert_eq!(
        (ENTRY.parse)(b"nope").unwrap_err().kind(),
        ErrorKind::Decode
    );
}

#[test]
fn a_root_certificate_is_read_from_text_or_a_file() {
    assert!(
        MaxConfig::new("t")
            .root_certificate_pem(TEST_ROOT_PEM)
            .build()
            .is_ok()
    );
    // Kept apart from the HTTP settings: the order of the calls does not matter.
    assert!(
        MaxConfig::new("t")
            .root_certificate_pem(TEST_ROOT_PEM)
            .http(connector_max::HttpSettings::default())
            .build()
            .is_ok()
    );
    let dir = std::env::temp_dir().join(format!("connector-max-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("root.pem");
    std::fs::write(&path, TEST_ROOT_PEM).unwrap();
    let from_file = ENTRY
        .credentials_from_env(env(&[
            ("MAX_TOKEN", "t"),
            ("MAX_ROOT_CA_PEM", path.to_str().unwrap()),
        ]))
        .unwrap();
    assert!((ENTRY.build)(&from_file, &messenger_core::registry::AccountStores::new()).is_ok());
    let missing = ENTRY
        .credentials_from_env(env(&[
            ("MAX_TOKEN", "t"),
            ("MAX_ROOT_CA_PEM", dir.join("absent.pem").to_str().unwrap()),
        ]))
        .unwrap();
    let Err(err) = (ENTRY.build)(&missing, &messenger_core::registry::AccountStores::new()) else {
        panic!("built without its certificate")
    };
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_malformed_root_certificate_is_invalid_input() {
    let no_block = "this is not a certificate";
    let bad_base64 = "-----BEGIN CERTIFICATE-----\n@@@not base64@@@\n-----END CERTIFICATE-----\n";
    // Well-formed PEM whose content is not an X.509 certificate.
    let not_x509 = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    for pem in [no_block, bad_base64, not_x509] {
        let err = MaxConfig::new("t")
            .root_certificate_pem(pem)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{pem}: {err}");
        assert_eq!(err.platform(), Some(Platform::Max));
        assert!(err.message().contains("certificate"), "{err}");
    }
}

#[test]
fn tokens_and_urls_are_checked() {
    for token in ["", " ", "with space", "тoken", "line\nbreak"] {
        let err = MaxConfig::new(token).build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        if !token.trim().is_empty() {
            assert!(!err.to_string().contains(token));
        }
    }
    for url in [
        "ftp://platform-api2.max.ru",
        "platform-api2.max.ru",
        "http://",
    ] {
        assert_eq!(
            MaxConfig::new("t")
                .base_url(url)
                .build()
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput,
            "{url}"
        );
    }
    assert_eq!(
        MaxConfig::new("t").build().unwrap().config().base_url_str(),
        "https://platform-api2.max.ru"
    );
}
