//! Media upload and download.
//!
//! **Upload**: `POST /{phone-number-id}/media` as `multipart/form-data` with the fields
//! `messaging_product=whatsapp`, `type=<MIME type>` and `file` (the bytes, with their file name
//! and content type); the answer's `id` (valid 30 days) is what the message is then sent by.
//! Streams are sent as they are read, never held in memory whole.
//!
//! **Download**: `GET /{media-id}` answers a URL that lives five minutes; the bytes are then
//! fetched from it with the same bearer token and streamed. When that URL answers 401, 403 or
//! 404 (it expired between the two requests, or was revoked), a fresh URL is fetched once and
//! used: that is not reported as a failure. Files larger than the configured maximum
//! ([`WhatsAppConfig::max_download`](crate::WhatsAppConfig::max_download)) fail with `TooLarge`
//! before their bytes are requested, from the size the [`MediaRef`] or `GET /{media-id}`
//! reports (and, failing those, the `Content-Length`, and the bytes actually read).

use futures::StreamExt;
use messenger_core::{
    ByteStream, Delivery, Error, ErrorKind, MediaId, MediaRef, MediaSource, Platform, Result,
};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::wire::{MediaUrlResponse, UploadResponse};
use crate::{WhatsApp, error};

const WA: Platform = Platform::WhatsApp;

fn too_large(size: u64, max: u64) -> Error {
    Error::too_large(format!(
        "the media is {size} bytes; the download limit is {max} bytes"
    ))
    .with_platform(WA)
}

impl WhatsApp {
    /// Uploads media from bytes or a stream and returns its media id (valid 30 days).
    ///
    /// A link or a media id needs no upload: it is `InvalidInput` here.
    pub async fn upload(&self, source: &MediaSource) -> Result<MediaId> {
        let (mime_type, file_name, length) =
            match (source.mime_type(), source.file_name(), source.len()) {
                (Some(m), Some(n), Some(l)) if source.is_upload() => {
                    (m.to_owned(), n.to_owned(), l)
                }
                _ => {
                    return Err(Error::invalid_input(
                        "only media from bytes or a stream can be uploaded",
                    )
                    .with_platform(WA));
                }
            };
        let body = match source {
            MediaSource::Bytes { data, .. } => reqwest::Body::from(data.clone()),
            _ => match source.open() {
                Some(stream) => reqwest::Body::wrap_stream(stream),
                None => {
                    return Err(
                        Error::invalid_input("the media stream cannot be opened").with_platform(WA)
                    );
                }
            },
        };
        let file = Part::stream_with_length(body, length)
            .file_name(file_name)
            .mime_str(&mime_type)
            .map_err(|_| {
                Error::invalid_input("the media's MIME type is not valid").with_platform(WA)
            })?;
        let form = Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime_type.clone())
            .part("file", file);
        let url = self.endpoint(&[self.config().phone_number_id(), "media"]);
        let body = self
            .execute(
                self.request(reqwest::Method::POST, url).multipart(form),
                Delivery::NotSent,
            )
            .await?;
        let response: UploadResponse = Self::decode(&body, Delivery::NotSent)?;
        if response.id.is_empty() {
            return Err(
                Error::decode("WhatsApp answered an upload without a media id").with_platform(WA),
            );
        }
        let id = MediaId::new(response.id);
        tracing::debug!(
            media = %id.fingerprint(),
            bytes = length,
            mime_type = %mime_type,
            "whatsapp media uploaded"
        );
        Ok(id)
    }

    /// `GET /{media-id}`: the short-lived URL, MIME type and size of a media id.
    async fn media_url(&self, id: &MediaId) -> Result<MediaUrlResponse> {
        let url = self.endpoint(&[id.as_str()]);
        let body = self
            .execute(self.request(reqwest::Method::GET, url), Delivery::NotSent)
            .await?;
        let info: MediaUrlResponse = Self::decode(&body, Delivery::NotSent)?;
        let max = self.config().max_download;
        if let Some(size) = info.file_size.filter(|s| *s > max) {
            return Err(too_large(size, max));
        }
        Ok(info)
    }

    /// GETs the media URL; `Ok(None)` when the URL is expired or refused (401/403/404).
    async fn fetch_media(&self, info: &MediaUrlResponse) -> Result<Option<reqwest::Response>> {
        // The bearer token goes with this request: over https only when the API itself is
        // reached over https (tests use a plain-http local server).
        let api_is_https = self.endpoint(&[]).scheme() == "https";
        let url = url::Url::parse(&info.url)
            .ok()
            .filter(|u| u.scheme() == "https" || (!api_is_https && u.scheme() == "http"))
            .ok_or_else(|| {
                Error::decode("WhatsApp answered a media URL that is not https").with_platform(WA)
            })?;
        let response = self
            .request(reqwest::Method::GET, url)
            .send()
            .await
            .map_err(|e| error::from_reqwest(e, Delivery::NotSent))?;
        match response.status() {
            s if s.is_success() => Ok(Some(response)),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Ok(None),
            status => {
                let headers = response.headers().clone();
                let body = response.bytes().await.unwrap_or_default();
                Err(error::from_response(
                    status,
                    &headers,
                    &body,
                    Delivery::NotSent,
                ))
            }
        }
    }

    pub(crate) async fn download_media(&self, media: &MediaRef) -> Result<ByteStream> {
        let max = self.config().max_download;
        if let Some(size) = media.size.filter(|s| *s > max) {
            return Err(too_large(size, max));
        }
        if media.id.as_str().is_empty() {
            return Err(Error::invalid_input("the media id is empty").with_platform(WA));
        }
        let mut response = None;
        for attempt in 0..2 {
            let info = self.media_url(&media.id).await?;
            match self.fetch_media(&info).await? {
                Some(r) => {
                    response = Some(r);
                    break;
                }
                None => tracing::debug!(
                    media = %media.id.fingerprint(),
                    attempt,
                    "whatsapp media URL refused; fetching a fresh one"
                ),
            }
        }
        let response = response.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                "the media URL was refused twice (expired or deleted media)",
            )
            .with_platform(WA)
        })?;
        if let Some(length) = response.content_length().filter(|l| *l > max) {
            return Err(too_large(length, max));
        }
        tracing::debug!(
            media = %media.id.fingerprint(),
            bytes = response.content_length(),
            "whatsapp media download started"
        );
        let mut seen: u64 = 0;
        let stream = response.bytes_stream().map(move |chunk| {
            let chunk = chunk.map_err(|e| {
                std::io::Error::other(format!(
                    "WhatsApp media download failed: {}",
                    e.without_url()
                ))
            })?;
            seen += chunk.len() as u64;
            if seen > max {
                return Err(std::io::Error::other(format!(
                    "the media exceeds the download limit of {max} bytes"
                )));
            }
            Ok(chunk)
        });
        Ok(Box::pin(stream))
    }
}
