//! Method parameters as Telegram takes them: from the query string and from a JSON,
//! `application/x-www-form-urlencoded` or `multipart/form-data` body, with `attach://` file
//! references, URLs and `file_id`s told apart.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use serde_json::Value;

use super::envelope::{TgError, too_large};
use crate::media::{self, MediaDir, Spooled};

/// One parameter.
pub(super) enum Param {
    Text(String),
    Json(Value),
    File(FilePart),
}

/// An uploaded file part, spooled to the sandbox's media folder as it arrived.
#[derive(Clone)]
pub(super) struct FilePart {
    pub data: Spooled,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
}

/// The parameters of one method call, by name.
#[derive(Default)]
pub(super) struct Params(HashMap<String, Param>);

/// What an `InputFile` parameter names.
pub(super) enum InputFile {
    Upload(FilePart),
    Url(String),
    FileId(String),
}

impl Params {
    pub(super) fn text(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            Param::Text(s) => Some(s.clone()),
            Param::Json(v) => Some(v.to_string()),
            Param::File(_) => None,
        }
    }

    pub(super) fn non_empty(&self, name: &str) -> Option<String> {
        self.text(name).filter(|s| !s.trim().is_empty())
    }

    pub(super) fn json(&self, name: &str) -> Option<Value> {
        match self.0.get(name)? {
            Param::Json(v) => Some(v.clone()),
            Param::Text(s) => serde_json::from_str(s).ok(),
            Param::File(_) => None,
        }
    }

    pub(super) fn int(&self, name: &str) -> Result<Option<i64>, TgError> {
        match self.non_empty(name) {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| TgError::bad(&format!("invalid {name} specified"))),
        }
    }

    pub(super) fn flag(&self, name: &str) -> bool {
        self.text(name)
            .is_some_and(|s| matches!(s.trim(), "true" | "True" | "1"))
    }

    pub(super) fn input_file(&self, name: &str) -> Option<InputFile> {
        match self.0.get(name)? {
            Param::File(part) => Some(InputFile::Upload(part.clone())),
            Param::Json(_) => None,
            Param::Text(s) => {
                let s = s.trim();
                if let Some(part) = s.strip_prefix("attach://") {
                    match self.0.get(part) {
                        Some(Param::File(part)) => Some(InputFile::Upload(part.clone())),
                        _ => Some(InputFile::FileId(s.to_string())),
                    }
                } else if s.starts_with("http://") || s.starts_with("https://") {
                    Some(InputFile::Url(s.to_string()))
                } else if s.is_empty() {
                    None
                } else {
                    Some(InputFile::FileId(s.to_string()))
                }
            }
        }
    }
}

/// Reads the parameters of a request (the body up to `limit` bytes; above it: 413). A
/// multipart part with a file name is a file: it is streamed into a file of `media`, never held
/// in memory whole (a part without one is read as text, or kept as a file if it is not UTF-8).
pub(super) async fn read_params(
    req: Request,
    limit: usize,
    media: &MediaDir,
) -> Result<Params, TgError> {
    let mut params = Params::default();
    if let Some(query) = req.uri().query() {
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            params.0.insert(k.into_owned(), Param::Text(v.into_owned()));
        }
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let malformed = || TgError::bad("can't parse multipart/form-data request");
        let req = req.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
        let mut multipart = Multipart::from_request(req, &())
            .await
            .map_err(|_| malformed())?;
        loop {
            let mut field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large());
                }
                Err(_) => return Err(malformed()),
            };
            let name = field.name().unwrap_or_default().to_string();
            let file_name = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(str::to_string);
            if file_name.is_some() {
                let data = media::spool(media, &mut field, u64::MAX)
                    .await
                    .map_err(|err| match err {
                        err if err.is_too_large() => too_large(),
                        media::SpoolError::Io(err) => {
                            tracing::warn!(error = %err, "sandbox telegram: an upload was not stored");
                            TgError::new(500, "Internal Server Error")
                        }
                        _ => malformed(),
                    })?;
                params.0.insert(
                    name,
                    Param::File(FilePart {
                        data,
                        file_name,
                        content_type,
                    }),
                );
                continue;
            }
            let data = match field.bytes().await {
                Ok(data) => data,
                Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large());
                }
                Err(_) => return Err(malformed()),
            };
            let param = match String::from_utf8(data.to_vec()) {
                Ok(text) => Param::Text(text),
                Err(_) => Param::File(FilePart {
                    data: Spooled::from_bytes(media, &data).map_err(|err| {
                        tracing::warn!(error = %err, "sandbox telegram: an upload was not stored");
                        TgError::new(500, "Internal Server Error")
                    })?,
                    file_name: None,
                    content_type,
                }),
            };
            params.0.insert(name, param);
        }
        return Ok(params);
    }
    let body = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| too_large())?;
    if body.is_empty() {
        return Ok(params);
    }
    if content_type.starts_with("application/json") {
        let value: Value =
            serde_json::from_slice(&body).map_err(|_| TgError::bad("can't parse JSON object"))?;
        let Value::Object(map) = value else {
            return Err(TgError::bad("can't parse JSON object"));
        };
        for (k, v) in map {
            let param = match v {
                Value::Null => continue,
                Value::String(s) => Param::Text(s),
                Value::Number(n) => Param::Text(n.to_string()),
                Value::Bool(b) => Param::Text(b.to_string()),
                other => Param::Json(other),
            };
            params.0.insert(k, param);
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(&body) {
            params.0.insert(k.into_owned(), Param::Text(v.into_owned()));
        }
    }
    Ok(params)
}
