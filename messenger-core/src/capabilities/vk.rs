//! Vk capabilities (being written from shared/platforms/vk.md).

use super::Capabilities;
use crate::model::Platform;

/// The capabilities of Vk.
pub fn capabilities() -> Capabilities {
    Capabilities {
        platform: Platform::Vk,
        ..super::telegram::capabilities()
    }
}
