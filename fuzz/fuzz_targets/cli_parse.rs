//! `messenger parse <platform>`: `messenger_cli::parse::parse` for every platform (the first
//! byte picks it), then `to_json_lines` as the command prints it. It must never panic; it
//! must decode exactly as the connector's one parser does (the registry hands the body to
//! `connector_<platform>::parse`); and what it prints is one JSON object a line, each reading
//! back as the event it printed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use messenger_core::{InboundEvent, Platform, Result};
use messenger_fuzz::{PLATFORMS, check_parse};

fn connector_parse(platform: Platform, body: &[u8]) -> Result<Vec<InboundEvent>> {
    match platform {
        Platform::Telegram => connector_telegram::parse(body),
        Platform::WhatsApp => connector_whatsapp::parse(body),
        Platform::Max => connector_max::parse(body),
        Platform::Vk => connector_vk::parse(body),
        Platform::Avito => connector_avito::parse(body),
        other => panic!("no connector for {other}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let platform = PLATFORMS[*selector as usize % PLATFORMS.len()];
    let parsed = messenger_cli::parse::parse(platform, body);
    check_parse(platform, &parsed);
    match (&parsed, &connector_parse(platform, body)) {
        (Ok(cli), Ok(connector)) => assert!(
            messenger_fuzz::same_events(cli, connector),
            "parse differs from the connector's"
        ),
        (Err(cli), Err(connector)) => {
            assert_eq!(
                cli.kind(),
                connector.kind(),
                "parse fails unlike the connector"
            );
            assert_eq!(cli.message(), connector.message());
        }
        _ => panic!("parse and the connector's parser disagree on whether the body is readable"),
    }
    if let Ok(events) = &parsed {
        let printed = messenger_cli::parse::to_json_lines(events).expect("events print");
        assert_eq!(printed.lines().count(), events.len(), "one line an event");
        for (line, event) in printed.lines().zip(events) {
            let back: InboundEvent = serde_json::from_str(line).expect("a printed line reads back");
            assert_eq!(&back, event, "a printed line reads back as its event");
        }
    }
});
