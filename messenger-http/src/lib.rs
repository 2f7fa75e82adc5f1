//! # messenger-http
//!
//! The one HTTP transport of every connector, so that a request means the same thing on every
//! platform:
//!
//! - [`HttpSettings`] / [`HttpClient`]: rustls, no redirects (a redirect would carry a token
//!   elsewhere), connect and request timeouts, extra root certificates, a cap on every answer's
//!   body.
//! - [`HttpClient::execute`]: sends a request and reads the answer's status, headers and body,
//!   never more than the cap (error bodies too). A network failure is
//!   [`ErrorKind::Transport`] with
//!   [`Delivery::NotSent`] when no connection was made and [`Delivery::MaybeSent`] once the
//!   request may have left; the URL (which can carry a token) is never kept.
//! - [`status_error`]: what an HTTP status alone says when the body is not the platform's
//!   error (a proxy's page): 5xx, 429 with [`retry_after`], 401, 403, 404, 413.
//! - [`sanitize`]: a platform's description made safe for an error message (one line,
//!   bounded, phone-number-like digit runs masked).
//! - [`upload_part`]: a multipart file part from bytes or a stream, never buffered whole.
//! - [`HttpClient::download`]: a byte stream that counts the bytes as they arrive and fails at
//!   the limit, whatever `Content-Length` says or omits.
//!
//! ```no_run
//! # async fn run() -> messenger_core::Result<()> {
//! use messenger_core::Platform;
//! use messenger_http::{HttpClient, HttpSettings};
//!
//! let http = HttpClient::new(Platform::Max, &HttpSettings::default())?;
//! let answer = http
//!     .execute(http.post("https://platform-api2.max.ru/messages").body("{}"))
//!     .await?;
//! if !answer.is_success() {
//!     // The connector's error.rs maps the platform's own error body; the status decides
//!     // where there is none.
//!     return Err(messenger_http::status_error(Platform::Max, answer.status, &answer.headers, true));
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use messenger_core::{ByteStream, Delivery, Error, ErrorKind, MediaSource, Platform, Result};
use reqwest::header::{self, HeaderMap};

pub use reqwest::{Method, RequestBuilder, StatusCode};

/// The default cap on an answer body read into memory: 16 MiB.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;

/// How an [`HttpClient`] is built.
///
/// ```
/// use std::time::Duration;
/// use messenger_http::HttpSettings;
/// let settings = HttpSettings::default()
///     .connect_timeout(Duration::from_secs(5))
///     .request_timeout(Duration::from_secs(30))
///     .max_body(1 << 20);
/// assert_eq!(settings.max_body_len(), 1 << 20);
/// ```
#[derive(Clone)]
pub struct HttpSettings {
    connect_timeout: Duration,
    request_timeout: Duration,
    read_timeout: Option<Duration>,
    max_body: usize,
    user_agent: String,
    root_certificates: Vec<Vec<u8>>,
    client: Option<reqwest::Client>,
}

impl Default for HttpSettings {
    /// 10 s to connect, 60 s for a call, no read timeout, a 16 MiB body cap.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            read_timeout: None,
            max_body: DEFAULT_MAX_BODY,
            user_agent: concat!("messenger-connectors/", env!("CARGO_PKG_VERSION")).to_owned(),
            root_certificates: Vec::new(),
            client: None,
        }
    }
}

impl fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSettings")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_body", &self.max_body)
            .field("root_certificates", &self.root_certificates.len())
            .field("own_client", &self.client.is_some())
            .finish()
    }
}

impl HttpSettings {
    /// The time allowed to open a connection (default 10 s; built-in client only).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The time allowed for a whole call that does not set its own (default 60 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The longest silence while reading (default none; built-in client only). A long poll
    /// needs this above its own wait.
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The largest answer body read into memory (default [`DEFAULT_MAX_BODY`]).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The `User-Agent` header (built-in client only).
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// Trusts this PEM root certificate next to the standard roots (MAX's host may present a
    /// certificate of the Russian national CA). Built-in client only.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// Uses this client instead of building one (its own redirect policy and timeouts apply).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The body cap in force.
    pub fn max_body_len(&self) -> usize {
        self.max_body
    }

    /// The default call timeout in force.
    pub fn request_timeout_len(&self) -> Duration {
        self.request_timeout
    }
}

