//! Backups as commands and as the step before a change: `backup`, `backups`, `restore`, and
//! the backup the gate and the rollback take under the lock (DESIGN §6).

use std::path::Path;

use super::builder::{Gate, stopped};
use super::error::{Error, Exit, ExitWith};
use super::event::Event;
use super::locked::{guarded, lock_lost, release_lock};
use super::recipe::{self, Done, Prepared, Recipe};
use crate::backup::{self, Origin, RestoreOptions, RestorePlan, RestoreRefusal};
use crate::engine::{BackupRequest, Lock};
use crate::fleet;

impl Gate {
    /// `backup`: a verified backup now, under the lock (a dry run prints what it would
    /// write and prune).
    pub async fn backup_now(&self) -> Result<(), Error> {
        backup_now(self).await
    }

    /// `backups`: the backups of this database, or with `all` of every database in the
    /// directory (no connection needed), newest first.
    pub async fn list_backups(&self, all: bool) -> Result<Vec<backup::Backup>, Error> {
        list(self, all).await
    }

    /// DESTRUCTIVE: `restore FILE`: the database back to a backup, under the lock. Unless
    /// `confirmed` (`--yes`), prints the plan and refuses (exit 2).
    pub async fn restore(
        &self,
        file: &Path,
        confirmed: bool,
        options: RestoreOptions,
    ) -> Result<(), Error> {
        restore(self, file, confirmed, options).await
    }
}

/// The backup before a schema change, unless `--no-backup` (which is logged): exit 5 when
/// it fails, 6 when the lock is lost meanwhile, 8 on a signal, so nothing is changed. Then,
/// with `prune`, removes old backups of this database; a failed prune is logged, not fatal
/// (the new backup is safe).
pub(crate) async fn before_change(
    gate: &Gate,
    lock: &dyn Lock,
    schema_version: i64,
    prune_after: bool,
) -> Result<Option<backup::Backup>, Error> {
    if gate.settings.backup.skip {
        tracing::warn!(
            schema_version,
            "--no-backup: changing the schema WITHOUT a backup; only a restore from your own backups can undo it"
        );
        return Ok(None);
    }
    let taken = take_backup(gate, lock, schema_version).await?;
    if prune_after {
        prune(gate, &taken);
    }
    Ok(Some(taken))
}

/// What a backup of the database at `schema_version` needs besides its session.
fn request(gate: &Gate, schema_version: i64) -> BackupRequest<'_> {
    BackupRequest {
        dir: &gate.settings.backup.dir,
        app_version: gate.release.compat.tag(),
        schema_version,
        tool: gate.settings.backup.pg_dump.as_deref(),
        timeout: gate.settings.backup.timeout,
        verify_restore: gate.settings.backup.verify_restore,
    }
}

/// The retention settings.
fn policy(gate: &Gate) -> backup::Retention {
    backup::Retention {
        keep: gate.settings.backup.keep,
        max_age: gate.settings.backup.max_age,
    }
}

/// Takes a backup under the held lock (exit 5, 6 or 8 on failure).
async fn take_backup(
    gate: &Gate,
    lock: &dyn Lock,
    schema_version: i64,
) -> Result<backup::Backup, Error> {
    let request = request(gate, schema_version);
    let work = lock.backup(&request);
    guarded(
        gate,
        lock,
        "during the backup (its partial file was removed)",
        schema_version,
        work,
    )
    .await
}

/// Removes the backups of `taken`'s database that retention no longer keeps.
fn prune(gate: &Gate, taken: &backup::Backup) {
    let origin = taken.manifest.origin();
    if let Err(error) = backup::prune(
        &gate.settings.backup.dir,
        &origin,
        policy(gate),
        &taken.path,
    ) {
        tracing::warn!(error = %crate::gate::error::chain(&error), "pruning old backups failed");
    }
}

/// `backup`: a backup now, under the lock, whatever `--no-backup` says. With `--dry-run`
/// it prints the file it would write and the backups retention would remove, and changes
/// nothing (no lock, no directory, no file).
async fn backup_now(gate: &Gate) -> Result<(), Error> {
    if gate.settings.dry_run {
        let client = gate.connect().await?;
        let version = client.current_version().await?;
        let preview = client
            .backup_preview(&request(gate, version), policy(gate))
            .await?;
        gate.tell(Event::BackupPreview(&preview));
        return Ok(());
    }
    let lock = gate.acquire_lock().await?;
    let result = async {
        let version = lock.session().current_version().await?;
        let taken = take_backup(gate, lock.as_ref(), version).await?;
        prune(gate, &taken);
        Ok::<_, Error>(taken)
    }
    .await;
    release_lock(lock).await;
    gate.tell(Event::BackupTaken(&result?));
    Ok(())
}

/// `backups`: the backups of the target database (by the manifests' database and server
/// identity), or with `--all` (no database needed) of every database in the directory.
async fn list(gate: &Gate, all: bool) -> Result<Vec<backup::Backup>, Error> {
    let dir = &gate.settings.backup.dir;
    if all {
        backup::list(dir)
    } else {
        let origin = origin(gate).await?;
        backup::list_of(dir, &origin)
    }
    .exit(Exit::BackupFailed)
}

