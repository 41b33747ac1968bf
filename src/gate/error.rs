//! The outcome of a gate that did not succeed: one variant per documented exit code
//! (DESIGN §7), each carrying the typed error of the module that failed (sqlx's
//! `MigrateError`, STYLE 3), so a caller matches on the situation and a log shows the cause.

use std::fmt;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: unexpected internal error.
    Internal,
    /// 2: usage or configuration error (flags, compat.toml, migration files).
    Usage,
    /// 3: refused: schema outside the window, drift, or database ahead of this release.
    Refused,
    /// 4: database unreachable within the connect timeout.
    Unreachable,
    /// 5: backup failed; nothing was changed.
    BackupFailed,
    /// 6: a migration or rollback step failed.
    StepFailed,
    /// 7: migration lock not acquired within the lock timeout.
    LockTimeout,
    /// 8: stopped by SIGTERM/SIGINT before finishing; the database is at the last committed
    /// version.
    Stopped,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Internal => 1,
            Exit::Usage => 2,
            Exit::Refused => 3,
            Exit::Unreachable => 4,
            Exit::BackupFailed => 5,
            Exit::StepFailed => 6,
            Exit::LockTimeout => 7,
            Exit::Stopped => 8,
        }
    }
}

/// The cause of an [`Error`]: the failing module's own error type, which
/// [`Error::cause`] gives back for `downcast_ref` (e.g. to a `backup::BackupError`).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a gate (or any command of the library) did not succeed, by exit code.
#[derive(Debug)]
pub enum Error {
    /// Exit 1.
    Internal(Cause),
    /// Exit 2: the settings, compat.toml or the migration files.
    Usage(Cause),
    /// Exit 3: the schema, the history or the plan is refused; nothing was changed.
    Refused(Cause),
    /// Exit 4: the database did not answer in time.
    Unreachable(Cause),
    /// Exit 5: the backup before the change failed; nothing was changed.
    BackupFailed(Cause),
    /// Exit 6: a step failed (or the lock's session died); earlier steps stay applied.
    StepFailed(Cause),
    /// Exit 7: another instance held the migration lock for longer than the lock timeout.
    LockTimeout(Cause),
    /// Exit 8: stopped by a signal (or the application's stop) between steps.
    Stopped(Stopped),
}

impl Error {
    /// An error of the situation `exit`, caused by `cause`.
    pub fn new(exit: Exit, cause: impl Into<Cause>) -> Self {
        let cause = cause.into();
        match exit {
            Exit::Internal => Error::Internal(cause),
            Exit::Usage => Error::Usage(cause),
            Exit::Refused => Error::Refused(cause),
            Exit::Unreachable => Error::Unreachable(cause),
            Exit::BackupFailed => Error::BackupFailed(cause),
            Exit::StepFailed => Error::StepFailed(cause),
            Exit::LockTimeout => Error::LockTimeout(cause),
            Exit::Stopped => Error::Stopped(Stopped {
                signal: "a stop",
                when: cause.to_string(),
                at: None,
            }),
        }
    }

    /// The documented exit code of this situation.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Internal(_) => Exit::Internal,
            Error::Usage(_) => Exit::Usage,
            Error::Refused(_) => Exit::Refused,
            Error::Unreachable(_) => Exit::Unreachable,
            Error::BackupFailed(_) => Exit::BackupFailed,
            Error::StepFailed(_) => Exit::StepFailed,
            Error::LockTimeout(_) => Exit::LockTimeout,
            Error::Stopped(_) => Exit::Stopped,
        }
    }

    /// A stop's error with the schema version it left, when the engine could not know it.
    pub(crate) fn at(self, version: i64) -> Self {
        match self {
            Error::Stopped(stopped) => Error::Stopped(Stopped {
                at: stopped.at.or(Some(version)),
                ..stopped
            }),
            other => other,
        }
    }

    /// The typed error behind it.
    pub fn cause(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        match self {
            Error::Internal(cause)
            | Error::Usage(cause)
            | Error::Refused(cause)
            | Error::Unreachable(cause)
            | Error::BackupFailed(cause)
            | Error::StepFailed(cause)
            | Error::LockTimeout(cause) => cause.as_ref(),
            Error::Stopped(stopped) => stopped,
        }
    }
}

// Transparent: the message is the cause's, and so is the chain of sources after it.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.cause(), f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause().source()
    }
}

/// Exit 8: what was happening when the stop arrived, and where the schema is.
#[derive(Debug, thiserror::Error)]
#[error("stopped by {signal} {when}; {}; run again", state(*.at))]
pub struct Stopped {
    /// `SIGTERM`, `SIGINT`, or the application's stop.
    pub signal: &'static str,
    /// e.g. "while waiting for the migration lock".
    pub when: String,
    /// The schema version the database is at, when known.
    pub at: Option<i64>,
}

fn state(at: Option<i64>) -> String {
    match at {
        Some(version) => format!("the database is at schema version {version}"),
        None => "nothing was changed".to_owned(),
    }
}

/// An error and its sources, `: `-separated, as a log line shows them. A database driver's
/// error ends the chain: every error that keeps one as its source already says it,
/// described by its engine (for PostgreSQL: severity, message, SQLSTATE, detail, hint),
/// which says more than the driver's own `db error: …` that would repeat it.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source.filter(|cause| !crate::engine::route::is_driver_error(*cause)) {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Shorthand to give any error its exit code.
pub(crate) trait ExitWith<T> {
    /// Maps the error into the [`Error`] of situation `exit`.
    fn exit(self, exit: Exit) -> Result<T, Error>;
}

impl<T, E: Into<Cause>> ExitWith<T> for Result<T, E> {
    fn exit(self, exit: Exit) -> Result<T, Error> {
        self.map_err(|e| Error::new(exit, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_situation_keeps_its_exit_code_and_its_cause() {
        for exit in [
            Exit::Internal,
            Exit::Usage,
            Exit::Refused,
            Exit::Unreachable,
            Exit::BackupFailed,
            Exit::StepFailed,
            Exit::LockTimeout,
        ] {
            let error = Error::new(exit, std::io::Error::other("disk full"));
            assert_eq!(error.exit(), exit);
            assert_eq!(error.to_string(), "disk full");
            assert!(error.cause().downcast_ref::<std::io::Error>().is_some());
        }
    }

    #[test]
    fn a_stop_says_where_the_schema_is() {
        let stopped = Error::Stopped(Stopped {
            signal: "SIGTERM",
            when: "between steps".to_owned(),
            at: Some(4),
        });
        assert_eq!(stopped.exit().code(), 8);
        assert_eq!(
            stopped.to_string(),
            "stopped by SIGTERM between steps; the database is at schema version 4; run again"
        );
    }
}
