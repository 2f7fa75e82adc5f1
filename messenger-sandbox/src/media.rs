//! Media shared by the platforms: the blob store on disk, MIME sniffing from magic bytes, image
//! dimensions, hashes.
//!
//! # The blob store
//!
//! Every upload (a connector's multipart part, a customer's media from the control API) is
//! kept in a file of the sandbox's own media folder ([`MediaDir`]: a fresh folder under the
//! system's temporary folder, removed when the sandbox shuts down or is dropped), never in
//! memory: an upload is written to its file chunk by chunk as it arrives ([`spool`]), hashed on
//! the way, and served back from the file in chunks ([`Blob::response`]). What stays in memory
//! per blob is its size, its SHA-256, its MIME type and file name, and its first
//! [`HEAD_LEN`] bytes, which is all the emulators look at (magic bytes, image dimensions).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::{Bytes, BytesMut};
use hyper::body::{Frame, SizeHint};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

/// How many leading bytes of a blob are kept in memory (for magic bytes and image headers).
pub(crate) const HEAD_LEN: usize = 64 * 1024;

/// The size of the chunks a blob is read back in.
const READ_CHUNK: usize = 64 * 1024;

/// The sandbox's media folder: created on start under the system's temporary folder, removed
/// (with every file in it) by [`remove`](Self::remove) or when dropped.
#[derive(Debug)]
pub(crate) struct MediaDir {
    path: PathBuf,
    next: AtomicU64,
}

impl MediaDir {
    /// A new, empty folder `messenger-sandbox-<pid>-<random>` in the temporary folder. The
    /// folders of sandboxes whose process is gone (killed before they could remove theirs) are
    /// removed first.
    pub(crate) fn create() -> io::Result<Arc<Self>> {
        let base = std::env::temp_dir();
        remove_orphans(&base);
        for _ in 0..16 {
            let path = base.join(format!(
                "{DIR_PREFIX}{}-{:016x}",
                std::process::id(),
                fastrand::u64(..)
            ));
            match fs::create_dir(&path) {
                Ok(()) => {
                    return Ok(Arc::new(Self {
                        path,
                        next: AtomicU64::new(0),
                    }));
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free name for the sandbox's media folder",
        ))
    }

    /// Where the folder is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the folder and every file in it (a blob still being served keeps its open file
    /// until the response ends). Later uploads fail.
    pub(crate) fn remove(&self) {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => tracing::debug!("sandbox: media folder removed"),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => tracing::warn!(error = %err, "sandbox: the media folder was not removed"),
        }
    }

    /// A new file in the folder, removed when the returned handle is dropped.
    fn new_file(&self) -> io::Result<(BlobFile, fs::File)> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.path.join(format!("{n}.blob"));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((BlobFile { path }, file))
    }
}

/// The prefix of every sandbox's media folder.
const DIR_PREFIX: &str = "messenger-sandbox-";

