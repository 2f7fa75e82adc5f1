//! Media (vk.md §2.2, §3.3): the upload servers, saved photos and documents, attachment strings,
//! customers' media, and downloads.
//!
//! - `photos.getMessagesUploadServer(peer_id)` → `{upload_url: "{vk}/upload/photo/<key>",
//!   album_id: -64, user_id: 0, group_id}`; `POST upload_url` with the multipart field `photo`
//!   → `{server, photo, hash}` (`photo: "[]"` when the file is not a JPG, PNG or GIF of at most
//!   50 MB with width + height at most 14000 and sides at most 20:1); then
//!   `photos.saveMessagesPhoto(photo, server, hash)` → `[photo]`.
//! - `docs.getMessagesUploadServer(type=doc|audio_message|graffiti, peer_id)` →
//!   `{upload_url: "{vk}/upload/doc/<key>"}`; `POST upload_url` with the multipart field `file`
//!   → `{file}`, or `{error, error_descr}` for an empty file, one over 200 MB, an MP3 or an
//!   executable document, a voice note that is not OGG or graffiti that is not PNG; then
//!   `docs.save(file, title?)` → `{type, doc | audio_message | graffiti}`.
//! - Both upload servers refuse a peer the community may not write to (900 / 901), as VK does.
//! - Attachment strings `<type><owner>_<id>[_<access key>]` name saved objects; the objects of a
//!   customer need their access key.
//! - Downloads: `{vk}/media/<key>` (photo sizes, voice notes' `link_ogg` / `link_mp3`, music);
//!   a document's `url` is `{vk}/doc/<owner>_<id>?hash=...`, which redirects (302) to its file,
//!   as `vk.com/doc...` links do. No token is needed: the URL is the credential.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use messenger_core::{Error, Platform, Result};
use serde_json::{Value, json};

use super::customer::may_write;
use super::envelope::{Params, VkError, fault_response, plain};
use super::{DOC_LIMIT, PHOTO_LIMIT, community, is_chat};
use crate::api::{MediaUpload, MessageKind};
use crate::media::{self, Blob, Spooled};
use crate::server::{self, ConnHandle, json_response};
use crate::state::{Shared, State, StoredMedia, random_alnum};

/// Upload URLs are forgotten after a day.
const SERVER_TTL_MS: i64 = 24 * 3600 * 1000;
/// Room for the multipart framing around a file at its limit.
const MULTIPART_SLACK: u64 = 1 << 20;

/// What kind of object a saved file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ObjKind {
    Photo,
    Doc,
    AudioMessage,
    Graffiti,
    Audio,
    Video,
    Sticker,
}

impl ObjKind {
    /// The attachment type of the object in a message (`{"type": T, T: {...}}`).
    fn wire(self) -> &'static str {
        match self {
            ObjKind::Photo => "photo",
            ObjKind::Doc => "doc",
            ObjKind::AudioMessage => "audio_message",
            ObjKind::Graffiti => "graffiti",
            ObjKind::Audio => "audio",
            ObjKind::Video => "video",
            ObjKind::Sticker => "sticker",
        }
    }

    /// The type prefix of its attachment string: voice notes and graffiti are documents.
    fn prefix(self) -> &'static str {
        match self {
            ObjKind::Photo => "photo",
            ObjKind::Doc | ObjKind::AudioMessage | ObjKind::Graffiti => "doc",
            ObjKind::Audio => "audio",
            ObjKind::Video => "video",
            ObjKind::Sticker => "sticker",
        }
    }

    /// The kind the customer's phone shows.
    pub(super) fn message_kind(self) -> MessageKind {
        match self {
            ObjKind::Photo | ObjKind::Graffiti => MessageKind::Image,
            ObjKind::Doc => MessageKind::File,
            ObjKind::AudioMessage => MessageKind::Voice,
            ObjKind::Audio => MessageKind::Audio,
            ObjKind::Video => MessageKind::Video,
            ObjKind::Sticker => MessageKind::Sticker,
        }
    }
}

