//! Restoring a verified backup over a SQLite database, under the migration lock.
//!
//! Before anything changes, the backup is checked the way it was when taken: its manifest
//! says `sqlite` and names this database, its SHA-256 matches, `PRAGMA integrity_check`
//! says `ok`. The copy back goes through SQLite's online backup API into the live
//! database, so connections the application holds see the restored database whole (the
//! API writes it under SQLite's own write lock), never a half-copied file, and `-wal`
//! files stay consistent. The audit trail survives the restore (DESIGN §18): rows written
//! after the backup was taken are put back with their ids.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::audit::{self, COLUMNS};
use super::backup::{CopyError, PAGES_PER_STEP, digest, origin, verify};
use super::history::has_table;
use crate::backup::{Backup, RestorePlan, Server};
use crate::gate::{Error, Exit};

/// A restore was refused (nothing changed) or failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RestoreError {
    /// The backup is not one of this SQLite database.
    #[error(
        "{file} is a backup of {engine} database {database}, not of the SQLite database {ours}; nothing was changed"
    )]
    Foreign {
        /// The backup.
        file: PathBuf,
        /// Its manifest's engine.
        engine: String,
        /// Its manifest's database.
        database: String,
        /// This database's file name.
        ours: String,
    },
    /// The file does not match its manifest.
    #[error(
        "{file} does not match its manifest (sha256 {found}, manifest says {expected}); it was changed or damaged after it was taken; nothing was changed"
    )]
    Checksum {
        /// The backup.
        file: PathBuf,
        /// The manifest's.
        expected: String,
        /// The file's.
        found: String,
    },
    /// The backup fails its checks.
    #[error("{0}")]
    Unsound(#[source] CopyError),
    /// The copy back, or putting the audit trail back, failed.
    #[error("cannot {action} while restoring {file}: {source}")]
    Sqlite {
        /// What was being done.
        action: &'static str,
        /// The backup.
        file: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

/// Restores `backup` over `live` (the database at `database`); see the module docs.
pub(crate) fn restore(
    live: &mut Connection,
    database: &Path,
    backup: &Backup,
) -> Result<(), RestoreError> {
    check(database, backup)?;
    let file = backup.path.clone();
    let failed = |action| {
        let file = file.clone();
        move |source| RestoreError::Sqlite {
            action,
            file,
            source,
        }
    };
    let kept = kept_audit(live).map_err(failed("read the audit trail"))?;
    let source = Connection::open_with_flags(&backup.path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(failed("open"))?;
    rusqlite::backup::Backup::new(&source, live)
        .and_then(|copy| copy.run_to_completion(PAGES_PER_STEP, Duration::ZERO, None))
        .map_err(failed("copy the backup into the database"))?;
    put_back(live, &kept).map_err(failed("put the audit trail back"))
}

/// What restoring `file` over the database at `database` will do, once the backup passed
/// every check (exit 2 for a file that is not a backup, 5 for one refused); changes
/// nothing. The PostgreSQL-only parts of the plan (schemas, table of contents, lock
/// counts) are empty.
pub(crate) fn plan(database: &Path, file: &Path) -> Result<RestorePlan, Error> {
    let backup = Backup::load(file).map_err(|e| Error::new(Exit::Usage, e))?;
    check(database, &backup).map_err(|e| Error::new(Exit::BackupFailed, e))?;
    let audit = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| has_table(&c, "schemagate_audit"))
        .unwrap_or(false);
    Ok(RestorePlan {
        one_transaction: true,
        database: backup.manifest.database.clone(),
        server: Server {
            database: backup.manifest.database.clone(),
            major: 0,
            version: rusqlite::version().to_owned(),
            system_identifier: None,
        },
        backup,
        schemas: Vec::new(),
        kept: Vec::new(),
        kept_extensions: Vec::new(),
        globals: Vec::new(),
        audit,
        list: String::new(),
        locks_needed: 0,
        lock_table: (0, 0),
    })
}

/// Refuses a backup that is not a sound one of this database.
fn check(database: &Path, backup: &Backup) -> Result<(), RestoreError> {
    let manifest = &backup.manifest;
    let ours = origin(database);
    if manifest.engine != "sqlite" || !manifest.is_of(&ours) {
        return Err(RestoreError::Foreign {
            file: backup.path.clone(),
            engine: manifest.engine.clone(),
            database: manifest.database.clone(),
            ours: ours.database,
        });
    }
    let (found, _) = digest(&backup.path).map_err(|e| RestoreError::Unsound(e.into()))?;
    if found != manifest.sha256 {
        return Err(RestoreError::Checksum {
            file: backup.path.clone(),
            expected: manifest.sha256.clone(),
            found,
        });
    }
    verify(&backup.path, manifest.schema_version).map_err(RestoreError::Unsound)
}

/// One audit row, every column as SQLite holds it.
type Row = Vec<rusqlite::types::Value>;

/// The live audit trail, to outlive the restore.
fn kept_audit(live: &Connection) -> rusqlite::Result<Vec<Row>> {
    if !has_table(live, "schemagate_audit")? {
        return Ok(Vec::new());
    }
    let mut statement = live.prepare(&format!(
        "SELECT {COLUMNS} FROM schemagate_audit ORDER BY id"
    ))?;
    let width = statement.column_count();
    let rows = statement.query_map([], |row| (0..width).map(|i| row.get(i)).collect())?;
    rows.collect()
}

/// Puts back the kept rows the restored trail lacks, with their ids, in one transaction.
fn put_back(live: &mut Connection, kept: &[Row]) -> rusqlite::Result<()> {
    if kept.is_empty() {
        return Ok(());
    }
    let transaction = live.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction.execute_batch(audit::CREATE)?;
    {
        let mut insert = transaction.prepare(&format!(
            "INSERT OR IGNORE INTO schemagate_audit ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ))?;
        for row in kept {
            insert.execute(rusqlite::params_from_iter(row))?;
        }
    }
    transaction.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::backup::{Request, take};
    use crate::sqlite::history;

    fn entry(action: &'static str) -> crate::audit::Entry {
        crate::audit::Entry {
            action,
            app_version: "v1".into(),
            from: 1,
            to: 2,
            duration: Duration::ZERO,
            backup_file: None,
            outcome: "ok".into(),
        }
    }

    fn dump(connection: &Connection) -> Vec<String> {
        let mut statement = connection
            .prepare("SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master WHERE name <> 'schemagate_audit' ORDER BY name")
            .unwrap();
        let mut lines: Vec<String> = statement
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut rows = connection
            .prepare("SELECT name FROM users ORDER BY id")
            .unwrap();
        lines.extend(
            rows.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap),
        );
        lines
    }

    #[test]
    fn a_restore_brings_back_schema_and_rows_and_keeps_the_later_audit_trail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        let mut live = Connection::open(&path).unwrap();
        history::ensure_table(&live).unwrap();
        live.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada');")
            .unwrap();
        history::insert(&live, 1, "users", 1).unwrap();
        audit::record(&live, &entry("migrate")).unwrap();
        let before = dump(&live);
        let backups = dir.path().join("b");
        let request = Request {
            dir: &backups,
            app_version: "v1".into(),
            schema_version: 1,
        };
        let backup = take(&live, &path, &request).unwrap();

        live.execute_batch("CREATE TABLE later (x); INSERT INTO users (name) VALUES ('eve');")
            .unwrap();
        history::insert(&live, 2, "later", 2).unwrap();
        audit::record(&live, &entry("rollback")).unwrap();
        // The application holds a connection of its own through the restore.
        let application = Connection::open(&path).unwrap();

        restore(&mut live, &path, &backup).unwrap();
        assert_eq!(dump(&live), before);
        assert_eq!(
            dump(&application),
            before,
            "other connections see the restored database"
        );
        assert_eq!(history::current_version(&live).unwrap(), 1);
        let actions: Vec<String> = audit::recent(&live, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect();
        assert_eq!(
            actions,
            ["rollback", "migrate"],
            "the trail written after the backup survives"
        );
    }

    #[test]
    fn a_changed_or_foreign_backup_is_refused_before_anything_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        let mut live = Connection::open(&path).unwrap();
        history::ensure_table(&live).unwrap();
        let backups = dir.path().join("b");
        let request = Request {
            dir: &backups,
            app_version: "v1".into(),
            schema_version: 0,
        };
        let mut backup = take(&live, &path, &request).unwrap();
        live.execute_batch("CREATE TABLE kept (x);").unwrap();

        let other = dir.path().join("other.db");
        let error = restore(&mut live, &other, &backup).unwrap_err();
        assert!(matches!(error, RestoreError::Foreign { .. }), "{error}");

        let mut bytes = std::fs::read(&backup.path).unwrap();
        bytes.extend_from_slice(b"tampered");
        std::fs::write(&backup.path, bytes).unwrap();
        let error = restore(&mut live, &path, &backup).unwrap_err();
        assert!(matches!(error, RestoreError::Checksum { .. }), "{error}");

        backup.manifest.engine = "postgresql".into();
        assert!(matches!(
            restore(&mut live, &path, &backup),
            Err(RestoreError::Foreign { .. })
        ));
        assert!(has_table(&live, "kept").unwrap(), "nothing was changed");
    }
}
