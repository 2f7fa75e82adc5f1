//! Media: the two-step upload, and downloads.
//!
//! # Upload
//!
//! Media from bytes or a stream goes up in two steps (`shared/platforms/max.md` §4):
//!
//! 1. `POST /uploads?type=image|video|audio|file` (with the token) answers
//!    `{"url": "<upload host>", "token"?: "…"}`; for video and audio the token to attach comes
//!    here.
//! 2. A `multipart/form-data` `POST` of the file, as the part named `data` with its file name
//!    and MIME type, to that URL. The URL is on another host (`iu.oneme.ru`, `fu.oneme.ru`,
//!    `vu.okcdn.ru`): the token is **not** sent there (the official Go and TypeScript clients
//!    send none). The part comes from [`messenger_http::upload_part`]: a stream is sent as it
//!    is read, never held in memory whole. The host answers `{"token"}` for a file,
//!    `{"photos": {…}}` for an image and `<retval>1</retval>` for video and audio.
//!
//! The attachment is then `{"type": "file"|"video"|"audio", "payload": {"token"}}` or
//! `{"type": "image", "payload": {"photos": {…}}}` ([`crate::convert::uploaded_attachment`]).
//! Images by URL and media MAX already holds (a token, a `video:<token>` id, an inbound
//! attachment's URL for an image) need no upload ([`crate::convert::reference_attachment`]).
//!
//! MAX processes a file after the upload; a send before it is done is refused with
//! `attachment.not.ready`, which the connector retries (see [`crate::MaxConfig::not_ready_retries`]).
//!
//! # Download
//!
//! An inbound media id is the attachment's `payload.url`, or `video:<token>` for a video, whose
//! file URL `GET /videos/{token}` gives (the largest MP4). The bytes are streamed through
//! [`HttpClient::download`](messenger_http::HttpClient::download): refused with `TooLarge`
//! before any byte is read when the known size or `Content-Length` is over the limit
//! ([`crate::MaxConfig::download_limit`]), and failing as soon as the bytes pass it whatever
//! the headers say. The token goes only to the API's own host, never to a CDN.

use messenger_core::{
    ByteStream, ContentKind, Error, ErrorKind, MediaRef, MediaSource, Platform, Result,
};
use messenger_http::Method;
use reqwest::multipart::Form;
use tracing::debug;
use url::Url;

use crate::Max;
use crate::convert::{self, VIDEO_PREFIX};
use crate::error::{self, Call};
use crate::wire::{AttachmentRequest, UploadEndpoint, UploadResult, VideoAttachmentDetails};

const MAX: Platform = Platform::Max;

fn http_url(raw: &str, what: &str) -> Result<Url> {
    Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            Error::invalid_input(format!("{what} is not an http(s) URL")).with_platform(MAX)
        })
}

impl Max {
    /// The attachment for media of `kind`: by reference where MAX can take it so, else
    /// uploaded (see the [module docs](self)).
    pub(crate) async fn attachment(
        &self,
        kind: ContentKind,
        source: &MediaSource,
    ) -> Result<AttachmentRequest> {
        match convert::reference_attachment(kind, source)? {
            Some(attachment) => Ok(attachment),
            None => self.upload(kind, source).await,
        }
    }

    /// Uploads media from bytes or a stream in MAX's two steps and returns the attachment to
    /// send it with (see the [module docs](self)). The attachment can be sent to several chats.
    ///
    /// ```no_run
    /// # async fn run(max: connector_max::Max) -> messenger_core::Result<()> {
    /// use messenger_core::{ContentKind, MediaSource};
    /// let logo = MediaSource::bytes(std::fs::read("logo.png")?, "image/png", "logo.png");
    /// let attachment = max.upload(ContentKind::Image, &logo).await?;
    /// # let _ = attachment; Ok(()) }
    /// ```
    pub async fn upload(
        &self,
        kind: ContentKind,
        source: &MediaSource,
    ) -> Result<AttachmentRequest> {
        let upload_type = convert::upload_type(kind)?;
        // Checked before any request: a URL or an id has no bytes, a MIME type may be malformed.
        let part = messenger_http::upload_part(MAX, source)?;

        let mut url = self.endpoint(&["uploads"]);
        url.query_pairs_mut().append_pair("type", upload_type);
        let body = self
            .call(
                Call::Read,
                self.authorized(Method::POST, url),
                "POST /uploads",
            )
            .await?;
        let endpoint: UploadEndpoint =
            error::decode(&body, "the POST /uploads answer", Call::Read)?;
        let target = http_url(&endpoint.url, "the upload URL MAX returned")?;

        debug!(
            upload_type,
            host = target.host_str().unwrap_or(""),
            "uploading media to max"
        );
        let request = self
            .http()
            .post(target)
            .timeout(self.config().upload_timeout)
            .multipart(Form::new().part("data", part));
        // No message goes out here: whatever happens, nothing was sent.
        let answer = self
            .http()
            .execute(request)
            .await
            .map_err(|e| e.with_delivery(messenger_core::Delivery::NotSent))?;
        if !answer.is_success() {
            let err = error::from_answer(&answer, Call::Read);
            debug!(upload_type, status = answer.status.as_u16(), kind = %err.kind(), "max upload refused");
            return Err(err);
        }
        // Video and audio answer `<retval>1</retval>`: not JSON, and not needed.
        let result = serde_json::from_slice::<UploadResult>(&answer.body).ok();
        debug!(upload_type, json = result.is_some(), "max upload done");
        convert::uploaded_attachment(kind, &endpoint, result.as_ref())
    }

    /// `GET /videos/{token}`: a video's file URLs and details.
    pub async fn video_details(&self, token: &str) -> Result<VideoAttachmentDetails> {
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(
                Error::invalid_input("a MAX video token is empty or malformed").with_platform(MAX),
            );
        }
        let url = self.endpoint(&["videos", token]);
        let body = self
            .call(Call::Read, self.authorized(Method::GET, url), "GET /videos")
            .await?;
        error::decode(&body, "the GET /videos answer", Call::Read)
    }

    /// Streams inbound media (see the [module docs](self)).
    pub(crate) async fn download_media(&self, media: &MediaRef) -> Result<ByteStream> {
        let limit = self.config().download_limit;
        if let (Some(size), Some(limit)) = (media.size, limit)
            && size > limit
        {
            return Err(messenger_http::too_large(MAX, size, limit));
        }
        let raw = media.id.as_str();
        let url = match raw.strip_prefix(VIDEO_PREFIX) {
            Some(token) => {
                let details = self.video_details(token).await?;
                let best = details
                    .urls
                    .as_ref()
                    .and_then(|u| u.best_mp4())
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::NotFound,
                            "MAX has no downloadable file for this video (yet)",
                        )
                        .with_platform(MAX)
                    })?;
                http_url(best, "the video URL MAX returned")?
            }
            None => http_url(raw, "a MAX media id")?,
        };
        let mut request = self
            .http()
            .get(url.clone())
            // The whole transfer, not only the answer's head.
            .timeout(self.config().upload_timeout);
        if self.is_api_origin(&url) {
            request = self.authorize(request);
        }
        match self.http().download(request, limit).await? {
            Ok(stream) => {
                debug!(media = %media.id.fingerprint(), size = ?media.size, "streaming a max file");
                Ok(stream)
            }
            Err(answer) => {
                let err = error::from_answer(&answer, Call::Read);
                Err(if answer.status.as_u16() == 404 {
                    err.with_kind(ErrorKind::NotFound)
                } else {
                    err
                })
            }
        }
    }
}
