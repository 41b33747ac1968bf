//! The audit trail: every schema change schemagate makes (forward migrations, rollbacks,
//! restores) as a row of `schemagate_audit`, so "who rolled back production, from where
//! to where, and with which backup" has an answer in the database itself.

//!
//! The rows as every engine records them; each engine's wing keeps the table.

use std::time::Duration;

/// A schema change to record.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `migrate`, `rollback` or `restore`.
    pub action: &'static str,
    /// The release that made it, e.g. `v1.4.0`.
    pub app_version: String,
    /// Schema version before.
    pub from: i64,
    /// Schema version after (the last committed one, on failure).
    pub to: i64,
    /// How long it took.
    pub duration: Duration,
    /// The backup taken before it.
    pub backup_file: Option<String>,
    /// `ok`, or what failed.
    pub outcome: String,
}

/// A recorded change, as `status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recorded {
    /// When (RFC 3339).
    pub at: String,
    /// What.
    pub action: String,
    /// Which release, from which host.
    pub app_version: String,
    /// The host it ran on.
    pub host: String,
    /// Schema version before.
    pub from: i64,
    /// Schema version after.
    pub to: i64,
    /// Milliseconds.
    pub duration_ms: i64,
    /// The backup taken before it.
    pub backup_file: Option<String>,
    /// `ok`, or what failed.
    pub outcome: String,
}

/// What `/metrics` derives from the trail: every change of every replica and Job, so a
/// gate that failed and exited before serving is still counted by those that serve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Migrate and rollback steps that failed (exit 6; outcome `failed at version …`). A
    /// stop by a signal (exit 8) is not a failure.
    pub migration_failures: u64,
    /// Rollbacks that completed (outcome `ok`, possibly with a note after it).
    pub rollbacks: u64,
}
