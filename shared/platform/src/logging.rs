//! The functions' log lines: JSON when Lambda asks for it (`AWS_LAMBDA_LOG_FORMAT`), at the level
//! the template sets (`AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`), as the runtime's default
//! subscriber does, but never finer than DEBUG: at TRACE the Lambda runtime logs every raw event,
//! with its tokens, signatures and addresses.

use lambda_http::tracing::subscriber::filter::LevelFilter;
use std::str::FromStr;

/// The finest level a function logs at.
pub const FINEST: LevelFilter = LevelFilter::DEBUG;

/// The level of `requested` (a level's name), INFO when it names none, DEBUG at the finest.
pub fn level(requested: Option<&str>) -> LevelFilter {
    let level = requested
        .and_then(|name| LevelFilter::from_str(name.trim()).ok())
        .unwrap_or(LevelFilter::INFO);
    level.min(FINEST)
}

/// Installs the subscriber for this process (once, in `main`), and counts the cold start.
pub fn init() {
    crate::metrics::cold_start();
    let requested = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG"));
    let builder = lambda_http::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level(requested.ok().as_deref()));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_is_never_logged_and_unknown_levels_are_info() {
        assert_eq!(level(Some("TRACE")), LevelFilter::DEBUG);
        assert_eq!(level(Some("trace")), LevelFilter::DEBUG);
        assert_eq!(level(Some("DEBUG")), LevelFilter::DEBUG);
        assert_eq!(level(Some("WARN")), LevelFilter::WARN);
        assert_eq!(level(Some("lambda_runtime=trace")), LevelFilter::INFO);
        assert_eq!(level(None), LevelFilter::INFO);
    }
}
