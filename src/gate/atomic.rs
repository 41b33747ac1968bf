//! `--atomic` (`[apply] atomic = true`, DESIGN §18): the whole plan in one transaction, its
//! history rows included, so a failure anywhere leaves the schema where it was and never
//! between two windows. Refused before anything changes when it cannot work: a step that
//! runs outside a transaction (exit 2: the settings and the files contradict each other),
//! or a plan the engine cannot hold in one transaction (exit 3; for PostgreSQL more locks
//! than the server's lock table holds). Per-file commits stay the default: each step's locks are held only
//! for that step, where one transaction holds every lock it took until the end.

use super::builder::Gate;
use super::error::{Error, Exit};
use crate::engine::Session;
use crate::plan::Plan;

impl Gate {
    /// Whether plans are applied in one transaction: `--atomic`, else compat.toml's
    /// `[apply] atomic`.
    pub(crate) fn atomic(&self) -> bool {
        self.settings
            .atomic
            .unwrap_or(self.release.compat.apply.atomic)
    }
}

/// What to do about a plan that could strand the schema.
pub(crate) fn remedy(atomic_possible: bool) -> &'static str {
    if atomic_possible {
        "apply it whole with --atomic (or [apply] atomic = true in compat.toml): one transaction, all or nothing"
    } else {
        "--atomic cannot apply it whole (a step runs outside a transaction): ship the change in two releases, the first with a window that holds every version between"
    }
}

/// Refuses an atomic plan that cannot run in one transaction; passes any plan otherwise.
pub(crate) async fn fits(gate: &Gate, session: &dyn Session, plan: &Plan) -> Result<(), Error> {
    if !gate.atomic() || plan.is_empty() {
        return Ok(());
    }
    let outside: Vec<&str> = plan
        .steps
        .iter()
        .filter(|step| !step.transactional)
        .map(|step| step.file.as_str())
        .collect();
    if !outside.is_empty() {
        return Err(Error::new(
            Exit::Usage,
            Refusal::NoTransaction {
                files: outside.join(", "),
            },
        ));
    }
    session
        .fits_one_transaction(&gate.release.catalogue, plan)
        .await
}

/// Why `--atomic` refuses a plan before anything changes.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// A step runs outside a transaction (exit 2).
    #[error(
        "--atomic applies the plan in one transaction, but {files} runs outside a transaction (its no-transaction directive); nothing was changed. Apply this plan without --atomic (and without [apply] atomic = true), or move that file to a release of its own"
    )]
    NoTransaction { files: String },
}
