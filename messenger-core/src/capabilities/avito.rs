//! Avito capabilities (being written from shared/platforms/avito.md).

use super::Capabilities;
use crate::model::Platform;

/// The capabilities of Avito.
pub fn capabilities() -> Capabilities {
    Capabilities {
        platform: Platform::Avito,
        ..super::telegram::capabilities()
    }
}