/// The HTTP client of one connected account; cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    platform: Platform,
    max_body: usize,
    request_timeout: Duration,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("platform", &self.platform)
            .field("max_body", &self.max_body)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// An answer whose body was read (within the cap).
#[derive(Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body (for a non-success answer, at most the cap: a longer one is cut).
    pub body: Bytes,
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body is platform JSON that can quote message content.
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The `Retry-After` of the answer, where it has one.
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }
}

impl HttpClient {
    /// Builds the client of `platform` from `settings`.
    pub fn new(platform: Platform, settings: &HttpSettings) -> Result<Self> {
        let client = match &settings.client {
            Some(client) => client.clone(),
            None => {
                let mut builder = reqwest::Client::builder()
                    .use_rustls_tls()
                    .connect_timeout(settings.connect_timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(settings.user_agent.clone());
                if let Some(read) = settings.read_timeout {
                    builder = builder.read_timeout(read);
                }
                for pem in &settings.root_certificates {
                    let invalid = || {
                        Error::invalid_input("a root certificate is not a valid PEM certificate")
                            .with_platform(platform)
                    };
                    // rustls accepts a PEM without any certificate block silently, and a bad
                    // block fails only when the client is built: checked here instead.
                    let certs = reqwest::Certificate::from_pem_bundle(pem)
                        .map_err(|e| invalid().with_source(e.without_url()))?;
                    if certs.is_empty() {
                        return Err(invalid());
                    }
                    for cert in certs {
                        builder = builder.add_root_certificate(cert);
                    }
                }
                builder.build().map_err(|e| {
                    // rustls parses an added certificate only here: with extra roots, a failure
                    // is theirs (a PEM block that is not a certificate).
                    let err = if settings.root_certificates.is_empty() {
                        Error::transport("could not build the HTTP client")
                    } else {
                        Error::invalid_input(
                            "could not build the HTTP client: a root certificate is not valid",
                        )
                    };
                    err.with_platform(platform).with_source(e.without_url())
                })?
            }
        };
        Ok(Self {
            client,
            platform,
            max_body: settings.max_body,
            request_timeout: settings.request_timeout,
        })
    }

    /// The platform the client talks to.
    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// The underlying reqwest client.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request with the default call timeout.
    pub fn request(&self, method: Method, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.client
            .request(method, url)
            .timeout(self.request_timeout)
    }

    /// A `GET` with the default call timeout.
    pub fn get(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A `POST` with the default call timeout.
    pub fn post(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// Sends `request` and reads the whole answer, up to the body cap.
    ///
    /// A success whose body is over the cap is a `Decode` error ([`Delivery::MaybeSent`]: the
    /// platform did act); any other answer's body is cut at the cap, so an error mapping sees
    /// at most that much. A network failure is [`transport_error`].
    pub async fn execute(&self, request: RequestBuilder) -> Result<Answer> {
        let mut response = request
            .send()
            .await
            .map_err(|e| transport_error(self.platform, e))?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let cap = self.max_body;
        if status.is_success()
            && let Some(len) = response.content_length().filter(|l| *l > cap as u64)
        {
            return Err(self.oversize(len));
        }
        let mut body = BytesMut::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = cap.saturating_sub(body.len());
                    if chunk.len() > room {
                        if status.is_success() {
                            return Err(self.oversize(body.len() as u64 + chunk.len() as u64));
                        }
                        body.extend_from_slice(&chunk[..room]);
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(transport_error(self.platform, e)),
            }
        }
        tracing::trace!(platform = %self.platform, status = status.as_u16(), body_len = body.len(), "http answer");
        Ok(Answer {
            status,
            headers,
            body: body.freeze(),
        })
    }

    fn oversize(&self, len: u64) -> Error {
        Error::decode(format!(
            "the answer has at least {len} bytes, over the limit of {} bytes",
            self.max_body
        ))
        .with_platform(self.platform)
        .with_delivery(Delivery::MaybeSent)
    }

    /// Sends a `GET`-like `request` for a file and streams its bytes, failing at `limit`.
    ///
    /// Refused with `TooLarge` before any byte is read when `Content-Length` is over the limit;
    /// otherwise the stream counts the bytes as they arrive and ends with an error once they
    /// pass the limit (a chunked answer, or one whose `Content-Length` lied). A non-success
    /// answer is returned as `Err(answer)` for the connector to map (its body within the cap).
    pub async fn download(
        &self,
        request: RequestBuilder,
        limit: Option<u64>,
    ) -> Result<std::result::Result<ByteStream, Answer>> {
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(self.platform, e).with_delivery(Delivery::NotSent))?;
        let status = response.status();
        if !status.is_success() {
            let headers = response.headers().clone();
            let body = read_capped(response, self.max_body).await;
            return Ok(Err(Answer {
                status,
                headers,
                body,
            }));
        }
        if let (Some(limit), Some(len)) = (limit, response.content_length())
            && len > limit
        {
            return Err(too_large(self.platform, len, limit));
        }
        let platform = self.platform;
        let inner = Box::pin(response.bytes_stream());
        Ok(Ok(Box::pin(Limited {
            inner,
            seen: 0,
            limit: limit.unwrap_or(u64::MAX),
            platform,
            done: false,
        })))
    }
}

async fn read_capped(mut response: reqwest::Response, cap: usize) -> Bytes {
    let mut body = BytesMut::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = cap.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() >= room {
            break;
        }
    }
    body.freeze()
}