/// Which database (of which server) the URL points at.
async fn origin(gate: &Gate) -> Result<Origin, Error> {
    gate.connect().await?.origin().await
}

/// `restore FILE --yes`: checks and refusals, then under the lock the fleet's admission, a
/// backup of the database as it is (so the restore can be undone; unless `--no-backup`),
/// the database back to the dump, and the restore recorded in the audit trail, which it
/// keeps (DESIGN §18). Without `--yes` it prints the plan and exits 2; with `--dry-run` it
/// prints the plan and exits 0; neither changes anything. A stop while the dump is hashed
/// or replayed exits 8 at once, with nothing changed.
async fn restore(
    gate: &Gate,
    file: &Path,
    confirmed: bool,
    options: RestoreOptions,
) -> Result<(), Error> {
    if gate.settings.dry_run || !confirmed {
        let client = gate.connect().await?;
        let from = client.current_version().await?;
        let checked = client.restore_plan(file, gate.settings.backup.pg_dump.as_deref());
        let plan = tokio::select! {
            plan = checked => plan?,
            signal = gate.stop.wait() => return Err(stopped(signal, CHECKING, None)),
        };
        show_plan(gate, &plan, from, options)?;
        if gate.settings.dry_run {
            gate.tell(Event::NothingChanged);
            return Ok(());
        }
        return Err(Error::new(Exit::Usage, Unconfirmed));
    }
    let mut lock = gate.acquire_lock().await?;
    let result = restore_locked(gate, lock.as_mut(), file, options).await;
    release_lock(lock).await;
    let (plan, version) = result?;
    gate.tell(Event::Restored {
        plan: &plan,
        version,
    });
    Ok(())
}

/// What a stop while the dump is checked says.
const CHECKING: &str = "while checking the backup";

/// Tells the plan and the backup taken first, or the refusal (nothing changed).
fn show_plan(
    gate: &Gate,
    plan: &RestorePlan,
    from: i64,
    options: RestoreOptions,
) -> Result<(), Error> {
    gate.tell(Event::RestorePlan(plan));
    if let Some(refusal) = plan.refusal(options) {
        return Err(refusal_failure(refusal));
    }
    gate.tell(Event::BackupIntent {
        skip: gate.settings.backup.skip,
        kind: gate.engine()?.backup_kind(),
        dir: &gate.settings.backup.dir,
        schema_version: from,
    });
    Ok(())
}

/// The restore under the lock; returns its plan and the schema version it left.
async fn restore_locked<'l>(
    gate: &Gate,
    lock: &'l mut dyn Lock,
    file: &Path,
    options: RestoreOptions,
) -> Result<(RestorePlan, i64), Error> {
    let pg_dump = gate.settings.backup.pg_dump.as_deref();
    let from = lock.session().current_version().await?;
    let checked = lock.session().restore_plan(file, pg_dump);
    let plan = guarded(gate, lock, CHECKING, from, checked).await?;
    show_plan(gate, &plan, from, options)?;
    let recipe = Recipe {
        action: "restore",
        change: fleet::Change {
            from,
            to: plan.backup.manifest.schema_version,
        },
        backup_of: from,
        admitted: None,
        plan: None,
        prune: false,
        one_transaction: plan.one_transaction,
    };
    let plan_ref = &plan;
    let act = |lock: &'l mut dyn Lock, prepared: Prepared| async move {
        let plan = plan_ref;
        if let Some(undo) = &prepared.backup {
            gate.tell(Event::BackupTaken(undo));
        }
        let replayed = tokio::select! {
            done = lock.restore(plan, options, pg_dump, &gate.stop) => done.map_err(|error| error.at(from)),
            lost = lock.lost() => Err(lock_lost(lost, from)),
        };
        let version = match replayed {
            Ok(()) => lock.session().current_version().await,
            Err(error) => Err(error),
        };
        let Ok(version) = version else {
            let done = Done {
                result: version,
                to: from,
                outcome: None,
            };
            return (done, lock);
        };
        let mut ok = format!(
            "ok; restored {} (schema {})",
            file.display(),
            plan.backup.manifest.schema_version
        );
        if prepared.backup.is_none() {
            ok.push_str("; no backup was taken first (--no-backup)");
        }
        let done = Done {
            result: Ok(version),
            to: version,
            outcome: Some(prepared.outcome(ok)),
        };
        (done, lock)
    };
    let (version, _) = recipe::change(gate, lock, recipe, act).await?;
    Ok((plan, version))
}

/// A dump of another database is a usage error (exit 2); the others are refusals (exit 3).
fn refusal_failure(refusal: RestoreRefusal) -> Error {
    let exit = match refusal {
        RestoreRefusal::OtherDatabase { .. } => Exit::Usage,
        _ => Exit::Refused,
    };
    Error::new(exit, refusal)
}

/// `restore` without `--yes`.
#[derive(Debug, thiserror::Error)]
#[error("restore is destructive: nothing was changed; add --yes to do it")]
struct Unconfirmed;
