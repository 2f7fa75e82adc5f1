//! Media (avito.md §2): `uploadImages` (multipart, one file in the field `uploadfile[]`;
//! JPEG, HEIC, GIF, BMP or PNG; at most 24 MB and 75 megapixels) answering the new image id
//! with its sizes, image downloads at `{avito}/images/<key>` (public, as Avito's image hosts
//! are), `getVoiceFiles` (`voice_ids` repeated, bracketed or comma-joined) answering links that
//! live an hour of the sandbox clock, and voice downloads at `{avito}/voice/<key>.mp4` (404 once
//! the link expired). Every size of an image serves the bytes uploaded (the sandbox does not
//! resize).

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::envelope::{AvitoError, fault_response, list_param, query};
use super::{Scope, St, VOICE_LINK_LIFETIME, api, own_path, random_hex, root, store};
use crate::media::{self, Blob, Spooled};
use crate::server::{self, ConnHandle};
use crate::state::{State, random_alnum, random_digits};

/// The multipart field of uploadImages.
const UPLOAD_FIELD: &str = "uploadfile[]";

/// The largest image: 24 MB (10^6 bytes each, as the core's capabilities read it).
const IMAGE_MAX: u64 = 24_000_000;

/// The most pixels of an image: 75 megapixels.
const IMAGE_MAX_PIXELS: u64 = 75_000_000;

/// The sizes an image is offered in (`WxH` keys, as Avito's answers have them).
const SIZES: &[&str] = &["1280x960", "640x480", "140x105", "32x32"];

/// An image the account uploaded (for `messages/image`).
pub(super) struct Image {
    pub owner: String,
    pub blob: u64,
    pub key: String,
}

/// A downloadable image.
pub(super) struct Download {
    owner: String,
    blob: u64,
}

/// A customer's voice note.
pub(super) struct Voice {
    owner: String,
    blob: u64,
}

/// A `getVoiceFiles` link.
pub(super) struct VoiceLink {
    owner: String,
    voice_id: String,
    expires_ms: i64,
}

/// The `{"WxH": url}` map of the image at `key`.
pub(super) fn sizes(root: &str, key: &str) -> Value {
    let map: Map<String, Value> = SIZES
        .iter()
        .map(|s| {
            (
                (*s).to_string(),
                json!(format!("{root}/images/{key}?size={s}")),
            )
        })
        .collect();
    Value::Object(map)
}

/// The URL of the largest size of the image at `key`.
pub(super) fn largest(root: &str, key: &str) -> String {
    format!("{root}/images/{key}?size={}", SIZES[0])
}

/// Makes `blob` downloadable at `{avito}/images/<key>`, for `owner`'s fault queue.
pub(super) fn register_download(state: &mut State, key: &str, owner: &str, blob: u64) {
    store(state).downloads.insert(
        key.to_string(),
        Download {
            owner: owner.to_string(),
            blob,
        },
    );
}

/// Keeps a customer's voice note for `getVoiceFiles`.
pub(super) fn register_voice(state: &mut State, voice_id: &str, owner: &str, blob: u64) {
    store(state).voices.insert(
        voice_id.to_string(),
        Voice {
            owner: owner.to_string(),
            blob,
        },
    );
}

/// The image MIME type of `bytes`, if Avito takes it (JPEG, HEIC, GIF, BMP, PNG).
fn image_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return matches!(
            &bytes[8..12],
            b"heic" | b"heix" | b"mif1" | b"heim" | b"heis"
        )
        .then_some("image/heic");
    }
    media::sniff(bytes)
        .filter(|m| matches!(*m, "image/jpeg" | "image/png" | "image/gif" | "image/bmp"))
}

