//! The JSON API, called in-process (shared with the console: `shop_platform::in_process`).

pub use shop_platform::in_process::{Answer, Call, Refusal, call, encode};
