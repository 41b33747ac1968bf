//! `baseline` and `[adopt]`: taking over a database that has tables but no history
//! (see [`crate::baseline`]), as a command and as the gate's first step.

use super::*;
use crate::baseline::{self as adopt, BaselineError};
use crate::cli::BaselineArgs;

/// Refusals are exit 3, a version the catalogue lacks exit 2, anything else exit 1.
fn failure(error: BaselineError) -> Failure {
    let exit = match &error {
        BaselineError::UnknownVersion { .. } => Exit::Usage,
        BaselineError::HasHistory { .. } | BaselineError::Differs { .. } => Exit::Refused,
        BaselineError::History(e) if e.connection_lost() => Exit::Unreachable,
        _ => Exit::Internal,
    };
    Failure::new(exit, error)
}

/// `schemagate baseline --version N [--verify] [--dry-run]`.
pub(super) async fn baseline(
    release: &Release,
    gate_args: &GateArgs,
    backup_args: &BackupArgs,
    args: &BaselineArgs,
) -> Result<(), Failure> {
    adopt::check_version(&release.catalogue, args.version).map_err(failure)?;
    let mut lock = acquire_lock(release, gate_args).await?;
    let result = baseline_locked(release, &mut lock, gate_args.dry_run, backup_args, args).await;
    release_lock(lock).await;
    result
}

async fn baseline_locked(
    release: &Release,
    lock: &mut MigrationLock,
    dry_run: bool,
    backup_args: &BackupArgs,
    args: &BaselineArgs,
) -> Result<(), Failure> {
    let current = history::current_version(lock.connection())
        .await
        .map_err(read_failed)?;
    if current > 0 {
        return Err(failure(BaselineError::HasHistory { current }));
    }
    if args.verify {
        verify(release, lock, args.version).await?;
    }
    let rows = adopt::rows(&release.catalogue, args.version);
    output::baseline_intent(rows.len(), args.version, args.verify);
    if dry_run {
        output::nothing_changed();
        return Ok(());
    }
    primary_only(lock.connection()).await?;
    let backup = backups::backup_before_change(release, backup_args, lock, 0).await?;
    record_baseline(release, lock, args.version, backup.as_ref()).await?;
    output::baseline_recorded(args.version);
    Ok(())
}

/// Records the baseline and its audit entry (the caller took the backup).
pub(super) async fn record_baseline(
    release: &Release,
    lock: &mut MigrationLock,
    version: i64,
    backup: Option<&backup::Backup>,
) -> Result<(), Failure> {
    let started = Instant::now();
    adopt::record(lock.client(), &release.catalogue, version)
        .await
        .map_err(failure)?;
    let entry = Change {
        action: "baseline",
        from: 0,
        to: version,
        started,
        backup_file: backup.map(|b| b.path.display().to_string()),
        outcome: "ok".to_owned(),
    }
    .entry(release);
    record(lock.connection(), &entry).await;
    Ok(())
}

/// `--verify`: a scratch database migrated to `version` must have the same schema. The
/// scratch database is dropped on every path, a stop (exit 8) included.
async fn verify(release: &Release, lock: &MigrationLock, version: i64) -> Result<(), Failure> {
    let admin = lock.connection();
    let name = crate::scratch::create(admin).await.map_err(|source| {
        failure(BaselineError::Query {
            action: "create a scratch database (the user needs CREATEDB)",
            source,
        })
    })?;
    tracing::info!(database = %name, version, "verifying the baseline on a scratch database");
    let work = async {
        let mut scratch = db::connect_to_database(release.url()?, &release.application_name, &name)
            .await
            .exit(Exit::Unreachable)?;
        adopt::verify(admin, &mut scratch, &release.catalogue, version)
            .await
            .map_err(failure)
    };
    let result = tokio::select! {
        verified = work => verified,
        signal = release.stop.wait() => Err(stopped(signal, "while verifying the baseline", Some(0))),
    };
    crate::scratch::remove(admin, &name).await;
    result
}

/// The gate's first step on a database without a history: `None` when it is empty (fresh)
/// or has a history; the baseline version when `[adopt] baseline` takes it over (verified
/// first if asked); a refusal (exit 3) with the advice otherwise.
pub(super) async fn adoption(
    release: &Release,
    lock: &MigrationLock,
    applied: &[history::Applied],
) -> Result<Option<i64>, Failure> {
    if !applied.is_empty() {
        return Ok(None);
    }
    let objects = adopt::existing_objects(lock.connection())
        .await
        .map_err(failure)?;
    if objects.is_empty() {
        return Ok(None);
    }
    let adopt = release.compat.adopt;
    let Some(version) = adopt.baseline else {
        return Err(Failure::new(
            Exit::Refused,
            anyhow::anyhow!(
                "the database already has tables ({}) but no migration history; nothing was changed. If it is at schema N, run `schemagate baseline --version N` (add --verify to prove it first), or set [adopt] baseline = N in {}",
                shown(&objects),
                release.compat.origin
            ),
        ));
    };
    adopt::check_version(&release.catalogue, version).map_err(failure)?;
    if adopt.verify {
        verify(release, lock, version).await?;
    }
    tracing::info!(
        version,
        "[adopt] baseline: taking over the existing database"
    );
    Ok(Some(version))
}

/// The first few objects, and how many more.
fn shown(objects: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = objects
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if objects.len() > SHOWN {
        text.push_str(&format!(" and {} more", objects.len() - SHOWN));
    }
    text
}
