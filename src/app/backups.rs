//! Backups as commands and as the step before a change: `backup`, `restore`, and the
//! backup the gate and the rollback take under the lock (DESIGN §6).

use super::*;

/// The backup before a schema change (forward or rollback), unless `--no-backup`: exit 5
/// when it fails, so nothing is changed. Then prunes old backups; a failed prune is logged,
/// not fatal (the new backup is safe).
pub(super) async fn backup_before_change(
    release: &Release,
    args: &BackupArgs,
    client: &Client,
    schema_version: i32,
) -> Result<Option<backup::Backup>, Failure> {
    if args.no_backup {
        tracing::warn!(
            schema_version,
            "--no-backup: changing the schema WITHOUT a backup; only a restore from your own backups can undo it"
        );
        return Ok(None);
    }
    take_backup(release, args, client, schema_version)
        .await
        .map(Some)
}

/// Takes a backup and prunes old ones (exit 5 on failure).
async fn take_backup(
    release: &Release,
    args: &BackupArgs,
    client: &Client,
    schema_version: i32,
) -> Result<backup::Backup, Failure> {
    let request = backup::Request {
        client,
        url: release.url()?,
        application_name: &release.application_name,
        dir: &args.backup_dir,
        app_version: release.compat.app_version.to_string(),
        schema_version,
        pg_dump: args.pg_dump.as_deref(),
        timeout: args.backup_timeout,
    };
    let taken = backup::take(&request).await.exit(Exit::BackupFailed)?;
    let policy = backup::Retention {
        keep: args.backup_keep,
        max_age: args.backup_max_age,
    };
    if let Err(error) = backup::prune(&args.backup_dir, policy, &taken.path) {
        tracing::warn!(error = %format!("{:#}", anyhow::Error::from(error)), "pruning old backups failed");
    }
    Ok(taken)
}

/// `backup`: a backup now, under the lock, whatever `--no-backup` says.
pub(super) async fn backup_now(
    release: &Release,
    gate_args: &GateArgs,
    backup_args: &BackupArgs,
) -> Result<(), Failure> {
    let mut lock = acquire_lock(release, gate_args).await?;
    let result = async {
        let version = history::current_version(lock.client())
            .await
            .exit(Exit::Internal)?;
        take_backup(release, backup_args, lock.client(), version).await
    }
    .await;
    if let Err(error) = lock.release().await {
        tracing::warn!(%error, "releasing the migration lock failed; it is freed when the connection closes");
    }
    output::backup_taken(&result?);
    Ok(())
}

/// `restore FILE --yes`: checksum, then (under the lock) the database back to the dump.
/// Without `--yes` it prints the plan and exits 2.
pub(super) async fn restore(
    release: &Release,
    gate_args: &GateArgs,
    backup_args: &BackupArgs,
    args: &RestoreArgs,
) -> Result<(), Failure> {
    if !args.yes {
        let client = release.connect(gate_args.connect_timeout).await?;
        let plan = RestorePlan::new(&client, &args.file)
            .await
            .exit(Exit::BackupFailed)?;
        output::restore_plan(&plan);
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!("restore is destructive: nothing was changed; add --yes to do it"),
        ));
    }
    let mut lock = acquire_lock(release, gate_args).await?;
    let started = Instant::now();
    let result = async {
        let plan = RestorePlan::new(lock.client(), &args.file)
            .await
            .exit(Exit::BackupFailed)?;
        output::restore_plan(&plan);
        let from = history::current_version(lock.client())
            .await
            .exit(Exit::Internal)?;
        backup::restore(
            &plan,
            release.url()?,
            &release.application_name,
            backup_args.pg_dump.as_deref(),
        )
        .await
        .exit(Exit::BackupFailed)?;
        let version = history::current_version(lock.client())
            .await
            .exit(Exit::Internal)?;
        let entry = audit_entry(
            release,
            "restore",
            from,
            version,
            started,
            Some(args.file.display().to_string()),
            "ok".to_owned(),
        );
        record(lock.client(), &entry).await;
        Ok((plan, version))
    }
    .await;
    release_lock(lock).await;
    let (plan, version) = result?;
    output::restored(&plan, version);
    Ok(())
}
