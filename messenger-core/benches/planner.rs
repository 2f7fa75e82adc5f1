//! Criterion benchmarks of the pure send planner on Telegram's capabilities.
//!
//! Run: `cargo bench -p messenger-core --bench planner -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_main};
use messenger_core::plan::{ReplyWindow, plan};
use messenger_core::{Capabilities, MediaSource, OutgoingContent, OutgoingMessage, Platform};

/// About `bytes` of Russian text with emoji (ZWJ sequences, flags), sentences and paragraphs.
fn cyrillic_and_emoji(bytes: usize) -> String {
    let sentences = [
        "Здравствуйте! Ваш заказ №4521 собран и передан в службу доставки. ",
        "Курьер позвонит за час до приезда 🚚, проверьте, пожалуйста, адрес… ",
        "Спасибо, что выбираете нас 👨\u{200d}👩\u{200d}👧\u{200d}👦🇷🇺! ",
        "Если возникнут вопросы, напишите в этот чат — мы ответим в течение 10\u{a0}минут 😀. ",
    ];
    let mut text = String::with_capacity(bytes + 256);
    let mut i = 0;
    while text.len() < bytes {
        text.push_str(sentences[i % sentences.len()]);
        if i % 9 == 8 {
            text.push_str("\n\n");
        }
        i += 1;
    }
    text
}

fn planner(c: &mut Criterion) {
    let caps = Capabilities::of(Platform::Telegram);

    let short = OutgoingMessage::text("1", "Здравствуйте! Ваш заказ готов к выдаче 🎉");
    c.bench_function("plan/short_text", |b| {
        b.iter(|| plan(black_box(&short), &caps, ReplyWindow::NotApplicable).unwrap())
    });

    let long_text = cyrillic_and_emoji(100 * 1024);
    let long = OutgoingMessage::text("1", long_text.clone());
    let mut group = c.benchmark_group("plan");
    group.throughput(Throughput::Bytes(long_text.len() as u64));
    group.bench_function("text_100kb_cyrillic_emoji", |b| {
        b.iter(|| plan(black_box(&long), &caps, ReplyWindow::NotApplicable).unwrap())
    });
    group.finish();

    let photo = MediaSource::bytes(vec![0u8; 64 * 1024], "image/jpeg", "photo.jpg");
    let with_caption = OutgoingMessage::new(
        "1",
        OutgoingContent::Image {
            media: photo,
            caption: Some(cyrillic_and_emoji(6 * 1024)),
        },
    );
    c.bench_function("plan/image_overlong_caption", |b| {
        b.iter(|| plan(black_box(&with_caption), &caps, ReplyWindow::NotApplicable).unwrap())
    });
}

/// The benchmark group (`criterion_group!` writes a public function without docs).
#[allow(missing_docs)]
mod group {
    use super::planner;
    criterion::criterion_group!(benches, planner);
}

criterion_main!(group::benches);
