//! Time as a port, so expiry rules are tested with exact instants.

use std::time::{SystemTime, UNIX_EPOCH};

/// Tells the time in Unix seconds.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> i64;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

pub use shop_domain::instant::rfc3339;

#[cfg(test)]
mod tests {
    #[test]
    fn instants_are_written_in_rfc_3339_utc() {
        assert_eq!(super::rfc3339(1_795_791_600), "2026-11-27T15:00:00Z");
    }
}
