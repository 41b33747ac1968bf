//! A plan's steps on SQLite, in order: each on the blocking pool ([`Database::call`]),
//! the caller told after each one, so that a stop is honoured between steps and never
//! inside one. With `atomic`, the whole plan is one `BEGIN IMMEDIATE … COMMIT` (SQLite's
//! DDL is transactional, so nothing of the plan stays applied unless all of it does).

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::connect::Database;
use super::step::{self, HistoryChange, StepError};
use crate::catalogue::{Catalogue, Down};
use crate::engine::{Executed, Execution, Observer, StatementAt, StepFailed};
use crate::plan::{Direction, Plan, Step};

/// How a run ended when no step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ran {
    /// Every step ran.
    Completed,
    /// The caller asked to stop after a step; the database is at `at`.
    Stopped {
        /// The schema version after the last completed step.
        at: i64,
    },
}

/// A step failed; the steps before it are committed (none with `atomic`).
#[derive(Debug)]
pub(crate) struct Failed {
    /// The step.
    pub(crate) step: Step,
    /// What SQLite said, and where.
    pub(crate) error: StepError,
    /// Versions completed before it in this run.
    pub(crate) completed: Vec<i64>,
    /// The schema version the database is at.
    pub(crate) at: i64,
}

/// Runs every step of `plan`; `step_done` hears each completed step and may stop the run.
pub(crate) async fn execute(
    database: &Database,
    catalogue: &Catalogue,
    plan: &Plan,
    atomic: bool,
    step_done: &mut (dyn FnMut(&Step, Duration) -> ControlFlow<()> + Send),
) -> Result<Ran, Failed> {
    let (Some(first), Some(last)) = (plan.steps.first(), plan.steps.last()) else {
        return Ok(Ran::Completed);
    };
    let mut completed = Vec::with_capacity(plan.steps.len());
    let mut at = plan.current;
    let fail = |step: &Step, error, completed, at| Failed {
        step: step.clone(),
        error,
        completed,
        at,
    };
    if atomic && let Err(error) = database.call(begin).await {
        return Err(fail(first, error, completed, at));
    }
    for (index, step) in plan.steps.iter().enumerate() {
        let (sql, change) = parts(catalogue, plan.direction, step);
        let transactional = step.transactional;
        let started = Instant::now();
        let ran = database
            .call(move |c| {
                let change = change.as_change();
                if atomic {
                    step::apply_within(c, &sql, change)
                } else {
                    step::apply(c, &sql, transactional, change)
                }
            })
            .await;
        if let Err(error) = ran {
            if atomic {
                database.call(|c| c.execute_batch("ROLLBACK")).await.ok();
                return Err(fail(step, error, Vec::new(), plan.current));
            }
            return Err(fail(step, error, completed, at));
        }
        let took = started.elapsed();
        completed.push(step.version);
        at = plan.version_after(index);
        let last = index + 1 == plan.steps.len();
        if !atomic && step_done(step, took).is_break() && !last {
            return Ok(Ran::Stopped { at });
        }
    }
    if atomic && let Err(error) = database.call(commit).await {
        return Err(fail(last, error, Vec::new(), plan.current));
    }
    Ok(Ran::Completed)
}

/// [`execute`] for the seam: `observer` hears each step, and a failure becomes the
/// engine-neutral [`StepFailed`].
pub(crate) async fn execute_observed(
    database: &Database,
    run: &Execution<'_>,
    observer: &mut (dyn Observer + Send),
) -> Result<Executed, StepFailed> {
    let mut step_done = |step: &Step, took: Duration| observer.step_done(step, took);
    match execute(
        database,
        run.catalogue,
        run.plan,
        run.atomic,
        &mut step_done,
    )
    .await
    {
        Ok(Ran::Completed) => Ok(Executed::Completed),
        Ok(Ran::Stopped { at }) => Ok(Executed::Stopped { at }),
        Err(failed) => Err(step_failed(run, failed, &database.location().path)),
    }
}

/// The neutral failure of a step: SQLite's message, for a file run a statement at a
/// time which statement of how many, and what to do when the file is not at fault.
fn step_failed(run: &Execution<'_>, failed: Failed, database: &Path) -> StepFailed {
    let Failed {
        step,
        error,
        completed,
        at,
    } = failed;
    let statement = error.at.filter(|_| !step.transactional).map(|place| {
        let (sql, _) = parts(run.catalogue, run.plan.direction, &step);
        StatementAt {
            index: place.index,
            count: super::complete::split(&sql).map_or(place.index, |r| r.len().max(place.index)),
            line: place.line,
        }
    });
    let blocked_by = error.busy().then(|| {
        "another connection writing to the database (SQLITE_BUSY once busy_timeout ran out)"
            .to_owned()
    });
    let remedy = error.remedy(database);
    StepFailed {
        direction: run.plan.direction,
        position: error.at.map(|place| (place.line, place.column)),
        described: error.source.to_string(),
        statement,
        error: Box::new(error),
        step,
        completed,
        at,
        connection_lost: false,
        cancelled: false,
        blocked_by,
        remedy,
        atomic: run.atomic,
    }
}

fn begin(connection: &mut Connection) -> Result<(), StepError> {
    connection
        .execute_batch("BEGIN IMMEDIATE")
        .map_err(|source| StepError { at: None, source })
}

fn commit(connection: &mut Connection) -> Result<(), StepError> {
    connection.execute_batch("COMMIT").map_err(|source| {
        let _ = connection.execute_batch("ROLLBACK");
        StepError { at: None, source }
    })
}

