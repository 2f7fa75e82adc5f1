//! Media: ids of uploads (30 days) and of customers' media (7 days), owned by one number;
//! `POST .../media` (multipart, types and sizes of the sheet); `GET` / `DELETE
//! /{version}/{media-id}`; media URLs under `{whatsapp}/whatsapp_business/attachments/` that
//! expire after [`SandboxConfig::media_url_ttl`](crate::SandboxConfig::media_url_ttl) and
//! want the owner's bearer token.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Query, Request, State as AxState};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::envelope::{GraphError, fault_response, plain};
use super::{MB, authenticate};
use crate::media::{self, Blob, Spooled};
use crate::server::{self, ConnHandle};
use crate::state::{Shared, State, random_alnum, random_digits};

/// Uploaded media ids live 30 days, inbound ones 7 days (whatsapp.md §4.2).
const UPLOAD_TTL_MS: i64 = 30 * 24 * 3600 * 1000;
const INBOUND_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// Supported upload types and their size limits (whatsapp.md §4.3).
const MEDIA_TYPES: &[(&str, u64)] = &[
    ("audio/aac", 16 * MB),
    ("audio/amr", 16 * MB),
    ("audio/mpeg", 16 * MB),
    ("audio/mp4", 16 * MB),
    ("audio/ogg", 16 * MB),
    ("text/plain", 100 * MB),
    ("application/vnd.ms-excel", 100 * MB),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        100 * MB,
    ),
    ("application/msword", 100 * MB),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        100 * MB,
    ),
    ("application/vnd.ms-powerpoint", 100 * MB),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        100 * MB,
    ),
    ("application/pdf", 100 * MB),
    ("image/jpeg", 5 * MB),
    ("image/png", 5 * MB),
    ("image/webp", 500 * 1024),
    ("video/mp4", 16 * MB),
    ("video/3gpp", 16 * MB),
];

/// Media of every number (a sandbox-wide store in `State::stores`).
#[derive(Default)]
pub(super) struct Store {
    media: HashMap<String, WaMedia>,
    /// URL `hash` -> URL record.
    urls: HashMap<String, WaUrl>,
}

/// One media id.
pub(super) struct WaMedia {
    owner: String,
    pub blob: u64,
    created_ms: i64,
    inbound: bool,
}

struct WaUrl {
    media_id: String,
    expires_ms: i64,
}

/// Whether `id` is a media id (of any number).
pub(super) fn is_media(state: &State, id: &str) -> bool {
    state
        .stores
        .get::<Store>()
        .is_some_and(|store| store.media.contains_key(id))
}

/// Stores a media id for bytes already added as `blob`; returns the id.
pub(super) fn add_media(
    state: &mut State,
    owner: &str,
    blob: u64,
    now_ms: i64,
    inbound: bool,
) -> String {
    let id = random_digits(16);
    state.stores.get_or_default::<Store>().media.insert(
        id.clone(),
        WaMedia {
            owner: owner.to_string(),
            blob,
            created_ms: now_ms,
            inbound,
        },
    );
    id
}

/// The media record if this account may use it.
pub(super) fn owned_media<'a>(
    state: &'a State,
    now_ms: i64,
    account_id: &str,
    id: &str,
    query: &HashMap<String, String>,
    method: &Method,
) -> Result<&'a WaMedia, GraphError> {
    let media = state
        .stores
        .get::<Store>()
        .and_then(|store| store.media.get(id))
        .filter(|m| m.owner == account_id)
        .filter(|m| query.get("phone_number_id").is_none_or(|p| *p == m.owner))
        .filter(|m| {
            let ttl = if m.inbound {
                INBOUND_TTL_MS
            } else {
                UPLOAD_TTL_MS
            };
            now_ms - m.created_ms < ttl
        })
        .ok_or_else(|| GraphError::no_object(method, id))?;
    Ok(media)
}

/// `GET /{version}/{media-id}`: a fresh media URL.
pub(super) fn media_info(
    shared: &Shared,
    account_id: &str,
    id: &str,
    query: &HashMap<String, String>,
) -> Result<Value, GraphError> {
    let now = shared.now_ms();
    let mut state = shared.lock();
    let media = owned_media(&state, now, account_id, id, query, &Method::GET)?;
    let blob = state
        .blobs
        .get(&media.blob)
        .ok_or_else(|| GraphError::no_object(&Method::GET, id))?;
    let hash = random_alnum(32);
    let ttl_ms = i64::try_from(shared.config.media_url_ttl.as_millis()).unwrap_or(i64::MAX / 4);
    let expires_ms = now + ttl_ms;
    let url = format!(
        "{}/whatsapp_business/attachments/?mid={id}&ext={}&hash={hash}",
        shared.urls.whatsapp(),
        expires_ms.div_euclid(1000)
    );
    let info = json!({
        "messaging_product": "whatsapp",
        "url": url,
        "mime_type": blob.mime,
        "sha256": blob.sha256_hex(),
        "file_size": blob.size(),
        "id": id,
    });
    state.stores.get_or_default::<Store>().urls.insert(
        hash,
        WaUrl {
            media_id: id.to_string(),
            expires_ms,
        },
    );
    Ok(info)
}