/// A saved object (a community's upload or a customer's media).
pub(super) struct VkObject {
    /// The sandbox account (community) whose conversations it belongs to.
    account: String,
    kind: ObjKind,
    owner_id: i64,
    access_key: Option<String>,
    blob: u64,
    /// The object as messages carry it.
    json: Value,
    /// A document link's `hash`.
    link_hash: String,
    /// The download key of its file.
    file_key: String,
}

/// What an upload server takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UploadKind {
    Photo,
    Doc,
    AudioMessage,
    Graffiti,
}

struct UploadServer {
    account: String,
    kind: UploadKind,
    created_ms: i64,
}

/// A file an upload server took, waiting for `saveMessagesPhoto` / `docs.save`.
struct Upload {
    account: String,
    kind: UploadKind,
    blob: u64,
    server: i64,
    hash: String,
}

/// Every community's media (a sandbox-wide store in `State::stores`).
#[derive(Default)]
pub(super) struct Store {
    /// `<prefix><owner>_<id>` -> object.
    objects: HashMap<String, VkObject>,
    /// Download key -> (account, blob).
    files: HashMap<String, (String, u64)>,
    servers: HashMap<String, UploadServer>,
    uploads: HashMap<String, Upload>,
    next_id: i64,
}

fn root(shared: &Shared) -> String {
    shared
        .urls
        .platform(Platform::Vk)
        .unwrap_or_default()
        .to_string()
}

fn media_url(root: &str, key: &str) -> String {
    format!("{root}/media/{key}")
}

/// VK's document `type`: 1 text, 2 archive, 3 gif, 4 image, 5 audio, 6 video, 7 e-book,
/// 8 unknown.
fn doc_type(ext: &str) -> u8 {
    match ext {
        "txt" | "pdf" | "doc" | "docx" | "odt" | "rtf" | "xls" | "xlsx" | "csv" => 1,
        "zip" | "rar" | "7z" | "gz" | "tar" => 2,
        "gif" => 3,
        "png" | "jpg" | "jpeg" | "webp" | "bmp" => 4,
        "ogg" | "oga" | "wav" | "m4a" | "aac" | "amr" => 5,
        "mp4" | "3gp" | "avi" | "mov" => 6,
        "epub" | "fb2" | "djvu" => 7,
        _ => 8,
    }
}

/// The extension of a file name, or the MIME type's.
fn extension(file_name: Option<&str>, mime: &str) -> String {
    file_name
        .and_then(|n| n.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()))
        .filter(|e| !e.is_empty() && e.len() <= 5 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| media::extension(mime).to_string())
}

/// A rough duration in seconds (the sandbox does not decode audio).
fn duration(size: u64) -> u64 {
    1 + size / 16_000
}

