//! Files: what customers and the bot upload, as `file_id`s owned by one bot (reusable by that
//! bot only, with their type), the `PhotoSize[]` / `Document` / `Voice` / ... objects of a
//! `Message`, `getFile` and `GET {telegram}/file/bot<token>/<file_path>` (20 MB at most).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Request, State as AxState};
use axum::response::Response;
use messenger_core::Platform;
use serde_json::{Map, Value, json};

use super::DOWNLOAD_LIMIT;
use super::envelope::{TgError, fault_response, not_found, ok, unauthorized};
use super::params::Params;
use crate::api::MessageKind;
use crate::media::{self, Blob};
use crate::server::{self, ConnHandle};
use crate::state::{Shared, State, random_alnum};

/// Files of every bot (a sandbox-wide store in `State::stores`).
#[derive(Default)]
pub(super) struct Store {
    files: HashMap<String, TgFile>,
    /// `file_path` -> `file_id`.
    paths: HashMap<String, String>,
    next_file: u64,
}

/// One stored file.
pub(super) struct TgFile {
    pub owner: String,
    pub kind: FileKind,
    pub blob: Option<u64>,
    unique_id: String,
    path: String,
    width: u32,
    height: u32,
}

/// The type of a file (a `file_id` keeps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileKind {
    Photo,
    Document,
    Voice,
    Audio,
    Video,
    Sticker,
}

impl FileKind {
    pub(super) fn field(self) -> &'static str {
        match self {
            FileKind::Photo => "photo",
            FileKind::Document => "document",
            FileKind::Voice => "voice",
            FileKind::Audio => "audio",
            FileKind::Video => "video",
            FileKind::Sticker => "sticker",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            FileKind::Photo => "photos",
            FileKind::Document => "documents",
            FileKind::Voice => "voice",
            FileKind::Audio => "music",
            FileKind::Video => "videos",
            FileKind::Sticker => "stickers",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            FileKind::Photo => "AgACAgIAAxkBAA",
            FileKind::Document => "BQACAgIAAxkBAA",
            FileKind::Voice => "AwACAgIAAxkBAA",
            FileKind::Audio => "CQACAgIAAxkBAA",
            FileKind::Video => "BAACAgIAAxkBAA",
            FileKind::Sticker => "CAACAgIAAxkBAA",
        }
    }

    pub(super) fn message_kind(self) -> MessageKind {
        match self {
            FileKind::Photo => MessageKind::Image,
            FileKind::Document => MessageKind::File,
            FileKind::Voice => MessageKind::Voice,
            FileKind::Audio => MessageKind::Audio,
            FileKind::Video => MessageKind::Video,
            FileKind::Sticker => MessageKind::Sticker,
        }
    }
}

/// The file `file_id`, of any bot.
pub(super) fn file<'a>(state: &'a State, file_id: &str) -> Option<&'a TgFile> {
    state.stores.get::<Store>()?.files.get(file_id)
}

/// The stored bytes of a file, if the sandbox has them (not for files sent by URL).
pub(super) fn stored_blob(state: &State, file_id: &str) -> Option<u64> {
    file(state, file_id).and_then(|f| f.blob)
}

/// Stores bytes as a new file of the bot; returns the `file_id` and the object for a
/// `Message` (`[PhotoSize]` for photos).
pub(super) fn store_file(
    state: &mut State,
    account_id: &str,
    kind: FileKind,
    blob: Blob,
    extra: &Map<String, Value>,
) -> (String, Value) {
    let (width, height) = media::image_dimensions(blob.head()).unwrap_or(match kind {
        FileKind::Sticker => (512, 512),
        FileKind::Video => (640, 360),
        _ => (800, 600),
    });
    let ext = blob
        .file_name
        .as_deref()
        .and_then(|n| n.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()))
        .filter(|e| !e.is_empty() && e.len() <= 5 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| media::extension(&blob.mime).to_string());
    let blob_id = state.add_blob(blob);
    let file_id = new_file(state, account_id, kind, Some(blob_id), &ext, width, height);
    let object = file_object(state, &file_id, extra).unwrap_or(Value::Null);
    (file_id, object)
}

/// A file sent by URL: the sandbox has no network, so it records the URL and has no bytes.
pub(super) fn store_url_file(
    state: &mut State,
    account_id: &str,
    kind: FileKind,
    extra: &Map<String, Value>,
) -> (String, Value) {
    let file_id = new_file(state, account_id, kind, None, "bin", 800, 600);
    let object = file_object(state, &file_id, extra).unwrap_or(Value::Null);
    (file_id, object)
}

