//! Uploads and downloads.
//!
//! # Uploads (\[O\] uploadImages)
//!
//! `POST /messenger/v1/accounts/{user_id}/uploadImages`, multipart, one file in the field
//! **`uploadfile[]`** (JPEG, HEIC, GIF, BMP, PNG; at most 24 MB and 75 megapixels: the planner
//! checks type and size before this). The answer maps the new **image id** to its sizes:
//! `{"12345.12345abcdefghijklm": {"1280x960": "https://…", …}}`; the key is what
//! `messages/image` takes. The upload goes through the same token cache as every call (a
//! stream is opened anew for a retry after a refused token).
//!
//! # Downloads
//!
//! - An image's [`MediaRef`] is the URL of its largest size. It is fetched without the token,
//!   streamed within the download limit, and only from `https` URLs on Avito's hosts
//!   ([`AVITO_MEDIA_HOSTS`], plus any configured with
//!   [`AvitoConfig::download_host`](crate::AvitoConfig::download_host)) or from the API's own
//!   origin, so that a forged media id cannot make the connector fetch an arbitrary address.
//! - A voice note's is `voice:<voice_id>`. Its file URL lives one hour, so it is asked for
//!   **now**: `GET /messenger/v1/accounts/{user_id}/getVoiceFiles?voice_ids=<voice_id>`
//!   → `{"voices_urls": {"<voice_id>": url}}`, then the URL is streamed (Opus in MP4). One id
//!   per call, so the array encoding of `voice_ids` (UNCONFIRMED: repeated or comma-joined)
//!   does not arise. The file is fetched without the token unless it is on the API's own
//!   origin (whether Avito wants the token there is UNCONFIRMED; it never goes elsewhere).
//!
//! Redirects are not followed (the HTTP client refuses them): a redirecting file URL is
//! reported as an error with its status.

use messenger_core::{ByteStream, Delivery, Error, MediaRef, MediaSource, Platform, Result};
use messenger_http::{too_large, upload_part};
use url::Url;

use crate::convert::VOICE_PREFIX;
use crate::wire::{Uploaded, VoiceFiles};
use crate::{Avito, error};

const AVITO: Platform = Platform::Avito;

/// The hosts (and their subdomains) images are downloaded from: `img.k.avito.ru` chat images,
/// `www.avito.st` static files.
pub const AVITO_MEDIA_HOSTS: &[&str] = &["avito.ru", "avito.st"];

/// The multipart field of uploadImages (\[O\]).
pub const UPLOAD_FIELD: &str = "uploadfile[]";

fn host_matches(host: &str, suffix: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let suffix = suffix.trim_start_matches('.').to_ascii_lowercase();
    host == suffix || host.ends_with(&format!(".{suffix}"))
}

impl Avito {
    /// Uploads an image (bytes or a stream) with uploadImages and returns its image id.
    pub async fn upload_image(&self, user_id: i64, source: &MediaSource) -> Result<String> {
        // Checked once before the request: a URL or an id has nothing to upload.
        upload_part(AVITO, source)?;
        let url = self.account_url("v1", user_id, &["uploadImages"]);
        let timeout = self.config().transfer_timeout;
        let uploaded: Uploaded = self
            .call("images.upload", false, || {
                let part = upload_part(AVITO, source)?;
                Ok(self
                    .http()
                    .post(url.clone())
                    .timeout(timeout)
                    .multipart(reqwest::multipart::Form::new().part(UPLOAD_FIELD, part)))
            })
            .await?;
        let image_id = uploaded
            .into_keys()
            .find(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                Error::invalid_input(
                    "Avito did not take the image (JPEG, HEIC, GIF, BMP or PNG, at most 24 MB and 75 megapixels)",
                )
                .with_platform(AVITO)
            })?;
        tracing::debug!("avito image uploaded");
        Ok(image_id)
    }

    /// The file URL of a voice note, valid for an hour from now (getVoiceFiles).
    pub async fn voice_url(&self, voice_id: &str) -> Result<Url> {
        let user_id = self.user_id().await?;
        let mut url = self.account_url("v1", user_id, &["getVoiceFiles"]);
        url.query_pairs_mut().append_pair("voice_ids", voice_id);
        let files: VoiceFiles = self
            .call("voice.files", false, || Ok(self.http().get(url.clone())))
            .await?;
        let raw = files
            .voices_urls
            .get(voice_id)
            .or_else(|| {
                // One id was asked for: a single entry under another spelling is it.
                (files.voices_urls.len() == 1)
                    .then(|| files.voices_urls.values().next())
                    .flatten()
            })
            .ok_or_else(|| {
                Error::new(
                    messenger_core::ErrorKind::NotFound,
                    "Avito gave no file for this voice note",
                )
                .with_platform(AVITO)
            })?;
        Url::parse(raw).map_err(|_| {
            Error::decode("getVoiceFiles gave a URL that is not one").with_platform(AVITO)
        })
    }

    fn same_origin_as_api(&self, url: &Url) -> bool {
        let base = self.base();
        base.scheme() == url.scheme()
            && base.host_str() == url.host_str()
            && base.port_or_known_default() == url.port_or_known_default()
    }

    /// Whether an image may be downloaded from `url`.
    fn may_download(&self, url: &Url) -> bool {
        if self.same_origin_as_api(url) {
            return true;
        }
        let Some(host) = url.host_str() else {
            return false;
        };
        url.scheme() == "https"
            && AVITO_MEDIA_HOSTS
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
            return Err(too_large(AVITO, size, limit));
        }
        let id = media.id.as_str();
        let (url, with_token) = if let Some(voice_id) = id.strip_prefix(VOICE_PREFIX) {
            if voice_id.trim().is_empty() {
                return Err(
                    Error::invalid_input("the voice note's id is empty").with_platform(AVITO)
                );
            }
            let url = self.voice_url(voice_id).await?;
            if !matches!(url.scheme(), "https" | "http") {
                return Err(
                    Error::decode("getVoiceFiles gave a URL that is not http(s)")
                        .with_platform(AVITO),
                );
            }
            if url.scheme() == "http" && !self.same_origin_as_api(&url) {
                return Err(
                    Error::invalid_input("refusing a voice file over plain http")
                        .with_platform(AVITO),
                );
            }
            let with_token = self.same_origin_as_api(&url);
            (url, with_token)
        } else {
            let url = Url::parse(id).map_err(|_| {
                Error::unsupported(
                    "this Avito media has no download URL (files and videos cannot be fetched through the API)",
                )
                .with_platform(AVITO)
            })?;
            if !self.may_download(&url) {
                return Err(Error::invalid_input(
                    "refusing to download from a host that is not Avito's",
                )
                .with_platform(AVITO));
            }
            let with_token = self.same_origin_as_api(&url);
            (url, with_token)
        };
        let mut request = self.http().get(url).timeout(self.config().transfer_timeout);
        if with_token {
            request = request.bearer_auth(self.tokens().access_token().await?.expose_str());
        }
        match self.http().download(request, limit).await? {
            Ok(stream) => {
                tracing::debug!(limit = ?limit, "avito download started");
                Ok(stream)
            }
            Err(answer) => Err(error::from_answer(&answer, false).with_delivery(Delivery::NotSent)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_exactly_or_as_subdomains() {
        assert!(host_matches("img.k.avito.ru", "avito.ru"));
        assert!(host_matches("AVITO.ST", "avito.st"));
        assert!(!host_matches("evil-avito.ru", "avito.ru"));
        assert!(!host_matches("avito.ru.evil.net", "avito.ru"));
    }
}