/// Stores a new object from a blob; returns its attachment string (with the access key).
#[allow(clippy::too_many_arguments)]
fn new_object(
    state: &mut State,
    root: &str,
    account: &str,
    kind: ObjKind,
    owner_id: i64,
    blob_id: u64,
    title: Option<String>,
    album_id: i64,
    now_ms: i64,
) -> String {
    let (size, mime, file_name, dims) = state
        .blobs
        .get(&blob_id)
        .map(|b| {
            (
                b.size(),
                b.mime.clone(),
                b.file_name.clone(),
                media::image_dimensions(b.head()),
            )
        })
        .unwrap_or_default();
    let store = state.stores.get_or_default::<Store>();
    store.next_id += 1;
    let id = 457_239_000 + store.next_id;
    let access_key = (kind != ObjKind::Sticker)
        .then(|| hex::encode(fastrand::u64(..).to_be_bytes())[..10].to_string());
    let file_key = format!(
        "{}.{}",
        random_alnum(32),
        extension(file_name.as_deref(), &mime)
    );
    let url = media_url(root, &file_key);
    let link_hash = random_alnum(18).to_ascii_lowercase();
    let date = now_ms.div_euclid(1000);
    let (w, h) = dims.unwrap_or((800, 600));
    let mut json = match kind {
        ObjKind::Photo => {
            let small_w = w.clamp(1, 75);
            let small_h = (u64::from(h) * u64::from(small_w) / u64::from(w.max(1))).max(1);
            json!({
                "id": id, "owner_id": owner_id, "album_id": album_id, "date": date,
                "has_tags": false, "text": "",
                "sizes": [
                    { "type": "s", "url": format!("{url}?size=s"), "width": small_w, "height": small_h },
                    { "type": "x", "url": url, "width": w, "height": h },
                ],
            })
        }
        ObjKind::Doc => {
            let ext = extension(file_name.as_deref(), &mime);
            json!({
                "id": id, "owner_id": owner_id,
                "title": title.or(file_name).unwrap_or_else(|| format!("document.{ext}")),
                "size": size, "ext": ext, "type": doc_type(&ext), "date": date,
                "url": format!("{root}/doc/{owner_id}_{id}?hash={link_hash}&dl=1"),
            })
        }
        ObjKind::AudioMessage => json!({
            "id": id, "owner_id": owner_id, "duration": duration(size),
            "waveform": [0, 3, 7, 12, 9, 4, 2, 0],
            "link_ogg": url, "link_mp3": url,
        }),
        ObjKind::Graffiti => json!({
            "id": id, "owner_id": owner_id, "url": url, "width": w, "height": h,
        }),
        ObjKind::Audio => json!({
            "id": id, "owner_id": owner_id, "artist": "",
            "title": title.or(file_name).unwrap_or_else(|| "Audio".to_string()),
            "duration": duration(size), "url": url, "date": date,
        }),
        ObjKind::Video => json!({
            "id": id, "owner_id": owner_id, "title": title.unwrap_or_else(|| "Video".to_string()),
            "duration": duration(size), "date": date, "type": "video",
        }),
        ObjKind::Sticker => json!({
            "sticker_id": id, "product_id": 1,
            "images": [{ "url": url, "width": 512, "height": 512 }],
        }),
    };
    if let Some(key) = &access_key {
        json["access_key"] = json!(key);
    }
    let name = format!("{}{owner_id}_{id}", kind.prefix());
    let attachment = match &access_key {
        Some(key) => format!("{name}_{key}"),
        None => name.clone(),
    };
    store
        .files
        .insert(file_key.clone(), (account.to_string(), blob_id));
    store.objects.insert(
        name,
        VkObject {
            account: account.to_string(),
            kind,
            owner_id,
            access_key,
            blob: blob_id,
            json,
            link_hash,
            file_key,
        },
    );
    attachment
}

/// The object an attachment string names, with its message JSON.
fn object<'a>(state: &'a State, attachment: &str) -> Option<&'a VkObject> {
    let store = state.stores.get::<Store>()?;
    let start = attachment.find(|c: char| c == '-' || c.is_ascii_digit())?;
    let (prefix, rest) = attachment.split_at(start);
    let mut parts = rest.splitn(3, '_');
    let owner = parts.next()?.parse::<i64>().ok()?;
    let id = parts.next()?.parse::<i64>().ok()?;
    store.objects.get(&format!("{prefix}{owner}_{id}"))
}

/// A customer's media in a message: the attachment JSON, what the phone shows, and the
/// attachment string a connector gets.
pub(super) struct CustomerMedia {
    pub json: Value,
    pub kind: MessageKind,
    pub stored: StoredMedia,
    pub attachment: String,
}

/// Stores what a customer sends (owned by `owner`, the user) as a VK object.
pub(super) fn customer_media(
    shared: &Shared,
    state: &mut State,
    account: &str,
    owner: i64,
    upload: &MediaUpload,
    now_ms: i64,
) -> Result<CustomerMedia> {
    let kind = match upload.kind {
        MessageKind::Image => ObjKind::Photo,
        MessageKind::File => ObjKind::Doc,
        MessageKind::Voice => ObjKind::AudioMessage,
        MessageKind::Audio => ObjKind::Audio,
        MessageKind::Video => ObjKind::Video,
        MessageKind::Sticker => ObjKind::Sticker,
        other => {
            return Err(Error::invalid_input(format!(
                "a customer cannot send {} media on VK",
                other.as_str()
            )));
        }
    };
    let mime = media::resolve_mime(
        upload.mime_type.as_deref(),
        upload.file_name.as_deref(),
        &upload.data,
    );
    let blob = Blob::from_bytes(&state.media, &upload.data, mime, upload.file_name.clone())?;
    let blob = state.add_blob(blob);
    let root = root(shared);
    let attachment = new_object(state, &root, account, kind, owner, blob, None, -3, now_ms);
    let obj = object(state, &attachment)
        .ok_or_else(|| Error::invalid_input("the media could not be stored"))?;
    Ok(CustomerMedia {
        json: json!({ "type": kind.wire(), kind.wire(): obj.json }),
        kind: kind.message_kind(),
        stored: StoredMedia {
            blob: Some(blob),
            file_name: upload.file_name.clone(),
            reference: Some(attachment.clone()),
            ..StoredMedia::default()
        },
        attachment,
    })
}

