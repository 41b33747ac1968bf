//! Executes a [`Plan`]: each file and its history change in one transaction, through
//! refinery's tokio-postgres executor; files that opt out of the transaction run a
//! statement at a time, with the history change right after they succeed.
//!
//! The loop is ours (not refinery's `Runner`) so that each step is timed and logged, the
//! history is read once per run rather than once per migration, and no-transaction files
//! interleave in version order.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use refinery_core::traits::r#async::AsyncTransaction;
use tokio_postgres::Client;
use tokio_postgres::error::ErrorPosition;

use crate::catalogue::{Catalogue, Down, Script};
use crate::ddl::{self, Limits, Settings};
use crate::history;
use crate::plan::{Direction, Plan, Step};
use crate::position::line_column;

mod atomic;

/// A step failed; the steps before it are committed.
#[derive(Debug, thiserror::Error)]
#[error(
    "{verb} {version} ({file}) failed{position}: {error}{blocked}{partial}; {done}; {outcome}",
    error = self.described(),
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
    /// PostgreSQL's error (its SQLSTATE, detail and hint); shown described.
    #[source]
    pub error: tokio_postgres::Error,
    /// Line and column of the error in the file, when PostgreSQL gives one.
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
    /// The plan ran in one transaction (`--atomic`): nothing of it stays applied.
    pub atomic: bool,
    /// The placeholder values sent with the file, which PostgreSQL's error may quote and
    /// the message never shows.
    pub(crate) hidden: crate::catalogue::Hidden,
}

impl StepFailed {
    /// PostgreSQL's error, described (severity, message, SQLSTATE, detail, hint), each
    /// placeholder value it quotes put back as its `${NAME}`: what messages and the audit
    /// show.
    pub fn described(&self) -> String {
        self.hidden.hide(&crate::db::describe(&self.error))
    }

    /// PostgreSQL's SQLSTATE, when the server answered (e.g. `42P07` for a relation that
    /// already exists).
    pub fn sqlstate(&self) -> Option<&tokio_postgres::error::SqlState> {
        self.error.code()
    }

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
                "the database is at schema version {}. Fix the file and run again",
                self.at
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

fn verb(direction: Direction) -> &'static str {
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

/// How a run of [`execute`] ended, when no step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Executed {
    /// Every step ran.
    Completed,
    /// `on_step` asked to stop after a step; the database is at `at`.
    Stopped {
        /// The schema version after the last completed step.
        at: i64,
    },
}

/// What [`execute`] runs: the plan, the catalogue its steps come from, the DDL limits, and
/// `prelude` (e.g. [`history::WIDEN`]), which runs with the first step's history change, in
/// its transaction.
pub struct Execution<'a> {
    /// The release's migrations.
    pub catalogue: &'a Catalogue,
    /// The steps.
    pub plan: &'a Plan,
    /// Run with the first history change.
    pub prelude: Option<&'a str>,
    /// Lock and statement timeouts, retries.
    pub limits: Limits,
    /// The whole plan in one transaction (`--atomic`): every step transactional, none
    /// committed unless all are.
    pub atomic: bool,
}

/// Hears what [`execute`] does.
pub trait Observer {
    /// A step completed in `took`; [`ControlFlow::Break`] stops before the next one: a stop
    /// is honoured between steps, never inside one, so each step is committed whole or not
    /// started.
    fn step_done(&mut self, step: &Step, took: Duration) -> ControlFlow<()>;

    /// A statement of `step` gave up waiting for a lock; `pause` is how long until the step
    /// runs again (`None`: the retries are spent). Returns who blocked it, if known.
    fn lock_wait(&mut self, step: &Step, attempt: usize, pause: Option<Duration>)
    -> Option<String>;
}

/// Runs every step of the plan in order.
pub async fn execute(
    client: &mut Client,
    execution: &Execution<'_>,
    observer: &mut (dyn Observer + Send),
) -> Result<Executed, StepFailed> {
    if execution.atomic {
        return atomic::execute(client, execution, observer).await;
    }
    let plan = execution.plan;
    let mut completed = Vec::with_capacity(plan.steps.len());
    let mut at = plan.current;
    for (index, step) in plan.steps.iter().enumerate() {
        let (script, mut history_statement) = step_parts(execution.catalogue, plan.direction, step);
        if let (0, Some(prelude)) = (index, execution.prelude) {
            history_statement = format!("{prelude};\n{history_statement}");
        }
        let settings = execution.limits.for_file(script.timeouts);
        let mut pauses = execution.limits.pauses();
        let mut attempt = 0;
        let mut blocked_by = None;
        let mut retry = |_: &tokio_postgres::Error| {
            attempt += 1;
            let pause = pauses.next();
            blocked_by = observer.lock_wait(step, attempt, pause);
            pause
        };
        let started = Instant::now();
        let ran = run(client, script, &history_statement, settings, &mut retry).await;
        if let Err(failed) = ran {
            let position = failed.offset.map(|o| line_column(&script.sql, o));
            return Err(StepFailed {
                direction: plan.direction,
                step: step.clone(),
                error: failed.error,
                position,
                statement: failed.statement,
                completed,
                at,
                connection_lost: failed.connection_lost,
                cancelled: failed.cancelled,
                blocked_by: if failed.lock_timeout {
                    blocked_by
                } else {
                    None
                },
                atomic: false,
                hidden: script.hidden(),
            });
        }
        let took = started.elapsed();
        tracing::info!(version = step.version, name = %step.name, file = %step.file, ?took, "{} applied", verb(plan.direction));
        completed.push(step.version);
        at = match plan.direction {
            Direction::Up => step.version,
            Direction::Down => plan
                .steps
                .get(index + 1)
                .map_or(plan.target, |next| next.version),
        };
        let last = index + 1 == plan.steps.len();
        if observer.step_done(step, took).is_break() && !last {
            return Ok(Executed::Stopped { at });
        }
    }
    Ok(Executed::Completed)
}

