//! Executes a [`Plan`]: each file and its history change in one transaction, through
//! refinery's tokio-postgres executor; files that opt out of the transaction run a
//! statement at a time, with the history change right after they succeed.
//!
//! The loop is ours (not refinery's `Runner`) so that each step is timed and logged, the
//! history is read once per run rather than once per migration, and no-transaction files
//! interleave in version order.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use refinery_core::traits::r#async::AsyncTransaction;
use tokio_postgres::Client;
use tokio_postgres::error::ErrorPosition;

use crate::catalogue::{Catalogue, Down, Script};
use crate::engine::step::verb;
use crate::engine::{Executed, Execution, Observer, StatementAt, StepFailed};
use crate::limits::Settings;
use crate::plan::{Direction, Step};
use crate::position::line_column;
use crate::postgres::ddl;
use crate::postgres::history;

mod atomic;

/// Runs every step of the plan in order; `prelude` (e.g. [`history::WIDEN`]) runs with
/// the first step's history change, in its transaction; `pipelined` (a scratch database's
/// session) sends each transactional step in one round trip ([`pipelined`]); `blockers` is
/// who the watcher last saw blocking a step, told with each lock wait.
pub(crate) async fn execute(
    client: &mut Client,
    execution: &Execution<'_>,
    prelude: Option<&str>,
    pipelined: bool,
    blockers: &Mutex<Option<String>>,
    observer: &mut (dyn Observer + Send),
) -> Result<Executed, StepFailed> {
    if execution.atomic {
        return atomic::execute(client, execution, prelude, blockers, observer).await;
    }
    let plan = execution.plan;
    let mut completed = Vec::with_capacity(plan.steps.len());
    let mut at = plan.current;
    for (index, step) in plan.steps.iter().enumerate() {
        let (script, mut history_statement) = step_parts(execution.catalogue, plan.direction, step);
        if let (0, Some(prelude)) = (index, prelude) {
            history_statement = format!("{prelude};\n{history_statement}");
        }
        let settings = execution.limits.for_file(script.timeouts);
        let mut pauses = execution.limits.pauses();
        let mut attempt = 0;
        let mut blocked_by = None;
        let mut retry = |_: &tokio_postgres::Error| {
            attempt += 1;
            let pause = pauses.next();
            blocked_by = told(observer, blockers, step, attempt, pause);
            pause
        };
        let started = Instant::now();
        let ran = run(
            client,
            script,
            &history_statement,
            settings,
            pipelined,
            &mut retry,
        )
        .await;
        if let Err(failed) = ran {
            return Err(step_failed(
                execution, step, script, failed, completed, at, blocked_by,
            ));
        }
        let took = started.elapsed();
        tracing::info!(version = step.version, name = %step.name, file = %step.file, ?took, "{} applied", verb(plan.direction));
        completed.push(step.version);
        at = plan.version_after(index);
        let last = index + 1 == plan.steps.len();
        if observer.step_done(step, took).is_break() && !last {
            return Ok(Executed::Stopped { at });
        }
    }
    Ok(Executed::Completed)
}

/// Runs the plan of `execution` on a scratch database's session when it is one
/// transactional step: sent in one round trip ([`pipelined`]) through a shared `client`, so
/// that the caller can queue the queries that follow it behind it, to be sent in the same
/// round trip (`verify`'s look at what the step changed, `super::session`). The step's
/// queries are all queued when the future is first polled. `None` for any other plan: a
/// no-transaction file waits for each statement before it sends the next.
///
/// A scratch database has nobody to wait for: the step runs as [`execute`] runs it with
/// no retry; it gives the time it took.
pub(crate) fn one_step<'a>(
    client: &'a Client,
    execution: &'a Execution<'a>,
    prelude: Option<&'a str>,
) -> Option<impl Future<Output = Result<Duration, StepFailed>> + Send + 'a> {
    let plan = execution.plan;
    let [step] = plan.steps.as_slice() else {
        return None;
    };
    let (script, mut history_statement) = step_parts(execution.catalogue, plan.direction, step);
    if !script.transactional || execution.atomic {
        return None;
    }
    if let Some(prelude) = prelude {
        history_statement = format!("{prelude};\n{history_statement}");
    }
    let set = ddl::statements(&execution.limits.for_file(script.timeouts), true);
    Some(async move {
        let started = Instant::now();
        let sql = script.to_run();
        pipelined(client, &set, &sql, &history_statement)
            .await
            .map_err(|error| {
                let failed = RunFailed::new(error, script, Some(0));
                step_failed(
                    execution,
                    step,
                    script,
                    failed,
                    Vec::new(),
                    plan.current,
                    None,
                )
            })?;
        let took = started.elapsed();
        tracing::info!(version = step.version, name = %step.name, file = %step.file, ?took, "{} applied", verb(plan.direction));
        Ok(took)
    })
}

