//! Running a plan's steps on PostgreSQL: refinery's `int4` history widened with the first
//! step, and a watcher on a connection of its own that names who blocks a step waiting
//! for a lock and, once a stop is requested, cancels such a wait (DESIGN §12); and the
//! lock table's room for `--atomic`.

use std::sync::Mutex;
use std::time::Duration;

use tokio_postgres::Client;

use super::session::PgSession;
use crate::catalogue::{Catalogue, Down};
use crate::engine::{Executed, Execution, Observer, StepFailed};
use crate::gate::{Error, Exit};
use crate::plan::{Direction, Plan};
use crate::{db, ddl, history, migrate};

/// How long a step runs before the watcher connects: fast runs never pay for it.
const WATCH_AFTER: Duration = Duration::from_millis(250);

/// How often the watcher looks at the step's session.
const WATCH_POLL: Duration = Duration::from_millis(100);

/// Locks a statement is counted for: the relation it changes and one beside it (its
/// index, sequence or TOAST table). An estimate, as the restore's is: PostgreSQL's own
/// count depends on what each statement touches.
const LOCKS_PER_STATEMENT: u64 = 2;

/// Runs the plan on `session`, with the watcher beside it when it holds the lock (a
/// scratch database's steps have nobody to wait for); the history table exists.
pub(crate) async fn execute(
    session: &mut PgSession,
    run: &Execution<'_>,
    observer: &mut (dyn Observer + Send),
) -> Result<Executed, StepFailed> {
    let widen = session.narrow.then_some(history::WIDEN);
    let blockers = Mutex::new(None);
    let cancel = session.client.cancel_token();
    let target = std::sync::Arc::clone(&session.target);
    let steps = migrate::execute(
        &mut session.client,
        run,
        widen,
        session.scratch,
        &blockers,
        observer,
    );
    match session.pid {
        Some(pid) => tokio::select! {
            result = steps => result,
            never = watch(&target, run, pid, cancel, &blockers) => match never {},
        },
        None => steps.await,
    }
}

/// Watches the steps' session (`pid`) from a connection of its own (the steps' is busy),
/// once a step has run for [`WATCH_AFTER`]: records who blocks it, and once a stop is
/// requested cancels a wait for a lock (a step that works is left to finish; waiting
/// behind another session's lock could last until the orchestrator's SIGKILL, and a
/// cancelled step rolls back whole). Never completes.
async fn watch(
    target: &super::database::Target,
    run: &Execution<'_>,
    pid: i32,
    cancel: tokio_postgres::CancelToken,
    blockers: &Mutex<Option<String>>,
) -> std::convert::Infallible {
    tokio::time::sleep(WATCH_AFTER).await;
    let (url, name) = (&target.connection, &target.application_name);
    let Ok(watcher) = db::connect(url, name, WATCH_POLL * 50).await else {
        return std::future::pending().await;
    };
    loop {
        if let Ok(seen) = ddl::blockers(&watcher, pid).await
            && !seen.is_empty()
        {
            if let Ok(mut latest) = blockers.lock() {
                *latest = Some(seen.join("; "));
            }
            if run.stop.requested().is_some() {
                tracing::info!(pid, "stopping: cancelling the step waiting for a lock");
                if let Err(error) = db::cancel(url, name, &cancel).await {
                    tracing::warn!(%error, "cannot cancel the step waiting for a lock");
                }
            }
        }
        tokio::time::sleep(WATCH_POLL).await;
    }
}

/// Refuses (exit 3) a plan whose one transaction would take more locks than the server's
/// lock table holds.
pub(crate) async fn fits_one_transaction(
    client: &Client,
    catalogue: &Catalogue,
    plan: &Plan,
) -> Result<(), Error> {
    let needed = locks_needed(catalogue, plan);
    let (per_transaction, slots) = super::backup::restore::lock_table(client)
        .await
        .map_err(|e| Error::new(Exit::Internal, e))?;
    let capacity = per_transaction * slots;
    if needed > capacity {
        return Err(Error::new(
            Exit::Refused,
            TooManyLocks {
                needed,
                capacity,
                per_transaction,
                slots,
                suggest: needed.div_ceil(slots.max(1)) * 2,
            },
        ));
    }
    Ok(())
}

/// The locks the plan's one transaction takes, about: [`LOCKS_PER_STATEMENT`] per
/// statement, by PostgreSQL's grammar (a file it cannot split counts as one statement).
fn locks_needed(catalogue: &Catalogue, plan: &Plan) -> u64 {
    let statements: usize = plan
        .steps
        .iter()
        .filter_map(|step| catalogue.get(step.version))
        .map(|migration| {
            let sql = match (plan.direction, &migration.down) {
                (Direction::Down, Down::Script(down)) => &down.sql,
                _ => &migration.up.sql,
            };
            crate::postgres::sql::split_statements(sql)
                .map_or(1, |statements| statements.len().max(1))
        })
        .sum();
    u64::try_from(statements).unwrap_or(u64::MAX) * LOCKS_PER_STATEMENT
}

/// The server's lock table is too small for `--atomic` (exit 3).
#[derive(Debug, thiserror::Error)]
#[error(
    "--atomic: the plan takes about {needed} locks in one transaction, but the server's lock table holds {capacity} (max_locks_per_transaction {per_transaction} x (max_connections + max_prepared_transactions) {slots}); nothing was changed. Raise max_locks_per_transaction to at least {suggest} (needs a server restart), or apply without --atomic"
)]
struct TooManyLocks {
    needed: u64,
    capacity: u64,
    per_transaction: u64,
    slots: u64,
    suggest: u64,
}