/// One attachment of an outgoing message, resolved.
pub(super) struct Resolved {
    pub json: Value,
    pub kind: MessageKind,
    pub stored: StoredMedia,
}

/// Resolves the `attachment` parameter of a send (comma-separated strings) against the
/// objects of this community: its own uploads (the access key optional) and its customers'
/// media (the access key required).
pub(super) fn resolve_attachments(
    state: &State,
    account: &str,
    group_id: i64,
    list: &str,
) -> Result<Vec<Resolved>, VkError> {
    let mut out = Vec::new();
    for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let invalid = || VkError::param(&format!("attachment {raw} is invalid"));
        let obj = object(state, raw)
            .filter(|o| o.account == account && o.kind != ObjKind::Sticker)
            .ok_or_else(invalid)?;
        let given = raw.splitn(3, '_').nth(2);
        let own = obj.owner_id == -group_id;
        let key_ok = match (given, &obj.access_key) {
            (Some(given), Some(key)) => given == key,
            (Some(_), None) => false,
            (None, _) => own,
        };
        if !key_ok {
            return Err(invalid());
        }
        out.push(Resolved {
            json: json!({ "type": obj.kind.wire(), obj.kind.wire(): obj.json }),
            kind: obj.kind.message_kind(),
            stored: StoredMedia {
                blob: Some(obj.blob),
                reference: Some(raw.to_string()),
                ..StoredMedia::default()
            },
        });
    }
    Ok(out)
}

/// Checks that the community may write to the peer of an upload server (900 / 901).
fn check_peer(state: &State, account: &str, params: &Params) -> Result<(), VkError> {
    let Some(peer) = params.int("peer_id")?.filter(|p| *p != 0) else {
        return Ok(());
    };
    let account = state
        .account(account)
        .map_err(|_| VkError::auth_invalid())?;
    match account.customers.get(&peer.to_string()) {
        Some(customer) => may_write(state, customer),
        None if is_chat(peer) => Err(VkError::no_chat_access()),
        None => Err(VkError::no_permission()),
    }
}

fn new_server(shared: &Shared, account: &str, kind: UploadKind) -> String {
    let now = shared.now_ms();
    let key = random_alnum(40);
    let mut state = shared.lock();
    let store = state.stores.get_or_default::<Store>();
    store
        .servers
        .retain(|_, s| now - s.created_ms < SERVER_TTL_MS);
    store.servers.insert(
        key.clone(),
        UploadServer {
            account: account.to_string(),
            kind,
            created_ms: now,
        },
    );
    key
}

/// `photos.getMessagesUploadServer(peer_id)`.
pub(super) fn photo_server(
    shared: &Shared,
    account: &str,
    params: &Params,
) -> Result<Value, VkError> {
    let group_id = {
        let state = shared.lock();
        check_peer(&state, account, params)?;
        state
            .account(account)
            .ok()
            .and_then(community)
            .map(|c| c.group_id)
            .ok_or_else(VkError::auth_invalid)?
    };
    let key = new_server(shared, account, UploadKind::Photo);
    Ok(json!({
        "upload_url": format!("{}/upload/photo/{key}", root(shared)),
        "album_id": -64,
        "user_id": 0,
        "group_id": group_id,
    }))
}