/// The failure of `step` of `execution`'s plan (`completed` the versions done before it,
/// `at` the schema version then), with who the watcher saw blocking it when it gave up
/// waiting for a lock.
fn step_failed(
    execution: &Execution<'_>,
    step: &Step,
    script: &Script,
    failed: RunFailed,
    completed: Vec<i64>,
    at: i64,
    blocked_by: Option<String>,
) -> StepFailed {
    StepFailed {
        direction: execution.plan.direction,
        step: step.clone(),
        described: script
            .hidden()
            .hide(&crate::postgres::db::describe(&failed.error)),
        position: failed.offset.map(|o| line_column(&script.sql, o)),
        error: Box::new(failed.error),
        statement: failed.statement,
        completed,
        at,
        connection_lost: failed.connection_lost,
        cancelled: failed.cancelled,
        blocked_by: blocked_by.filter(|_| failed.lock_timeout),
        remedy: None,
        atomic: false,
    }
}

/// Tells `observer` that `step` gave up waiting for a lock, with who the watcher saw
/// blocking it; returns them.
fn told(
    observer: &mut (dyn Observer + Send),
    blockers: &Mutex<Option<String>>,
    step: &Step,
    attempt: usize,
    pause: Option<Duration>,
) -> Option<String> {
    let seen = blockers.lock().map(|b| b.clone()).unwrap_or_default();
    observer.lock_wait(step, attempt, pause, seen.as_deref());
    seen
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
            connection_lost: crate::postgres::db::connection_lost(&error),
            cancelled: error.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED),
            lock_timeout: ddl::is_lock_timeout(&error),
            statement: None,
            error,
        }
    }

    /// The failure of statement `index` (from 0) of a file run a statement at a time.
    fn in_statement(mut self, script: &Script, index: usize) -> Self {
        let statements = super::pending::statements(script);
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

/// Runs one file and its history statement with `settings`, a transactional file in one
/// round trip when `pipelined`. A transactional file that times out waiting for a lock is
/// rolled back and run again whole, its history row with it; a no-transaction file runs
/// its timed-out statement again.
async fn run(
    client: &mut Client,
    script: &Script,
    history_statement: &str,
    settings: Settings,
    pipelined: bool,
    retry: &mut Retry<'_>,
) -> Result<(), RunFailed> {
    if script.transactional {
        let set = ddl::statements(&settings, true);
        let sql = script.to_run();
        loop {
            let ran = if pipelined {
                self::pipelined(client, &set, &sql, history_statement).await
            } else {
                let queries = [set.as_str(), &sql, history_statement];
                AsyncTransaction::execute(client, queries.into_iter())
                    .await
                    .map(drop)
            };
            match ran {
                Err(error) if ddl::is_lock_timeout(&error) => pause_or_give_up(retry, error)
                    .await
                    .map_err(|e| RunFailed::new(e, script, Some(0)))?,
                done => return done.map_err(|e| RunFailed::new(e, script, Some(0))),
            }
        }
    }
    client
        .batch_execute(&ddl::statements(&settings, false))
        .await
        .map_err(|e| RunFailed::new(e, script, None))?;
    // Split by PostgreSQL's grammar; each range is a statement's place in the file.
    for (index, range) in super::pending::statements(script).iter().enumerate() {
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

/// A transactional file run as refinery's executor runs it (`BEGIN`, the settings, the
/// script, the history change, `COMMIT`), but sent in one round trip instead of five: the
/// four query messages are pipelined and the server runs them in order. A failure aborts
/// the transaction, so the history change after it does not run and `COMMIT`, a message of
/// its own for this, ends the transaction as a rollback: the step stays all or nothing, and
/// its error is the first one. The script is a message of its own, so the positions of its
/// errors count from its start, as they do unpipelined.
///
/// For a scratch database's session: `verify` runs three steps per migration there, and the
/// round trips of its steps were a large share of its time.
async fn pipelined(
    client: &Client,
    set: &str,
    sql: &str,
    history_statement: &str,
) -> Result<(), tokio_postgres::Error> {
    let begin = format!("BEGIN; {set}");
    // Each query is sent when first polled: `biased` polls them in this order.
    let (begun, ran, recorded, committed) = tokio::join!(
        biased;
        client.batch_execute(&begin),
        client.batch_execute(sql),
        client.batch_execute(history_statement),
        client.batch_execute("COMMIT"),
    );
    begun.and(ran).and(recorded).and(committed)
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
