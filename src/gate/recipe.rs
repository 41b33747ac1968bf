//! The one recipe every change to the schema follows under the migration lock (STYLE 17):
//! the fleet's admission, `--atomic`'s limits, the writable primary reached through a
//! session, the backup, the newest description of the schema marked superseded, then the
//! act, then the description of the schema it left (DESIGN §19), which clears the mark, and
//! its audit row. The gate run, `--rollback-to`, `baseline`, `adopt` and `restore` differ
//! only in their act.

use std::future::Future;
use std::time::Instant;

use super::atomic;
use super::backups;
use super::builder::Gate;
use super::drift;
use super::error::Error;
use super::locked::{Change, Verdict, record, writable_session};
use crate::backup::Backup;
use crate::engine::Lock;
use crate::fleet;
use crate::plan::Plan;

/// What a change is, for its admission, its backup and its audit row.
pub(crate) struct Recipe<'a> {
    /// The audit row's action: `migrate`, `rollback`, `baseline`, `adopt` or `restore`.
    pub(crate) action: &'static str,
    /// From which schema version to which, as the fleet and the audit row see it.
    pub(crate) change: fleet::Change,
    /// The schema version the backup is of: `change.from`, but 0 for a gate run that first
    /// adopts a database without a history.
    pub(crate) backup_of: i64,
    /// The fleet's verdict, when the caller judged it already: the gate run judges it with
    /// its other verdicts, which its dry run shows together.
    pub(crate) admitted: Option<Verdict>,
    /// The steps, whose `--atomic` limits are judged after the admission.
    pub(crate) plan: Option<&'a Plan>,
    /// Whether retention prunes after the backup: a restore keeps every backup, since it is
    /// about to replay one.
    pub(crate) prune: bool,
    /// Whether the act commits in one transaction or not at all. Then a change stopped
    /// part way (even by SIGKILL) leaves the schema its record describes, so the record is
    /// not marked superseded: the database stays exactly as it was.
    pub(crate) one_transaction: bool,
}

/// What the act is given.
pub(crate) struct Prepared {
    /// The backup taken before it (`None` with `--no-backup`).
    pub(crate) backup: Option<Backup>,
    /// The fleet's verdict on the change.
    pub(crate) verdict: Verdict,
}

impl Prepared {
    /// The audit outcome of an act that succeeded: `ok…`, then what was overridden.
    pub(crate) fn outcome(&self, ok: String) -> String {
        self.verdict.outcome(ok)
    }
}

/// What the act did: its result, the schema version it left, and the audit row's outcome
/// (`None`: nothing was changed, so nothing is recorded).
pub(crate) struct Done<T> {
    pub(crate) result: Result<T, Error>,
    pub(crate) to: i64,
    pub(crate) outcome: Option<String>,
}

/// Runs `recipe` under the held `lock`: admission (exit 3 on a refusal), `--atomic`'s
/// limits, the writable primary through a session (exit 3 or 4), the backup (exit 5), then
/// `act`, whose outcome the audit trail records, success or not. Nothing is changed before
/// `act`, which hands the lock back with what it did; so does this.
pub(crate) async fn change<'l, T, F>(
    gate: &Gate,
    lock: &'l mut dyn Lock,
    recipe: Recipe<'_>,
    act: impl FnOnce(&'l mut dyn Lock, Prepared) -> F,
) -> Result<(T, &'l mut dyn Lock), Error>
where
    F: Future<Output = (Done<T>, &'l mut dyn Lock)>,
{
    let verdict = match recipe.admitted {
        Some(verdict) => verdict,
        None => gate.admission(lock.session(), recipe.change).await?.1,
    };
    if let Some(plan) = recipe.plan {
        atomic::fits(gate, lock.session(), plan).await?;
    }
    writable_session(lock).await?;
    let from = recipe.change.from;
    let backup = backups::before_change(gate, lock, recipe.backup_of, recipe.prune).await?;
    let backup_file = backup.as_ref().map(|b| b.path.display().to_string());
    let marked = if recipe.one_transaction {
        None
    } else {
        drift::supersede(lock.session()).await
    };
    let started = Instant::now();
    let (done, lock) = act(lock, Prepared { backup, verdict }).await;
    let Some(outcome) = done.outcome else {
        drift::withdraw(lock.session(), marked).await;
        return done.result.map(|value| (value, lock));
    };
    drift::record_left(lock.session(), done.to).await;
    let entry = Change {
        action: recipe.action,
        from,
        to: done.to,
        started,
        backup_file,
        outcome,
    }
    .entry(gate);
    record(lock.session(), &entry).await;
    done.result.map(|value| (value, lock))
}
