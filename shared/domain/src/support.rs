//! A shopper's message to support: what the shop accepts, and the fixed windows that limit how
//! often one address, or one source, may write.
//!
//! The subject ends up in a mail header, so it may hold no control character at all (no line
//! break to smuggle a header in); the body may break lines and indent, nothing else.

/// Characters a subject may have.
pub const SUBJECT_MAX: usize = 200;
/// Characters a body may have.
pub const BODY_MAX: usize = 5_000;

/// The subject, trimmed: 1 to [`SUBJECT_MAX`] characters on one line.
pub fn subject(raw: &str) -> Result<String, String> {
    let subject = raw.trim();
    if subject.is_empty() || subject.chars().count() > SUBJECT_MAX {
        return Err(format!("say what it is about in 1 to {SUBJECT_MAX} characters"));
    }
    if !crate::text::is_one_line(subject) {
        return Err("one line of text, without control characters or line separators".into());
    }
    Ok(subject.to_owned())
}

/// The body, trimmed and with `\r\n` read as `\n`: 1 to [`BODY_MAX`] characters of text.
pub fn body(raw: &str) -> Result<String, String> {
    let body = raw.replace("\r\n", "\n");
    let body = body.trim();
    if body.is_empty() || body.chars().count() > BODY_MAX {
        return Err(format!("write 1 to {BODY_MAX} characters"));
    }
    if !crate::text::is_multiline(body) {
        return Err("text only: line breaks and tabs are the only control characters allowed".into());
    }
    Ok(body.to_owned())
}

/// At most `max` attempts (support messages, checkout holds, sign-ups) per `period_seconds`,
/// counted in fixed windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Messages allowed in one window.
    pub max: u32,
    /// The window's length in seconds.
    pub period_seconds: i64,
}

/// The window `now` falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Which window since the epoch (`now / period`), part of the counter's key.
    pub index: i64,
    /// Unix seconds at which it ends, when its counter may be forgotten.
    pub ends_at: i64,
    /// Seconds until it ends: what a refused writer waits (`Retry-After`), at least 1.
    pub retry_after: i64,
}

impl RateLimit {
    /// At most `max` per hour.
    pub fn hourly(max: u32) -> Self {
        Self {
            max,
            period_seconds: 3600,
        }
    }

    /// The window `now` (Unix seconds) falls in.
    pub fn window(&self, now: i64) -> Window {
        let period = self.period_seconds.max(1);
        let index = now.div_euclid(period);
        let ends_at = (index + 1) * period;
        Window {
            index,
            ends_at,
            retry_after: (ends_at - now).max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_one_line_of_bounded_text() {
        assert_eq!(subject("  Where is my parcel?  ").unwrap(), "Where is my parcel?");
        for bad in [
            "",
            "   ",
            "Hi\r\nBcc: everyone@example.com",
            "Hi\nthere",
            "tab\there",
            "Hi\u{2028}Bcc: x",
            "p\u{2029}q",
        ] {
            assert!(subject(bad).is_err(), "{bad:?}");
        }
        assert!(subject(&"x".repeat(SUBJECT_MAX)).is_ok());
        assert!(subject(&"é".repeat(SUBJECT_MAX + 1)).is_err());
    }

    #[test]
    fn a_body_keeps_its_lines_and_refuses_other_control_characters() {
        assert_eq!(
            body("Hello,\r\n\tthe mug broke.\r\n").unwrap(),
            "Hello,\n\tthe mug broke."
        );
        for bad in ["", "\n\n", "bell \u{7}", "nul \0 byte", "escape \u{1b}[31m"] {
            assert!(body(bad).is_err(), "{bad:?}");
        }
        assert!(body(&"x".repeat(BODY_MAX)).is_ok());
        assert!(body(&"x".repeat(BODY_MAX + 1)).is_err());
    }

    #[test]
    fn a_window_says_how_long_a_refused_writer_waits() {
        let hourly = RateLimit {
            max: 5,
            period_seconds: 3600,
        };
        let w = hourly.window(7_200);
        assert_eq!((w.index, w.ends_at, w.retry_after), (2, 10_800, 3600));
        let w = hourly.window(10_799);
        assert_eq!((w.index, w.retry_after), (2, 1));
        assert_eq!(hourly.window(10_800).index, 3);
    }
}
