//! The operator API's handlers, and the extractors they share: JSON bodies with typed errors
//! (415 for another content type, 413 over the route's limit, 400 for malformed JSON or a body
//! of the wrong shape), and ids in paths.

pub(crate) mod accounts;
pub(crate) mod auth;
pub(crate) mod conversations;
pub(crate) mod employees;
pub(crate) mod operator;
pub(crate) mod personal;
pub(crate) mod system;

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Whether a `Content-Type` is JSON (`application/json`, parameters allowed).
fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// What serde says about a body, without quoting any of it (a body can be message content).
fn json_error(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        ),
        Category::Data => {
            // Keep serde's words, drop anything it quoted from the body.
            let text = e.to_string();
            let mut out = String::with_capacity(text.len());
            let mut quoted = false;
            for c in text.chars() {
                if c == '"' {
                    if !quoted {
                        out.push_str("\"…\"");
                    }
                    quoted = !quoted;
                } else if !quoted {
                    out.push(c);
                }
            }
            // `unknown variant `x``, `unknown field `x``, `invalid value: integer `5``: the
            // first backticked word is the body's.
            if ["unknown variant `", "unknown field `", "invalid value: "]
                .iter()
                .any(|p| out.contains(p))
                && let Some(start) = out.find('`')
                && let Some(len) = out[start + 1..].find('`')
            {
                out.replace_range(start..start + len + 2, "`…`");
            }
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", out)
        }
    }
}

fn read_error(status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is over this route's size limit",
        )
    } else {
        ApiError::invalid("the body could not be read")
    }
}

fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| json_error(&e))
}

/// A JSON body (required; `Content-Type: application/json`).
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !is_json(ct) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| read_error(r.status()))?;
        if bytes.is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "a JSON body is required",
            ));
        }
        parse_body(&bytes).map(ApiJson)
    }
}

/// A JSON body that may be absent (then `T::default()`).
#[derive(Debug)]
pub(crate) struct OptJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| read_error(r.status()))?;
        if bytes.is_empty() {
            return Ok(OptJson(T::default()));
        }
        if !is_json(ct.as_deref()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as Content-Type: application/json",
            ));
        }
        parse_body(&bytes).map(OptJson)
    }
}

/// Query parameters, with a typed 400 when they do not parse.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded_like(query).map(ApiQuery)
    }
}

/// Decodes a query string into `T` through JSON: every value is a string (query structs take
/// strings and parse them with [`num`]).
fn serde_urlencoded_like<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let mut map = serde_json::Map::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        map.insert(k.into_owned(), serde_json::Value::from(v.into_owned()));
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
        let mut err = json_error(&e);
        err.kind = "invalid_query";
        err.message = format!("the query parameters are not valid: {}", err.message);
        err
    })
}

/// Parses an optional numeric query parameter.
pub(crate) fn num<T: FromStr>(raw: &Option<String>, name: &str) -> Result<Option<T>, ApiError> {
    raw.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse().map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("the query parameter `{name}` is not a valid number or id"),
                )
            })
        })
        .transpose()
}

/// Parses an optional boolean query parameter (`true`/`false`/`1`/`0`).
pub(crate) fn flag(raw: &Option<String>, name: &str) -> Result<bool, ApiError> {
    match raw.as_deref() {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("the query parameter `{name}` is true or false"),
        )),
    }
}

/// Parses an id from a path segment (400 when malformed).
pub(crate) fn id<T: FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::invalid(format!("malformed {what} id in the path")))
}
