//! `--atomic` (DESIGN §18): the whole plan in one transaction, history rows included.

use std::sync::Mutex;
use std::time::Instant;

use tokio_postgres::Client;

use super::{RunFailed, step_parts, told};
use crate::catalogue::Script;
use crate::engine::step::verb;
use crate::engine::{Executed, Execution, Observer, StepFailed};
use crate::plan::Step;
use crate::position::line_column;

/// Runs every step of the plan in one transaction, each behind a savepoint so that a step
/// that times out waiting for a lock is rolled back alone and run again (while the earlier
/// steps keep their locks). A failure, or a stop between steps, rolls back the whole plan:
/// the schema stays at `plan.current`.
pub(super) async fn execute(
    client: &mut Client,
    execution: &Execution<'_>,
    prelude: Option<&str>,
    blockers: &Mutex<Option<String>>,
    observer: &mut (dyn Observer + Send),
) -> Result<Executed, StepFailed> {
    let plan = execution.plan;
    let transaction = client.transaction().await;
    let failed = |step: &Step, failed: RunFailed, script: &Script| {
        tracing::error!(version = step.version, file = %step.file, "step failed: the whole plan is rolled back (--atomic)");
        StepFailed {
            direction: plan.direction,
            step: step.clone(),
            position: failed.offset.map(|o| line_column(&script.sql, o)),
            statement: failed.statement,
            described: script
                .hidden()
                .hide(&crate::postgres::db::describe(&failed.error)),
            error: Box::new(failed.error),
            completed: Vec::new(),
            at: plan.current,
            connection_lost: failed.connection_lost,
            cancelled: failed.cancelled,
            blocked_by: None,
            remedy: None,
            atomic: true,
        }
    };
    let first = plan.steps.first();
    let transaction = match (transaction, first) {
        (Ok(transaction), _) => transaction,
        (Err(error), Some(step)) => {
            let (script, _) = step_parts(execution.catalogue, plan.direction, step);
            return Err(failed(step, RunFailed::new(error, script, None), script));
        }
        (Err(_), None) => return Ok(Executed::Completed),
    };
    for (index, step) in plan.steps.iter().enumerate() {
        let (script, mut history_statement) = step_parts(execution.catalogue, plan.direction, step);
        if let (0, Some(prelude)) = (index, prelude) {
            history_statement = format!("{prelude};\n{history_statement}");
        }
        let settings = execution.limits.for_file(script.timeouts);
        let begin = format!(
            "SAVEPOINT schemagate_step; {}",
            crate::postgres::ddl::statements(&settings, true)
        );
        let end = format!("{history_statement}; RELEASE SAVEPOINT schemagate_step");
        let mut pauses = execution.limits.pauses();
        let mut attempt = 0;
        let started = Instant::now();
        loop {
            let ran = async {
                transaction
                    .batch_execute(&begin)
                    .await
                    .map_err(|e| RunFailed::new(e, script, None))?;
                transaction
                    .batch_execute(&script.to_run())
                    .await
                    .map_err(|e| RunFailed::new(e, script, Some(0)))?;
                transaction
                    .batch_execute(&end)
                    .await
                    .map_err(|e| RunFailed::new(e, script, None))
            }
            .await;
            match ran {
                Err(run) if run.lock_timeout => {
                    attempt += 1;
                    let pause = pauses.next();
                    let blocked_by = told(observer, blockers, step, attempt, pause);
                    let rolled_back = transaction
                        .batch_execute("ROLLBACK TO SAVEPOINT schemagate_step")
                        .await;
                    match (pause, rolled_back) {
                        (Some(pause), Ok(())) => tokio::time::sleep(pause).await,
                        _ => {
                            let mut error = failed(step, run, script);
                            error.blocked_by = blocked_by;
                            return Err(error);
                        }
                    }
                }
                Err(run) => return Err(failed(step, run, script)),
                Ok(()) => break,
            }
        }
        let took = started.elapsed();
        tracing::info!(version = step.version, name = %step.name, file = %step.file, ?took, "{} applied (not committed until the whole plan is: --atomic)", verb(plan.direction));
        let last = index + 1 == plan.steps.len();
        if observer.step_done(step, took).is_break() && !last {
            // Dropping the transaction rolls the whole plan back.
            return Ok(Executed::Stopped { at: plan.current });
        }
    }
    match (transaction.commit().await, plan.steps.last()) {
        (Err(error), Some(step)) => {
            let (script, _) = step_parts(execution.catalogue, plan.direction, step);
            Err(failed(step, RunFailed::new(error, script, None), script))
        }
        _ => Ok(Executed::Completed),
    }
}
