//! Media helpers shared by the platforms: stored blobs, MIME sniffing from magic bytes, image
//! dimensions, hashes.

use base64::Engine;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Bytes the sandbox holds (an upload by a connector or by a customer).
#[derive(Clone)]
pub(crate) struct Blob {
    pub bytes: Bytes,
    pub mime: String,
    pub file_name: Option<String>,
    pub sha256: [u8; 32],
}

impl Blob {
    pub(crate) fn new(bytes: Bytes, mime: String, file_name: Option<String>) -> Self {
        let sha256 = Sha256::digest(&bytes).into();
        Self {
            bytes,
            mime,
            file_name,
            sha256,
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub(crate) fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    pub(crate) fn sha256_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.sha256)
    }
}

/// The MIME type the magic bytes say, for the formats the platforms care about.
pub(crate) fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if starts(b"BM") && bytes.len() > 26 {
        Some("image/bmp")
    } else if starts(b"%PDF-") {
        Some("application/pdf")
    } else if starts(b"OggS") {
        Some("audio/ogg")
    } else if starts(b"ID3") || (bytes.len() > 2 && bytes[0] == 0xFF && bytes[1] & 0xE6 == 0xE2) {
        Some("audio/mpeg")
    } else if bytes.len() > 2 && bytes[0] == 0xFF && bytes[1] & 0xF6 == 0xF0 {
        Some("audio/aac")
    } else if starts(b"#!AMR") {
        Some("audio/amr")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        match &bytes[8..11] {
            b"M4A" | b"M4B" => Some("audio/mp4"),
            b"3gp" | b"3g2" => Some("video/3gpp"),
            _ => Some("video/mp4"),
        }
    } else if starts(b"PK\x03\x04") {
        Some("application/zip")
    } else {
        None
    }
}

/// The MIME type of an upload: what the bytes say for known formats, else the declared type,
/// else what the file name says, else `application/octet-stream`.
pub(crate) fn resolve_mime(
    declared: Option<&str>,
    file_name: Option<&str>,
    bytes: &[u8],
) -> String {
    let declared = declared
        .map(|d| d.split(';').next().unwrap_or(d).trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty() && d != "application/octet-stream");
    if let Some(d) = declared {
        return d;
    }
    if let Some(s) = sniff(bytes) {
        return s.to_string();
    }
    if let Some(name) = file_name
        && let Some(m) = mime_guess::from_path(name).first_raw()
    {
        return m.to_string();
    }
    "application/octet-stream".to_string()
}

/// The file extension for a MIME type, for file paths.
pub(crate) fn extension(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        "audio/ogg" => "oga",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        "audio/aac" => "aac",
        "audio/amr" => "amr",
        "video/mp4" => "mp4",
        "video/3gpp" | "video/3gp" => "3gp",
        "application/zip" => "zip",
        "text/plain" => "txt",
        _ => "bin",
    }
}

/// Width and height of a PNG, GIF or JPEG image, read from its header.
pub(crate) fn image_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let be16 = |b: &[u8], i: usize| -> Option<u32> {
        Some(u32::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])))
    };
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() >= 24 {
        let w = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
        let h = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
        return Some((w, h));
    }
    if (bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")) && bytes.len() >= 10 {
        let w = u32::from(u16::from_le_bytes([bytes[6], bytes[7]]));
        let h = u32::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        return Some((w, h));
    }
    if bytes.starts_with(b"\xFF\xD8") {
        let mut i = 2;
        while i + 4 <= bytes.len() {
            if bytes[i] != 0xFF {
                i += 1;
                continue;
            }
            let marker = bytes[i + 1];
            if marker == 0xD8 || marker == 0x01 || (0xD0..=0xD7).contains(&marker) || marker == 0xFF
            {
                i += if marker == 0xFF { 1 } else { 2 };
                continue;
            }
            let len = usize::try_from(be16(bytes, i + 2)?).ok()?;
            let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
            if is_sof {
                let h = be16(bytes, i + 5)?;
                let w = be16(bytes, i + 7)?;
                return Some((w, h));
            }
            i += 2 + len;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_common_formats() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0"), Some("image/jpeg"));
        assert_eq!(sniff(b"OggS\0\x02"), Some("audio/ogg"));
        assert_eq!(sniff(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42"), Some("video/mp4"));
        assert_eq!(sniff(b"\0\0\0\x18ftypM4A "), Some("audio/mp4"));
        assert_eq!(sniff(b"hello"), None);
    }

    #[test]
    fn resolves_mime_in_order() {
        assert_eq!(resolve_mime(Some("image/png; x=y"), None, b""), "image/png");
        assert_eq!(
            resolve_mime(Some("application/octet-stream"), None, b"%PDF-"),
            "application/pdf"
        );
        assert_eq!(resolve_mime(None, Some("a.txt"), b"hello"), "text/plain");
        assert_eq!(
            resolve_mime(None, None, b"hello"),
            "application/octet-stream"
        );
    }

    #[test]
    fn reads_png_and_jpeg_dimensions() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(image_dimensions(&png), Some((640, 480)));
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01,
            0x00, 0x02, 0x00,
        ];
        assert_eq!(image_dimensions(&jpeg), Some((512, 256)));
    }
}
