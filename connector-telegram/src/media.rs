//! Media upload and download.
//!
//! **Upload**: a media send from bytes or a stream ([`InputFile::Upload`]) is
//! `multipart/form-data` with the fields of the [`SendMedia`] request in order (`chat_id`,
//! `caption`, `reply_parameters` as JSON) and then the file, as the part named after the method's
//! file parameter (`photo`, `document`, `voice`, `audio`, `video`) with its file name and MIME
//! type. The part comes from [`messenger_http::upload_part`]: a stream is sent as it is read,
//! never held in memory whole, and opened anew for each attempt. A `file_id` or a URL needs no
//! upload: it goes as JSON ([`crate::wire::InputFile::Reference`]).
//!
//! **Download**: `getFile`, then a `GET` of `/file/bot<token>/<file_path>` streamed through
//! [`HttpClient::download`](messenger_http::HttpClient::download). Files over the download limit
//! ([`TelegramConfig::download_limit`](crate::TelegramConfig::download_limit), 20 MB on the
//! cloud server) are refused with `TooLarge` before any byte is read, by the size in the
//! [`MediaRef`], in the `getFile` answer or in the file answer's `Content-Length`; and whatever
//! those say or omit (a chunked answer), the stream counts the bytes as they arrive and fails
//! with [`std::io::ErrorKind::FileTooLarge`] once they pass the limit.

use messenger_core::{ByteStream, Error, ErrorKind, MediaRef, Platform, Result};
use reqwest::multipart::Form;
use tracing::debug;

use crate::TelegramBot;
use crate::error::decode_answer;
use crate::wire::{self, GetFile, InputFile, SendMedia};

const TG: Platform = Platform::Telegram;

/// The `multipart/form-data` body of an upload.
fn form(request: &SendMedia<'_>) -> Result<Form> {
    let InputFile::Upload(source) = request.file else {
        return Err(
            Error::invalid_input("a file_id or a URL is sent as JSON, not uploaded")
                .with_platform(TG),
        );
    };
    let mut form = Form::new().text("chat_id", request.chat_id.to_string());
    if let Some(caption) = request.caption {
        form = form.text("caption", caption.to_owned());
    }
    if let Some(reply) = &request.reply_parameters {
        let json = serde_json::to_string(reply).map_err(|e| {
            Error::invalid_input("reply_parameters cannot be encoded")
                .with_platform(TG)
                .with_source(e)
        })?;
        form = form.text("reply_parameters", json);
    }
    let part = messenger_http::upload_part(TG, source)?;
    Ok(form.part(request.kind.field(), part))
}

impl TelegramBot {
    /// Sends media from bytes or a stream as `multipart/form-data` (see the
    /// [module docs](self)); the timeout is the upload timeout.
    pub(crate) async fn upload(&self, request: &SendMedia<'_>) -> Result<wire::Message> {
        let method = request.kind.method();
        let form = form(request)?;
        debug!(
            method,
            chat = %messenger_core::model::fingerprint(&request.chat_id.to_string()),
            "uploading media"
        );
        let builder = self
            .http()
            .post(self.method_url(method))
            .timeout(self.config().upload_timeout)
            .multipart(form);
        self.execute(method, builder, true).await
    }

    /// `getFile`, then the file's bytes as a stream bounded by the download limit.
    pub(crate) async fn download_file(&self, media: &MediaRef) -> Result<ByteStream> {
        let limit = self.config().download_limit;
        let over = |size: Option<u64>| match (size, limit) {
            (Some(size), Some(limit)) if size > limit => {
                Some(messenger_http::too_large(TG, size, limit))
            }
            _ => None,
        };
        if let Some(err) = over(media.size) {
            return Err(err);
        }
        let file = self
            .call(&GetFile {
                file_id: media.id.as_str(),
            })
            .await?;
        if let Some(err) = over(file.file_size) {
            return Err(err);
        }
        let path = file.file_path.ok_or_else(|| {
            Error::new(ErrorKind::NotFound, "getFile returned no file_path").with_platform(TG)
        })?;
        if path.starts_with('/') {
            return Err(Error::unsupported(
                "the local Bot API server returned a local file path; read it from its disk",
            )
            .with_platform(TG));
        }
        let request = self
            .http()
            .get(self.file_url(&path))
            // The whole transfer, not only the answer's head: the upload timeout.
            .timeout(self.config().upload_timeout);
        match self.http().download(request, limit).await? {
            Ok(stream) => {
                debug!(
                    media = %media.id.fingerprint(),
                    size = ?file.file_size,
                    "streaming a telegram file"
                );
                Ok(stream)
            }
            Err(answer) => {
                let err = match decode_answer::<serde::de::IgnoredAny>(
                    answer.status,
                    &answer.headers,
                    &answer.body,
                    false,
                ) {
                    Err(err) => err,
                    // `ok: true` on a failed status: nothing to go by but the status.
                    Ok(_) => {
                        messenger_http::status_error(TG, answer.status, &answer.headers, false)
                    }
                };
                // The file URL answers 404 when the path expired or never existed (the token
                // was good a moment ago: getFile answered).
                Err(if answer.status.as_u16() == 404 {
                    err.with_kind(ErrorKind::NotFound)
                } else {
                    err
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ChatTarget, MediaKind};

    #[test]
    fn a_reference_has_no_form() {
        let request = SendMedia {
            kind: MediaKind::Photo,
            chat_id: ChatTarget::Id(1),
            file: InputFile::Reference("AgAC"),
            caption: None,
            reply_parameters: None,
        };
        assert_eq!(form(&request).unwrap_err().kind(), ErrorKind::InvalidInput);
    }
}
