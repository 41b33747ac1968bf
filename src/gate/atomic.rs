//! `--atomic` (`[apply] atomic = true`, DESIGN §18): the whole plan in one transaction, its
//! history rows included, so a failure anywhere leaves the schema where it was and never
//! between two windows. Refused before anything changes when it cannot work: a step that
//! runs outside a transaction (exit 2: the settings and the files contradict each other),
//! or a plan that needs more locks than the server's lock table holds (exit 3, the
//! restore's check). Per-file commits stay the default: each step's locks are held only
//! for that step, where one transaction holds every lock it took until the end.

use tokio_postgres::Client;

use super::builder::Gate;
use super::error::{Error, Exit};
use crate::catalogue::Catalogue;
use crate::plan::{Direction, Plan};

/// Locks a statement is counted for: the relation it changes and one beside it (its
/// index, sequence or TOAST table). An estimate, as the restore's is: PostgreSQL's own
/// count depends on what each statement touches.
const LOCKS_PER_STATEMENT: u64 = 2;

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
pub(crate) async fn fits(gate: &Gate, client: &Client, plan: &Plan) -> Result<(), Error> {
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
    let needed = locks_needed(&gate.release.catalogue, plan);
    let (per_transaction, slots) = crate::backup::restore::lock_table(client)
        .await
        .map_err(|e| Error::new(Exit::Internal, e))?;
    let capacity = per_transaction * slots;
    if needed > capacity {
        return Err(Error::new(
            Exit::Refused,
            Refusal::TooManyLocks {
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
                (Direction::Down, crate::catalogue::Down::Script(down)) => &down.sql,
                _ => &migration.up.sql,
            };
            crate::sql::split_statements(sql).map_or(1, |statements| statements.len().max(1))
        })
        .sum();
    u64::try_from(statements).unwrap_or(u64::MAX) * LOCKS_PER_STATEMENT
}

/// Why `--atomic` refuses a plan before anything changes.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// A step runs outside a transaction (exit 2).
    #[error(
        "--atomic applies the plan in one transaction, but {files} runs outside a transaction (its no-transaction directive); nothing was changed. Apply this plan without --atomic (and without [apply] atomic = true), or move that file to a release of its own"
    )]
    NoTransaction { files: String },
    /// The server's lock table is too small (exit 3).
    #[error(
        "--atomic: the plan takes about {needed} locks in one transaction, but the server's lock table holds {capacity} (max_locks_per_transaction {per_transaction} x (max_connections + max_prepared_transactions) {slots}); nothing was changed. Raise max_locks_per_transaction to at least {suggest} (needs a server restart), or apply without --atomic"
    )]
    TooManyLocks {
        needed: u64,
        capacity: u64,
        per_transaction: u64,
        slots: u64,
        suggest: u64,
    },
}
