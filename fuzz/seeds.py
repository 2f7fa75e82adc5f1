#!/usr/bin/env python3
"""Seeds of the fuzz targets from the public payloads of shared/fixtures, written at run time
into a scratch folder (never committed: the fixtures stay in shared/, see docs/decisions.md).

`seeds.py FIXTURES OUT` writes OUT/<target>/<sha1>: each fixture file as it is, and, where a
file is a collection (a JSON object or array of payloads, as pywa's and Meta's examples and
kutana's session are), each of its members too. `cli_parse` gets every payload behind the
byte that selects its platform; `secrets` gets every payload as the body of a right and of a
wrong secret."""
import hashlib, json, os, sys

PLATFORMS = ["telegram", "whatsapp", "max", "vk", "avito"]  # the targets' selector order
SECRET = b"fuzz-Secret_7f3a"

def payloads(path):
    raw = open(path, "rb").read()
    yield raw
    try:
        doc = json.loads(raw)
    except ValueError:
        return
    members = doc.values() if isinstance(doc, dict) else doc if isinstance(doc, list) else []
    for member in members:
        if isinstance(member, (dict, list)):
            yield json.dumps(member, ensure_ascii=False, separators=(",", ":")).encode()

def write(out, target, data):
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

def main(fixtures, out):
    count = 0
    for index, platform in enumerate(PLATFORMS):
        root = os.path.join(fixtures, platform)
        for dirpath, _, files in os.walk(root):
            for name in sorted(files):
                if name.startswith("LICENSE") or name.endswith((".md", ".txt")):
                    continue
                for data in payloads(os.path.join(dirpath, name)):
                    write(out, platform, data)
                    write(out, "cli_parse", bytes([index]) + data)
                    write(out, "secrets", SECRET + b"\0" + SECRET + b"\0" + data)
                    write(out, "secrets", SECRET + b"\0sha256=00\0" + data)
                    count += 1
    print(f"{count} fixture payloads seeded from {fixtures}", file=sys.stderr)

main(sys.argv[1], sys.argv[2])
