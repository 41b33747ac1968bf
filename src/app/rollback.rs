//! `--rollback-to`: validate the whole path before taking the lock, print the plan, then
//! under the lock back up and run the downs newest first (DESIGN §5, STYLE 7).

use std::path::Path;

use crate::backup::{Origin, Server};
use crate::config::{Compat, parse_version};
use crate::plan::{RollbackRefusal, current_version};

use super::*;

/// Where a rollback goes: a schema version, or the window of an earlier release.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A schema version.
    Version(i64),
    /// An earlier release from `[[releases]]`.
    Release(crate::config::Release),
}

/// Reads `5`, `v1.3.0` or `1.3.0`; an unknown release is a usage error listing the known ones.
fn parse_target(text: &str, compat: &Compat) -> Result<Target, Failure> {
    if let Ok(version) = text.parse::<i64>() {
        return if version >= 0 {
            Ok(Target::Version(version))
        } else {
            Err(Failure::new(
                Exit::Usage,
                anyhow::anyhow!("--rollback-to {version}: a schema version is 0 or more"),
            ))
        };
    }
    let known = || {
        compat
            .releases
            .iter()
            .map(|r| format!("v{}", r.version))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let version = parse_version(text).map_err(|e| {
        Failure::new(Exit::Usage, anyhow::anyhow!("--rollback-to {text:?} is neither a schema version nor a release ({e}); known releases: {}", known()))
    })?;
    compat
        .release(&version)
        .cloned()
        .map(Target::Release)
        .ok_or_else(|| {
            Failure::new(
                Exit::Usage,
                anyhow::anyhow!(
                    "release v{version} is not in [[releases]] of {}; known releases: {}",
                    compat.origin,
                    known()
                ),
            )
        })
}

/// The schema version to go to, or `None` when the current one already fits the release.
fn resolve(target: &Target, current: i64) -> Option<i64> {
    match target {
        Target::Version(version) => Some(*version),
        Target::Release(release) if release.window.contains(current) => None,
        Target::Release(release) => Some(release.window.max),
    }
}

/// Maps a refusal to its exit code; an irreversible step also names the backup of this
/// database (`origin`) to restore.
fn refused(refusal: RollbackRefusal, backup_dir: &Path, origin: Option<&Origin>) -> Failure {
    match refusal {
        RollbackRefusal::AboveCurrent { .. } => Failure::new(Exit::Usage, refusal),
        RollbackRefusal::Irreversible { version, .. } => {
            let advice = restore_advice(backup_dir, origin, version);
            Failure::new(Exit::Refused, anyhow::Error::new(refusal).context(advice))
        }
        _ => Failure::new(Exit::Refused, refusal),
    }
}

/// The backup taken before `version` was applied (the newest whose schema is below it),
/// as the exact command that restores it.
fn restore_advice(backup_dir: &Path, origin: Option<&Origin>, version: i64) -> String {
    let backups = match origin {
        Some(origin) => backup::list_of(backup_dir, origin),
        None => Ok(Vec::new()),
    };
    let before = backups.ok().and_then(|backups| {
        backups
            .into_iter()
            .find(|b| b.manifest.schema_version < version)
    });
    match before {
        Some(backup) => format!(
            "rollback refused; the backup taken before version {version} was applied is {} (schema {}, {}): restore it with `schemagate restore {} --yes` (DESTRUCTIVE: data written since is lost)",
            backup.path.display(),
            backup.manifest.schema_version,
            backup.manifest.created_at,
            backup.path.display()
        ),
        None => format!(
            "rollback refused; {} holds no backup of this database from before version {version}: restore one of your own backups",
            backup_dir.display()
        ),
    }
}

/// Runs `--rollback-to`; with `dry_run`, prints the plan and changes nothing.
pub(super) async fn rollback(
    release: &Release,
    args: &GateArgs,
    backup_args: &BackupArgs,
    target_text: &str,
) -> Result<(), Failure> {
    let target = parse_target(target_text, &release.compat)?;
    let client = release.connect(args.connect_timeout).await?;
    let applied = history::read(&client).await.map_err(read_failed)?;
    let current = current_version(&applied);
    let Some(version) = resolve(&target, current) else {
        output::nothing_to_do(&format!(
            "schema {current} is inside the window of {target_text}"
        ));
        return Ok(());
    };
    let origin = Server::query(&client).await.ok().map(|s| s.origin());
    let refused = |refusal| refused(refusal, &backup_args.backup_dir, origin.as_ref());
    let plan = plan::rollback(&release.catalogue, &applied, version).map_err(refused)?;
    output::plan(&plan, &release.compat, args.limits());
    if !plan.is_empty() {
        output::backup_intent(backup_args, current);
    }
    if args.dry_run {
        output::nothing_changed();
        return Ok(());
    }
    if plan.is_empty() {
        return Ok(());
    }
    let mut lock = take_lock(release, client, args.lock_timeout).await?;
    let goal = Goal {
        version,
        origin: origin.as_ref(),
        limits: args.limits(),
    };
    let result = rollback_locked(release, &mut lock, &goal, backup_args).await;
    release_lock(lock).await;
    result
}

/// Where a resolved rollback goes, and with which settings.
struct Goal<'a> {
    /// The schema version to end at.
    version: i64,
    /// The database (and server), to advise a backup of its own.
    origin: Option<&'a Origin>,
    /// The DDL limits of the downs.
    limits: crate::ddl::Limits,
}

