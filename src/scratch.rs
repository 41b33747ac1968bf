//! Migrating a scratch database (made by the engine, never the target database, always
//! removed): `baseline --verify` migrates one to the claimed version; `verify` runs every
//! up, down and up again on one.

use std::ops::ControlFlow;
use std::time::Duration;

use crate::catalogue::Catalogue;
use crate::engine::{Execution, Observer, Session, StepFailed};
use crate::gate::Error;
use crate::limits::Limits;
use crate::plan::{Plan, Step};
use crate::schema::{Earlier, Tracked};
use crate::stop::Stop;

/// A scratch database has no other sessions: nothing to wait for, nothing to bound.
const LIMITS: Limits = Limits {
    lock_timeout: Duration::from_secs(60),
    retries: 0,
    statement_timeout: None,
};

/// Runs a plan on a scratch database (its history table must exist).
pub(crate) async fn run(
    session: &mut dyn Session,
    catalogue: &Catalogue,
    plan: &Plan,
) -> Result<(), StepFailed> {
    let stop = Stop::never();
    session
        .execute(&execution(catalogue, plan, &stop), &mut Unobserved)
        .await
        .map(drop)
}

/// Runs a plan on a scratch database, then brings `tracked` to the schema it left
/// ([`Session::execute_and_look`]): the earlier lines of the objects it changed, or (inner
/// error) why the schema could not be described.
pub(crate) async fn run_and_look(
    session: &mut dyn Session,
    catalogue: &Catalogue,
    plan: &Plan,
    tracked: &mut Tracked,
) -> Result<Result<Earlier, Error>, StepFailed> {
    let stop = Stop::never();
    let execution = execution(catalogue, plan, &stop);
    session
        .execute_and_look(&execution, &mut Unobserved, tracked)
        .await
}

/// A plan's run on a scratch database.
fn execution<'a>(catalogue: &'a Catalogue, plan: &'a Plan, stop: &'a Stop) -> Execution<'a> {
    Execution {
        catalogue,
        plan,
        limits: LIMITS,
        atomic: false,
        stop,
    }
}

/// Migrating a scratch database: nobody listens, nothing stops it between steps.
struct Unobserved;

impl Observer for Unobserved {
    fn step_done(&mut self, _: &Step, _: Duration) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    fn lock_wait(&mut self, _: &Step, _: usize, _: Option<Duration>, _: Option<&str>) {}
}
