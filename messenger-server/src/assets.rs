//! The web inbox's static files, embedded from `web/` at build time (see `build.rs`): every
//! file is served at `/<its path under web/>`, `index.html` also at `/`, with a strict content
//! security policy (scripts and styles from this origin only; API calls to this origin only).

use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The content security policy of the pages.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The embedded file at `path`, if any: (content type, bytes).
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, ct, bytes)| (*ct, *bytes))
}

/// The paths of every embedded file.
pub fn asset_paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(p, _, _)| *p)
}

fn serve(content_type: &'static str, bytes: &'static [u8]) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// `GET /`: the inbox page.
pub(crate) async fn index() -> Response {
    match asset("/") {
        Some((ct, bytes)) => serve(ct, bytes),
        None => ApiError::no_route().into_response(),
    }
}

/// Everything no route serves: an embedded file for `GET`/`HEAD`, else a JSON 404.
pub(crate) async fn fallback(method: Method, uri: Uri) -> Response {
    if (method == Method::GET || method == Method::HEAD)
        && !uri.path().starts_with("/api/")
        && let Some((ct, bytes)) = asset(uri.path())
    {
        return serve(ct, bytes);
    }
    ApiError::no_route().into_response()
}
