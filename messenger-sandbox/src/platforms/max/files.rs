//! Media: the two-step upload (`POST /uploads?type=` hands out a URL on the sandbox's upload
//! host, `{max}/upload/<id>`, which takes one multipart `data` part), the processing delay
//! ([`SandboxConfig::max_processing_delay`](crate::SandboxConfig)), tokens owned by one bot,
//! the attachments of stored media, downloads at `{max}/files/<key>` (a signed URL: no token
//! needed) and `GET /videos/{token}`.
//!
//! Limits (max.md §4): images JPG/PNG/GIF/TIFF/BMP/HEIC up to 50 MB and 7680×7680 px, video
//! MP4/MOV/MKV/WEBM up to 250 MB, audio up to 256 MB, files up to 4 GB (1 MB = 10^6 bytes, as
//! the core's capabilities read it), all within the sandbox's own request limit
//! ([`SandboxConfig::max_request_bytes`](crate::SandboxConfig)). A file name with an
//! extension of [`FORBIDDEN_EXTENSIONS`] is refused with "File extension is forbidden".

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State as AxState};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::envelope::{MaxError, fault_response, query, raw};
use crate::api::MessageKind;
use crate::media::{self, Blob, Spooled};
use crate::server::{self, ConnHandle, json_response};
use crate::state::{Shared, State, StoredMedia, random_alnum};

const MB: u64 = 1_000_000;

/// Extensions the sandbox's upload host refuses (MAX does not publish its list).
pub(super) const FORBIDDEN_EXTENSIONS: &[&str] = &[
    "exe", "bat", "cmd", "com", "scr", "pif", "msi", "vbs", "vbe", "js", "jse", "wsf", "wsh",
    "ps1", "jar", "cpl", "hta", "lnk", "reg",
];

const IMAGE_MIME: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/tiff",
    "image/bmp",
    "image/heic",
];
const VIDEO_MIME: &[&str] = &[
    "video/mp4",
    "video/quicktime",
    "video/x-matroska",
    "video/webm",
];
const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mov", "mkv", "webm"];
/// The largest image side in pixels.
const IMAGE_MAX_SIDE: u32 = 7680;

/// The kind of a stored medium (an upload `type`, or a customer's sticker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MediaKind {
    Image,
    Video,
    Audio,
    File,
    Sticker,
}

impl MediaKind {
    fn from_upload_type(t: &str) -> Option<Self> {
        match t {
            "image" => Some(Self::Image),
            "video" => Some(Self::Video),
            "audio" => Some(Self::Audio),
            "file" => Some(Self::File),
            _ => None,
        }
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::File => "file",
            Self::Sticker => "sticker",
        }
    }

    pub(super) fn message_kind(self) -> MessageKind {
        match self {
            Self::Image => MessageKind::Image,
            Self::Video => MessageKind::Video,
            Self::Audio => MessageKind::Audio,
            Self::File => MessageKind::File,
            Self::Sticker => MessageKind::Sticker,
        }
    }

    fn limit(self) -> u64 {
        match self {
            Self::Image => 50 * MB,
            Self::Video => 250 * MB,
            Self::Audio => 256 * MB,
            Self::File | Self::Sticker => 4_000 * MB,
        }
    }
}

/// Media of every bot (a sandbox-wide store in `State::stores`).
#[derive(Default)]
pub(super) struct Store {
    /// Upload URLs handed out by `POST /uploads`, by id.
    slots: HashMap<String, Slot>,
    /// Media by token.
    media: HashMap<String, MaxMedia>,
    /// Download key -> token.
    files: HashMap<String, String>,
    next_photo_id: i64,
}

/// One upload URL: it takes one file.
struct Slot {
    owner: String,
    kind: MediaKind,
    /// Video and audio: the token handed out with the URL.
    token: Option<String>,
    used: bool,
}

