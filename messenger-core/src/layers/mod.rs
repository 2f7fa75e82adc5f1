//! Layers (being written).