fn new_file(
    state: &mut State,
    account_id: &str,
    kind: FileKind,
    blob: Option<u64>,
    ext: &str,
    width: u32,
    height: u32,
) -> String {
    let store = state.stores.get_or_default::<Store>();
    store.next_file += 1;
    let n = store.next_file;
    let file_id = format!("{}{}{}", kind.id_prefix(), n, random_alnum(40));
    let path = format!("{}/file_{}.{}", kind.dir(), n, ext);
    store.paths.insert(path.clone(), file_id.clone());
    store.files.insert(
        file_id.clone(),
        TgFile {
            owner: account_id.to_string(),
            kind,
            blob,
            unique_id: format!("AQAD{}", random_alnum(12)),
            path,
            width,
            height,
        },
    );
    file_id
}

/// The `PhotoSize[]` / `Document` / `Voice` / ... object of a stored file.
pub(super) fn file_object(
    state: &State,
    file_id: &str,
    extra: &Map<String, Value>,
) -> Option<Value> {
    let file = file(state, file_id)?;
    let blob = file.blob.and_then(|b| state.blobs.get(&b));
    let mut object = json!({ "file_id": file_id, "file_unique_id": file.unique_id });
    if let Some(blob) = blob {
        object["file_size"] = json!(blob.size());
    }
    let duration = extra.get("duration").cloned().unwrap_or(json!(1));
    match file.kind {
        FileKind::Photo => {
            object["width"] = json!(file.width);
            object["height"] = json!(file.height);
            return Some(json!([object]));
        }
        FileKind::Document => {}
        FileKind::Voice => object["duration"] = duration,
        FileKind::Audio => {
            object["duration"] = duration;
            for key in ["performer", "title"] {
                if let Some(v) = extra.get(key) {
                    object[key] = v.clone();
                }
            }
        }
        FileKind::Video => {
            object["duration"] = duration;
            object["width"] = extra.get("width").cloned().unwrap_or(json!(file.width));
            object["height"] = extra.get("height").cloned().unwrap_or(json!(file.height));
        }
        FileKind::Sticker => {
            object["type"] = json!("regular");
            object["width"] = json!(file.width);
            object["height"] = json!(file.height);
            object["is_animated"] = json!(false);
            object["is_video"] = json!(false);
        }
    }
    if let Some(blob) = blob {
        if matches!(
            file.kind,
            FileKind::Document | FileKind::Audio | FileKind::Video
        ) && let Some(name) = &blob.file_name
        {
            object["file_name"] = json!(name);
        }
        if file.kind != FileKind::Sticker {
            object["mime_type"] = json!(blob.mime);
        }
    }
    Some(object)
}

pub(super) fn get_file(
    shared: &Shared,
    account_id: &str,
    params: &Params,
) -> Result<Value, TgError> {
    let file_id = params
        .non_empty("file_id")
        .ok_or_else(|| TgError::bad("file_id is empty"))?;
    let state = shared.lock();
    let file = file(&state, file_id.trim())
        .filter(|f| f.owner == account_id)
        .ok_or_else(|| TgError::bad("invalid file_id"))?;
    let blob = file
        .blob
        .and_then(|b| state.blobs.get(&b))
        .ok_or_else(|| TgError::bad("wrong file_id or the file is temporarily unavailable"))?;
    if blob.size() > DOWNLOAD_LIMIT {
        return Err(TgError::bad("file is too big"));
    }
    Ok(ok(json!({
        "file_id": file_id.trim(),
        "file_unique_id": file.unique_id,
        "file_size": blob.size(),
        "file_path": file.path,
    })))
}

/// `GET /file/bot<token>/<file_path>`.
pub(super) async fn download(
    AxState(shared): AxState<Arc<Shared>>,
    Path((bot, path)): Path<(String, String)>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let Some(token) = bot.strip_prefix("bot") else {
        return not_found();
    };
    let account = shared
        .lock()
        .account_by_token(token, Platform::Telegram)
        .map(str::to_string);
    let Some(account) = account else {
        return unauthorized().into_response();
    };
    let work = async {
        let blob = {
            let state = shared.lock();
            state
                .stores
                .get::<Store>()
                .and_then(|store| store.paths.get(&path))
                .and_then(|id| file(&state, id))
                .filter(|f| f.owner == account)
                .and_then(|f| f.blob)
                .and_then(|b| state.blobs.get(&b))
                .cloned()
        };
        match blob {
            Some(blob) if blob.size() <= DOWNLOAD_LIMIT => {
                blob.response(Some("application/octet-stream"))
            }
            _ => not_found(),
        }
    };
    server::with_faults(&shared, &account, "file", conn, fault_response, work).await
}
