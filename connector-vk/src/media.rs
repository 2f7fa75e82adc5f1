//! Uploads and downloads.
//!
//! # Uploads ([S photos/, docs/], [G api/upload.go])
//!
//! - Photo: `photos.getMessagesUploadServer(peer_id)` → `POST upload_url` multipart field
//!   `photo` → `{server, photo, hash}` (`photo: "[]"` means the server did not take the file)
//!   → `photos.saveMessagesPhoto(photo, server, hash)` → `photo{owner}_{id}_{access_key}`.
//! - Document and voice note: `docs.getMessagesUploadServer(type=doc|audio_message, peer_id)`
//!   → `POST upload_url` multipart field `file` → `{file}` → `docs.save(file)` →
//!   `doc{owner}_{id}[_{access_key}]` (a voice note is a document too).
//! - An upload server's refusal is `{error, error_code?, error_descr?}`, not the API envelope
//!   ([`error::from_upload_error`]).
//!
//! The token never goes to an upload server (the URL VK gives is its own credential).
//!
//! # Downloads
//!
//! A [`MediaRef`] of this connector carries the URL (see [`convert`](crate::convert)). The file is fetched
//! without the token and streamed: `TooLarge` before any byte where the size is known, and as
//! the bytes arrive otherwise ([`HttpClient::download`](messenger_http::HttpClient::download)).
//! Only `https` URLs on VK's hosts ([`VK_MEDIA_HOSTS`], plus any configured with
//! [`VkConfig::download_host`](crate::VkConfig::download_host)) or on the API's own host are
//! fetched, so that a forged media id cannot make the connector fetch an arbitrary address.
//! VK's document URLs (`https://vk.com/doc…?hash=…`) redirect to the file's server: up to
//! five redirects are followed, each checked the same way.

use messenger_core::{
    ByteStream, Delivery, Error, ErrorKind, MediaRef, MediaSource, OutgoingContent, Platform,
    Result,
};
use messenger_http::{status_error, too_large, upload_part};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::convert::{attachment_string, download_url};
use crate::wire::{
    DocSaved, DocUploadServerParams, DocUploaded, DocsSaveParams, Photo, PhotoUploadServer,
    PhotoUploadServerParams, PhotoUploaded, SaveMessagesPhotoParams, UploadError, UploadServer,
};
use crate::{Vk, error};

const VK: Platform = Platform::Vk;

/// The hosts (and their subdomains) media is downloaded from: VK's API and site domains and
/// its content servers (`sun9-*.userapi.com` photos, `psv4.userapi.com` documents and voice
/// notes, `*.vkuseraudio.net` music).
pub const VK_MEDIA_HOSTS: &[&str] = &[
    "vk.com",
    "vk.ru",
    "userapi.com",
    "vkuser.net",
    "vkuseraudio.net",
    "vkuservideo.net",
    "vk-cdn.net",
    "vkontakte.ru",
];

/// How many redirects a download follows.
pub const MAX_REDIRECTS: usize = 5;

/// Which documents upload server to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// `type=doc`: a file.
    Doc,
    /// `type=audio_message`: a voice note.
    AudioMessage,
}

impl DocKind {
    /// The `type` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Doc => "doc",
            DocKind::AudioMessage => "audio_message",
        }
    }
}

fn host_matches(host: &str, suffix: &str) -> bool {
    let suffix = suffix.trim_start_matches('.');
    host.eq_ignore_ascii_case(suffix)
        || host
            .to_ascii_lowercase()
            .ends_with(&format!(".{}", suffix.to_ascii_lowercase()))
}

impl Vk {
    /// Uploads the media of `content` for `peer` and returns its attachment string.
    pub(crate) async fn upload(&self, peer: i64, content: &OutgoingContent) -> Result<String> {
        let source = content
            .media_source()
            .ok_or_else(|| Error::invalid_input("nothing to upload").with_platform(VK))?;
        match content {
            OutgoingContent::Image { .. } => self.upload_photo(peer, source).await,
            OutgoingContent::File { .. } => self.upload_doc(peer, source, DocKind::Doc).await,
            OutgoingContent::Voice { .. } => {
                self.upload_doc(peer, source, DocKind::AudioMessage).await
            }
            _ => Err(Error::unsupported(format!(
                "VK cannot upload {} for messages (only by reference to an existing one)",
                content.kind()
            ))
            .with_platform(VK)),
        }
    }

    /// The three steps of a photo upload; returns `photo{owner}_{id}[_{key}]`.
    pub async fn upload_photo(&self, peer: i64, source: &MediaSource) -> Result<String> {
        let server: PhotoUploadServer = self
            .call(
                "photos.getMessagesUploadServer",
                &PhotoUploadServerParams { peer_id: peer },
                false,
            )
            .await?;
        let uploaded: PhotoUploaded = self
            .upload_file(&server.upload_url, "photo", source)
            .await?;
        if uploaded.photo.trim().is_empty() || uploaded.photo.trim() == "[]" {
            return Err(Error::invalid_input(
                "the VK upload server did not take the photo (JPG, PNG or GIF, at most 50 MB, width + height at most 14000 px)",
            )
            .with_platform(VK));
        }
        let saved: Vec<Photo> = self
            .call(
                "photos.saveMessagesPhoto",
                &SaveMessagesPhotoParams {
                    photo: uploaded.photo,
                    server: uploaded.server,
                    hash: uploaded.hash,
                },
                false,
            )
            .await?;
        let photo = saved.first().ok_or_else(|| {
            Error::decode("photos.saveMessagesPhoto returned no photo").with_platform(VK)
        })?;
        tracing::debug!(kind = "photo", "vk upload saved");
        Ok(attachment_string(
            "photo",
            photo.owner_id,
            photo.id,
            photo.access_key.as_deref(),
        ))
    }

