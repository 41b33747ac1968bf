//! Whether a change may be made: SQLite's counterpart of refusing a standby. A database
//! opened with `mode=ro`, or one SQLite could open only for reading (the file is not
//! writable for this user, or on a read-only mount), would fail at the first write of the
//! first step, after the backup; it is refused before, with nothing changed.

use rusqlite::Connection;

use super::url::{Location, Mode};

/// The database cannot take the change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NotWritable {
    /// `mode=ro` in the URL.
    #[error(
        "{location} is opened read-only (mode=ro): nothing was changed; drop mode=ro from the URL to let schemagate change it"
    )]
    ReadOnlyMode {
        /// The URL, as shown.
        location: String,
    },
    /// SQLite opened the file read-only.
    #[error(
        "{location} can only be read by this process (file or mount not writable): nothing was changed; let this user write the file and its directory"
    )]
    ReadOnlyFile {
        /// The URL, as shown.
        location: String,
    },
}

/// Refuses a change to a database this connection cannot write.
pub(crate) fn writable(connection: &Connection, location: &Location) -> Result<(), NotWritable> {
    if location.mode == Mode::ReadOnly {
        return Err(NotWritable::ReadOnlyMode {
            location: location.to_string(),
        });
    }
    // An error asking is treated as writable: the step itself will say what is wrong.
    if connection.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
        return Err(NotWritable::ReadOnlyFile {
            location: location.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::OpenFlags;

    #[test]
    fn mode_ro_and_a_read_only_connection_refuse_and_rwc_accepts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let connection = Connection::open(&path).unwrap();
        let at = |mode| Location {
            path: path.clone(),
            mode,
        };
        writable(&connection, &at(Mode::Create)).unwrap();
        let refused = writable(&connection, &at(Mode::ReadOnly)).unwrap_err();
        assert!(refused.to_string().contains("mode=ro"), "{refused}");
        // What SQLite falls back to when the file cannot be opened for writing.
        let reader = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        assert!(matches!(
            writable(&reader, &at(Mode::Write)),
            Err(NotWritable::ReadOnlyFile { .. })
        ));
    }
}
