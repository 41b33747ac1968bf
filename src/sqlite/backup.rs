//! Verified backups of a SQLite database (DESIGN §6, §17): SQLite's online backup API
//! copies the database page by page into a 0600 partial file in the backup directory
//! (consistent even while the application writes, which the API restarts around), the
//! copy is checked whole with `PRAGMA integrity_check` and must be at the schema version
//! it is named after, then hashed (SHA-256), fsynced and renamed to
//! `{file}-schema{version}-{UTC time}.sqlite`, with the same JSON manifest as a
//! PostgreSQL dump (`engine: "sqlite"`) beside it. Listing and retention are the
//! engine-neutral ones of [`crate::backup`].

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use sha2::{Digest as _, Sha256};

use super::history;
use crate::backup::dump::{
    Partial, create_dir, now_to_the_millisecond, remove_stale_partials, sync_dir,
};
use crate::backup::tools::Tool;
use crate::backup::{Backup, BackupError, Manifest, Origin, Preview, Retention, manifest};
use crate::engine::BackupRequest;

/// Pages copied per step of the backup API; between steps the application may write.
pub(crate) const PAGES_PER_STEP: std::os::raw::c_int = 4096;

/// A backup of a SQLite database failed; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CopyError {
    /// The directory, partial file, rename or manifest.
    #[error(transparent)]
    Files(#[from] BackupError),
    /// SQLite's backup API or the checks of the copy failed.
    #[error(
        "cannot {action} {file}: {source}; the partial file was removed and nothing was changed"
    )]
    Sqlite {
        /// What was being done.
        action: &'static str,
        /// The file.
        file: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The copy is not sound.
    #[error(
        "the copy {file} failed PRAGMA integrity_check ({report}); it was removed and nothing was changed"
    )]
    Corrupt {
        /// The copy.
        file: PathBuf,
        /// SQLite's report (its first lines).
        report: String,
    },
    /// The copy is not at the version the live database was at.
    #[error(
        "the copy {file} is at schema version {found}, not {expected}; it was removed and nothing was changed"
    )]
    Version {
        /// The copy.
        file: PathBuf,
        /// What the live database was at.
        expected: i64,
        /// What the copy is at.
        found: i64,
    },
}

/// What a backup is of and for.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    /// The backup directory (created 0700 when missing).
    pub(crate) dir: &'a Path,
    /// The release taking it.
    pub(crate) app_version: String,
    /// The schema version now.
    pub(crate) schema_version: i64,
}

/// Which database a SQLite backup is of: its file name (backups of `app.db` and
/// `other.db` may share a directory).
pub(crate) fn origin(database: &Path) -> Origin {
    Origin {
        database: database
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        system_identifier: None,
    }
}

/// What a backup now, then retention by `policy`, would do (`backup --dry-run`); creates,
/// writes and removes nothing.
pub(crate) fn preview(
    database: &Path,
    request: &BackupRequest<'_>,
    policy: Retention,
) -> Result<Preview, BackupError> {
    let created_at = now_to_the_millisecond();
    let origin = origin(database);
    let name = manifest::named(
        &origin.database,
        request.schema_version,
        created_at,
        "sqlite",
    );
    let path = request.dir.join(&name);
    let mut backups = crate::backup::list_of(request.dir, &origin)?;
    let new = Backup {
        path: path.clone(),
        manifest: manifest_of(
            name,
            origin,
            request.app_version.clone(),
            request.schema_version,
            created_at,
        ),
    };
    backups.insert(0, new);
    let prune = crate::backup::retention::select(&backups, policy, created_at, &path)
        .into_iter()
        .cloned()
        .collect();
    Ok(Preview {
        path,
        pg_dump: Tool {
            path: PathBuf::from("SQLite's online backup API"),
            version: format!("SQLite {}", rusqlite::version()),
        },
        prune,
    })
}

/// The manifest of a backup named `file` of `origin`, before its size, hash and duration
/// are known.
fn manifest_of(
    file: String,
    origin: Origin,
    app_version: String,
    schema_version: i64,
    created_at: time::OffsetDateTime,
) -> Manifest {
    Manifest {
        engine: "sqlite".to_owned(),
        file,
        app_version,
        schema_version,
        database: origin.database,
        created_at,
        size_bytes: 0,
        sha256: String::new(),
        duration_seconds: 0.0,
        pg_dump_version: String::new(),
        server_version: rusqlite::version().to_owned(),
        system_identifier: None,
    }
}

/// Takes a verified backup of `live` (the database at `database`), under the caller's
/// migration lock.
pub(crate) fn take(
    live: &Connection,
    database: &Path,
    request: &Request<'_>,
) -> Result<Backup, CopyError> {
    create_dir(request.dir)?;
    remove_stale_partials(request.dir);
    let started = Instant::now();
    let created_at = now_to_the_millisecond();
    let origin = origin(database);
    let name = manifest::named(
        &origin.database,
        request.schema_version,
        created_at,
        "sqlite",
    );
    let path = request.dir.join(&name);
    let partial = Partial::create(manifest::partial_path(&path))?;
    tracing::info!(file = %path.display(), "taking a backup");
    copy(live, partial.path())?;
    verify(partial.path(), request.schema_version)?;
    let (sha256, size_bytes) = digest(partial.path())?;
    std::fs::File::open(partial.path())
        .and_then(|f| f.sync_all())
        .map_err(BackupError::io("fsync", partial.path().to_owned()))?;
    partial.persist(&path)?;
    let backup = Backup {
        path,
        manifest: Manifest {
            size_bytes,
            sha256,
            duration_seconds: started.elapsed().as_secs_f64(),
            ..manifest_of(
                name,
                origin,
                request.app_version.clone(),
                request.schema_version,
                created_at,
            )
        },
    };
    if let Err(error) = backup.write_manifest() {
        let _ = std::fs::remove_file(&backup.path);
        return Err(error.into());
    }
    sync_dir(request.dir)?;
    tracing::info!(file = %backup.path.display(), size_bytes, "backup taken and verified");
    Ok(backup)
}