/// `POST /messenger/v1/accounts/{user_id}/uploadImages`.
pub(super) async fn upload_images(
    axum::extract::State(shared): St,
    Path(user): Path<String>,
    req: Request,
) -> Response {
    api(
        shared,
        req,
        "uploadImages",
        Scope::Write,
        |shared, caller, req| async move {
            own_path(&caller, &user)?;
            let limit = shared.config.max_request_bytes;
            let req = req.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
            let mut multipart = Multipart::from_request(req, &()).await.map_err(|_| {
                AvitoError::validation(UPLOAD_FIELD, "a multipart body is required")
            })?;
            let mut file: Option<(Spooled, Option<String>)> = None;
            while let Some(mut field) = multipart.next_field().await.map_err(|err| {
                if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AvitoError::new(413, "Request body too large")
                } else {
                    AvitoError::bad_request("Malformed multipart body")
                }
            })? {
                if field.name() != Some(UPLOAD_FIELD) {
                    return Err(AvitoError::validation(
                        UPLOAD_FIELD,
                        "the image goes in the field uploadfile[]",
                    ));
                }
                if file.is_some() {
                    return Err(AvitoError::validation(
                        UPLOAD_FIELD,
                        "one image per request",
                    ));
                }
                let name = field.file_name().map(str::to_string);
                // The image goes to the media folder as it arrives, never whole into memory.
                let data = match media::spool(&shared.media, &mut field, IMAGE_MAX).await {
                    Ok(data) => data,
                    Err(media::SpoolError::TooLarge) => {
                        return Err(AvitoError::new(413, "The image is larger than 24 MB"));
                    }
                    Err(media::SpoolError::Io(err)) => {
                        tracing::warn!(error = %err, "sandbox avito: an upload was not stored");
                        return Err(AvitoError::new(
                            500,
                            "Error while processing request. Please, contact support",
                        ));
                    }
                    Err(_) => return Err(AvitoError::new(413, "Request body too large")),
                };
                file = Some((data, name));
            }
            let (data, name) =
                file.ok_or_else(|| AvitoError::validation(UPLOAD_FIELD, "an image is required"))?;
            let mime = image_mime(data.head()).ok_or_else(|| {
                AvitoError::validation(UPLOAD_FIELD, "JPEG, HEIC, GIF, BMP or PNG only")
            })?;
            if let Some((w, h)) = media::image_dimensions(data.head())
                && u64::from(w) * u64::from(h) > IMAGE_MAX_PIXELS
            {
                return Err(AvitoError::validation(
                    UPLOAD_FIELD,
                    "at most 75 megapixels",
                ));
            }
            let root = root(&shared);
            let image_id = format!(
                "{}.{}{}",
                random_digits(5),
                random_digits(5),
                random_alnum(14).to_ascii_lowercase()
            );
            let key = random_alnum(24);
            {
                let mut state = shared.lock();
                let blob = state.add_blob(Blob::new(data, mime.to_string(), name));
                register_download(&mut state, &key, &caller.account, blob);
                store(&mut state).images.insert(
                    image_id.clone(),
                    Image {
                        owner: caller.account.clone(),
                        blob,
                        key: key.clone(),
                    },
                );
            }
            tracing::debug!(account = %caller.account, "sandbox avito: image uploaded");
            let mut answer = Map::new();
            answer.insert(image_id, sizes(&root, &key));
            Ok(Value::Object(answer))
        },
    )
    .await
}

/// `GET /messenger/v1/accounts/{user_id}/getVoiceFiles?voice_ids=…`: a link per voice note of
/// the account's chats, valid an hour (unknown ids are left out).
pub(super) async fn voice_files(
    axum::extract::State(shared): St,
    Path(user): Path<String>,
    req: Request,
) -> Response {
    api(
        shared,
        req,
        "getVoiceFiles",
        Scope::Read,
        |shared, caller, req| async move {
            own_path(&caller, &user)?;
            let ids = list_param(&query(req.uri()), "voice_ids");
            if ids.is_empty() {
                return Err(AvitoError::validation("voice_ids", "is required"));
            }
            let root = root(&shared);
            let expires_ms = shared.now_ms()
                + i64::try_from(VOICE_LINK_LIFETIME.as_millis()).unwrap_or(i64::MAX / 4);
            let mut state = shared.lock();
            let store = store(&mut state);
            let mut urls = Map::new();
            for id in ids {
                if store
                    .voices
                    .get(&id)
                    .is_none_or(|v| v.owner != caller.account)
                {
                    continue;
                }
                let key = random_hex(40);
                store.voice_links.insert(
                    key.clone(),
                    VoiceLink {
                        owner: caller.account.clone(),
                        voice_id: id.clone(),
                        expires_ms,
                    },
                );
                urls.insert(id, json!(format!("{root}/voice/{key}.mp4")));
            }
            Ok(json!({ "voices_urls": urls }))
        },
    )
    .await
}

/// Serves a blob of `owner` through `owner`'s fault queue (operation `download`).
async fn serve(
    shared: std::sync::Arc<crate::state::Shared>,
    conn: Option<ConnHandle>,
    owner: String,
    blob: u64,
) -> Response {
    let work = {
        let shared = shared.clone();
        async move {
            let blob = shared.lock().blobs.get(&blob).cloned();
            match blob {
                Some(blob) => blob.response(Some(&blob.mime)),
                None => AvitoError::not_found("File not found").into_response(),
            }
        }
    };
    server::with_faults(&shared, &owner, "download", conn, fault_response, work).await
}

/// `GET {avito}/images/<key>` (any `size`): the image's bytes.
pub(super) async fn download_image(
    axum::extract::State(shared): St,
    Path(key): Path<String>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    drop(req);
    let found = {
        let mut state = shared.lock();
        store(&mut state)
            .downloads
            .get(&key)
            .map(|d| (d.owner.clone(), d.blob))
    };
    match found {
        Some((owner, blob)) => serve(shared, conn, owner, blob).await,
        None => AvitoError::not_found("File not found").into_response(),
    }
}

/// `GET {avito}/voice/<key>.mp4`: a voice note's bytes, while its link lives.
pub(super) async fn download_voice(
    axum::extract::State(shared): St,
    Path(key): Path<String>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    drop(req);
    let now = shared.now_ms();
    let found = {
        let mut state = shared.lock();
        let store = store(&mut state);
        let key = key.trim_end_matches(".mp4");
        match store.voice_links.get(key) {
            None => Err("File not found"),
            Some(link) if now >= link.expires_ms => Err("The link has expired"),
            Some(link) => store
                .voices
                .get(&link.voice_id)
                .map(|v| (link.owner.clone(), v.blob))
                .ok_or("File not found"),
        }
    };
    match found {
        Ok((owner, blob)) => serve(shared, conn, owner, blob).await,
        Err(why) => {
            tracing::debug!("sandbox avito: voice link refused");
            let mut response = AvitoError::not_found(why).into_response();
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    }
}
