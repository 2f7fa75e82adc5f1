//! Media upload and download, through `messenger-http`.
//!
//! **Upload**: `POST /{phone-number-id}/media` as `multipart/form-data` with the fields
//! `messaging_product=whatsapp`, `type=<MIME type>` and `file` (the bytes, with their file name
//! and content type, from [`messenger_http::upload_part`]); the answer's `id` (valid 30 days)
//! is what the message is then sent by. Streams are sent as they are read, never held in
//! memory whole.
//!
//! **Download**: `GET /{media-id}` answers a URL that lives five minutes; the bytes are then
//! fetched from it with the same bearer token and streamed ([`HttpClient::download`]). When that
//! URL answers 401, 403 or 404 (it expired between the two requests, or was revoked), a fresh
//! URL is fetched once and used: that is not reported as a failure. Files larger than the
//! configured limit ([`WhatsAppConfig::download_limit`](crate::WhatsAppConfig::download_limit))
//! fail with `TooLarge` before their bytes are requested, from the size the [`MediaRef`] or
//! `GET /{media-id}` reports; failing those, `Content-Length` and then the bytes as they arrive
//! are counted against it.
//!
//! [`HttpClient::download`]: messenger_http::HttpClient::download

use messenger_core::redact::mime_essence;
use messenger_core::{
    ByteStream, Delivery, Error, ErrorKind, MediaId, MediaRef, MediaSource, Platform, Result,
};
use messenger_http::{Method, StatusCode};
use reqwest::multipart::Form;

use crate::wire::{MediaUrlResponse, UploadResponse};
use crate::{WhatsApp, error};

const WA: Platform = Platform::WhatsApp;

impl WhatsApp {
    /// Uploads media from bytes or a stream and returns its media id (valid 30 days).
    ///
    /// A link or a media id needs no upload: it is `InvalidInput` here.
    pub async fn upload(&self, source: &MediaSource) -> Result<MediaId> {
        let (Some(mime_type), true) = (source.mime_type(), source.is_upload()) else {
            return Err(
                Error::invalid_input("only media from bytes or a stream can be uploaded")
                    .with_platform(WA),
            );
        };
        let file = messenger_http::upload_part(WA, source)?;
        let form = Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime_type.to_owned())
            .part("file", file);
        let url = self.endpoint(&[self.config().phone_number_id(), "media"]);
        let body = self
            .call(
                self.authed(Method::POST, url).multipart(form),
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
            bytes = source.len(),
            mime_type = %mime_essence(mime_type),
            "whatsapp media uploaded"
        );
        Ok(id)
    }

    /// `GET /{media-id}`: the short-lived URL, MIME type and size of a media id.
    async fn media_url(&self, id: &MediaId) -> Result<MediaUrlResponse> {
        let url = self.endpoint(&[id.as_str()]);
        let body = self
            .call(self.authed(Method::GET, url), Delivery::NotSent)
            .await?;
        let info: MediaUrlResponse = Self::decode(&body, Delivery::NotSent)?;
        if let (Some(size), Some(limit)) = (info.file_size, self.config().download_limit)
            && size > limit
        {
            return Err(messenger_http::too_large(WA, size, limit));
        }
        Ok(info)
    }

    /// GETs the media URL; `Ok(None)` when the URL is expired or refused (401/403/404).
    async fn fetch_media(&self, info: &MediaUrlResponse) -> Result<Option<ByteStream>> {
        // The bearer token goes with this request: over https only when the API itself is
        // reached over https (tests and the sandbox use a plain-http local server).
        let api_is_https = self.endpoint(&[]).scheme() == "https";
        let url = url::Url::parse(&info.url)
            .ok()
            .filter(|u| u.scheme() == "https" || (!api_is_https && u.scheme() == "http"))
            .ok_or_else(|| {
                Error::decode("WhatsApp answered a media URL that is not https").with_platform(WA)
            })?;
        let request = self.authed(Method::GET, url);
        match self
            .http
            .download(request, self.config().download_limit)
            .await?
        {
            Ok(stream) => Ok(Some(stream)),
            Err(answer)
                if matches!(
                    answer.status,
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
                ) =>
            {
                Ok(None)
            }
            Err(answer) => Err(error::from_answer(&answer, Delivery::NotSent)),
        }
    }

    pub(crate) async fn download_media(&self, media: &MediaRef) -> Result<ByteStream> {
        if let (Some(size), Some(limit)) = (media.size, self.config().download_limit)
            && size > limit
        {
            return Err(messenger_http::too_large(WA, size, limit));
        }
        if media.id.as_str().is_empty() {
            return Err(Error::invalid_input("the media id is empty").with_platform(WA));
        }
        for attempt in 0..2 {
            let info = self.media_url(&media.id).await?;
            if let Some(stream) = self.fetch_media(&info).await? {
                tracing::debug!(
                    media = %media.id.fingerprint(),
                    bytes = info.file_size,
                    "whatsapp media download started"
                );
                return Ok(stream);
            }
            tracing::debug!(
                media = %media.id.fingerprint(),
                attempt,
                "whatsapp media URL refused; fetching a fresh one"
            );
        }
        Err(Error::new(
            ErrorKind::NotFound,
            "the media URL was refused twice (expired or deleted media)",
        )
        .with_platform(WA))
    }
}
