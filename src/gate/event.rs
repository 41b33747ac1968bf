//! What the commands tell their user while they work: the plan before a destructive
//! change, what a dry run would do, each proven migration, the outcome. The library never
//! prints (DESIGN §13): the binary prints these on stdout; an application that runs these
//! commands logs them, shows them or ignores them (the default) through
//! [`GateBuilder::on_event`](super::GateBuilder::on_event).
//!
//! [`Gate::run`](super::Gate::run) tells only on a dry run (its plan and verdicts, which a
//! refusal would otherwise hide); `check` and `status` tell nothing: what they found is what
//! they return.

use std::path::Path;
use std::time::Duration;

use crate::adopt::{Mapped, Tool, ToolHistory};
use crate::backup::{Backup, Preview, RestorePlan};
use crate::config::Compat;
use crate::limits::Limits;
use crate::plan::Plan;

/// One thing a command tells, borrowed from the command for the time of the call.
#[derive(Debug)]
pub enum Event<'a> {
    /// The plan a rollback is about to run (or, on a dry run, would): every step with the
    /// DDL limits it runs with.
    Plan {
        /// The steps, from and to.
        plan: &'a Plan,
        /// The release whose window the plan is judged by.
        compat: &'a Compat,
        /// The DDL lock timeout and retries of every step.
        limits: Limits,
    },
    /// The backup a change takes before its first step, or that `--no-backup` skips it.
    BackupIntent {
        /// `--no-backup`: no backup at all.
        skip: bool,
        /// What the backup is (the engine's dump program or copy).
        kind: &'static str,
        /// Where the backup goes.
        dir: &'a Path,
        /// The schema version it is a backup of.
        schema_version: i64,
    },
    /// The live replicas and the fleet's verdict on the change (a dry run shows it).
    Admission {
        /// The live replicas of every release, by release.
        fleet: &'a [crate::fleet::Group],
        /// The verdict as shown ("the fleet admits migrating to 5", "refused by the fleet: …").
        verdict: &'a str,
    },
    /// Steps of the plan whose failure would leave the schema outside the windows of the
    /// releases running now and of this one (a dry run shows them; a real run logs them).
    Stranded {
        /// The steps, in order.
        steps: &'a [crate::plan::Stranded],
        /// Whether `--atomic` can apply this plan (no step runs outside a transaction).
        atomic_possible: bool,
    },
    /// The drift verdict a dry run met: none, no record yet, or what drifted.
    Drift(&'a str),
    /// A refusal a dry run met: the real run would stop there. The dry run goes on to
    /// show the other verdicts and ends with the first refusal.
    Refused(&'a super::Error),
    /// A dry run ends: nothing was changed, and no lock was taken.
    NothingChanged,
    /// The command had nothing to do, and why.
    NothingToDo(&'a str),
    /// A rollback finished.
    RolledBack {
        /// The schema version it started at.
        from: i64,
        /// The schema version it ended at.
        to: i64,
        /// How long the downs took.
        took: Duration,
    },
    /// What `backup --dry-run` would write and prune.
    BackupPreview(&'a Preview),
    /// A backup was taken (`backup`).
    BackupTaken(&'a Backup),
    /// What a restore does: the dump, the schemas dropped and kept.
    RestorePlan(&'a RestorePlan),
    /// A restore finished; the history now says `version`.
    Restored {
        /// The restore that ran.
        plan: &'a RestorePlan,
        /// The schema version the restored history says.
        version: i64,
    },
    /// What a baseline records, before it does.
    BaselineIntent {
        /// How many migrations become applied.
        migrations: usize,
        /// Up to this version.
        version: i64,
        /// Whether the schema was proven equal to the catalogue's first.
        verified: bool,
    },
    /// A baseline was recorded: the database is at `version`.
    BaselineRecorded(i64),
    /// What `adopt` maps: each of the tool's versions and the catalogue file it becomes.
    AdoptMapping {
        /// The tool's history as read.
        history: &'a ToolHistory,
        /// Each version mapped to its catalogue file.
        mapped: &'a [Mapped],
    },
    /// An adoption finished.
    Adopted {
        /// The tool adopted from.
        tool: Tool,
        /// Its history table, left as it was.
        table: &'a str,
        /// The schema version the database is now at.
        version: i64,
    },
    /// One line of `verify`: a migration proven, or the verdict.
    Verified(&'a str),
}

/// What [`GateBuilder::on_event`](super::GateBuilder::on_event) is given.
type Listen = dyn Fn(&Event<'_>) + Send + Sync;

/// Where a gate's events go: nowhere, unless the builder was given a listener.
#[derive(Default)]
pub(crate) struct Listener(Option<Box<Listen>>);

impl Listener {
    /// A listener calling `listen` with every event.
    pub(crate) fn new(listen: impl Fn(&Event<'_>) + Send + Sync + 'static) -> Self {
        Self(Some(Box::new(listen)))
    }

    /// Tells `event`, if anyone listens.
    pub(crate) fn tell(&self, event: Event<'_>) {
        if let Some(listen) = &self.0 {
            listen(&event);
        }
    }
}