/// The script of a step and the statement that records it in the history.
fn step_parts<'a>(
    catalogue: &'a Catalogue,
    direction: Direction,
    step: &Step,
) -> (&'a Script, String) {
    let migration = catalogue
        .get(step.version)
        .expect("plans only hold catalogue versions");
    match (direction, &migration.down) {
        (Direction::Up, _) => (
            &migration.up,
            history::insert_statement(migration.version, &migration.name, migration.checksum),
        ),
        (Direction::Down, Down::Script(down)) => {
            (down, history::delete_statement(migration.version))
        }
        (Direction::Down, Down::Irreversible { .. }) => {
            unreachable!("rollback plans refuse irreversible steps")
        }
    }
}

/// Why one file failed to run.
struct RunFailed {
    /// PostgreSQL's error.
    error: tokio_postgres::Error,
    /// Its byte offset in the file, when PostgreSQL gives a position.
    offset: Option<usize>,
    /// Whether the connection is gone rather than the SQL at fault.
    connection_lost: bool,
    /// Whether the statement was cancelled.
    cancelled: bool,
    /// Whether it gave up waiting for a lock.
    lock_timeout: bool,
    /// The statement that failed, in a file run a statement at a time.
    statement: Option<StatementAt>,
}

impl RunFailed {
    /// `base` is the byte offset in the file of the statement that was sent, if any.
    fn new(error: tokio_postgres::Error, script: &Script, base: Option<usize>) -> Self {
        Self {
            offset: base.and_then(|base| error_offset(script, &error, base)),
            connection_lost: crate::db::connection_lost(&error),
            cancelled: error.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED),
            lock_timeout: ddl::is_lock_timeout(&error),
            statement: None,
            error,
        }
    }

    /// The failure of statement `index` (from 0) of a file run a statement at a time.
    fn in_statement(mut self, script: &Script, index: usize) -> Self {
        let statements = script.statements();
        let start = statements.get(index).map_or(0, |range| range.start);
        self.statement = Some(StatementAt {
            index: index + 1,
            count: statements.len(),
            line: line_column(&script.sql, first_line(&script.sql, start)).0,
        });
        self
    }
}

/// Where the statement at `start` really starts: after the whitespace PostgreSQL's
/// splitter leaves before it (the end of the previous statement's line).
fn first_line(sql: &str, start: usize) -> usize {
    let rest = sql.get(start..).unwrap_or_default();
    start + (rest.len() - rest.trim_start().len())
}

/// Decides, for a statement that timed out waiting for a lock, how long to pause before
/// running it again (`None`: give up).
type Retry<'a> = dyn FnMut(&tokio_postgres::Error) -> Option<Duration> + Send + 'a;

/// Runs one file and its history statement with `settings`. A transactional file that
/// times out waiting for a lock is rolled back and run again whole, its history row with
/// it; a no-transaction file runs its timed-out statement again.
async fn run(
    client: &mut Client,
    script: &Script,
    history_statement: &str,
    settings: Settings,
    retry: &mut Retry<'_>,
) -> Result<(), RunFailed> {
    if script.transactional {
        let set = settings.statements(true);
        let sql = script.to_run();
        let queries = [set.as_str(), &sql, history_statement];
        loop {
            match AsyncTransaction::execute(client, queries.into_iter()).await {
                Err(error) if ddl::is_lock_timeout(&error) => pause_or_give_up(retry, error)
                    .await
                    .map_err(|e| RunFailed::new(e, script, Some(0)))?,
                done => {
                    return done
                        .map(drop)
                        .map_err(|e| RunFailed::new(e, script, Some(0)));
                }
            }
        }
    }
    client
        .batch_execute(&settings.statements(false))
        .await
        .map_err(|e| RunFailed::new(e, script, None))?;
    // Split by PostgreSQL's grammar; each range is a statement's place in the file.
    for (index, range) in script.statements().iter().enumerate() {
        let (base, statement) = (range.start, script.statement_to_run(range.clone()));
        let failed = |e| RunFailed::new(e, script, Some(base)).in_statement(script, index);
        loop {
            match client.batch_execute(&statement).await {
                Err(error) if ddl::is_lock_timeout(&error) => {
                    pause_or_give_up(retry, error).await.map_err(failed)?
                }
                done => break done.map_err(failed)?,
            }
        }
    }
    client
        .batch_execute(&format!("{history_statement}; {}", ddl::RESET))
        .await
        .map_err(|e| RunFailed::new(e, script, None))
}

/// After a lock timeout: sleeps the pause `retry` gives, or returns the error when it gives
/// up.
async fn pause_or_give_up(
    retry: &mut Retry<'_>,
    error: tokio_postgres::Error,
) -> Result<(), tokio_postgres::Error> {
    match retry(&error) {
        Some(pause) => {
            tokio::time::sleep(pause).await;
            Ok(())
        }
        None => Err(error),
    }
}

/// The byte offset in the file of PostgreSQL's error position, which counts characters from
/// 1 in the statement sent (placeholder values included), which starts at byte `base`.
fn error_offset(script: &Script, error: &tokio_postgres::Error, base: usize) -> Option<usize> {
    match error.as_db_error()?.position()? {
        ErrorPosition::Original(position) => {
            Some(script.offset_of_sent(base, usize::try_from(*position).ok()?))
        }
        ErrorPosition::Internal { .. } => None,
    }
}

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
    pub backup: Option<crate::backup::Backup>,
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
    pub fleet: Vec<crate::fleet::Group>,
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