/// One medium a bot may attach by its token.
pub(super) struct MaxMedia {
    owner: String,
    pub kind: MediaKind,
    /// The bytes, once uploaded (`None` for an image sent by URL, or a video or audio token
    /// whose bytes have not come).
    blob: Option<u64>,
    /// When processing ends (sandbox clock, ms); `None` until the bytes come.
    ready_at_ms: Option<i64>,
    /// The download key (`{max}/files/<key>`), or the external URL of an image sent by URL.
    key: String,
    external_url: Option<String>,
    photo_id: i64,
    code: Option<String>,
}

impl MaxMedia {
    /// Whether a message may carry it now.
    pub(super) fn ready(&self, now_ms: i64) -> bool {
        self.external_url.is_some()
            || self.code.is_some()
            || self.ready_at_ms.is_some_and(|at| now_ms >= at)
    }
}

fn store(state: &mut State) -> &mut Store {
    state.stores.get_or_default::<Store>()
}

/// The medium of `token`, if `owner` may use it.
pub(super) fn owned<'a>(state: &'a State, owner: &str, token: &str) -> Option<&'a MaxMedia> {
    state
        .stores
        .get::<Store>()?
        .media
        .get(token)
        .filter(|m| m.owner == owner)
}

fn add_media(state: &mut State, mut media: MaxMedia) -> String {
    let token = random_alnum(40);
    let s = store(state);
    s.next_photo_id += 1;
    media.photo_id = 6_543_210_000 + s.next_photo_id;
    s.files.insert(media.key.clone(), token.clone());
    s.media.insert(token.clone(), media);
    token
}

fn new_media(owner: &str, kind: MediaKind) -> MaxMedia {
    MaxMedia {
        owner: owner.to_string(),
        kind,
        blob: None,
        ready_at_ms: None,
        key: random_alnum(32),
        external_url: None,
        photo_id: 0,
        code: None,
    }
}

/// Stores a customer's media for the bot `owner` (ready at once); returns its token.
pub(super) fn store_inbound(
    state: &mut State,
    owner: &str,
    kind: MediaKind,
    blob: Blob,
    now_ms: i64,
) -> String {
    let blob_id = state.add_blob(blob);
    let mut media = new_media(owner, kind);
    media.blob = Some(blob_id);
    media.ready_at_ms = Some(now_ms);
    if kind == MediaKind::Sticker {
        media.code = Some(random_alnum(12).to_ascii_lowercase());
    }
    add_media(state, media)
}

/// Records an image sent by an external URL (the sandbox has no network: never fetched).
pub(super) fn store_image_url(state: &mut State, owner: &str, url: &str) -> String {
    let mut media = new_media(owner, MediaKind::Image);
    media.external_url = Some(url.to_string());
    add_media(state, media)
}

/// A sticker sent by its `code`.
pub(super) fn store_sticker_code(state: &mut State, owner: &str, code: &str) -> String {
    let mut media = new_media(owner, MediaKind::Sticker);
    media.code = Some(code.to_string());
    add_media(state, media)
}

fn download_url(root: &str, media: &MaxMedia) -> String {
    media
        .external_url
        .clone()
        .unwrap_or_else(|| format!("{root}/files/{}", media.key))
}

/// The attachment of a stored medium as MAX shows it in a message (max.md §5.4).
pub(super) fn attachment_json(state: &State, root: &str, token: &str) -> Option<Value> {
    let media = state.stores.get::<Store>()?.media.get(token)?;
    let blob = media.blob.and_then(|b| state.blobs.get(&b));
    let url = download_url(root, media);
    Some(match media.kind {
        MediaKind::Image => json!({
            "type": "image",
            "payload": { "photo_id": media.photo_id, "token": token, "url": url },
        }),
        MediaKind::Video => json!({
            "type": "video",
            "payload": { "url": url, "token": token },
            "width": 640,
            "height": 360,
            "duration": 1,
        }),
        MediaKind::Audio => json!({
            "type": "audio",
            "payload": { "url": url, "token": token },
        }),
        MediaKind::File => {
            let name = blob.and_then(|b| b.file_name.clone()).unwrap_or_else(|| {
                format!(
                    "file.{}",
                    media::extension(blob.map_or("", |b| b.mime.as_str()))
                )
            });
            json!({
                "type": "file",
                "payload": { "url": url, "token": token },
                "filename": name,
                "size": blob.map_or(0, Blob::size),
            })
        }
        MediaKind::Sticker => json!({
            "type": "sticker",
            "payload": { "url": url, "code": media.code },
            "width": 512,
            "height": 512,
        }),
    })
}