/// `docs.getMessagesUploadServer(type, peer_id)`.
pub(super) fn doc_server(
    shared: &Shared,
    account: &str,
    params: &Params,
) -> Result<Value, VkError> {
    let kind = match params.non_empty("type").unwrap_or("doc") {
        "doc" => UploadKind::Doc,
        "audio_message" => UploadKind::AudioMessage,
        "graffiti" => UploadKind::Graffiti,
        _ => {
            return Err(VkError::param(
                "type should be doc, audio_message or graffiti",
            ));
        }
    };
    check_peer(&shared.lock(), account, params)?;
    let key = new_server(shared, account, kind);
    Ok(json!({ "upload_url": format!("{}/upload/doc/{key}", root(shared)) }))
}

/// A file part of an upload, spooled to the sandbox's media folder as it arrived.
struct FilePart {
    data: Spooled,
    file_name: Option<String>,
    content_type: Option<String>,
}

/// Why a multipart upload could not be read.
enum ReadError {
    TooBig,
    Malformed,
}

/// Reads the multipart field `name` into a file of the media folder (at most `limit` bytes;
/// other fields are skipped).
async fn read_file(
    shared: &Shared,
    req: Request,
    name: &str,
    limit: u64,
) -> Result<Option<FilePart>, ReadError> {
    let cap = usize::try_from(limit + MULTIPART_SLACK).unwrap_or(usize::MAX);
    let req = req.map(|body| Body::new(http_body_util::Limited::new(body, cap)));
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|_| ReadError::Malformed)?;
    let too_big = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ReadError::TooBig
        } else {
            ReadError::Malformed
        }
    };
    let mut found = None;
    while let Some(mut field) = multipart.next_field().await.map_err(too_big)? {
        if field.name() != Some(name) || found.is_some() {
            media::discard(&mut field).await.map_err(too_big)?;
            continue;
        }
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let data = match media::spool(&shared.media, &mut field, limit).await {
            Ok(data) => data,
            Err(err) if err.is_too_large() => return Err(ReadError::TooBig),
            Err(media::SpoolError::Io(err)) => {
                tracing::warn!(error = %err, "sandbox vk: an upload was not stored");
                return Err(ReadError::Malformed);
            }
            Err(_) => return Err(ReadError::Malformed),
        };
        found = Some(FilePart {
            data,
            file_name,
            content_type,
        });
    }
    Ok(found)
}

/// The server of an upload key, if it is of `kinds`.
fn server_of(shared: &Shared, key: &str, kinds: &[UploadKind]) -> Option<(String, UploadKind)> {
    let state = shared.lock();
    let server = state.stores.get::<Store>()?.servers.get(key)?;
    kinds
        .contains(&server.kind)
        .then(|| (server.account.clone(), server.kind))
}

/// Keeps an upload until it is saved; returns its token.
fn keep_upload(
    shared: &Shared,
    account: &str,
    kind: UploadKind,
    part: FilePart,
    mime: String,
) -> (String, i64, String) {
    let token = random_alnum(48);
    let hash = hex::encode(fastrand::u128(..).to_be_bytes());
    let server = 800_000 + i64::from(fastrand::u16(..));
    let mut state = shared.lock();
    let blob = state.add_blob(Blob::new(part.data, mime, part.file_name));
    state.stores.get_or_default::<Store>().uploads.insert(
        token.clone(),
        Upload {
            account: account.to_string(),
            kind,
            blob,
            server,
            hash: hash.clone(),
        },
    );
    (token, server, hash)
}

/// Why VK would not take a photo of `size` bytes starting with `head`, if it would not: JPG,
/// PNG or GIF, at most 50 MB, width + height at most 14000, sides at most 20:1 (vk.md §2.2).
fn photo_refusal(head: &[u8], size: u64) -> Option<&'static str> {
    if size == 0 {
        return Some("empty");
    }
    if size > PHOTO_LIMIT {
        return Some("over 50 MB");
    }
    if !matches!(
        media::sniff(head),
        Some("image/jpeg" | "image/png" | "image/gif")
    ) {
        return Some("not a JPG, PNG or GIF");
    }
    if let Some((w, h)) = media::image_dimensions(head) {
        let (big, small) = (w.max(h), w.min(h).max(1));
        if w + h > 14_000 || big / small > 20 {
            return Some("dimensions");
        }
    }
    None
}

