//! Decoding platform JSON without building a tree: the borrowed string every connector's
//! intake types hold.
//!
//! serde's `#[serde(borrow)]` does not borrow through `Option<Cow<str>>`, and a `&str` field
//! fails on a string the JSON escapes; [`Str`] borrows where it can and owns where it must,
//! and its `Debug` shows only the length (a string of a body can be message content or a phone
//! number).

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::redact::TextLen;

/// A JSON string: borrowed from the body, or owned where the JSON escapes it.
///
/// ```
/// use messenger_core::json::Str;
/// let plain: Str<'_> = serde_json::from_str(r#""Здравствуйте""#).unwrap();
/// assert!(plain.is_borrowed());
/// let escaped: Str<'_> = serde_json::from_str(r#""line\nbreak""#).unwrap();
/// assert!(!escaped.is_borrowed());
/// assert_eq!(escaped.as_str(), "line\nbreak");
/// assert_eq!(format!("{plain:?}"), "<12 chars>");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str<'a>(pub Cow<'a, str>);

impl<'a> Str<'a> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text as an owned `String` (a copy where it is borrowed).
    pub fn into_owned(self) -> String {
        self.0.into_owned()
    }

    /// Whether the text is borrowed from the body (it had no escapes).
    pub fn is_borrowed(&self) -> bool {
        matches!(self.0, Cow::Borrowed(_))
    }

    /// Reads a string or a number (written as Rust writes it), for the ids a platform sends
    /// either way (WhatsApp's `wa_id`); use with `#[serde(deserialize_with)]`.
    ///
    /// ```
    /// use messenger_core::json::Str;
    /// let mut de = serde_json::Deserializer::from_str("16505551234");
    /// assert_eq!(Str::string_or_number(&mut de).unwrap().as_str(), "16505551234");
    /// ```
    pub fn string_or_number<'de: 'a, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrVisitor { numbers: true })
    }
}

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Str<'_> {
    /// Only the length: a string of the body can be message content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        TextLen(self).fmt(f)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor { numbers: false })
    }
}

/// Reads a string; with `numbers`, a number too.
struct StrVisitor {
    numbers: bool,
}

impl StrVisitor {
    fn number<'de, E: de::Error>(self, n: impl fmt::Display) -> Result<Str<'de>, E> {
        if self.numbers {
            Ok(Str(Cow::Owned(n.to_string())))
        } else {
            Err(E::invalid_type(de::Unexpected::Other("a number"), &self))
        }
    }
}

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.numbers {
            "a string or a number"
        } else {
            "a string"
        })
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
        Ok(Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
        Ok(Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
        Ok(Str(Cow::Owned(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Str<'de>, E> {
        self.number(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Str<'de>, E> {
        self.number(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Str<'de>, E> {
        self.number(v)
    }
}

#[cfg(test)]
mod tests {
    use super::Str;

    #[test]
    fn a_number_is_a_string_only_where_asked() {
        assert!(serde_json::from_str::<Str<'_>>("42").is_err());
        let mut de = serde_json::Deserializer::from_str("42");
        assert_eq!(Str::string_or_number(&mut de).unwrap().as_str(), "42");
        let mut de = serde_json::Deserializer::from_str("true");
        assert!(Str::string_or_number(&mut de).is_err());
    }
}
