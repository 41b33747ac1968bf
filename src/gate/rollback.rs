//! `--rollback-to`: validate the whole path before taking the lock, print the plan, then
//! under the lock back up and run the downs newest first (DESIGN §5, STYLE 7).

use std::path::Path;
use std::time::Instant;

use super::builder::Gate;
use super::error::{Error, Exit};
use super::event::Event;
use super::locked::release_lock;
use super::recipe::{self, Prepared, Recipe};
use super::steps::execute;
use super::verdicts::Verdicts;
use crate::backup::{self, Origin};
use crate::config::{Compat, parse_version};
use crate::engine::{Lock, Session};
use crate::fleet;
use crate::plan::{self, Plan, RollbackRefusal, highest_applied};

/// Where a rollback goes: a schema version, or the window of an earlier release.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A schema version.
    Version(i64),
    /// An earlier release from `[[releases]]`.
    Release(crate::config::KnownRelease),
}

/// Reads `5`, `v1.3.0` or `1.3.0`; an unknown release is a usage error listing the known ones.
fn parse_target(text: &str, compat: &Compat) -> Result<Target, Error> {
    if let Ok(version) = text.parse::<i64>() {
        return if version >= 0 {
            Ok(Target::Version(version))
        } else {
            Err(Error::new(Exit::Usage, TargetError::Negative(version)))
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
        Error::new(
            Exit::Usage,
            TargetError::Unreadable {
                text: text.to_owned(),
                reason: e.to_string(),
                known: known(),
            },
        )
    })?;
    compat
        .release(&version)
        .cloned()
        .map(Target::Release)
        .ok_or_else(|| {
            Error::new(
                Exit::Usage,
                TargetError::UnknownRelease {
                    version: version.clone(),
                    compat: compat.origin.clone(),
                    known: known(),
                },
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
fn refused(refusal: RollbackRefusal, backup_dir: &Path, origin: Option<&Origin>) -> Error {
    match refusal {
        RollbackRefusal::AboveCurrent { .. } => Error::new(Exit::Usage, refusal),
        RollbackRefusal::Irreversible { version, .. } => {
            let advice = restore_advice(backup_dir, origin, version);
            Error::new(Exit::Refused, Irreversible { advice, refusal })
        }
        _ => Error::new(Exit::Refused, refusal),
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

impl Gate {
    /// DESTRUCTIVE: `--rollback-to` a schema version (`5`) or a release (`v1.3.0`) with
    /// the down migrations, after a backup, printing the plan; a dry run changes nothing.
    pub async fn rollback_to(&self, target: &str) -> Result<(), Error> {
        rollback(self, target).await
    }
}

/// Runs `--rollback-to`; with `dry_run`, prints the plan and every verdict, takes no lock
/// and changes nothing.
async fn rollback(gate: &Gate, target_text: &str) -> Result<(), Error> {
    let target = parse_target(target_text, &gate.release.compat)?;
    let client = gate.connect().await?;
    let applied = client.applied().await?;
    let current = highest_applied(&applied);
    let Some(version) = resolve(&target, current) else {
        gate.tell(Event::NothingToDo(&format!(
            "schema {current} is inside the window of {target_text}"
        )));
        return Ok(());
    };
    let origin = client.origin().await.ok();
    let refused = |refusal| refused(refusal, &gate.settings.backup.dir, origin.as_ref());
    let plan = plan::rollback(&gate.release.catalogue, &applied, version).map_err(refused)?;
    super::lint::certain_failures(gate, &plan)?;
    gate.tell(Event::Plan {
        plan: &plan,
        compat: &gate.release.compat,
        limits: gate.settings.limits,
    });
    if !plan.is_empty() {
        let backup = &gate.settings.backup;
        gate.tell(Event::BackupIntent {
            skip: backup.skip,
            kind: gate.engine()?.backup_kind(),
            dir: &backup.dir,
            schema_version: current,
        });
    }
    if gate.settings.dry_run {
        return preview(gate, client.as_ref(), &plan).await;
    }
    if plan.is_empty() {
        return Ok(());
    }
    let mut lock = gate.take_lock(client).await?;
    let goal = Goal {
        version,
        origin: origin.as_ref(),
    };
    let result = rollback_locked(gate, lock.as_mut(), &goal).await;
    release_lock(lock).await;
    result
}

/// A rollback's dry run, after its plan: the verdicts the real run would meet before its
/// backup, without the lock, ending with the first refusal as the real run would.
async fn preview(gate: &Gate, client: &dyn Session, plan: &Plan) -> Result<(), Error> {
    if plan.is_empty() {
        return Verdicts::new(gate).end();
    }
    super::verdicts::preview_change(gate, client, fleet::Change::from(plan), Some(plan)).await
}

/// Where a resolved rollback goes.
struct Goal<'a> {
    /// The schema version to end at.
    version: i64,
    /// The database (and server), to advise a backup of its own.
    origin: Option<&'a Origin>,
}

/// Under the lock: plan again (another instance may have moved the schema while we
/// waited), then run the downs.
async fn rollback_locked<'l>(
    gate: &Gate,
    lock: &'l mut dyn Lock,
    goal: &Goal<'_>,
) -> Result<(), Error> {
    let (version, origin) = (goal.version, goal.origin);
    let applied = lock.session().applied().await?;
    let plan = plan::rollback(&gate.release.catalogue, &applied, version)
        .map_err(|refusal| refused(refusal, &gate.settings.backup.dir, origin))?;
    if plan.is_empty() {
        gate.tell(Event::NothingToDo(&format!(
            "schema already at {}",
            plan.current
        )));
        return Ok(());
    }
    let started = Instant::now();
    let recipe = Recipe {
        action: "rollback",
        change: fleet::Change::from(&plan),
        backup_of: plan.current,
        admitted: None,
        plan: Some(&plan),
        prune: true,
        one_transaction: false,
    };
    let plan_ref = &plan;
    let act = |lock: &'l mut dyn Lock, prepared: Prepared| async move {
        let done = execute(gate, lock, plan_ref, &prepared, &mut |_, _| {}).await;
        (done, lock)
    };
    recipe::change(gate, lock, recipe, act).await?;
    gate.tell(Event::RolledBack {
        from: plan.current,
        to: plan.target,
        took: started.elapsed(),
    });
    Ok(())
}

/// A `--rollback-to` that names nothing to roll back to (exit 2).
#[derive(Debug, thiserror::Error)]
enum TargetError {
    #[error("--rollback-to {0}: a schema version is 0 or more")]
    Negative(i64),
    #[error(
        "--rollback-to {text:?} is neither a schema version nor a release ({reason}); known releases: {known}"
    )]
    Unreadable {
        text: String,
        reason: String,
        known: String,
    },
    #[error("release v{version} is not in [[releases]] of {compat}; known releases: {known}")]
    UnknownRelease {
        version: semver::Version,
        compat: String,
        known: String,
    },
}

/// A rollback through an irreversible step, with the backup to restore instead.
#[derive(Debug, thiserror::Error)]
#[error("{advice}")]
struct Irreversible {
    advice: String,
    #[source]
    refusal: RollbackRefusal,
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
        assert_eq!(unknown.exit(), Exit::Usage);
        assert!(unknown.to_string().contains("known releases: v1.3.0"));
        assert_eq!(
            parse_target("-1", &compat()).unwrap_err().exit(),
            Exit::Usage
        );
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
