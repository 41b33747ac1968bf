//! Safe DDL on a live database (pgroll's and GitLab's `with_lock_retries`, STYLE 16): every
//! statement of a migration waits at most `lock_timeout` for its locks, so an `ALTER TABLE`
//! stuck behind a long transaction holds up the queries queued behind it for that long
//! only; then the step is rolled back and retried after a growing, jittered pause, and
//! each wait names who blocked it.
//!
//! These are the DDL's locks; the migration lock (an advisory lock on its own session) is
//! never released between retries.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::limits::Settings;

/// The `SET` statements of `settings` (`SET LOCAL` inside a transaction).
pub(crate) fn statements(settings: &Settings, local: bool) -> String {
    let scope = if local { "SET LOCAL" } else { "SET" };
    let statement = settings
        .statement_timeout
        .map_or_else(|| "0".to_owned(), crate::duration::setting);
    format!(
        "{scope} lock_timeout = '{}'; {scope} statement_timeout = '{statement}'",
        crate::duration::setting(settings.lock_timeout)
    )
}

/// Undoes [`statements`] on the session after a file that ran outside a
/// transaction.
pub(crate) const RESET: &str = "RESET lock_timeout; RESET statement_timeout";

/// Whether a statement gave up waiting for a lock (SQLSTATE 55P03): the one failure worth
/// retrying; anything else is returned at once.
pub(crate) fn is_lock_timeout(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
}

/// The sessions blocking `pid` right now, each as `pid 123 (psql, user app, idle in
/// transaction since …): <first 200 characters of its query>`; empty when none.
pub(crate) async fn blockers(
    client: &Client,
    pid: i32,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), coalesce(a.state, ''), \
                    coalesce(to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), \
                    left(coalesce(a.query, ''), 200) \
             FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids($1)) ORDER BY a.pid",
            &[&pid],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            format!(
                "pid {} ({}, user {}, {} since {}): {}",
                row.get::<_, i32>(0),
                row.get::<_, String>(1),
                row.get::<_, String>(2),
                row.get::<_, String>(3),
                row.get::<_, String>(4),
                row.get::<_, String>(5),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::catalogue::Timeouts;
    use crate::limits::Limits;

    const LIMITS: Limits = Limits {
        lock_timeout: Duration::from_secs(5),
        retries: 10,
        statement_timeout: None,
    };

    #[test]
    fn a_files_directives_override_the_flags() {
        let own = Timeouts {
            lock: Some(Duration::from_secs(30)),
            statement: Some(Duration::from_secs(600)),
        };
        assert_eq!(
            statements(&LIMITS.for_file(own), true),
            "SET LOCAL lock_timeout = '30000ms'; SET LOCAL statement_timeout = '600000ms'"
        );
        assert_eq!(
            statements(&LIMITS.for_file(Timeouts::default()), false),
            "SET lock_timeout = '5000ms'; SET statement_timeout = '0'"
        );
    }
}