/// Removes the media folders in `base` of processes that are gone (Linux: no `/proc/<pid>`;
/// elsewhere nothing is removed). A folder of a process that is still running is kept, even
/// where its pid was reused by another program.
fn remove_orphans(base: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            // Another user's folder, or one another sandbox removes at the same moment: fine.
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for MediaDir {
    fn drop(&mut self) {
        self.remove();
    }
}

/// One file of the media folder, removed when the last handle to it goes.
#[derive(Debug)]
struct BlobFile {
    path: PathBuf,
}

impl Drop for BlobFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Bytes written to the media folder: the file, its size, its SHA-256 and its first
/// [`HEAD_LEN`] bytes. Cloning shares the file.
#[derive(Clone, Debug)]
pub(crate) struct Spooled {
    file: Arc<BlobFile>,
    size: u64,
    sha256: [u8; 32],
    head: Bytes,
}

impl Spooled {
    /// Writes bytes already in memory (a customer's media from the control API) to a new file.
    pub(crate) fn from_bytes(dir: &MediaDir, bytes: &[u8]) -> io::Result<Self> {
        let (blob_file, mut file) = dir.new_file()?;
        file.write_all(bytes)?;
        Ok(Self {
            file: Arc::new(blob_file),
            size: bytes.len() as u64,
            sha256: Sha256::digest(bytes).into(),
            head: Bytes::copy_from_slice(&bytes[..bytes.len().min(HEAD_LEN)]),
        })
    }

    /// The size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The first [`HEAD_LEN`] bytes (all of them for a smaller file).
    pub(crate) fn head(&self) -> &[u8] {
        &self.head
    }
}

/// Why an upload could not be spooled.
#[derive(Debug)]
pub(crate) enum SpoolError {
    /// More than the limit arrived (the rest was not read).
    TooLarge,
    /// The request body failed (malformed multipart, a dropped connection, or the request's
    /// own size limit: see [`MultipartError::status`]).
    Body(MultipartError),
    /// The media folder could not be written.
    Io(io::Error),
}

impl SpoolError {
    /// Whether the upload was refused for its size (by the limit given or the request's).
    pub(crate) fn is_too_large(&self) -> bool {
        match self {
            SpoolError::TooLarge => true,
            SpoolError::Body(err) => err.status() == StatusCode::PAYLOAD_TOO_LARGE,
            SpoolError::Io(_) => false,
        }
    }
}

/// Streams a multipart field into a new file of `dir`, at most `limit` bytes; the field is
/// never held in memory whole. On any error the partial file is removed.
pub(crate) async fn spool(
    dir: &MediaDir,
    field: &mut Field<'_>,
    limit: u64,
) -> Result<Spooled, SpoolError> {
    let (blob_file, file) = dir.new_file().map_err(SpoolError::Io)?;
    let blob_file = Arc::new(blob_file);
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut head = BytesMut::new();
    let mut size: u64 = 0;
    while let Some(chunk) = field.chunk().await.map_err(SpoolError::Body)? {
        size += chunk.len() as u64;
        if size > limit {
            return Err(SpoolError::TooLarge);
        }
        hasher.update(&chunk);
        if head.len() < HEAD_LEN {
            let take = chunk.len().min(HEAD_LEN - head.len());
            head.extend_from_slice(&chunk[..take]);
        }
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .map_err(SpoolError::Io)?;
    }
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(SpoolError::Io)?;
    Ok(Spooled {
        file: blob_file,
        size,
        sha256: hasher.finalize().into(),
        head: head.freeze(),
    })
}

/// Reads the rest of a multipart field and throws it away (a part the emulator ignores).
pub(crate) async fn discard(field: &mut Field<'_>) -> Result<(), MultipartError> {
    while field.chunk().await?.is_some() {}
    Ok(())
}

/// Bytes the sandbox holds (an upload by a connector or by a customer), on disk.
#[derive(Clone, Debug)]
pub(crate) struct Blob {
    data: Spooled,
    pub mime: String,
    pub file_name: Option<String>,
}

impl Blob {
    /// A blob of spooled bytes.
    pub(crate) fn new(data: Spooled, mime: String, file_name: Option<String>) -> Self {
        Self {
            data,
            mime,
            file_name,
        }
    }

    /// A blob of bytes in memory (written to the media folder now).
    pub(crate) fn from_bytes(
        dir: &MediaDir,
        bytes: &[u8],
        mime: String,
        file_name: Option<String>,
    ) -> messenger_core::Result<Self> {
        let data = Spooled::from_bytes(dir, bytes).map_err(|e| {
            messenger_core::Error::transport("the sandbox cannot write its media folder")
                .with_source(e)
        })?;
        Ok(Self::new(data, mime, file_name))
    }

    pub(crate) fn size(&self) -> u64 {
        self.data.size
    }

    /// The first [`HEAD_LEN`] bytes (magic bytes, image headers).
    pub(crate) fn head(&self) -> &[u8] {
        &self.data.head
    }

    pub(crate) fn sha256_hex(&self) -> String {
        hex::encode(self.data.sha256)
    }

    pub(crate) fn sha256_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.data.sha256)
    }

    /// A `200 OK` whose body is the blob's bytes, read from its file in chunks as they are
    /// sent (`Content-Length` set), with `content_type` if given; `500` if the file is gone.
    pub(crate) fn response(&self, content_type: Option<&str>) -> Response {
        let file = match fs::File::open(&self.data.file.path) {
            Ok(file) => file,
            Err(err) => {
                tracing::warn!(error = %err, "sandbox: a stored blob cannot be read");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let body = FileBody {
            file: tokio::fs::File::from_std(file),
            remaining: self.data.size,
            buf: BytesMut::new(),
            _keep: self.data.file.clone(),
        };
        let mut response = Response::new(Body::new(body));
        if let Some(value) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        response
    }
}

/// A response body read from a blob's file, `remaining` bytes, a chunk at a time.
struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: BytesMut,
    /// Keeps the file from being removed while it is served.
    _keep: Arc<BlobFile>,
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(this.remaining)
            .unwrap_or(usize::MAX)
            .min(READ_CHUNK);
        this.buf.resize(want, 0);
        let mut read = ReadBuf::new(&mut this.buf[..want]);
        let polled = Pin::new(&mut this.file).poll_read(cx, &mut read);
        let n = read.filled().len();
        if let Err(err) = ready!(polled) {
            this.remaining = 0;
            return Poll::Ready(Some(Err(err)));
        }
        if n == 0 {
            this.remaining = 0;
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a stored blob is shorter than its size",
            ))));
        }
        this.remaining -= n as u64;
        let chunk = this.buf.split_to(n).freeze();
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
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
