//! Running a plan's steps under the lock: the DDL limits, the audit entry of the run, and a
//! watcher on a connection of its own that names who blocks a step waiting for a lock and,
//! once a stop is requested, cancels such a wait (DESIGN §12).

use std::ops::ControlFlow;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::builder::{Gate, stopped};
use super::error::{Error, Exit, ExitWith};
use super::locked::{Change, read_failed, record};
use crate::ddl;
use crate::lock::MigrationLock;
use crate::migrate::{self, Executed, Execution, Observer};
use crate::plan::{self, Plan, Step};
use crate::stop::Stop;
use crate::{db, history};

/// How long a step runs before the watcher connects: fast runs never pay for it.
const WATCH_AFTER: Duration = Duration::from_millis(250);

/// How often the watcher looks at the step's session.
const WATCH_POLL: Duration = Duration::from_millis(100);

/// Runs a plan (exit 6 on a failed step, 8 when a signal stops it between steps) and
/// records it, success or not, in the audit trail. Creates the history and audit tables
/// first: this runs under the lock. Returns how many times a step was retried after a lock
/// timeout.
pub(crate) async fn execute_recorded(
    gate: &Gate,
    lock: &mut MigrationLock,
    plan: &Plan,
    recorded: Recorded<'_>,
    on_step: &mut (dyn FnMut(&Step, Duration) + Send),
) -> Result<u64, Error> {
    let limits = gate.settings.limits;
    if let Some(signal) = gate.stop.requested() {
        return Err(stopped(signal, "before the first step", Some(plan.current)));
    }
    let pid = lock.pid();
    let client = lock.client();
    history::ensure_table(client).await.map_err(read_failed)?;
    let widen = history::is_narrow(client)
        .await
        .map_err(read_failed)?
        .then_some(history::WIDEN);
    let started = Instant::now();
    let stop = &gate.stop;
    let cancel = client.cancel_token();
    let blockers = Mutex::new(None);
    let mut observer = Steps {
        on_step,
        stop,
        blockers: &blockers,
        retries: 0,
    };
    let execution = Execution {
        catalogue: &gate.release.catalogue,
        plan,
        prelude: widen,
        limits,
        atomic: gate.atomic(),
    };
    let result = tokio::select! {
        result = migrate::execute(client, &execution, &mut observer) => result,
        never = watch(gate, pid, cancel, &blockers) => match never {},
    };
    let retries = observer.retries;
    // A step cancelled by a stop while it waited for a lock was rolled back: a stop.
    let result = match result {
        Err(failed) if failed.cancelled && stop.requested().is_some() => {
            Ok(Executed::Stopped { at: failed.at })
        }
        other => other,
    };
    let (to, outcome) = match &result {
        Ok(Executed::Completed) => match recorded.note {
            // The audit-derived counters match on `ok%` and `failed%`.
            Some(note) => (plan.target, format!("ok; {note}")),
            None => (plan.target, "ok".to_owned()),
        },
        Ok(Executed::Stopped { at }) => (
            *at,
            format!(
                "stopped by {} at version {at}",
                stop.requested().unwrap_or("a signal")
            ),
        ),
        Err(failed) => (
            failed.at,
            format!(
                "failed at version {}: {}",
                failed.step.version,
                failed.described()
            ),
        ),
    };
    let action = match plan.direction {
        plan::Direction::Up => "migrate",
        plan::Direction::Down => "rollback",
    };
    let entry = Change {
        action,
        from: plan.current,
        to,
        started,
        backup_file: recorded.backup_file,
        outcome,
    }
    .entry(gate);
    record(client, &entry).await;
    match result.exit(Exit::StepFailed)? {
        Executed::Completed => Ok(retries),
        Executed::Stopped { at } => Err(stopped(
            stop.requested().unwrap_or("a signal"),
            &format!("after version {at}; no later step was started"),
            Some(at),
        )),
    }
}

/// What the audit row of a run records beside its versions.
pub(crate) struct Recorded<'a> {
    /// The backup taken before it.
    pub(crate) backup_file: Option<String>,
    /// Why it ran although the fleet refused it (`--ignore-fleet`).
    pub(crate) note: Option<&'a str>,
}

/// The gate's ear on the steps: the caller's per-step callback, the stop between steps,
/// and the log of each lock wait with whoever the watcher saw blocking it.
struct Steps<'a> {
    on_step: &'a mut (dyn FnMut(&Step, Duration) + Send),
    stop: &'a Stop,
    blockers: &'a Mutex<Option<String>>,
    retries: u64,
}

impl Observer for Steps<'_> {
    fn step_done(&mut self, step: &Step, took: Duration) -> ControlFlow<()> {
        (self.on_step)(step, took);
        match self.stop.requested() {
            Some(_) => ControlFlow::Break(()),
            None => ControlFlow::Continue(()),
        }
    }

    fn lock_wait(
        &mut self,
        step: &Step,
        attempt: usize,
        pause: Option<Duration>,
    ) -> Option<String> {
        let blockers = self.blockers.lock().map(|b| b.clone()).unwrap_or_default();
        let shown = blockers
            .as_deref()
            .unwrap_or("unknown (the wait ended before it was seen)");
        match pause {
            Some(pause) => {
                self.retries += 1;
                tracing::warn!(version = step.version, file = %step.file, attempt, retry_in = ?pause, blockers = shown, "the step gave up waiting for a lock (lock_timeout); rolled back, it runs again");
            }
            None => {
                tracing::error!(version = step.version, file = %step.file, attempt, blockers = shown, "the step gave up waiting for a lock, and its retries are spent");
            }
        }
        blockers
    }
}

/// Watches the steps' session (`pid`) from a connection of its own (the lock's is busy with
/// the step), once a step has run for [`WATCH_AFTER`]: records who blocks it, and once a
/// stop is requested cancels a wait for a lock (a step that works is left to finish;
/// waiting behind another session's lock could last until the orchestrator's SIGKILL, and
/// a cancelled step rolls back whole). Never completes.
async fn watch(
    gate: &Gate,
    pid: i32,
    cancel: tokio_postgres::CancelToken,
    blockers: &Mutex<Option<String>>,
) -> std::convert::Infallible {
    tokio::time::sleep(WATCH_AFTER).await;
    let Ok(url) = gate.url() else {
        return std::future::pending().await;
    };
    let Ok(watcher) = db::connect(url, &gate.application_name, WATCH_POLL * 50).await else {
        return std::future::pending().await;
    };
    loop {
        if let Ok(seen) = ddl::blockers(&watcher, pid).await
            && !seen.is_empty()
        {
            if let Ok(mut latest) = blockers.lock() {
                *latest = Some(seen.join("; "));
            }
            if gate.stop.requested().is_some() {
                tracing::info!(pid, "stopping: cancelling the step waiting for a lock");
                if let Err(error) = db::cancel(url, &gate.application_name, &cancel).await {
                    tracing::warn!(%error, "cannot cancel the step waiting for a lock");
                }
            }
        }
        tokio::time::sleep(WATCH_POLL).await;
    }
}
