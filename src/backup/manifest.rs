//! What a backup is on disk: the dump's name, its JSON manifest beside it, and listing them.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::macros::format_description;

use super::BackupError;
use super::tools::{Origin, Tool};

/// Suffix of a manifest: `<dump file>.json`.
pub(crate) const MANIFEST_SUFFIX: &str = ".json";

/// The largest manifest read: ours are about 500 bytes.
const MAX_MANIFEST_BYTES: u64 = 64 * 1024;

/// `{db}-schema{version}-{YYYYMMDDTHHMMSS.mmm}Z.dump` (PostgreSQL) or `….sqlite` (a copy of
/// a SQLite database); milliseconds so that two backups in the same second (a backup then a
/// migration) do not collide.
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+)-schema(\d+)-(\d{8}T\d{6}\.\d{3}Z)\.(?:dump|sqlite)$").expect("a valid regex")
});

/// The engine of manifests written before there were engines.
fn postgresql() -> String {
    "postgresql".to_owned()
}

/// Everything known about a dump, written beside it as `<dump file>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The engine the backup is of (`postgresql`, `sqlite`), as `/health` names it;
    /// manifests written before there were engines are PostgreSQL's.
    #[serde(default = "postgresql")]
    pub engine: String,
    /// The dump's file name (not its path: the directory may be moved).
    pub file: String,
    /// The release that took it (`v1.4.0`).
    pub app_version: String,
    /// The highest applied schema version when it was taken.
    pub schema_version: i64,
    /// The database dumped.
    pub database: String,
    /// When the dump started (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The dump's size.
    pub size_bytes: u64,
    /// The dump's SHA-256, hex.
    pub sha256: String,
    /// How long dump and verification took.
    pub duration_seconds: f64,
    /// `pg_dump --version` (absent for an engine backed up without pg_dump).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pg_dump_version: String,
    /// The server's `server_version` (SQLite: the library's version).
    pub server_version: String,
    /// The server's system identifier (absent in manifests of older schemagate, or where
    /// the provider hides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_identifier: Option<String>,
}

impl Manifest {
    /// Whether this is a backup of `origin`: the same database name, and the same server
    /// when both sides know the server's identity.
    pub fn is_of(&self, origin: &Origin) -> bool {
        self.database == origin.database
            && match (&self.system_identifier, &origin.system_identifier) {
                (Some(ours), Some(theirs)) => ours == theirs,
                _ => true,
            }
    }

    /// The database (and server) it is a backup of.
    pub fn origin(&self) -> Origin {
        Origin {
            database: self.database.clone(),
            system_identifier: self.system_identifier.clone(),
        }
    }

    /// The release that took it, as `v1.4.0` (older manifests say `1.4.0`).
    pub fn release(&self) -> String {
        if self.app_version.starts_with('v') {
            self.app_version.clone()
        } else {
            format!("v{}", self.app_version)
        }
    }
}

/// A finished backup: the dump's path and its manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Backup {
    /// The dump file.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl Backup {
    /// Where the manifest of a dump lives.
    pub fn manifest_path(dump: &Path) -> PathBuf {
        let mut name = dump.as_os_str().to_owned();
        name.push(MANIFEST_SUFFIX);
        PathBuf::from(name)
    }

    /// Reads the manifest beside a dump (a regular file of at most 64 KiB).
    pub fn load(dump: &Path) -> Result<Self, BackupError> {
        let manifest_path = Self::manifest_path(dump);
        let text = match crate::input::read_regular(&manifest_path, MAX_MANIFEST_BYTES) {
            Ok(text) => text,
            Err(e) if e.is_not_found() => {
                return Err(BackupError::NoManifest {
                    file: dump.to_owned(),
                    manifest: manifest_path,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let manifest = serde_json::from_slice(&text).map_err(|source| BackupError::Manifest {
            path: manifest_path,
            source,
        })?;
        Ok(Self {
            path: dump.to_owned(),
            manifest,
        })
    }

    /// Writes the manifest atomically (temporary file, fsync, rename), mode 0600. The caller
    /// fsyncs the directory.
    pub(crate) fn write_manifest(&self) -> Result<(), BackupError> {
        let path = Self::manifest_path(&self.path);
        let partial = partial_path(&path);
        let json =
            serde_json::to_vec_pretty(&self.manifest).map_err(|source| BackupError::Manifest {
                path: path.clone(),
                source,
            })?;
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&partial)?;
            lock_while_writing(&file, &partial);
            file.write_all(&json)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&partial, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            BackupError::io("write the manifest", &path)(e)
        })
    }

    /// How old the backup is at `now`.
    pub fn age(&self, now: OffsetDateTime) -> std::time::Duration {
        (now - self.manifest.created_at)
            .try_into()
            .unwrap_or_default()
    }
}