/// `POST {vk}/upload/photo/<key>` with the multipart field `photo`.
pub(super) async fn upload_photo(
    AxState(shared): AxState<Arc<Shared>>,
    Path(key): Path<String>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let Some((account, kind)) = server_of(&shared, &key, &[UploadKind::Photo]) else {
        return json_response(StatusCode::OK, &json!({ "error": "invalid upload url" }));
    };
    let work = async {
        let server = 800_000 + i64::from(fastrand::u16(..));
        let refused = |why: &str| {
            tracing::debug!(account = %account, why, "sandbox vk: photo refused");
            json_response(
                StatusCode::OK,
                &json!({ "server": server, "photo": "[]", "hash": hex::encode(fastrand::u64(..).to_be_bytes()) }),
            )
        };
        let part = match read_file(&shared, req, "photo", PHOTO_LIMIT).await {
            Ok(Some(part)) => part,
            Ok(None) => return refused("no photo field"),
            Err(ReadError::TooBig) => return refused("over 50 MB"),
            Err(ReadError::Malformed) => return refused("malformed"),
        };
        if let Some(why) = photo_refusal(part.data.head(), part.data.size()) {
            return refused(why);
        }
        let mime = media::sniff(part.data.head())
            .unwrap_or("image/jpeg")
            .to_string();
        let size = part.data.size();
        let (token, server, hash) = keep_upload(&shared, &account, kind, part, mime);
        tracing::debug!(account = %account, size, "sandbox vk: photo uploaded");
        json_response(
            StatusCode::OK,
            &json!({ "server": server, "photo": token, "hash": hash }),
        )
    };
    server::with_faults(
        &shared,
        &account,
        "photo_upload",
        conn,
        fault_response,
        work,
    )
    .await
}

/// Executable files VK refuses as documents.
const EXECUTABLES: &[&str] = &[
    "exe", "bat", "cmd", "com", "msi", "scr", "vbs", "pif", "cpl",
];

/// Why VK would not take a file of `kind` of `size` bytes starting with `head`, if it would
/// not (vk.md §2.2: any format but MP3 and executables, at most 200 MB; voice notes OGG;
/// graffiti PNG).
fn doc_refusal(
    kind: UploadKind,
    head: &[u8],
    size: u64,
    mime: &str,
    ext: &str,
) -> Option<&'static str> {
    if size == 0 {
        return Some("the file is empty");
    }
    if size > DOC_LIMIT {
        return Some("the file is over 200 MB");
    }
    match kind {
        UploadKind::AudioMessage if media::sniff(head) != Some("audio/ogg") => {
            Some("a voice message must be OGG (Opus)")
        }
        UploadKind::Graffiti if media::sniff(head) != Some("image/png") => {
            Some("graffiti must be a PNG")
        }
        UploadKind::Doc if mime == "audio/mpeg" || ext == "mp3" => {
            Some("MP3 files cannot be uploaded as documents")
        }
        UploadKind::Doc if EXECUTABLES.contains(&ext) || head.starts_with(b"MZ") => {
            Some("executable files cannot be uploaded as documents")
        }
        _ => None,
    }
}

/// `POST {vk}/upload/doc/<key>` with the multipart field `file`.
pub(super) async fn upload_doc(
    AxState(shared): AxState<Arc<Shared>>,
    Path(key): Path<String>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let kinds = [
        UploadKind::Doc,
        UploadKind::AudioMessage,
        UploadKind::Graffiti,
    ];
    let Some((account, kind)) = server_of(&shared, &key, &kinds) else {
        return json_response(StatusCode::OK, &json!({ "error": "invalid upload url" }));
    };
    let work = async {
        let refused = |why: &'static str| {
            tracing::debug!(account = %account, why, "sandbox vk: document refused");
            json_response(
                StatusCode::OK,
                &json!({ "error": "file was not uploaded", "error_descr": why }),
            )
        };
        let part = match read_file(&shared, req, "file", DOC_LIMIT).await {
            Ok(Some(part)) => part,
            Ok(None) => return refused("no file field"),
            Err(ReadError::TooBig) => return refused("the file is over 200 MB"),
            Err(ReadError::Malformed) => return refused("the request is not multipart/form-data"),
        };
        let mime = media::resolve_mime(
            part.content_type.as_deref(),
            part.file_name.as_deref(),
            part.data.head(),
        );
        let ext = extension(part.file_name.as_deref(), &mime);
        let size = part.data.size();
        if let Some(why) = doc_refusal(kind, part.data.head(), size, &mime, &ext) {
            return refused(why);
        }
        let (token, _, _) = keep_upload(&shared, &account, kind, part, mime);
        tracing::debug!(account = %account, size, "sandbox vk: document uploaded");
        json_response(StatusCode::OK, &json!({ "file": token }))
    };
    server::with_faults(&shared, &account, "doc_upload", conn, fault_response, work).await
}

