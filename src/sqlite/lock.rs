//! The migration lock on SQLite: an exclusive `flock(2)` on a lock file beside the
//! database (`app.db-schemagate.lock`), so that of N processes starting together exactly
//! one changes the schema. sqlx's SQLite lock is a no-op and refinery has none; this one
//! is real.
//!
//! The kernel frees a `flock` when its holder's last descriptor closes, so a holder that
//! dies (SIGKILL, OOM, power cut of the process) frees it with nothing to clean up. The
//! holder writes who it is (pid, host, since) into the file; a waiter polls
//! [`std::fs::File::try_lock`] and names that holder while it waits and when it gives up.
//! The file is never removed: a waiter may already hold a descriptor to it, and removing
//! it would let a second process lock a second file of the same name.
//!
//! `flock` is not safe on network file systems; [`super::local`] refuses those first.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How often a waiting process tries again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How often a waiting process says who holds the lock.
const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// The largest holder text read back (ours is under 200 bytes).
const MAX_HOLDER_BYTES: u64 = 1024;

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileLockError {
    /// Another process held it for longer than the timeout.
    #[error(
        "migration lock {path} not acquired within {timeout:?}; held by {holder}; wait for it to finish, or stop it if it is stuck, then retry (or raise --lock-timeout)"
    )]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// The timeout.
        timeout: Duration,
        /// Who held it when we gave up.
        holder: String,
    },
    /// The lock file could not be opened, locked or written.
    #[error(
        "cannot use the migration lock file {path}: {source}; schemagate needs to create and write it beside the database"
    )]
    File {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The lock file of a database: `<database>-schemagate.lock` beside it.
pub(crate) fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-schemagate.lock");
    PathBuf::from(name)
}

/// The held migration lock; dropping it (or the process dying) frees it.
#[derive(Debug)]
pub(crate) struct FileLock {
    file: File,
    path: PathBuf,
    waited: Duration,
}

impl FileLock {
    /// Polls for the lock of `database` until `timeout`; while it waits, tells `waiting`
    /// who holds it at once and then every [`REPORT_INTERVAL`].
    pub(crate) async fn acquire(
        database: &Path,
        timeout: Duration,
        waiting: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Self, FileLockError> {
        let path = lock_path(database);
        let failed = |source| FileLockError::File {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(failed)?;
        let started = Instant::now();
        let mut next_report = Duration::ZERO;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(source)) => return Err(failed(source)),
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(FileLockError::Timeout {
                    holder: holder(&mut file),
                    path,
                    timeout,
                });
            }
            if waited >= next_report {
                let holder = holder(&mut file);
                tracing::info!(%holder, ?waited, "waiting for the migration lock");
                waiting(&holder);
                next_report = waited + REPORT_INTERVAL;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        write_holder(&mut file).map_err(failed)?;
        let waited = started.elapsed();
        tracing::debug!(?waited, lock = %path.display(), "migration lock acquired");
        Ok(Self { file, path, waited })
    }

    /// How long acquiring took.
    pub(crate) fn waited(&self) -> Duration {
        self.waited
    }

    /// Frees the lock, first blanking the holder so nobody is named after it left.
    pub(crate) fn release(self) -> Result<(), FileLockError> {
        let blank = self.file.set_len(0).and_then(|()| self.file.unlock());
        blank.map_err(|source| FileLockError::File {
            path: self.path.clone(),
            source,
        })
    }
}

/// Writes "pid P on host H since T" into the held lock file.
fn write_holder(file: &mut File) -> std::io::Result<()> {
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "an unknown host".to_owned());
    let since = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    writeln!(
        file,
        "pid {} on host {host} since {since}",
        std::process::id()
    )
}

/// Who holds the lock, as the holder wrote it.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let read = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.take(MAX_HOLDER_BYTES).read_to_string(&mut text));
    match read {
        Ok(_) if !text.trim().is_empty() => text.trim().to_owned(),
        Ok(_) => "a process that has not written its name yet".to_owned(),
        Err(e) => format!("an unknown process (the lock file cannot be read: {e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The environment variable that makes [`holds_the_lock_until_killed`] a lock holder.
    const HOLD: &str = "SCHEMAGATE_TEST_HOLD_SQLITE_LOCK";

    fn never(_: &str) {}

    #[tokio::test]
    async fn a_second_taker_waits_names_the_holder_and_gets_it_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("app.db");
        let held = FileLock::acquire(&database, Duration::ZERO, &mut never)
            .await
            .unwrap();
        assert_eq!(
            lock_path(&database),
            dir.path().join("app.db-schemagate.lock")
        );
        assert!(
            std::fs::read_to_string(lock_path(&database))
                .unwrap()
                .starts_with("pid ")
        );
        let mut heard = Vec::new();
        let error = FileLock::acquire(&database, Duration::from_millis(120), &mut |h| {
            heard.push(h.to_owned())
        })
        .await
        .unwrap_err();
        let pid = format!("pid {} on host ", std::process::id());
        assert!(error.to_string().contains(&pid), "{error}");
        assert!(heard[0].starts_with(&pid), "{heard:?}");
        held.release().unwrap();
        let again = FileLock::acquire(&database, Duration::ZERO, &mut never)
            .await
            .unwrap();
        assert!(again.waited() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_holder_killed_with_sigkill_frees_the_lock_for_the_waiter() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("app.db");
        let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sqlite::lock::tests::holds_the_lock_until_killed",
            ])
            .args(["--ignored", "--nocapture"])
            .env(HOLD, &database)
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let child_pid = format!("pid {} on host", child.id().unwrap());
        let lock_file = lock_path(&database);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_to_string(&lock_file).is_ok_and(|t| t.starts_with(&child_pid)) {
            assert!(Instant::now() < deadline, "the child never took the lock");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let refused = FileLock::acquire(&database, Duration::from_millis(100), &mut never)
            .await
            .unwrap_err();
        assert!(refused.to_string().contains(&child_pid), "{refused}");
        child.start_kill().unwrap(); // SIGKILL: nothing of the child runs after it
        let taken = FileLock::acquire(&database, Duration::from_secs(30), &mut never)
            .await
            .unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        let me = format!("pid {} on host", std::process::id());
        assert!(
            std::fs::read_to_string(&lock_file)
                .unwrap()
                .starts_with(&me)
        );
        taken.release().unwrap();
    }

    /// Not a test of its own: the child process of the test above, which takes the lock
    /// of the database named by [`HOLD`] and holds it until it is killed.
    #[tokio::test]
    #[ignore = "run by a_holder_killed_with_sigkill_frees_the_lock_for_the_waiter as its child"]
    async fn holds_the_lock_until_killed() {
        let database = PathBuf::from(std::env::var_os(HOLD).expect("run as a child only"));
        let _held = FileLock::acquire(&database, Duration::ZERO, &mut never)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(600)).await;
        panic!("the parent should have killed this process");
    }
}
