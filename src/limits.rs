//! How long a migration's statements may wait for locks and run, and how often a step
//! that timed out waiting is retried (DESIGN §12): settings of every engine; each wing
//! applies them in its own words.

use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBuilder};

use crate::catalogue::Timeouts;

/// Shortest pause before a retry; each next one doubles, up to [`MAX_PAUSE`], with jitter.
const MIN_PAUSE: Duration = Duration::from_millis(200);

/// Longest pause before a retry.
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// How long statements may wait for locks and run, and how often a step is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `--ddl-lock-timeout`: how long a statement waits for a lock (`lock_timeout`).
    pub lock_timeout: Duration,
    /// `--ddl-retries`: how many times a step that timed out waiting is run again.
    pub retries: usize,
    /// `--statement-timeout`: how long a statement may run (`statement_timeout`), if bounded.
    pub statement_timeout: Option<Duration>,
}

impl Limits {
    /// The settings for a file: its own directives win.
    pub fn for_file(&self, timeouts: Timeouts) -> Settings {
        Settings {
            lock_timeout: timeouts.lock.unwrap_or(self.lock_timeout),
            statement_timeout: timeouts.statement.or(self.statement_timeout),
        }
    }

    /// The pauses before each retry: growing and jittered, `retries` of them.
    pub fn pauses(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::default()
            .with_min_delay(MIN_PAUSE)
            .with_max_delay(MAX_PAUSE)
            .with_max_times(self.retries)
            .with_jitter()
            .build()
    }
}

/// The limits one file runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `lock_timeout`.
    pub lock_timeout: Duration,
    /// `statement_timeout`, `None` for no limit.
    pub statement_timeout: Option<Duration>,
}

impl Settings {
    /// As `plan` shows them.
    pub fn describe(&self) -> String {
        format!(
            "lock_timeout {}, statement_timeout {}",
            humantime::format_duration(self.lock_timeout),
            self.statement_timeout.map_or_else(
                || "none".to_owned(),
                |d| humantime::format_duration(d).to_string()
            )
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        lock_timeout: Duration::from_secs(5),
        retries: 10,
        statement_timeout: None,
    };

    #[test]
    fn pauses_grow_with_jitter_and_stop_after_the_retries() {
        let pauses: Vec<Duration> = LIMITS.pauses().collect();
        assert_eq!(pauses.len(), 10);
        assert!(
            pauses
                .iter()
                .all(|p| *p >= MIN_PAUSE && *p <= MAX_PAUSE * 2)
        );
        assert!(pauses[5] > pauses[0]);
    }
}