/// Takes the upload of `token` if it is this account's and of `kinds`.
fn take_upload(
    state: &mut State,
    account: &str,
    token: &str,
    kinds: &[UploadKind],
) -> Option<Upload> {
    let store = state.stores.get_or_default::<Store>();
    let upload = store.uploads.get(token)?;
    if upload.account != account || !kinds.contains(&upload.kind) {
        return None;
    }
    store.uploads.remove(token)
}

/// `photos.saveMessagesPhoto(photo, server, hash)` → `[photo]`.
pub(super) fn save_photo(
    shared: &Shared,
    account: &str,
    params: &Params,
) -> Result<Value, VkError> {
    let token = params
        .non_empty("photo")
        .ok_or_else(|| VkError::param("photo is undefined"))?;
    let server = params.int("server")?;
    let hash = params.non_empty("hash").unwrap_or_default();
    let now = shared.now_ms();
    let root = root(shared);
    let mut state = shared.lock();
    let group_id = state
        .account(account)
        .ok()
        .and_then(community)
        .map(|c| c.group_id)
        .ok_or_else(VkError::auth_invalid)?;
    let matches = state
        .stores
        .get::<Store>()
        .and_then(|s| s.uploads.get(token))
        .is_some_and(|u| Some(u.server) == server && u.hash == hash);
    if !matches {
        let known = state
            .stores
            .get::<Store>()
            .is_some_and(|s| s.uploads.contains_key(token));
        return Err(if known {
            VkError::new(121, "Invalid hash")
        } else {
            VkError::param("photo is invalid")
        });
    }
    let upload = take_upload(&mut state, account, token, &[UploadKind::Photo])
        .ok_or_else(|| VkError::param("photo is invalid"))?;
    let attachment = new_object(
        &mut state,
        &root,
        account,
        ObjKind::Photo,
        -group_id,
        upload.blob,
        None,
        -64,
        now,
    );
    let photo = object(&state, &attachment)
        .map(|o| o.json.clone())
        .unwrap_or(Value::Null);
    tracing::debug!(account = %account, "sandbox vk: photo saved");
    Ok(json!([photo]))
}

/// `docs.save(file, title?)` → `{type, doc | audio_message | graffiti}`.
pub(super) fn save_doc(shared: &Shared, account: &str, params: &Params) -> Result<Value, VkError> {
    let token = params
        .non_empty("file")
        .ok_or_else(|| VkError::param("file is undefined"))?;
    let title = params.non_empty("title").map(str::to_string);
    let now = shared.now_ms();
    let root = root(shared);
    let mut state = shared.lock();
    let group_id = state
        .account(account)
        .ok()
        .and_then(community)
        .map(|c| c.group_id)
        .ok_or_else(VkError::auth_invalid)?;
    let kinds = [
        UploadKind::Doc,
        UploadKind::AudioMessage,
        UploadKind::Graffiti,
    ];
    let upload = take_upload(&mut state, account, token, &kinds)
        .ok_or_else(|| VkError::param("file is invalid"))?;
    let kind = match upload.kind {
        UploadKind::AudioMessage => ObjKind::AudioMessage,
        UploadKind::Graffiti => ObjKind::Graffiti,
        UploadKind::Doc | UploadKind::Photo => ObjKind::Doc,
    };
    let attachment = new_object(
        &mut state,
        &root,
        account,
        kind,
        -group_id,
        upload.blob,
        title,
        0,
        now,
    );
    let saved = object(&state, &attachment)
        .map(|o| o.json.clone())
        .unwrap_or(Value::Null);
    tracing::debug!(account = %account, kind = kind.wire(), "sandbox vk: document saved");
    Ok(json!({ "type": kind.wire(), kind.wire(): saved }))
}