/// Copies `live` into the (empty, locked) file at `to` with the online backup API.
fn copy(live: &Connection, to: &Path) -> Result<(), CopyError> {
    let failed = |action| {
        move |source| CopyError::Sqlite {
            action,
            file: to.to_owned(),
            source,
        }
    };
    let mut copy = Connection::open_with_flags(to, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(failed("open"))?;
    // No journal beside the partial file: a failed copy is removed whole anyway.
    copy.pragma_update(None, "journal_mode", "OFF")
        .map_err(failed("set up"))?;
    rusqlite::backup::Backup::new(live, &mut copy)
        .and_then(|backup| backup.run_to_completion(PAGES_PER_STEP, Duration::ZERO, None))
        .map_err(failed("copy the database into"))?;
    copy.close().map_err(|(_, e)| failed("close")(e))
}

/// Checks the copy: `PRAGMA integrity_check` says `ok`, and it is at `schema_version`.
pub(crate) fn verify(file: &Path, schema_version: i64) -> Result<(), CopyError> {
    let copy =
        Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
            CopyError::Sqlite {
                action: "open",
                file: file.to_owned(),
                source,
            }
        })?;
    let report = integrity(&copy).map_err(|source| CopyError::Sqlite {
        action: "check",
        file: file.to_owned(),
        source,
    })?;
    if report != ["ok"] {
        return Err(CopyError::Corrupt {
            file: file.to_owned(),
            report: report.into_iter().take(5).collect::<Vec<_>>().join("; "),
        });
    }
    let found = history::current_version(&copy).map_err(|e| CopyError::Corrupt {
        file: file.to_owned(),
        report: e.to_string(),
    })?;
    if found != schema_version {
        return Err(CopyError::Version {
            file: file.to_owned(),
            expected: schema_version,
            found,
        });
    }
    Ok(())
}

/// The lines of `PRAGMA integrity_check` (`["ok"]` for a sound database).
fn integrity(connection: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = connection.prepare("PRAGMA integrity_check")?;
    let rows = statement.query_map([], |row| row.get(0))?;
    rows.collect()
}

/// The file's SHA-256 (hex) and size.
pub(crate) fn digest(file: &Path) -> Result<(String, u64), BackupError> {
    let mut hasher = Sha256::new();
    let mut reader = std::fs::File::open(file).map_err(BackupError::io("read", file.to_owned()))?;
    let mut buffer = vec![0; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(BackupError::io("read", file.to_owned()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrated(dir: &Path) -> (PathBuf, Connection) {
        let path = dir.join("app.db");
        let connection = Connection::open(&path).unwrap();
        history::ensure_table(&connection).unwrap();
        connection
            .execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO users (name) VALUES ('ada'), ('grace');")
            .unwrap();
        history::insert(&connection, 3, "users", 42).unwrap();
        (path, connection)
    }

    #[test]
    fn a_backup_is_a_checked_copy_with_its_manifest_and_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        let (path, live) = migrated(dir.path());
        let backups = dir.path().join("backups");
        let request = Request {
            dir: &backups,
            app_version: "v1.2.0".into(),
            schema_version: 3,
        };
        let backup = take(&live, &path, &request).unwrap();
        let name = backup
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with("app.db-schema3-") && name.ends_with(".sqlite"),
            "{name}"
        );
        let m = &backup.manifest;
        assert_eq!(
            (m.engine.as_str(), m.database.as_str(), m.schema_version),
            ("sqlite", "app.db", 3)
        );
        assert_eq!(
            digest(&backup.path).unwrap(),
            (m.sha256.clone(), m.size_bytes)
        );
        let copy = Connection::open(&backup.path).unwrap();
        let names: i64 = copy
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
            .unwrap();
        assert_eq!(names, 2);
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&backup.path)
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        let listed = crate::backup::list_of(&backups, &origin(&path)).unwrap();
        assert_eq!(listed, [backup]);
        let leftovers: Vec<_> = std::fs::read_dir(&backups)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_copy_at_another_version_or_corrupt_is_refused_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (path, live) = migrated(dir.path());
        let backups = dir.path().join("backups");
        let request = Request {
            dir: &backups,
            app_version: "v1.2.0".into(),
            schema_version: 4,
        };
        let error = take(&live, &path, &request).unwrap_err();
        assert!(
            matches!(
                error,
                CopyError::Version {
                    expected: 4,
                    found: 3,
                    ..
                }
            ),
            "{error}"
        );
        assert_eq!(std::fs::read_dir(&backups).unwrap().count(), 0);

        let garbled = dir.path().join("garbled.db");
        std::fs::copy(&path, &garbled).unwrap();
        let mut bytes = std::fs::read(&garbled).unwrap();
        let page = 4096;
        for byte in &mut bytes[page + 8..page + 200] {
            *byte = 0xA5;
        }
        std::fs::write(&garbled, bytes).unwrap();
        let error = verify(&garbled, 3).unwrap_err();
        assert!(
            matches!(error, CopyError::Corrupt { .. } | CopyError::Sqlite { .. }),
            "{error}"
        );
    }
}
