//! Max capabilities (being written from shared/platforms/max.md).

use super::Capabilities;
use crate::model::Platform;

/// The capabilities of Max.
pub fn capabilities() -> Capabilities {
    Capabilities {
        platform: Platform::Max,
        ..super::telegram::capabilities()
    }
}