/// The control view's record of a stored medium: its bytes, its token, and the URL of an
/// image sent by URL.
pub(super) fn stored_media(state: &State, token: &str) -> StoredMedia {
    let Some(media) = state.stores.get::<Store>().and_then(|s| s.media.get(token)) else {
        return StoredMedia::default();
    };
    StoredMedia {
        blob: media.blob,
        mime: None,
        file_name: None,
        url: media.external_url.clone(),
        reference: Some(token.to_string()),
    }
}

/// Where a stored medium downloads from (the attachment's `payload.url`).
pub(super) fn media_url(state: &State, root: &str, token: &str) -> Option<String> {
    let media = state.stores.get::<Store>()?.media.get(token)?;
    Some(download_url(root, media))
}

// ---------------------------------------------------------------------------------------------
// POST /uploads and the upload host
// ---------------------------------------------------------------------------------------------

/// `POST /uploads?type=image|video|audio|file`: `{url, token?}` (video and audio get their
/// token here, max.md §4 step 1).
pub(super) fn get_upload_url(
    shared: &Shared,
    account_id: &str,
    req: &Request,
) -> Result<Value, MaxError> {
    let query = query(req.uri());
    let kind = match query.get("type").map(|t| t.trim().to_ascii_lowercase()) {
        None => return Err(MaxError::payload("Missing required parameter: type")),
        Some(t) if t == "photo" => {
            return Err(MaxError::payload(
                "Invalid type: photo is no longer supported, use image",
            ));
        }
        Some(t) => MediaKind::from_upload_type(&t).ok_or_else(|| {
            MaxError::payload("Invalid type: expected one of image, video, audio, file")
        })?,
    };
    let root = shared
        .urls
        .platform(messenger_core::Platform::Max)
        .unwrap_or_default();
    let mut state = shared.lock();
    let token = matches!(kind, MediaKind::Video | MediaKind::Audio)
        .then(|| add_media(&mut state, new_media(account_id, kind)));
    let id = random_alnum(32);
    store(&mut state).slots.insert(
        id.clone(),
        Slot {
            owner: account_id.to_string(),
            kind,
            token: token.clone(),
            used: false,
        },
    );
    tracing::debug!(account = %account_id, kind = kind.as_str(), "sandbox max: upload URL issued");
    let mut answer = json!({ "url": format!("{root}/upload/{id}") });
    if let Some(token) = token {
        answer["token"] = json!(token);
    }
    Ok(answer)
}

/// `POST {max}/upload/<id>`: one multipart `data` part; no token needed (the URL is the
/// permission, as on MAX's upload hosts).
pub(super) async fn upload_host(
    AxState(shared): AxState<Arc<Shared>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let slot = {
        let state = shared.lock();
        state
            .stores
            .get::<Store>()
            .and_then(|s| s.slots.get(&id))
            .map(|slot| (slot.owner.clone(), slot.kind))
    };
    let Some((owner, kind)) = slot else {
        return MaxError::not_found("Upload URL not found").into_response();
    };
    let work = async {
        if req.method() != Method::POST {
            return MaxError::method_not_allowed().into_response();
        }
        match receive(&shared, &id, kind, req).await {
            Ok(response) => response,
            Err(err) => err.into_response(),
        }
    };
    server::with_faults(&shared, &owner, "upload", conn, fault_response, work).await
}

