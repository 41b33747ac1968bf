//! Running a plan's steps on MariaDB/MySQL: each file through [`super::step`], statement
//! by statement with its progress in the history, stopping between steps when asked.

use std::time::Instant;

use mysql_async::Conn;

use super::history::{self, HistoryError};
use super::step::{self, StepError, StepFile};
use crate::applied::Applied;
use crate::catalogue::Down;
use crate::engine::step::verb;
use crate::engine::{Executed, Execution, Observer, StatementAt, StepFailed};
use crate::plan::{Direction, Step};

/// Runs every step of the plan in order on `conn` (the lock's session; the history table
/// exists).
pub(crate) async fn execute(
    conn: &mut Conn,
    execution: &Execution<'_>,
    observer: &mut (dyn Observer + Send),
) -> Result<Executed, StepFailed> {
    let plan = execution.plan;
    let mut completed = Vec::with_capacity(plan.steps.len());
    let mut at = plan.current;
    for (index, step) in plan.steps.iter().enumerate() {
        let migration = execution
            .catalogue
            .get(step.version)
            .expect("plans only hold catalogue versions");
        let (script, direction) = match (plan.direction, &migration.down) {
            (Direction::Up, _) => (&migration.up, history::Direction::Up),
            (Direction::Down, Down::Script(down)) => (down, history::Direction::Down),
            (Direction::Down, Down::Irreversible { .. }) => {
                unreachable!("rollback plans refuse irreversible steps")
            }
        };
        let row = Applied {
            version: migration.version,
            name: migration.name.clone(),
            applied_on: String::new(),
            checksum: Some(migration.checksum),
        };
        let file = StepFile {
            file: &script.file,
            sql: &script.sql,
            migration: &row,
            direction,
        };
        let started = Instant::now();
        if let Err(error) = step::run(conn, &file).await {
            return Err(failed(plan.direction, step, error, completed, at));
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

/// The seam's failure of `step`.
fn failed(
    direction: Direction,
    step: &Step,
    error: StepError,
    completed: Vec<i64>,
    at: i64,
) -> StepFailed {
    let (position, statement, connection_lost) = match &error {
        StepError::Statement {
            index,
            total,
            line,
            column,
            connection_lost,
            ..
        } => {
            let line = usize::try_from(*line).unwrap_or(usize::MAX);
            let column = usize::try_from(*column).unwrap_or(usize::MAX);
            (
                Some((line, column)),
                Some(StatementAt {
                    index: usize::try_from(*index).unwrap_or(usize::MAX),
                    count: usize::try_from(*total).unwrap_or(usize::MAX),
                    line,
                }),
                *connection_lost,
            )
        }
        StepError::History(HistoryError::Query {
            connection_lost, ..
        }) => (None, None, *connection_lost),
        _ => (None, None, false),
    };
    StepFailed {
        direction,
        step: step.clone(),
        described: error.described(),
        error: Box::new(error),
        position,
        statement,
        completed,
        at,
        connection_lost,
        cancelled: false,
        blocked_by: None,
        remedy: None,
        atomic: false,
    }
}
