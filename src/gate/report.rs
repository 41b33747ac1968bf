//! [`Report`]: what a gate run did, for the caller's output and metrics.

use std::time::Duration;

use crate::backup::Backup;
use crate::fleet::Group;
use crate::limits::Limits;
use crate::plan::{Plan, Step};

/// What a gate run did, for the caller's output and metrics (`Gate::run` returns it).
#[derive(Debug, Clone)]
pub struct Report {
    /// The plan it executed (or would have, on a dry run); with `no_migrate`, an empty plan
    /// at the version found.
    pub plan: Plan,
    /// How long it waited for the migration lock.
    pub lock_waited: Duration,
    /// Each executed step and its duration.
    pub durations: Vec<(Step, Duration)>,
    /// The backup taken before the first step, if one was.
    pub backup: Option<Backup>,
    /// Whether a backup was due but skipped.
    pub backup_skipped: bool,
    /// How many times a step was retried after a DDL lock timeout.
    pub lock_retries: u64,
    /// The DDL limits it ran (or would run) with.
    pub limits: Limits,
    /// Unwaived lint findings in the plan, logged as warnings (DESIGN §12).
    pub lint_findings: usize,
    /// Whether this was a dry run (nothing changed).
    pub dry_run: bool,
    /// The live replicas of every release, by release (DESIGN §14).
    pub fleet: Vec<Group>,
    /// The fleet's verdict on the plan ("the fleet admits migrating to 5", "refused by
    /// the fleet: …"), or how `--ignore-fleet` overrode it.
    pub admission: String,
    /// `serve` only: the target the fleet does not admit yet; the schema stays at
    /// `plan.target` (inside the window) and moves there in the background once admitted.
    pub deferred: Option<i64>,
}

impl Report {
    /// A run that changed nothing and leaves the schema at `version`.
    pub fn unchanged(version: i64, limits: Limits, admission: String) -> Self {
        Self {
            plan: Plan::at(version),
            lock_waited: Duration::ZERO,
            durations: Vec::new(),
            backup: None,
            backup_skipped: false,
            lock_retries: 0,
            limits,
            lint_findings: 0,
            dry_run: true,
            fleet: Vec::new(),
            admission,
            deferred: None,
        }
    }
}
