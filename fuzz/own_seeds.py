#!/usr/bin/env python3
"""Writes the seeds of fuzz/corpus/ from the project's own bytes only: `own_seeds.py OUT_DIR`.

- <platform>/: the JSON payloads of a connector's sources, unit tests, doc examples and benches
  (its raw-string literals that are JSON objects or arrays);
- cli_parse/: each of them behind the byte that selects its platform;
- secrets/: each as the body of a right secret, plus a handshake and a token query;
- planner/: a few texts (paragraphs, sentences, emoji sequences, flags, combining marks, no-break
  spaces, a long URL) under every platform and several modes.

Nothing of ../shared/fixtures is read (see docs/decisions.md)."""
import hashlib, json, os, re, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
RAW = re.compile(r'b?r(#+)"(.*?)"\1', re.S)

def literals(path):
    text = open(path, encoding="utf-8").read()
    # Doc examples: drop the comment markers so a payload spread over lines is whole again.
    text = re.sub(r'^\s*//[/!] ?', '', text, flags=re.M)
    for m in RAW.finditer(text):
        body = m.group(2)
        # A format! string: `{{`/`}}` are braces, `{name}` a value the test fills in.
        if "{{" in body:
            body = re.sub(r'(?<!\{)\{[a-zA-Z_][a-zA-Z0-9_:.]*\}(?!\})', '0', body)
            body = body.replace("{{", "{").replace("}}", "}")
        try:
            json.loads(body)
        except ValueError:
            continue
        if body.lstrip()[:1] in ("{", "["):
            yield body.encode("utf-8")

def write(out, target, data):
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

TEXTS = [
    "Первый абзац.\n\nВторое предложение длиннее! А вот и третье. ",
    "👨\u200d👩\u200d👧\u200d👦 🇷🇺🇬🇧 e\u0301 \r\n10\u00a0000 ₽ «Готово!» Дальше… 終わり。次",
    "https://example.com/a/very/long/url/without/spaces/at/all?x=1&y=2",
    "Hello, world. This is a test! Is it? Yes.\nNew line\n\nNew paragraph",
]

def main(out):
    for index, platform in enumerate(["telegram", "whatsapp", "max", "vk", "avito"]):
        crate = os.path.join(ROOT, f"connector-{platform}")
        n = 0
        for sub in ("src", "benches"):
            for dirpath, _, files in os.walk(os.path.join(crate, sub)):
                for name in sorted(files):
                    if name.endswith(".rs"):
                        for body in literals(os.path.join(dirpath, name)):
                            write(out, platform, body)
                            write(out, "cli_parse", bytes([index]) + body)
                            write(out, "secrets", b"s3cret\0s3cret\0" + body)
                            n += 1
        print(f"{platform}: {n} payloads", file=sys.stderr)
    write(out, "secrets", b"s3cret\0sha256=00ff\0{}")
    write(out, "secrets", b"tok\0tok\0hub.mode=subscribe&hub.verify_token=tok&hub.challenge=1158201444")
    write(out, "secrets", b"tok\0tok\0token=tok")
    # planner: [platform, mode, small limit, unit, repeat, mime, size hi, size lo, text...]
    for i, text in enumerate(TEXTS):
        for platform in range(5):
            for mode in (0x00, 0x80, 0x04, 0x08, 0x0C, 0x84, 0x92, 0x60):
                head = bytes([platform, mode, 7 + i * 13, i, 40, 0x10 * i + platform, 0, 200])
                write(out, "planner", head + text.encode())

main(sys.argv[1])