/// `TooLarge`: a file of `size` bytes over a limit of `limit`.
pub fn too_large(platform: Platform, size: u64, limit: u64) -> Error {
    Error::too_large(format!(
        "the file has {size} bytes; the download limit is {limit} bytes"
    ))
    .with_platform(platform)
}

type ReqwestStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A byte stream that fails once more than `limit` bytes arrived.
struct Limited {
    inner: ReqwestStream,
    seen: u64,
    limit: u64,
    platform: Platform,
    done: bool,
}

impl Stream for Limited {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen = self.seen.saturating_add(chunk.len() as u64);
                if self.seen > self.limit {
                    self.done = true;
                    let limit = self.limit;
                    tracing::debug!(platform = %self.platform, limit, "download stopped at its limit");
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::FileTooLarge,
                        format!(
                            "{}: the file exceeds the download limit of {limit} bytes",
                            self.platform
                        ),
                    ))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                let platform = self.platform;
                Poll::Ready(Some(Err(std::io::Error::other(format!(
                    "{platform}: the download failed: {}",
                    describe(&e.without_url())
                )))))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A network failure as [`ErrorKind::Transport`], without the URL (it can carry a token).
///
/// [`Delivery::NotSent`] when no connection was made or the request could not be built;
/// [`Delivery::MaybeSent`] once the request may have left (a timeout, a connection closed
/// while sending or while reading the answer).
pub fn transport_error(platform: Platform, err: reqwest::Error) -> Error {
    let err = err.without_url();
    if err.is_builder() {
        return Error::invalid_input("the request could not be built")
            .with_platform(platform)
            .with_source(err);
    }
    let (what, delivery) = if err.is_connect() {
        ("could not connect", Delivery::NotSent)
    } else if err.is_timeout() {
        ("did not answer in time", Delivery::MaybeSent)
    } else if err.is_body() || err.is_decode() {
        (
            "the connection failed while reading the answer",
            Delivery::MaybeSent,
        )
    } else {
        (
            "the connection failed during the request",
            Delivery::MaybeSent,
        )
    };
    let message = format!("{what}: {}", describe(&err));
    Error::transport(message)
        .with_platform(platform)
        .with_delivery(delivery)
        .with_source(err)
}

/// The innermost cause of a reqwest error, sanitised.
fn describe(err: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    sanitize(&last.unwrap_or_else(|| "network error".to_owned()))
}

