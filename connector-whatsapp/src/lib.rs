//! WhatsApp connector (being written).
