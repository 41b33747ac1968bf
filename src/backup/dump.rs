//! What every engine's backup shares: the file in flight (`.<name>.partial`, locked while
//! written, removed on every failure and by the next backup once its writer died), the
//! backup directory's creation and fsync, and the time in names.

use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;

use super::BackupError;
use super::manifest;

/// How long a partial file must have gone unwritten before it may be a dead run's: a writer
/// locks its file right after creating it, so an unlocked file this old has no writer.
const STALE_AFTER: Duration = Duration::from_secs(60);

/// Now, UTC, truncated to the millisecond the file name shows.
pub(crate) fn now_to_the_millisecond() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_millisecond(now.millisecond()).unwrap_or(now)
}

/// Creates the backup directory (and missing parents) 0700; an existing one is left as is.
pub(crate) fn create_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(BackupError::io("create the backup directory", dir))
}

/// Makes the renames in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(BackupError::io("fsync the backup directory", dir))
}

/// Removes the partial files a run killed mid-backup left (SIGKILL, OOM kill, power loss:
/// no destructor runs), so a crash-looping job does not fill the backup directory with them.
/// Only ours (`.<dump or manifest name>.partial`), only regular files, only those no live
/// process holds locked (a writer locks its file while it writes; the kernel drops the lock
/// when the process dies) and only those unwritten for [`STALE_AFTER`]. Never fails: a file
/// that cannot be checked or removed is left, and the backup goes on.
pub(crate) fn remove_stale_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(inner) = name
            .to_str()
            .and_then(|n| n.strip_prefix('.'))
            .and_then(|n| n.strip_suffix(".partial"))
        else {
            continue;
        };
        if manifest::parse_name(inner.strip_suffix(".json").unwrap_or(inner)).is_none() {
            continue;
        }
        let path = entry.path();
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let stale = metadata
            .modified()
            .ok()
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if !metadata.is_file() || !stale {
            continue;
        }
        // Held until the removal is done, so no writer can take the file meanwhile.
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        if file.try_lock().is_err() {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::warn!(
                file = %path.display(),
                bytes = metadata.len(),
                "removed a partial backup file left by an interrupted run"
            ),
            Err(error) => {
                tracing::warn!(file = %path.display(), %error, "cannot remove a stale partial backup file");
            }
        }
    }
}

/// The dump while it is written: removed on drop unless persisted, so every failure (and a
/// cancelled future) leaves no partial file behind. Locked while open, so a run that dies
/// without dropping it leaves a file the next backup knows to be abandoned.
pub(crate) struct Partial {
    path: PathBuf,
    /// Held open for its lock; PostgreSQL's dump writes through it.
    #[cfg_attr(
        not(feature = "postgres"),
        expect(dead_code, reason = "SQLite's backup only holds it for its lock")
    )]
    pub(crate) file: std::fs::File,
    persisted: bool,
}

impl Partial {
    /// Creates the file exclusively, mode 0600.
    pub(crate) fn create(path: PathBuf) -> Result<Self, BackupError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(BackupError::io("create", path.clone()))?;
        manifest::lock_while_writing(&file, &path);
        Ok(Self {
            path,
            file,
            persisted: false,
        })
    }

    /// Where it is being written.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames it to its final name.
    pub(crate) fn persist(mut self, to: &Path) -> Result<(), BackupError> {
        std::fs::rename(&self.path, to).map_err(BackupError::io("rename", self.path.clone()))?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.persisted
            && let Err(error) = std::fs::remove_file(&self.path)
        {
            tracing::warn!(file = %self.path.display(), %error, "cannot remove the partial backup");
        }
    }
}
