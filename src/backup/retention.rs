//! Retention: after a successful backup, remove old ones by count (`--backup-keep`) and age
//! (`--backup-max-age`), but never the one just taken, never the newest backup of a schema
//! version (it is what a restore to that version needs), and never a file that is not a
//! well-named dump with a manifest (see [`super::list`]). Only the backups of the database
//! just backed up are considered: in a directory several databases share, another
//! database's backups are never counted, aged out or removed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;

use super::tools::Origin;
use super::{Backup, BackupError, list_of};

/// How many backups to keep and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// At most this many (the protected ones count, and may exceed it).
    pub keep: usize,
    /// Older ones are removed (unless protected).
    pub max_age: Duration,
}

/// Which backups to remove from `backups` (newest first) at `now`.
pub(crate) fn select<'a>(
    backups: &'a [Backup],
    policy: Retention,
    now: OffsetDateTime,
    just_taken: &Path,
) -> Vec<&'a Backup> {
    let mut newest_of_version = HashSet::new();
    backups
        .iter()
        .enumerate()
        .filter(|(index, backup)| {
            let newest = newest_of_version.insert(backup.manifest.schema_version);
            let protected = newest || backup.path == just_taken;
            !protected && (*index >= policy.keep || backup.age(now) > policy.max_age)
        })
        .map(|(_, backup)| backup)
        .collect()
}

/// The backups of `origin` in `dir` that [`prune`] would remove at `now`.
pub fn due(
    dir: &Path,
    origin: &Origin,
    policy: Retention,
    just_taken: &Path,
    now: OffsetDateTime,
) -> Result<Vec<Backup>, BackupError> {
    let backups = list_of(dir, origin)?;
    Ok(select(&backups, policy, now, just_taken)
        .into_iter()
        .cloned()
        .collect())
}

/// Removes the backups of `origin` that [`select`] picks in `dir`, logging each removal;
/// returns the removed dumps.
pub fn prune(
    dir: &Path,
    origin: &Origin,
    policy: Retention,
    just_taken: &Path,
) -> Result<Vec<PathBuf>, BackupError> {
    let now = OffsetDateTime::now_utc();
    let mut removed = Vec::new();
    for backup in due(dir, origin, policy, just_taken, now)? {
        std::fs::remove_file(&backup.path)
            .map_err(BackupError::io("remove", backup.path.clone()))?;
        let manifest = Backup::manifest_path(&backup.path);
        std::fs::remove_file(&manifest).map_err(BackupError::io("remove", manifest))?;
        tracing::info!(
            file = %backup.path.display(),
            schema_version = backup.manifest.schema_version,
            age = %humantime::format_duration(Duration::from_secs(backup.age(now).as_secs())),
            "removed an old backup (retention)"
        );
        removed.push(backup.path.clone());
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::Manifest;

    fn backup(name: &str, schema_version: i64, hours_ago: i64, now: OffsetDateTime) -> Backup {
        Backup {
            path: PathBuf::from(name),
            manifest: Manifest {
                engine: "postgresql".to_owned(),
                file: name.to_owned(),
                app_version: "1.0.0".to_owned(),
                schema_version,
                database: "app".to_owned(),
                created_at: now - time::Duration::hours(hours_ago),
                size_bytes: 1,
                sha256: String::new(),
                duration_seconds: 0.0,
                pg_dump_version: String::new(),
                server_version: String::new(),
                system_identifier: None,
            },
        }
    }

    fn names(selected: Vec<&Backup>) -> Vec<String> {
        selected.iter().map(|b| b.manifest.file.clone()).collect()
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn beyond_keep_the_oldest_go_but_the_newest_of_each_schema_version_stays() {
        let now = OffsetDateTime::now_utc();
        let all = [
            backup("e", 3, 1, now),
            backup("d", 3, 2, now),
            backup("c", 2, 3, now),
            backup("b", 2, 4, now),
            backup("a", 1, 5, now),
        ];
        let policy = Retention {
            keep: 2,
            max_age: DAY,
        };
        assert_eq!(names(select(&all, policy, now, Path::new("e"))), ["b"]);
        let keep_none = Retention { keep: 0, ..policy };
        assert_eq!(
            names(select(&all, keep_none, now, Path::new("e"))),
            ["d", "b"]
        );
    }

    #[test]
    fn old_backups_go_unless_protected() {
        let now = OffsetDateTime::now_utc();
        let all = [
            backup("c", 2, 1, now),
            backup("b", 2, 200, now),
            backup("a", 1, 300, now),
        ];
        let policy = Retention {
            keep: 10,
            max_age: DAY,
        };
        assert_eq!(names(select(&all, policy, now, Path::new("c"))), ["b"]);
    }

    #[test]
    fn the_backup_just_taken_is_never_removed() {
        let now = OffsetDateTime::now_utc();
        // Clocks move: the one just taken may not sort first.
        let all = [backup("b", 2, 1, now), backup("a", 2, 2, now)];
        let policy = Retention {
            keep: 0,
            max_age: Duration::ZERO,
        };
        assert!(select(&all, policy, now, Path::new("a")).is_empty());
    }
}