/// What the HTTP status alone says, for an answer without the platform's error body (a
/// proxy's page, an empty 502).
///
/// | status | kind |
/// |---|---|
/// | 5xx | `Transport`, retryable; `MaybeSent` for a send (`is_send`) |
/// | 429 | `RateLimited` with [`retry_after`] |
/// | 401, 403 | `Unauthorized` |
/// | 404 | `NotFound` |
/// | 413 | `TooLarge` |
/// | other | `Platform` with the status as its code |
///
/// ```
/// use messenger_core::{Delivery, ErrorKind, Platform};
/// use messenger_http::{status_error, StatusCode};
/// use reqwest::header::HeaderMap;
/// let e = status_error(Platform::Vk, StatusCode::BAD_GATEWAY, &HeaderMap::new(), true);
/// assert_eq!((e.kind(), e.delivery()), (ErrorKind::Transport, Delivery::MaybeSent));
/// assert!(e.is_retryable());
/// assert_eq!(e.to_string(), "vk: transport: the server answered HTTP 502 (code 502)");
/// ```
pub fn status_error(
    platform: Platform,
    status: StatusCode,
    headers: &HeaderMap,
    is_send: bool,
) -> Error {
    let code = status.as_u16();
    let base = Error::platform_error(code.to_string(), format!("the server answered HTTP {code}"))
        .with_platform(platform);
    if status.is_server_error() {
        let delivery = if is_send {
            Delivery::MaybeSent
        } else {
            Delivery::NotSent
        };
        return base.with_kind(ErrorKind::Transport).with_delivery(delivery);
    }
    match code {
        429 => base
            .with_kind(ErrorKind::RateLimited)
            .with_retry_after(retry_after(headers)),
        401 | 403 => base.with_kind(ErrorKind::Unauthorized),
        404 => base.with_kind(ErrorKind::NotFound),
        413 => base.with_kind(ErrorKind::TooLarge),
        _ => base,
    }
}

/// The `Retry-After` header: delay-seconds or an HTTP date (a date in the past is zero).
///
/// ```
/// use std::time::Duration;
/// use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
/// let mut h = HeaderMap::new();
/// h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
/// assert_eq!(messenger_http::retry_after(&h), Some(Duration::from_secs(7)));
/// h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
/// assert_eq!(messenger_http::retry_after(&h), Some(Duration::ZERO));
/// h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
/// assert_eq!(messenger_http::retry_after(&h), None);
/// ```
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The longest description [`sanitize`] keeps, in chars.
pub const MAX_DESCRIPTION: usize = 300;

/// Makes a platform's description safe for an error message: control characters become
/// spaces, runs of 7 or more digits (phone-number-like) become `<number>`, and the text is cut
/// at [`MAX_DESCRIPTION`] chars.
///
/// ```
/// use messenger_http::sanitize;
/// assert_eq!(sanitize("(#100) Invalid parameter for +16505551234"), "(#100) Invalid parameter for +<number>");
/// assert_eq!(sanitize("Bad Request:\nchat not found"), "Bad Request: chat not found");
/// assert_eq!(sanitize("(#131056) pair rate"), "(#131056) pair rate");
/// ```
pub fn sanitize(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 7 {
            out.push_str("<number>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut masked);
            masked.push(if c.is_control() { ' ' } else { c });
        }
    }
    flush(&mut run, &mut masked);
    match masked.char_indices().nth(MAX_DESCRIPTION) {
        Some((cut, _)) => format!("{}…", &masked[..cut]),
        None => masked,
    }
}

/// A multipart file part from bytes or a stream (opened anew for each attempt), with its file
/// name and MIME type; a stream is sent as it is read, never held whole.
///
/// A URL or a platform media id has no bytes to upload: `InvalidInput`.
pub fn upload_part(platform: Platform, source: &MediaSource) -> Result<reqwest::multipart::Part> {
    let (body, length, mime, file_name) = match source {
        MediaSource::Bytes {
            data,
            mime_type,
            file_name,
        } => (
            reqwest::Body::from(data.clone()),
            data.len() as u64,
            mime_type,
            file_name,
        ),
        MediaSource::Stream {
            open,
            length,
            mime_type,
            file_name,
        } => (
            reqwest::Body::wrap_stream(open()),
            *length,
            mime_type,
            file_name,
        ),
        _ => {
            return Err(
                Error::invalid_input("only media from bytes or a stream can be uploaded")
                    .with_platform(platform),
            );
        }
    };
    tracing::debug!(platform = %platform, bytes = length, mime = %messenger_core::redact::mime_essence(mime), "upload part");
    reqwest::multipart::Part::stream_with_length(body, length)
        .file_name(file_name.clone())
        .mime_str(mime)
        .map_err(|_| {
            Error::invalid_input("the media's MIME type is malformed").with_platform(platform)
        })
}