/// The name of a backup of `database` at `schema_version` started at `at`, with its
/// extension (`dump` or `sqlite`). Characters other than letters, digits, `_`, `.` and `-`
/// in the database name become `_`.
pub(crate) fn named(
    database: &str,
    schema_version: i64,
    at: OffsetDateTime,
    extension: &str,
) -> String {
    let database: String = database
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let format =
        format_description!("[year][month][day]T[hour][minute][second].[subsecond digits:3]Z");
    let stamp = at
        .to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default();
    format!("{database}-schema{schema_version}-{stamp}.{extension}")
}

/// Whether a file name is one of ours, and its schema version.
pub(crate) fn parse_name(name: &str) -> Option<i64> {
    NAME.captures(name)?.get(2)?.as_str().parse().ok()
}

/// The temporary name a file is written under: `.<name>.partial` beside it.
pub(crate) fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}

/// Locks a file being written (the next backup removes an unlocked partial file as stale). A file system without locks
/// only means its partial files are never removed as stale.
pub(crate) fn lock_while_writing(file: &std::fs::File, path: &Path) {
    if let Err(error) = file.try_lock() {
        tracing::debug!(file = %path.display(), %error, "cannot lock the partial file");
    }
}

/// What a backup would do, for `--dry-run`.
#[derive(Debug)]
pub struct Preview {
    /// The file it would write.
    pub path: PathBuf,
    /// The `pg_dump` it would run.
    pub pg_dump: Tool,
    /// The backups of this database retention would then remove.
    pub prune: Vec<Backup>,
}

/// The backups of `origin` in `dir`, newest first (see [`list`]).
pub fn list_of(dir: &Path, origin: &Origin) -> Result<Vec<Backup>, BackupError> {
    let mut backups = list(dir)?;
    backups.retain(|b| b.manifest.is_of(origin));
    Ok(backups)
}

/// The backups in `dir`, of every database, newest first: well-named dumps with a readable manifest. A missing
/// directory has none; a dump whose manifest is missing or broken is skipped with a warning
/// (and so never pruned).
pub fn list(dir: &Path) -> Result<Vec<Backup>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BackupError::io("read the backup directory", dir)(e)),
    };
    let mut backups = Vec::new();
    for entry in entries {
        let entry = entry.map_err(BackupError::io("read the backup directory", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if parse_name(name).is_none() {
            continue;
        }
        match Backup::load(&entry.path()) {
            Ok(backup) => backups.push(backup),
            Err(error) => {
                tracing::warn!(file = name, error = %error, "skipping a dump without a usable manifest")
            }
        }
    }
    backups.sort_by(|a, b| {
        b.manifest
            .created_at
            .cmp(&a.manifest.created_at)
            .then_with(|| b.path.cmp(&a.path))
    });
    Ok(backups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names_carry_database_schema_version_and_utc_time_to_the_millisecond() {
        let at = datetime!(2026-01-02 03:04:05.678 +01:00);
        let name = named("app db/x", 12, at, "dump");
        assert_eq!(name, "app_db_x-schema12-20260102T020405.678Z.dump");
        assert_eq!(parse_name(&name), Some(12));
        let copy = named("app.db", 12, at, "sqlite");
        assert_eq!(copy, "app.db-schema12-20260102T020405.678Z.sqlite");
        assert_eq!(parse_name(&copy), Some(12));
        assert_eq!(
            parse_name("my-schema3-db-schema4-20260102T020405.678Z.dump"),
            Some(4)
        );
    }

    #[test]
    fn a_manifest_from_before_engines_is_postgresqls_and_keeps_its_fields() {
        let old = r#"{"file": "app-schema3-20260102T020405.678Z.dump", "app_version": "v1.0.0",
            "schema_version": 3, "database": "app", "created_at": "2026-01-02T02:04:05.678Z",
            "size_bytes": 10, "sha256": "ab", "duration_seconds": 0.5,
            "pg_dump_version": "pg_dump (PostgreSQL) 15.4", "server_version": "15.4"}"#;
        let manifest: Manifest = serde_json::from_str(old).unwrap();
        assert_eq!(manifest.engine, "postgresql");
        assert_eq!(manifest.pg_dump_version, "pg_dump (PostgreSQL) 15.4");
        let written = serde_json::to_value(&manifest).unwrap();
        assert_eq!(written["engine"], "postgresql");
        assert_eq!(written["pg_dump_version"], "pg_dump (PostgreSQL) 15.4");
    }

    #[test]
    fn foreign_files_are_not_ours() {
        for name in [
            "notes.txt",
            "app-schema1-20260102T020405Z.dump",
            ".app-schema1-20260102T020405.678Z.dump.partial",
            "app-schema1-20260102T020405.678Z.dump.json",
            "app-schemaX-20260102T020405.678Z.dump",
        ] {
            assert_eq!(parse_name(name), None, "{name}");
        }
    }

    #[test]
    fn a_manifest_sits_beside_its_dump() {
        assert_eq!(
            Backup::manifest_path(Path::new("/b/a-schema1-20260102T020405.678Z.dump")),
            Path::new("/b/a-schema1-20260102T020405.678Z.dump.json")
        );
        assert_eq!(
            partial_path(Path::new("/b/x.dump")),
            Path::new("/b/.x.dump.partial")
        );
    }
}
