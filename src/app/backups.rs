//! Backups as commands and as the step before a change: `backup`, `backups`, `restore`, and
//! the backup the gate and the rollback take under the lock (DESIGN §6).

use super::*;
use crate::backup::{Origin, RestoreOptions, RestoreRefusal, Server};
use crate::cli::BackupsArgs;

/// The backup before a schema change (forward or rollback), unless `--no-backup`: exit 5
/// when it fails, 6 when the lock is lost meanwhile, 8 on a signal, so nothing is changed.
/// Then prunes old backups of this database; a failed prune is logged, not fatal (the new
/// backup is safe).
pub(super) async fn backup_before_change(
    release: &Release,
    args: &BackupArgs,
    lock: &MigrationLock,
    schema_version: i64,
) -> Result<Option<backup::Backup>, Failure> {
    if args.no_backup {
        tracing::warn!(
            schema_version,
            "--no-backup: changing the schema WITHOUT a backup; only a restore from your own backups can undo it"
        );
        return Ok(None);
    }
    take_backup(release, args, lock, schema_version)
        .await
        .map(Some)
}

/// What a backup of the lock's database needs.
fn request<'a>(
    release: &'a Release,
    args: &'a BackupArgs,
    client: &'a Client,
    schema_version: i64,
) -> Result<backup::Request<'a>, Failure> {
    Ok(backup::Request {
        client,
        url: release.url()?,
        application_name: &release.application_name,
        dir: &args.backup_dir,
        app_version: release.compat.tag(),
        schema_version,
        pg_dump: args.pg_dump.as_deref(),
        timeout: args.backup_timeout,
    })
}

/// The retention settings.
fn policy(args: &BackupArgs) -> backup::Retention {
    backup::Retention {
        keep: args.backup_keep,
        max_age: args.backup_max_age,
    }
}

/// Takes a backup under the held lock and prunes old ones (exit 5, 6 or 8 on failure).
async fn take_backup(
    release: &Release,
    args: &BackupArgs,
    lock: &MigrationLock,
    schema_version: i64,
) -> Result<backup::Backup, Failure> {
    let request = request(release, args, lock.connection(), schema_version)?;
    let work = async { backup::take(&request).await.exit(Exit::BackupFailed) };
    let taken = guarded(
        release,
        lock,
        "during the backup (its partial file was removed)",
        schema_version,
        work,
    )
    .await?;
    let origin = taken.manifest.origin();
    if let Err(error) = backup::prune(&args.backup_dir, &origin, policy(args), &taken.path) {
        tracing::warn!(error = %format!("{:#}", anyhow::Error::from(error)), "pruning old backups failed");
    }
    Ok(taken)
}

/// `backup`: a backup now, under the lock, whatever `--no-backup` says. With `--dry-run`
/// it prints the file it would write and the backups retention would remove, and changes
/// nothing (no lock, no directory, no file).
pub(super) async fn backup_now(
    release: &Release,
    gate_args: &GateArgs,
    backup_args: &BackupArgs,
) -> Result<(), Failure> {
    if gate_args.dry_run {
        let client = release.connect(gate_args.connect_timeout).await?;
        let version = history::current_version(&client)
            .await
            .map_err(read_failed)?;
        let request = request(release, backup_args, &client, version)?;
        let preview = backup::preview(&request, policy(backup_args))
            .await
            .exit(Exit::BackupFailed)?;
        output::backup_preview(&preview);
        return Ok(());
    }
    let mut lock = acquire_lock(release, gate_args).await?;
    let result = async {
        let version = history::current_version(lock.client())
            .await
            .map_err(read_failed)?;
        take_backup(release, backup_args, &lock, version).await
    }
    .await;
    release_lock(lock).await;
    output::backup_taken(&result?);
    Ok(())
}

/// `backups`: the backups of the target database (by the manifests' database and server
/// identity), or with `--all` (no database needed) of every database in the directory.
pub(super) async fn list(
    release: &Release,
    gate_args: &GateArgs,
    backup_args: &BackupArgs,
    args: &BackupsArgs,
) -> Result<(), Failure> {
    let dir = &backup_args.backup_dir;
    let backups = if args.all {
        backup::list(dir)
    } else {
        let origin = origin(release, gate_args).await?;
        backup::list_of(dir, &origin)
    }
    .exit(Exit::BackupFailed)?;
    output::backups(&backups, args.json).exit(Exit::Internal)
}

/// Which database (of which server) the URL points at.
pub(super) async fn origin(release: &Release, gate_args: &GateArgs) -> Result<Origin, Failure> {
    let client = release.connect(gate_args.connect_timeout).await?;
    Server::query(&client)
        .await
        .map(|server| server.origin())
        .exit(Exit::Internal)
}

/// `restore FILE --yes`: checksum and refusals, then (under the lock) the database back to
/// the dump. Without `--yes` it prints the plan and exits 2; with `--dry-run` it prints the
/// plan and exits 0; neither changes anything.
pub(super) async fn restore(
    release: &Release,
    gate_args: &GateArgs,
    backup_args: &BackupArgs,
    args: &RestoreArgs,
) -> Result<(), Failure> {
    let options = RestoreOptions {
        into_other_database: args.into_other_database,
        keep_global_objects: args.keep_global_objects,
    };
    let pg_dump = backup_args.pg_dump.as_deref();
    if gate_args.dry_run || !args.yes {
        let client = release.connect(gate_args.connect_timeout).await?;
        let plan = RestorePlan::new(&client, &args.file, pg_dump)
            .await
            .exit(Exit::BackupFailed)?;
        output::restore_plan(&plan);
        if let Some(refusal) = plan.refusal(options) {
            return Err(refusal_failure(refusal));
        }
        if gate_args.dry_run {
            output::nothing_changed();
            return Ok(());
        }
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!("restore is destructive: nothing was changed; add --yes to do it"),
        ));
    }
    let lock = acquire_lock(release, gate_args).await?;
    let started = Instant::now();
    let result = async {
        let plan = RestorePlan::new(lock.connection(), &args.file, pg_dump)
            .await
            .exit(Exit::BackupFailed)?;
        output::restore_plan(&plan);
        if let Some(refusal) = plan.refusal(options) {
            return Err(refusal_failure(refusal));
        }
        primary_only(lock.connection()).await?;
        let from = history::current_version(lock.connection())
            .await
            .map_err(read_failed)?;
        let url = release.url()?;
        let work = async {
            backup::restore(&plan, options, url, &release.application_name, pg_dump)
                .await
                .exit(Exit::BackupFailed)
        };
        guarded(
            release,
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
            backup_file: Some(args.file.display().to_string()),
            outcome: "ok".to_owned(),
        }
        .entry(release);
        record(lock.connection(), &entry).await;
        Ok((plan, version))
    }
    .await;
    release_lock(lock).await;
    let (plan, version) = result?;
    output::restored(&plan, version);
    Ok(())
}

/// A dump of another database is a usage error (exit 2); the others are refusals (exit 3).
fn refusal_failure(refusal: RestoreRefusal) -> Failure {
    let exit = match refusal {
        RestoreRefusal::OtherDatabase { .. } => Exit::Usage,
        _ => Exit::Refused,
    };
    Failure::new(exit, refusal)
}
