//! Backups as commands and as the step before a change: `backup`, `backups`, `restore`, and
//! the backup the gate and the rollback take under the lock (DESIGN §6).

use std::path::Path;
use std::time::Instant;

use tokio_postgres::Client;

use super::builder::Gate;
use super::error::{Error, Exit, ExitWith};
use super::event::Event;
use super::locked::{Change, guarded, primary_only, read_failed, record, release_lock};
use crate::backup::{self, Origin, RestoreOptions, RestorePlan, RestoreRefusal, Server};
use crate::lock::MigrationLock;
use crate::{fleet, history};

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

/// The backup before a schema change (forward or rollback), unless `--no-backup`: exit 5
/// when it fails, 6 when the lock is lost meanwhile, 8 on a signal, so nothing is changed.
/// Then prunes old backups of this database; a failed prune is logged, not fatal (the new
/// backup is safe).
pub(crate) async fn backup_before_change(
    gate: &Gate,
    lock: &MigrationLock,
    schema_version: i64,
) -> Result<Option<backup::Backup>, Error> {
    if gate.settings.backup.skip {
        tracing::warn!(
            schema_version,
            "--no-backup: changing the schema WITHOUT a backup; only a restore from your own backups can undo it"
        );
        return Ok(None);
    }
    take_backup(gate, lock, schema_version).await.map(Some)
}

/// What a backup of the lock's database needs.
fn request<'a>(
    gate: &'a Gate,
    client: &'a Client,
    schema_version: i64,
) -> Result<backup::Request<'a>, Error> {
    Ok(backup::Request {
        client,
        url: gate.url()?,
        application_name: &gate.application_name,
        dir: &gate.settings.backup.dir,
        app_version: gate.release.compat.tag(),
        schema_version,
        pg_dump: gate.settings.backup.pg_dump.as_deref(),
        timeout: gate.settings.backup.timeout,
    })
}

/// The retention settings.
fn policy(gate: &Gate) -> backup::Retention {
    backup::Retention {
        keep: gate.settings.backup.keep,
        max_age: gate.settings.backup.max_age,
    }
}

/// Takes a backup under the held lock and prunes old ones (exit 5, 6 or 8 on failure).
async fn take_backup(
    gate: &Gate,
    lock: &MigrationLock,
    schema_version: i64,
) -> Result<backup::Backup, Error> {
    let request = request(gate, lock.connection(), schema_version)?;
    let work = async { backup::take(&request).await.exit(Exit::BackupFailed) };
    let taken = guarded(
        gate,
        lock,
        "during the backup (its partial file was removed)",
        schema_version,
        work,
    )
    .await?;
    let origin = taken.manifest.origin();
    if let Err(error) = backup::prune(
        &gate.settings.backup.dir,
        &origin,
        policy(gate),
        &taken.path,
    ) {
        tracing::warn!(error = %crate::gate::error::chain(&error), "pruning old backups failed");
    }
    Ok(taken)
}

/// `backup`: a backup now, under the lock, whatever `--no-backup` says. With `--dry-run`
/// it prints the file it would write and the backups retention would remove, and changes
/// nothing (no lock, no directory, no file).
async fn backup_now(gate: &Gate) -> Result<(), Error> {
    if gate.settings.dry_run {
        let client = gate.connect().await?;
        let version = history::current_version(&client)
            .await
            .map_err(read_failed)?;
        let request = request(gate, &client, version)?;
        let preview = backup::preview(&request, policy(gate))
            .await
            .exit(Exit::BackupFailed)?;
        gate.tell(Event::BackupPreview(&preview));
        return Ok(());
    }
    let mut lock = gate.acquire_lock().await?;
    let result = async {
        let version = history::current_version(lock.client())
            .await
            .map_err(read_failed)?;
        take_backup(gate, &lock, version).await
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
    let client = gate.connect().await?;
    Server::query(&client)
        .await
        .map(|server| server.origin())
        .exit(Exit::Internal)
}

/// `restore FILE --yes`: checksum and refusals, then (under the lock) the database back to
/// the dump. Without `--yes` it prints the plan and exits 2; with `--dry-run` it prints the
/// plan and exits 0; neither changes anything.
async fn restore(
    gate: &Gate,
    file: &Path,
    confirmed: bool,
    options: RestoreOptions,
) -> Result<(), Error> {
    let pg_dump = gate.settings.backup.pg_dump.as_deref();
    if gate.settings.dry_run || !confirmed {
        let client = gate.connect().await?;
        let plan = RestorePlan::new(&client, file, pg_dump)
            .await
            .exit(Exit::BackupFailed)?;
        gate.tell(Event::RestorePlan(&plan));
        if let Some(refusal) = plan.refusal(options) {
            return Err(refusal_failure(refusal));
        }
        if gate.settings.dry_run {
            gate.tell(Event::NothingChanged);
            return Ok(());
        }
        return Err(Error::new(Exit::Usage, Unconfirmed));
    }
    let lock = gate.acquire_lock().await?;
    let started = Instant::now();
    let result = async {
        let plan = RestorePlan::new(lock.connection(), file, pg_dump)
            .await
            .exit(Exit::BackupFailed)?;
        gate.tell(Event::RestorePlan(&plan));
        if let Some(refusal) = plan.refusal(options) {
            return Err(refusal_failure(refusal));
        }
        let from = history::current_version(lock.connection())
            .await
            .map_err(read_failed)?;
        let change = fleet::Change {
            from,
            to: plan.backup.manifest.schema_version,
        };
        let (_, verdict) = gate.admission(lock.connection(), change).await?;
        primary_only(lock.connection()).await?;
        super::session::session_only(gate, &lock).await?;
        let url = gate.url()?;
        let work = async {
            backup::restore(&plan, options, url, &gate.application_name, pg_dump)
                .await
                .exit(Exit::BackupFailed)
        };
        guarded(
            gate,
            &lock,
            "during the restore (its transaction was rolled back)",
            from,
            work,
        )
        .await?;
        let version = history::current_version(lock.connection())
            .await
            .map_err(read_failed)?;
        let entry = Change {
            action: "restore",
            from,
            to: version,
            started,
            backup_file: Some(file.display().to_string()),
            outcome: verdict.outcome("ok".to_owned()),
        }
        .entry(gate);
        record(lock.connection(), &entry).await;
        Ok((plan, version))
    }
    .await;
    release_lock(lock).await;
    let (plan, version) = result?;
    gate.tell(Event::Restored {
        plan: &plan,
        version,
    });
    Ok(())
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