/// A history change that can cross to the blocking pool.
enum Owned {
    Record {
        version: i64,
        name: String,
        checksum: u64,
    },
    Forget {
        version: i64,
    },
}

impl Owned {
    fn as_change(&self) -> HistoryChange<'_> {
        match self {
            Owned::Record {
                version,
                name,
                checksum,
            } => HistoryChange::Record {
                version: *version,
                name,
                checksum: *checksum,
            },
            Owned::Forget { version } => HistoryChange::Forget { version: *version },
        }
    }
}

/// The SQL of a step and its history change.
fn parts(catalogue: &Catalogue, direction: Direction, step: &Step) -> (String, Owned) {
    let migration = catalogue
        .get(step.version)
        .expect("plans only hold catalogue versions");
    match (direction, &migration.down) {
        (Direction::Up, _) => (
            migration.up.sql.clone(),
            Owned::Record {
                version: migration.version,
                name: migration.name.clone(),
                checksum: migration.checksum,
            },
        ),
        (Direction::Down, Down::Script(down)) => (
            down.sql.clone(),
            Owned::Forget {
                version: migration.version,
            },
        ),
        (Direction::Down, Down::Irreversible { .. }) => {
            unreachable!("rollback plans refuse irreversible steps")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::history;
    use crate::sqlite::url::{Location, Mode};

    fn catalogue() -> Catalogue {
        let files: [(&str, &[u8]); 6] = [
            ("V1__a.sql", b"CREATE TABLE a (x);"),
            ("V1__a.down.sql", b"DROP TABLE a;"),
            ("V2__b.sql", b"CREATE TABLE b (x);"),
            ("V2__b.down.sql", b"DROP TABLE b;"),
            (
                "V3__c.sql",
                b"CREATE TABLE c (x);\nINSERT INTO nowhere VALUES (1);",
            ),
            ("V3__c.down.sql", b"DROP TABLE c;"),
        ];
        crate::catalogue::from_static("test", &files).unwrap()
    }

    fn plan(direction: Direction, current: i64, versions: &[i64], target: i64) -> Plan {
        let catalogue = catalogue();
        Plan {
            direction,
            current,
            target,
            steps: versions
                .iter()
                .map(|&v| {
                    let m = catalogue.get(v).unwrap();
                    Step {
                        version: v,
                        name: m.name.clone(),
                        file: m.up.file.clone(),
                        transactional: true,
                        timeouts: Default::default(),
                    }
                })
                .collect(),
        }
    }

    async fn database(dir: &tempfile::TempDir) -> Database {
        let location = Location {
            path: dir.path().join("r.db"),
            mode: Mode::Create,
        };
        let database = Database::open(location, Duration::from_secs(5))
            .await
            .unwrap();
        database.call(|c| history::ensure_table(c)).await.unwrap();
        database
    }

    async fn version(database: &Database) -> i64 {
        database
            .call(|c| history::current_version(c))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn steps_run_in_order_a_stop_is_honoured_between_them_and_a_failure_names_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let database = database(&dir).await;
        let catalogue = catalogue();
        let mut heard = Vec::new();
        let ran = execute(
            &database,
            &catalogue,
            &plan(Direction::Up, 0, &[1, 2], 2),
            false,
            &mut |step, _| {
                heard.push(step.version);
                ControlFlow::Break(())
            },
        )
        .await
        .unwrap();
        assert_eq!((ran, heard), (Ran::Stopped { at: 1 }, vec![1]));
        let failed = execute(
            &database,
            &catalogue,
            &plan(Direction::Up, 1, &[2, 3], 3),
            false,
            &mut |_, _| ControlFlow::Continue(()),
        )
        .await
        .unwrap_err();
        assert_eq!(
            (failed.step.version, failed.completed, failed.at),
            (3, vec![2], 2)
        );
        assert_eq!(failed.error.at.map(|a| a.index), Some(2));
        assert_eq!(version(&database).await, 2);
        let down = plan(Direction::Down, 2, &[2, 1], 0);
        let ran = execute(&database, &catalogue, &down, false, &mut |_, _| {
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
        assert_eq!(ran, Ran::Completed);
        assert_eq!(version(&database).await, 0);
    }

    #[tokio::test]
    async fn an_atomic_plan_that_fails_leaves_nothing_applied() {
        let dir = tempfile::tempdir().unwrap();
        let database = database(&dir).await;
        let catalogue = catalogue();
        let failed = execute(
            &database,
            &catalogue,
            &plan(Direction::Up, 0, &[1, 2, 3], 3),
            true,
            &mut |_, _| ControlFlow::Continue(()),
        )
        .await
        .unwrap_err();
        assert_eq!(
            (failed.step.version, failed.completed, failed.at),
            (3, vec![], 0)
        );
        assert_eq!(version(&database).await, 0);
        let tables: i64 = database
            .call(|c| {
                c.query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name IN ('a', 'b')",
                    [],
                    |r| r.get(0),
                )
            })
            .await
            .unwrap();
        assert_eq!(tables, 0);
        let ran = execute(
            &database,
            &catalogue,
            &plan(Direction::Up, 0, &[1, 2], 2),
            true,
            &mut |_, _| ControlFlow::Continue(()),
        )
        .await
        .unwrap();
        assert_eq!(ran, Ran::Completed);
        assert_eq!(version(&database).await, 2);
    }
}
