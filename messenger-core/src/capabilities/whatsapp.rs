//! WhatsApp capabilities (being written from shared/platforms/whatsapp.md).

use super::Capabilities;
use crate::model::Platform;

/// The capabilities of WhatsApp.
pub fn capabilities() -> Capabilities {
    Capabilities {
        platform: Platform::WhatsApp,
        ..super::telegram::capabilities()
    }
}
