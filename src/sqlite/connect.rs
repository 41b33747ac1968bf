//! Opening the database file, and running rusqlite's blocking calls off the async runtime.
//!
//! rusqlite blocks the calling thread for the whole of a statement (a migration may take
//! minutes), so every call runs through [`Database::call`] on tokio's blocking pool, one
//! at a time per connection.
//!
//! A file that does not exist yet (`mode=rwc`) is not created by reading it: `status`,
//! `check`, `plan` and dry runs read an empty in-memory database in its place, and the
//! file is created only when a change is about to be made ([`Database::create_file`],
//! under the migration lock).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::error::SqliteError;
use super::local;
use super::url::{Location, Mode};

/// An open SQLite database, shareable between tasks.
#[derive(Debug, Clone)]
pub(crate) struct Database {
    connection: Arc<Mutex<Held>>,
    location: Arc<Location>,
    busy: Duration,
}

/// The connection, and whether it stands in for a file not created yet.
#[derive(Debug)]
struct Held {
    connection: Connection,
    stand_in: bool,
}

impl Database {
    /// Opens `location` on the blocking pool; see [`open`].
    pub(crate) async fn open(location: Location, busy: Duration) -> Result<Self, SqliteError> {
        let (held, location) = tokio::task::spawn_blocking(move || {
            let stand_in = location.mode == Mode::Create && !location.path.exists();
            let connection = if stand_in {
                local::refuse_network(&location.path)?;
                Connection::open_in_memory().map_err(|source| SqliteError::Open {
                    path: location.path.clone(),
                    source,
                })?
            } else {
                open(&location, busy)?
            };
            Ok::<_, SqliteError>((
                Held {
                    connection,
                    stand_in,
                },
                location,
            ))
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        Ok(Self {
            connection: Arc::new(Mutex::new(held)),
            location: Arc::new(location),
            busy,
        })
    }

    /// Opens (and so creates) the file in place of the empty stand-in, if this database
    /// has one; its clones use the file from then on.
    pub(crate) async fn create_file(&self) -> Result<(), SqliteError> {
        let held = Arc::clone(&self.connection);
        let location = Arc::clone(&self.location);
        let busy = self.busy;
        tokio::task::spawn_blocking(move || {
            let mut held = held.lock().unwrap_or_else(PoisonError::into_inner);
            if held.stand_in {
                held.connection = open(&location, busy)?;
                held.stand_in = false;
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// Where the database is.
    pub(crate) fn location(&self) -> &Location {
        &self.location
    }

    /// Runs `work` with the connection on the blocking pool. A panic in `work` is the
    /// caller's. The task is cancelled only when the runtime shuts down; the caller is then
    /// being dropped too, so it waits for ever rather than panicking on the way out.
    pub(crate) async fn call<T, F>(&self, work: F) -> T
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> T + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        let task = tokio::task::spawn_blocking(move || {
            let mut held = connection.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut held.connection)
        });
        match task.await {
            Ok(done) => done,
            Err(failed) => match failed.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => std::future::pending().await,
            },
        }
    }
}

/// Opens the file the way its mode says, after refusing a network file system, with
/// `busy_timeout` set so that a statement meeting the application's own write waits for
/// it (up to `busy`) rather than failing at once with `SQLITE_BUSY`.
pub(crate) fn open(location: &Location, busy: Duration) -> Result<Connection, SqliteError> {
    let path = &location.path;
    local::refuse_network(path)?;
    let flags = match location.mode {
        Mode::Create => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        Mode::Write => OpenFlags::SQLITE_OPEN_READ_WRITE,
        Mode::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
    };
    if location.mode != Mode::Create && !path.exists() {
        return Err(SqliteError::Missing {
            path: path.clone(),
            mode: location.mode.as_str(),
        });
    }
    let opened = || -> rusqlite::Result<Connection> {
        let connection =
            Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        connection.busy_timeout(busy)?;
        // Reading the schema now turns "file is not a database" into an open error.
        connection.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
        Ok(connection)
    };
    opened().map_err(|source| SqliteError::Open {
        path: path.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(path: std::path::PathBuf, mode: Mode) -> Location {
        Location { path, mode }
    }

    #[tokio::test]
    async fn rwc_creates_the_file_only_for_a_change_and_calls_run_on_the_blocking_pool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let db = Database::open(at(path.clone(), Mode::Create), Duration::from_secs(1))
            .await
            .unwrap();
        let tables: i64 = db
            .call(|c| c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(tables, 0);
        assert!(!path.exists(), "reading creates nothing");
        db.clone().create_file().await.unwrap();
        db.call(|c| c.execute_batch("CREATE TABLE t (x)"))
            .await
            .unwrap();
        let again = Database::open(at(path.clone(), Mode::Write), Duration::ZERO)
            .await
            .unwrap();
        let tables: i64 = again
            .call(|c| c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(tables, 1, "the clone's table went into the file");
        let answer = db
            .call(|c| c.query_row("SELECT 6 * 7", [], |r| r.get::<_, i64>(0)))
            .await
            .unwrap();
        assert_eq!(answer, 42);
        assert!(path.exists());
        assert_eq!(db.location().mode, Mode::Create);
    }

    #[test]
    fn rw_and_ro_refuse_a_missing_file_by_name_and_create_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.db");
        for mode in [Mode::Write, Mode::ReadOnly] {
            let error = open(&at(path.clone(), mode), Duration::ZERO).unwrap_err();
            let message = error.to_string();
            assert!(message.contains("missing.db"), "{message}");
            assert!(
                message.contains(&format!("mode={}", mode.as_str())),
                "{message}"
            );
        }
        assert!(!path.exists());
    }

    #[test]
    fn a_file_that_is_not_a_database_is_an_open_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.db");
        std::fs::write(&path, "hello, this is not SQLite at all, just some text...").unwrap();
        let error = open(&at(path, Mode::Write), Duration::ZERO).unwrap_err();
        assert!(matches!(error, SqliteError::Open { .. }), "{error:?}");
        assert!(error.to_string().contains("notes.db"), "{error}");
    }
}
