//! Running a plan's steps under the lock: the DDL limits, the audit outcome of the run, and
//! the log of each step that waited for a lock, with who blocked it when the engine saw.

use std::ops::ControlFlow;
use std::time::Duration;

use super::builder::{Gate, stopped};
use super::error::{Exit, ExitWith};
use super::recipe::{Done, Prepared};
use crate::engine::{Executed, Execution, Lock, Observer};
use crate::plan::{Plan, Step};
use crate::stop::Stop;

/// The act of a gate run or a rollback ([`super::recipe::change`]): runs a plan (exit 6 on
/// a failed step, 8 when a signal stops it between steps), for the audit trail to record,
/// success or not. Creates the history table first: this runs under the lock. Gives how
/// many times a step was retried after a lock timeout.
pub(crate) async fn execute(
    gate: &Gate,
    lock: &mut dyn Lock,
    plan: &Plan,
    prepared: &Prepared,
    on_step: &mut (dyn FnMut(&Step, Duration) + Send),
) -> Done<u64> {
    let limits = gate.settings.limits;
    let unrecorded = |error| Done {
        result: Err(error),
        to: plan.current,
        outcome: None,
    };
    if let Some(signal) = gate.stop.requested() {
        return unrecorded(stopped(signal, "before the first step", Some(plan.current)));
    }
    let session = lock.session_mut();
    if let Err(error) = session.ensure_history().await {
        return unrecorded(error);
    }
    let stop = &gate.stop;
    let mut observer = Steps {
        on_step,
        stop,
        retries: 0,
    };
    let execution = Execution {
        catalogue: &gate.release.catalogue,
        plan,
        limits,
        atomic: gate.atomic(),
        stop,
    };
    let result = session.execute(&execution, &mut observer).await;
    let retries = observer.retries;
    // A step cancelled by a stop while it waited for a lock was rolled back: a stop.
    let result = match result {
        Err(failed) if failed.cancelled && stop.requested().is_some() => {
            Ok(Executed::Stopped { at: failed.at })
        }
        other => other,
    };
    // The audit-derived counters match on `ok%` and `failed%`.
    let (to, outcome) = match &result {
        Ok(Executed::Completed) => (plan.target, prepared.outcome("ok".to_owned())),
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
                failed.step.version, failed.described
            ),
        ),
    };
    let result = match result.exit(Exit::StepFailed) {
        Ok(Executed::Completed) => Ok(retries),
        Ok(Executed::Stopped { at }) => Err(stopped(
            stop.requested().unwrap_or("a signal"),
            &format!("after version {at}; no later step was started"),
            Some(at),
        )),
        Err(error) => Err(error),
    };
    Done {
        result,
        to,
        outcome: Some(outcome),
    }
}

/// The gate's ear on the steps: the caller's per-step callback, the stop between steps,
/// and the log of each lock wait with whoever the engine saw blocking it.
struct Steps<'a> {
    on_step: &'a mut (dyn FnMut(&Step, Duration) + Send),
    stop: &'a Stop,
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
        blockers: Option<&str>,
    ) {
        let shown = blockers.unwrap_or("unknown (the wait ended before it was seen)");
        match pause {
            Some(pause) => {
                self.retries += 1;
                tracing::warn!(version = step.version, file = %step.file, attempt, retry_in = ?pause, blockers = shown, "the step gave up waiting for a lock (lock_timeout); rolled back, it runs again");
            }
            None => {
                tracing::error!(version = step.version, file = %step.file, attempt, blockers = shown, "the step gave up waiting for a lock, and its retries are spent");
            }
        }
    }
}