/// `DELETE /{version}/{media-id}`.
pub(super) fn media_delete(
    shared: &Shared,
    account_id: &str,
    id: &str,
    query: &HashMap<String, String>,
) -> Result<Value, GraphError> {
    let now = shared.now_ms();
    let mut state = shared.lock();
    owned_media(&state, now, account_id, id, query, &Method::DELETE)?;
    let store = state.stores.get_or_default::<Store>();
    store.media.remove(id);
    store.urls.retain(|_, u| u.media_id != id);
    Ok(json!({ "success": true }))
}

/// `GET {whatsapp}/whatsapp_business/attachments/?mid=..&ext=..&hash=..` with the bearer token.
pub(super) async fn download(
    AxState(shared): AxState<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let account = match authenticate(&shared, req.headers()) {
        Ok(account) => account,
        Err(err) => return err.into_response(),
    };
    let work = async {
        let now = shared.now_ms();
        let state = shared.lock();
        let store = state.stores.get::<Store>();
        let record = query
            .get("hash")
            .and_then(|h| store.and_then(|s| s.urls.get(h)));
        let Some(record) = record.filter(|r| query.get("mid") == Some(&r.media_id)) else {
            return plain(StatusCode::NOT_FOUND, "Not Found");
        };
        let media = store.and_then(|s| s.media.get(&record.media_id));
        let Some(media) = media else {
            return plain(StatusCode::NOT_FOUND, "Not Found");
        };
        if media.owner != account {
            return GraphError::invalid_token().into_response();
        }
        if now >= record.expires_ms {
            return plain(StatusCode::NOT_FOUND, "URL signature expired");
        }
        let blob = state.blobs.get(&media.blob).cloned();
        drop(state);
        match blob {
            Some(blob) => blob.response(Some(&blob.mime)),
            None => plain(StatusCode::NOT_FOUND, "Not Found"),
        }
    };
    server::with_faults(
        &shared,
        &account,
        "media_download",
        conn,
        fault_response,
        work,
    )
    .await
}

/// MIME type without parameters, lowercase.
pub(super) fn base_mime(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or(mime)
        .trim()
        .to_ascii_lowercase()
}

/// `POST /{version}/{phone-number-id}/media` (multipart).
pub(super) async fn upload(
    shared: &Shared,
    account_id: &str,
    req: Request,
) -> Result<Value, GraphError> {
    let limit = shared.config.max_request_bytes;
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(GraphError::param("The parameter file is required."));
    }
    let req = req.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|_| GraphError::param("Invalid parameter"))?;
    let too_large = || GraphError::new(413, 100, "(#100) Request body too large");
    let mut product = None;
    let mut declared = None;
    let mut file: Option<(Spooled, Option<String>, Option<String>)> = None;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large());
            }
            Err(_) => return Err(GraphError::param("Invalid parameter")),
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        if name == "file" {
            // The file goes to the media folder as it arrives, never whole into memory.
            let data = media::spool(&shared.media, &mut field, u64::MAX)
                .await
                .map_err(|err| match err {
                    media::SpoolError::Io(err) => {
                        tracing::warn!(error = %err, "sandbox whatsapp: an upload was not stored");
                        GraphError::new(500, 1, "An unknown error occurred")
                    }
                    _ => too_large(),
                })?;
            file = Some((data, file_name, content_type));
            continue;
        }
        let data = field.bytes().await.map_err(|_| too_large())?;
        match name.as_str() {
            "messaging_product" => {
                product = Some(String::from_utf8_lossy(&data).trim().to_string())
            }
            "type" => declared = Some(String::from_utf8_lossy(&data).trim().to_string()),
            _ => {}
        }
    }
    match product.as_deref() {
        Some("whatsapp") => {}
        Some(_) => {
            return Err(GraphError::param(
                "Param messaging_product must be one of {WHATSAPP}",
            ));
        }
        None => {
            return Err(GraphError::param(
                "The parameter messaging_product is required.",
            ));
        }
    }
    let (data, file_name, content_type) =
        file.ok_or_else(|| GraphError::param("The parameter file is required."))?;
    let mime = base_mime(&media::resolve_mime(
        declared.as_deref().or(content_type.as_deref()),
        file_name.as_deref(),
        data.head(),
    ));
    let Some((_, limit)) = MEDIA_TYPES.iter().find(|(m, _)| *m == mime) else {
        let list: Vec<&str> = MEDIA_TYPES.iter().map(|(m, _)| *m).collect();
        return Err(GraphError::param(&format!(
            "Param file must be a file with one of the following types: {}. Received file of type '{mime}'.",
            list.join(", ")
        )));
    };
    let size = data.size();
    if size == 0 {
        return Err(GraphError::param("Param file must not be empty."));
    }
    if size > *limit {
        return Err(
            GraphError::new(400, 131_053, "(#131053) Media upload error").details(format!(
                "File of {size} bytes exceeds the {limit}-byte limit for {mime}"
            )),
        );
    }
    let now = shared.now_ms();
    let mut state = shared.lock();
    let blob_id = state.add_blob(Blob::new(data, mime, file_name));
    let id = add_media(&mut state, account_id, blob_id, now, false);
    tracing::debug!(account = %account_id, size, "sandbox whatsapp: media uploaded");
    Ok(json!({ "id": id }))
}
