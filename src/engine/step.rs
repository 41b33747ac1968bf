//! What running a plan's steps takes and gives, the same on every engine: the run
//! ([`Execution`]), its listener ([`Observer`]), and how it ended ([`Executed`],
//! [`StepFailed`]).

use std::ops::ControlFlow;
use std::time::Duration;

use crate::catalogue::Catalogue;
use crate::gate::Cause;
use crate::limits::Limits;
use crate::plan::{Direction, Plan, Step};
use crate::stop::Stop;

/// A step failed; the steps before it are committed.
#[derive(Debug, thiserror::Error)]
#[error(
    "{verb} {version} ({file}) failed{position}: {error}{blocked}{partial}; {done}; {outcome}",
    error = self.described,
    blocked = self.blocked_by.as_ref().map(|b| format!("; it waited for locks held by {b}")).unwrap_or_default(),
    verb = verb(self.direction), version = self.step.version, file = self.step.file,
    position = where_it_failed(self.position, self.statement),
    partial = if self.step.transactional { "" } else { " (this file runs outside a transaction: its statements before the failing one stay applied, and its history row was not written)" },
    done = if self.atomic { "--atomic: the whole plan was rolled back with it, the steps before it included".to_owned() } else { done(&self.completed) },
    outcome = self.outcome(),
)]
pub struct StepFailed {
    /// Up or down.
    pub direction: Direction,
    /// The step that failed.
    pub step: Step,
    /// The engine's error, as [`StepFailed::described`] shows it.
    #[source]
    pub error: Cause,
    /// The engine's error described (for PostgreSQL its SQLSTATE, detail and hint).
    pub described: String,
    /// Line and column of the error in the file, when the engine gives one.
    pub position: Option<(usize, usize)>,
    /// The statement that failed, in a file run a statement at a time.
    pub statement: Option<StatementAt>,
    /// Versions completed in this run before the failure.
    pub completed: Vec<i64>,
    /// The schema version the database is at.
    pub at: i64,
    /// The connection was lost (server restart, `pg_terminate_backend`, network): the SQL
    /// may be fine, and the step's commit may or may not have reached the server.
    pub connection_lost: bool,
    /// The statement was cancelled (SQLSTATE 57014): by a stop while it waited for a lock,
    /// or by an operator's `pg_cancel_backend`.
    pub cancelled: bool,
    /// Who held the lock it waited for when its retries ran out.
    pub blocked_by: Option<String>,
    /// What to do when the file is not at fault (a full disk, another writer that held
    /// the database too long), in the engine's words; `None`: fix the file.
    pub remedy: Option<String>,
    /// The plan ran in one transaction (`--atomic`): nothing of it stays applied.
    pub atomic: bool,
}

impl StepFailed {
    /// Where the database is and what to do next.
    fn outcome(&self) -> String {
        if self.connection_lost {
            format!(
                "the connection to the database was lost (server restart, terminated session or network failure), and the migration lock with it, so PostgreSQL rolled this step back unless its commit had already completed and no later step was started: the database is at schema version {at}, or {version} if it had. Run again once the database is reachable; applied steps are skipped (`schemagate status` shows where it is)",
                at = self.at,
                version = self.step.version,
            )
        } else {
            format!(
                "the database is at schema version {}. {}",
                self.at,
                self.remedy
                    .as_deref()
                    .unwrap_or("Fix the file and run again")
            )
        }
    }
}

/// Which statement of a file run a statement at a time failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementAt {
    /// Its number in the file, from 1.
    pub index: usize,
    /// How many statements the file has.
    pub count: usize,
    /// The line it starts at.
    pub line: usize,
}

/// " at statement 3 of 5 (line 12, column 8)", " at statement 3 of 5 (which starts at line
/// 12)" when the server gives no position, " at line 4, column 2" for a transactional file.
fn where_it_failed(position: Option<(usize, usize)>, statement: Option<StatementAt>) -> String {
    match (statement, position) {
        (Some(s), Some((line, column))) => format!(
            " at statement {} of {} (line {line}, column {column})",
            s.index, s.count
        ),
        (Some(s), None) => format!(
            " at statement {} of {} (which starts at line {})",
            s.index, s.count, s.line
        ),
        (None, Some((line, column))) => format!(" at line {line}, column {column}"),
        (None, None) => String::new(),
    }
}

pub(crate) fn verb(direction: Direction) -> &'static str {
    match direction {
        Direction::Up => "migration",
        Direction::Down => "rollback of",
    }
}

fn done(completed: &[i64]) -> String {
    match completed {
        [] => "no step of this run was completed before it".to_owned(),
        versions => format!(
            "completed before it in this run: {}",
            versions
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// How a run of [`super::Session::execute`] ended, when no step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Executed {
    /// Every step ran.
    Completed,
    /// `on_step` asked to stop after a step; the database is at `at`.
    Stopped {
        /// The schema version after the last completed step.
        at: i64,
    },
}

/// What [`super::Session::execute`] runs: the plan, the catalogue its steps come from, the
/// DDL limits, and the stop the engine heeds while a step waits for a lock.
pub(crate) struct Execution<'a> {
    /// The release's migrations.
    pub catalogue: &'a Catalogue,
    /// The steps.
    pub plan: &'a Plan,
    /// Lock and statement timeouts, retries.
    #[cfg_attr(
        not(feature = "postgres"),
        expect(
            dead_code,
            reason = "only PostgreSQL's DDL takes lock and statement timeouts"
        )
    )]
    pub limits: Limits,
    /// The whole plan in one transaction (`--atomic`): every step transactional, none
    /// committed unless all are.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "sqlite")),
        expect(dead_code, reason = "MariaDB's DDL commits by itself: no atomic plan")
    )]
    pub atomic: bool,
    /// What stops the run: between steps through the observer; an engine may also cancel
    /// a step that only waits for another session's lock (PostgreSQL does).
    #[cfg_attr(
        not(feature = "postgres"),
        expect(
            dead_code,
            reason = "only PostgreSQL cancels a step waiting for a lock"
        )
    )]
    pub stop: &'a Stop,
}

/// Hears what [`super::Session::execute`] does.
pub(crate) trait Observer {
    /// A step completed in `took`; [`ControlFlow::Break`] stops before the next one: a stop
    /// is honoured between steps, never inside one, so each step is committed whole or not
    /// started.
    fn step_done(&mut self, step: &Step, took: Duration) -> ControlFlow<()>;

    /// A statement of `step` gave up waiting for a lock; `pause` is how long until the step
    /// runs again (`None`: the retries are spent); `blockers` is who held the lock, when
    /// the engine could see it.
    #[cfg_attr(
        not(feature = "postgres"),
        expect(
            dead_code,
            reason = "only PostgreSQL retries a step that waited for a lock"
        )
    )]
    fn lock_wait(
        &mut self,
        step: &Step,
        attempt: usize,
        pause: Option<Duration>,
        blockers: Option<&str>,
    );
}
