//! Consent and agreement (being written).