/// `GET {vk}/media/<key>`: the bytes.
pub(super) async fn download(
    AxState(shared): AxState<Arc<Shared>>,
    Path(key): Path<String>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let file = shared
        .lock()
        .stores
        .get::<Store>()
        .and_then(|s| s.files.get(&key).cloned());
    let Some((account, blob)) = file else {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    };
    let work = async {
        let blob = shared.lock().blobs.get(&blob).cloned();
        match blob {
            Some(blob) => blob.response(Some(&blob.mime)),
            None => plain(StatusCode::NOT_FOUND, "Not Found"),
        }
    };
    server::with_faults(&shared, &account, "download", conn, fault_response, work).await
}

/// `GET {vk}/doc/<owner>_<id>?hash=...`: a redirect to the document's file.
pub(super) async fn doc_link(
    AxState(shared): AxState<Arc<Shared>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let found = {
        let state = shared.lock();
        state
            .stores
            .get::<Store>()
            .and_then(|s| s.objects.get(&format!("doc{name}")))
            .filter(|o| o.kind == ObjKind::Doc && query.get("hash") == Some(&o.link_hash))
            .map(|o| (o.account.clone(), media_url(&root(&shared), &o.file_key)))
    };
    let Some((account, target)) = found else {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    };
    let work = async {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::FOUND;
        if let Ok(location) = HeaderValue::from_str(&target) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    };
    server::with_faults(&shared, &account, "download", conn, fault_response, work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_refuse_what_vk_refuses() {
        let ok = |kind, bytes: &[u8], size, mime, ext| doc_refusal(kind, bytes, size, mime, ext);
        assert!(ok(UploadKind::Doc, b"%PDF-1.7", 8, "application/pdf", "pdf").is_none());
        assert!(
            ok(
                UploadKind::Doc,
                b"%PDF-1.7",
                DOC_LIMIT,
                "application/pdf",
                "pdf"
            )
            .is_none()
        );
        assert!(
            ok(
                UploadKind::Doc,
                b"%PDF-1.7",
                DOC_LIMIT + 1,
                "application/pdf",
                "pdf"
            )
            .is_some()
        );
        assert!(ok(UploadKind::Doc, b"", 0, "application/pdf", "pdf").is_some());
        assert!(ok(UploadKind::Doc, b"ID3", 3, "audio/mpeg", "mp3").is_some());
        assert!(
            ok(
                UploadKind::Doc,
                b"MZ\x90",
                3,
                "application/octet-stream",
                "bin"
            )
            .is_some()
        );
        assert!(ok(UploadKind::Doc, b"x", 1, "application/octet-stream", "exe").is_some());
        assert!(ok(UploadKind::AudioMessage, b"OggS\0", 5, "audio/ogg", "ogg").is_none());
        assert!(ok(UploadKind::AudioMessage, b"ID3", 3, "audio/mpeg", "mp3").is_some());
    }

    #[test]
    fn photos_refuse_other_types_and_extreme_sides() {
        let png = |w: u32, h: u32| {
            let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
            v.extend_from_slice(&w.to_be_bytes());
            v.extend_from_slice(&h.to_be_bytes());
            v
        };
        let refusal = |bytes: &[u8]| photo_refusal(bytes, bytes.len() as u64);
        assert!(refusal(&png(100, 100)).is_none());
        assert!(refusal(&png(2100, 100)).is_some());
        assert!(refusal(&png(10_000, 5_000)).is_some());
        assert!(refusal(b"%PDF-1.7").is_some());
        assert!(refusal(b"").is_some());
        assert!(photo_refusal(&png(100, 100), PHOTO_LIMIT + 1).is_some());
    }

    #[test]
    fn doc_types_follow_extensions() {
        assert_eq!(doc_type("pdf"), 1);
        assert_eq!(doc_type("zip"), 2);
        assert_eq!(doc_type("xyz"), 8);
    }
}