    /// The three steps of a document or voice-note upload; returns
    /// `doc{owner}_{id}[_{key}]`.
    pub async fn upload_doc(
        &self,
        peer: i64,
        source: &MediaSource,
        kind: DocKind,
    ) -> Result<String> {
        let server: UploadServer = self
            .call(
                "docs.getMessagesUploadServer",
                &DocUploadServerParams {
                    kind: kind.as_str(),
                    peer_id: peer,
                },
                false,
            )
            .await?;
        let uploaded: DocUploaded = self.upload_file(&server.upload_url, "file", source).await?;
        if uploaded.file.trim().is_empty() {
            return Err(
                Error::invalid_input("the VK upload server did not take the file")
                    .with_platform(VK),
            );
        }
        let saved: DocSaved = self
            .call(
                "docs.save",
                &DocsSaveParams {
                    file: uploaded.file,
                },
                false,
            )
            .await?;
        let (owner, id, key) = match (&saved.doc, &saved.audio_message) {
            (Some(d), _) => (d.owner_id, d.id, d.access_key.clone()),
            (None, Some(a)) => (a.owner_id, a.id, a.access_key.clone()),
            (None, None) => {
                return Err(
                    Error::decode("docs.save returned neither a doc nor an audio message")
                        .with_platform(VK),
                );
            }
        };
        tracing::debug!(kind = kind.as_str(), "vk upload saved");
        Ok(attachment_string("doc", owner, id, key.as_deref()))
    }

    /// POSTs `source` as the multipart field `field` to an upload server, without the token.
    async fn upload_file<T: DeserializeOwned>(
        &self,
        upload_url: &str,
        field: &'static str,
        source: &MediaSource,
    ) -> Result<T> {
        let url = Url::parse(upload_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                Error::decode("VK gave an upload address that is not an http(s) URL")
                    .with_platform(VK)
            })?;
        let part = upload_part(VK, source)?;
        let form = reqwest::multipart::Form::new().part(field, part);
        let request = self
            .http()
            .post(url)
            .timeout(self.config().transfer_timeout)
            .multipart(form);
        let answer = self.http().execute(request).await?;
        if !answer.is_success() {
            return Err(status_error(VK, answer.status, &answer.headers, false));
        }
        let value: Value =
            serde_json::from_slice(&answer.body).map_err(|e| Error::from(e).with_platform(VK))?;
        if value.get("error").is_some_and(|e| !e.is_null()) {
            let refusal: UploadError = serde_json::from_value(value).unwrap_or_default();
            return Err(error::from_upload_error(&refusal));
        }
        serde_json::from_value(value).map_err(|e| Error::from(e).with_platform(VK))
    }

    /// Whether a download may go to `url`.
    fn may_download(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let base = self.base();
        if base.host_str() == Some(host)
            && base.port_or_known_default() == url.port_or_known_default()
            && base.scheme() == url.scheme()
        {
            return true;
        }
        url.scheme() == "https"
            && VK_MEDIA_HOSTS
                .iter()
                .copied()
                .chain(self.config().download_hosts.iter().map(String::as_str))
                .any(|suffix| host_matches(host, suffix))
    }

    /// Streams the file of `media` within the download limit.
    pub(crate) async fn download_media(&self, media: &MediaRef) -> Result<ByteStream> {
        let limit = self.config().download_limit;
        if let (Some(limit), Some(size)) = (limit, media.size)
            && size > limit
        {
            return Err(too_large(VK, size, limit));
        }
        let raw = download_url(media).ok_or_else(|| {
            Error::unsupported(
                "this VK media has no download URL (VK gives none for videos; media ids sent by the CRM carry none)",
            )
            .with_platform(VK)
        })?;
        let mut url = Url::parse(raw)
            .map_err(|_| Error::invalid_input("the media's URL is malformed").with_platform(VK))?;
        for _ in 0..=MAX_REDIRECTS {
            if !self.may_download(&url) {
                return Err(Error::invalid_input(
                    "refusing to download from a host that is not VK's",
                )
                .with_platform(VK));
            }
            let request = self
                .http()
                .get(url.clone())
                .timeout(self.config().transfer_timeout);
            match self.http().download(request, limit).await? {
                Ok(stream) => {
                    tracing::debug!(limit = ?limit, "vk download started");
                    return Ok(stream);
                }
                Err(answer) if answer.status.is_redirection() => {
                    let next = answer
                        .headers
                        .get(reqwest::header::LOCATION)
                        .and_then(|l| l.to_str().ok())
                        .and_then(|l| url.join(l).ok())
                        .ok_or_else(|| {
                            Error::decode("a redirect without a usable Location").with_platform(VK)
                        })?;
                    url = next;
                }
                Err(answer) => {
                    return Err(status_error(VK, answer.status, &answer.headers, false)
                        .with_delivery(Delivery::NotSent));
                }
            }
        }
        Err(Error::new(ErrorKind::Platform, "too many redirects").with_platform(VK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_exactly_or_as_subdomains() {
        assert!(host_matches("vk.com", "vk.com"));
        assert!(host_matches("sun9-1.userapi.com", "userapi.com"));
        assert!(host_matches("PSV4.USERAPI.COM", "userapi.com"));
        assert!(!host_matches("evil-userapi.com", "userapi.com"));
        assert!(!host_matches("userapi.com.evil.net", "userapi.com"));
    }
}
