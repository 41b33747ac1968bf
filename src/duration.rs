//! Durations as every PostgreSQL tool reads them: a bare number is seconds (`5`, like
//! libpq's `connect_timeout`), else humantime's units (`5s`, `2m`, `1h30m`). Used by the
//! command line and by the per-file directives (`-- schemagate:lock-timeout 30s`).

use std::time::Duration;

/// Parses a duration (see the module docs); the error says which spellings work.
pub fn parse(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(value).map_err(|e| {
        format!("{e}: give seconds (`5`) or a number with a unit (`5s`, `2m`, `1h30m`)")
    })
}

/// A duration as a PostgreSQL setting value: whole milliseconds, at least 1 (0 would
/// mean "no limit").
pub fn setting(duration: Duration) -> String {
    let millis = duration.as_millis().max(1);
    format!("{millis}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_seconds_when_bare_and_humantime_otherwise() {
        assert_eq!(parse("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse("5 parsecs").unwrap_err().contains("`5s`"));
    }

    #[test]
    fn settings_are_whole_milliseconds_never_zero() {
        assert_eq!(setting(Duration::from_secs(5)), "5000ms");
        assert_eq!(setting(Duration::from_micros(10)), "1ms");
    }
}
