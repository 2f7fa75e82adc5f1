//! Telegram connector (being written).