/// Under the lock: plan again (another instance may have moved the schema while we
/// waited), then run the downs.
async fn rollback_locked(
    release: &Release,
    lock: &mut MigrationLock,
    goal: &Goal<'_>,
    backup_args: &BackupArgs,
) -> Result<(), Failure> {
    let (version, origin) = (goal.version, goal.origin);
    let applied = history::read(lock.client()).await.map_err(read_failed)?;
    let plan = plan::rollback(&release.catalogue, &applied, version)
        .map_err(|refusal| refused(refusal, &backup_args.backup_dir, origin))?;
    if plan.is_empty() {
        output::nothing_to_do(&format!("schema already at {}", plan.current));
        return Ok(());
    }
    let started = Instant::now();
    primary_only(lock.connection()).await?;
    let backup = backups::backup_before_change(release, backup_args, lock, plan.current).await?;
    let backup_file = backup.map(|b| b.path.display().to_string());
    execute_recorded(
        release,
        lock,
        goal.limits,
        &plan,
        backup_file,
        &mut |_, _| {},
    )
    .await?;
    output::rolled_back(plan.current, plan.target, started.elapsed());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compat() -> Compat {
        Compat::parse("c.toml", "[app]\nversion = \"1.4.0\"\n[schema]\nmin = 5\nmax = 7\n[[releases]]\nversion = \"1.3.0\"\nmin = 4\nmax = 6\n")
            .unwrap()
    }

    #[test]
    fn targets_are_versions_or_known_releases() {
        assert_eq!(parse_target("5", &compat()).unwrap(), Target::Version(5));
        let Target::Release(release) = parse_target("v1.3.0", &compat()).unwrap() else {
            panic!()
        };
        assert_eq!(release.window.max, 6);
        assert!(matches!(
            parse_target("1.3.0", &compat()),
            Ok(Target::Release(_))
        ));
        let unknown = parse_target("v1.1.0", &compat()).unwrap_err();
        assert_eq!(unknown.exit, Exit::Usage);
        assert!(unknown.error.to_string().contains("known releases: v1.3.0"));
        assert_eq!(parse_target("-1", &compat()).unwrap_err().exit, Exit::Usage);
    }

    #[test]
    fn a_release_whose_window_holds_the_schema_needs_no_rollback() {
        let Target::Release(release) = parse_target("v1.3.0", &compat()).unwrap() else {
            panic!()
        };
        let target = Target::Release(release);
        assert_eq!(resolve(&target, 6), None);
        assert_eq!(resolve(&target, 7), Some(6));
        assert_eq!(resolve(&Target::Version(3), 7), Some(3));
    }
}
