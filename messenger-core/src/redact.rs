//! Redaction: the one way every crate keeps message content, file names, phone numbers and
//! tokens out of `Debug` output and logs.
//!
//! - [`Secret<T>`]: a value (a token, an app secret, a password) whose `Debug` prints
//!   `<redacted>`; read it with [`Secret::expose`].
//! - [`Redacted`]: a `Debug` placeholder for a field that must not be shown at all;
//!   [`redacted`] maps an `Option` to it, so `None` still shows as `None`.
//! - [`TextLen`]: a `Debug` of a text that shows its length in chars, never the text.
//! - [`mime_essence`]: the `type/subtype` of a MIME type, without parameters (a `Content-Type`
//!   parameter can carry a file name: `application/pdf; name="scan-ivanov.pdf"`).
//!
//! ```
//! use messenger_core::redact::{redacted, Secret, TextLen};
//! #[derive(Debug)]
//! struct Config<'a> { token: Secret<String>, text: TextLen<'a>, name: Option<messenger_core::redact::Redacted> }
//! let c = Config {
//!     token: Secret::new("123:ABC".to_owned()),
//!     text: TextLen("Привет"),
//!     name: redacted(&Some("passport.pdf")),
//! };
//! assert_eq!(
//!     format!("{c:?}"),
//!     "Config { token: <redacted>, text: <6 chars>, name: Some(<redacted>) }"
//! );
//! assert_eq!(c.token.expose(), "123:ABC");
//! ```

use std::fmt;

/// A value that never shows in `Debug` output: tokens, app secrets, passwords, signing keys.
///
/// `Display` is deliberately not implemented; [`expose`](Secret::expose) is the one way to
/// read the value, so every use of it is visible in the code.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself. Never log it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl Secret<String> {
    /// The value as a `&str`. Never log it.
    pub fn expose_str(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Prints `<redacted>` in `Debug` output: the placeholder of a field that is never shown.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `Some(<redacted>)` or `None`: whether a value is there, never what it is.
///
/// ```
/// use messenger_core::redact::redacted;
/// assert_eq!(format!("{:?}", redacted(&Some("+79990001122"))), "Some(<redacted>)");
/// assert_eq!(format!("{:?}", redacted::<String>(&None)), "None");
/// ```
pub fn redacted<T>(value: &Option<T>) -> Option<Redacted> {
    value.as_ref().map(|_| Redacted)
}

/// `Debug` of a text as its length in chars (`<12 chars>`), never the text.
#[derive(Clone, Copy)]
pub struct TextLen<'a>(pub &'a str);

impl fmt::Debug for TextLen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} chars>", self.0.chars().count())
    }
}

/// The essence of a MIME type (`type/subtype`), without parameters: only the essence may go
/// into logs, errors, downgrade reasons and `Debug` output.
///
/// ```
/// use messenger_core::redact::mime_essence;
/// assert_eq!(mime_essence("application/pdf; name=\"scan-ivanov.pdf\""), "application/pdf");
/// assert_eq!(mime_essence(" image/jpeg "), "image/jpeg");
/// ```
pub fn mime_essence(mime: &str) -> &str {
    mime.split(';').next().unwrap_or("").trim()
}

/// `Debug` of an optional MIME type as its essence only.
pub(crate) struct MimeEssence<'a>(pub(crate) Option<&'a str>);

impl fmt::Debug for MimeEssence<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(m) => fmt::Debug::fmt(mime_essence(m), f),
            None => f.write_str("None"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("EAAtoken".to_owned());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<redacted>)");
        assert_eq!(s.expose_str(), "EAAtoken");
    }

    #[test]
    fn mime_parameters_are_dropped() {
        assert_eq!(
            format!("{:?}", MimeEssence(Some("text/plain; name=a.txt"))),
            "\"text/plain\""
        );
        assert_eq!(format!("{:?}", MimeEssence(None)), "None");
    }
}