/// The extension of a file name, lowercase.
fn extension(file_name: Option<&str>) -> Option<String> {
    file_name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

/// Checks an upload against the limits of its type (`head`: its first bytes, for magic bytes
/// and image headers).
fn check_upload(
    kind: MediaKind,
    head: &[u8],
    size: u64,
    mime: &str,
    file_name: Option<&str>,
) -> Result<(), MaxError> {
    if size == 0 {
        return Err(MaxError::payload("File is empty"));
    }
    let ext = extension(file_name);
    if ext
        .as_deref()
        .is_some_and(|e| FORBIDDEN_EXTENSIONS.contains(&e))
    {
        return Err(MaxError::payload("File extension is forbidden"));
    }
    if size > kind.limit() {
        return Err(MaxError::new(
            413,
            "proto.payload",
            format!(
                "File is too large: at most {} MB for {}",
                kind.limit() / MB,
                kind.as_str()
            ),
        ));
    }
    match kind {
        MediaKind::Image => {
            let sniffed = media::sniff(head);
            if !IMAGE_MIME.contains(&mime) || sniffed.is_some_and(|m| !m.starts_with("image/")) {
                return Err(MaxError::payload(
                    "Unsupported image format: JPG, PNG, GIF, TIFF, BMP or HEIC",
                ));
            }
            if let Some((w, h)) = media::image_dimensions(head)
                && w.max(h) > IMAGE_MAX_SIDE
            {
                return Err(MaxError::payload(format!(
                    "Image is too large: at most {IMAGE_MAX_SIDE}x{IMAGE_MAX_SIDE} px"
                )));
            }
        }
        MediaKind::Video => {
            let by_ext = ext
                .as_deref()
                .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e));
            if !VIDEO_MIME.contains(&mime) && !by_ext {
                return Err(MaxError::payload(
                    "Unsupported video format: MP4, MOV, MKV or WEBM",
                ));
            }
        }
        MediaKind::Audio => {
            if !mime.starts_with("audio/") {
                return Err(MaxError::payload("Unsupported audio format"));
            }
        }
        MediaKind::File | MediaKind::Sticker => {}
    }
    Ok(())
}

async fn receive(
    shared: &Shared,
    id: &str,
    kind: MediaKind,
    req: Request,
) -> Result<Response, MaxError> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(MaxError::payload(
            "Expected multipart/form-data with the file in the part `data`",
        ));
    }
    let limit = shared.config.max_request_bytes;
    let too_large = || MaxError::new(413, "proto.payload", "Request body too large");
    let req = req.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|_| MaxError::payload("Malformed multipart body"))?;
    let mut file: Option<(Spooled, Option<String>, Option<String>)> = None;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => return Err(MaxError::payload("Malformed multipart body")),
        };
        let name = field.name().unwrap_or_default().to_string();
        if name != "data" || file.is_some() {
            match media::discard(&mut field).await {
                Ok(()) => continue,
                Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large());
                }
                Err(_) => return Err(MaxError::payload("Malformed multipart body")),
            }
        }
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        // The file goes to the media folder as it arrives, never whole into memory.
        let data = match media::spool(&shared.media, &mut field, u64::MAX).await {
            Ok(data) => data,
            Err(err) if err.is_too_large() => return Err(too_large()),
            Err(media::SpoolError::Io(err)) => {
                tracing::warn!(error = %err, "sandbox max: an upload was not stored");
                return Err(MaxError::new(
                    500,
                    "internal.error",
                    "Internal server error",
                ));
            }
            Err(_) => return Err(MaxError::payload("Malformed multipart body")),
        };
        file = Some((data, file_name, content_type));
    }
    let (data, file_name, content_type) =
        file.ok_or_else(|| MaxError::payload("No file in the part `data`"))?;
    let mime = media::resolve_mime(content_type.as_deref(), file_name.as_deref(), data.head());
    let mime = mime.split(';').next().unwrap_or(&mime).trim().to_string();
    check_upload(kind, data.head(), data.size(), &mime, file_name.as_deref())?;

    let now = shared.now_ms();
    let delay =
        i64::try_from(shared.config.max_processing_delay.as_millis()).unwrap_or(i64::MAX / 4);
    let size = data.size();
    let mut state = shared.lock();
    let (owner, slot_token) = match store(&mut state).slots.get_mut(id) {
        Some(slot) if slot.used => {
            return Err(MaxError::payload(
                "This upload URL has taken its file; request a new one",
            ));
        }
        Some(slot) => {
            slot.used = true;
            (slot.owner.clone(), slot.token.clone())
        }
        None => return Err(MaxError::not_found("Upload URL not found")),
    };
    let blob_id = state.add_blob(Blob::new(data, mime, file_name));
    let token = match slot_token {
        Some(token) => token,
        None => add_media(&mut state, new_media(&owner, kind)),
    };
    let photo_id = {
        let media = store(&mut state)
            .media
            .get_mut(&token)
            .ok_or_else(|| MaxError::not_found("Upload URL not found"))?;
        media.blob = Some(blob_id);
        media.ready_at_ms = Some(now.saturating_add(delay));
        media.photo_id
    };
    drop(state);
    tracing::debug!(kind = kind.as_str(), size, "sandbox max: upload received");
    Ok(match kind {
        MediaKind::Image => json_response(
            StatusCode::OK,
            &json!({ "photos": { photo_id.to_string(): { "token": token } } }),
        ),
        MediaKind::File | MediaKind::Sticker => {
            json_response(StatusCode::OK, &json!({ "token": token }))
        }
        // max.md §4: the token came with the URL; the host answers XML.
        MediaKind::Video | MediaKind::Audio => raw(
            "application/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<retval>1</retval>",
        ),
    })
}

