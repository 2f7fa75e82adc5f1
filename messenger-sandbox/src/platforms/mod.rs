//! One module per emulated platform, over the shared model in [`crate::state`]. A platform
//! brings its account and customer state, its wire formats and errors, its routes (dispatched
//! by path shape in [`crate::server`]) and the customer's side the control API calls.

pub(crate) mod telegram;
pub(crate) mod whatsapp;