// ---------------------------------------------------------------------------------------------
// Downloads and GET /videos
// ---------------------------------------------------------------------------------------------

/// `GET {max}/files/<key>`: the bytes (a signed URL, as MAX's CDN URLs: no token needed).
pub(super) async fn download(
    AxState(shared): AxState<Arc<Shared>>,
    Path(key): Path<String>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let owner = {
        let state = shared.lock();
        state.stores.get::<Store>().and_then(|s| {
            let token = s.files.get(&key)?;
            s.media.get(token).map(|m| m.owner.clone())
        })
    };
    let Some(owner) = owner else {
        return MaxError::not_found("File not found").into_response();
    };
    let method = req.method().clone();
    let work = async {
        if method != Method::GET {
            return MaxError::method_not_allowed().into_response();
        }
        let blob = {
            let state = shared.lock();
            state
                .stores
                .get::<Store>()
                .and_then(|s| s.media.get(s.files.get(&key)?))
                .and_then(|m| m.blob)
                .and_then(|b| state.blobs.get(&b))
                .cloned()
        };
        match blob {
            Some(blob) => blob.response(Some(&blob.mime)),
            None => MaxError::not_found("File not found").into_response(),
        }
    };
    server::with_faults(&shared, &owner, "download", conn, fault_response, work).await
}

/// `GET /videos/{token}` (`VideoAttachmentDetails`): `urls` is `null` until the video is
/// processed.
pub(super) fn video_details(
    shared: &Shared,
    account_id: &str,
    token: &str,
) -> Result<Value, MaxError> {
    let now = shared.now_ms();
    let root = shared
        .urls
        .platform(messenger_core::Platform::Max)
        .unwrap_or_default();
    let state = shared.lock();
    let media = owned(&state, account_id, token)
        .filter(|m| m.kind == MediaKind::Video)
        .ok_or_else(|| MaxError::not_found("Video not found"))?;
    let blob = media.blob.and_then(|b| state.blobs.get(&b));
    let urls = if media.ready(now) && blob.is_some() {
        json!({ "mp4_720": download_url(root, media) })
    } else {
        Value::Null
    };
    Ok(json!({
        "token": token,
        "urls": urls,
        "thumbnail": null,
        "width": 640,
        "height": 360,
        "duration": 1,
    }))
}
