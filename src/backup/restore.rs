//! What a restore will do, and why it refuses before it starts; each engine's wing plans
//! and runs it (PostgreSQL's in `src/postgres/backup/restore.rs`).

use std::path::PathBuf;

use super::{Backup, Server};

/// How a restore may go beyond the exact case.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions {
    /// Restore a dump whose manifest names another database.
    pub into_other_database: bool,
    /// Leave objects outside schemas as they are, and replay none of the dump's.
    pub keep_global_objects: bool,
}

/// Why a restore refuses before it starts; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreRefusal {
    /// The dump is of another database.
    #[error(
        "{file} is a backup of database {dumped:?}{server}, not of {target:?}; nothing was changed. Point --database-url at {dumped:?}, or add --into-other-database to replace {target:?} with it"
    )]
    OtherDatabase {
        /// The dump.
        file: PathBuf,
        /// The database the manifest names.
        dumped: String,
        /// A note when the server differs too.
        server: String,
        /// The database we are connected to.
        target: String,
    },
    /// Objects outside schemas would survive the restore unchanged.
    #[error(
        "database {database} has objects outside schemas that a restore cannot make exact: {objects}; nothing was changed. Remove them first, or add --keep-global-objects to leave them as they are (the dump's own are then not replayed)",
        objects = objects.join(", ")
    )]
    GlobalObjects {
        /// The database.
        database: String,
        /// The objects, e.g. `publication app_pub`.
        objects: Vec<String>,
    },
    /// The one transaction would need more locks than the server's lock table holds.
    #[error(
        "restoring {file} takes about {needed} locks in one transaction, but the server's lock table holds {capacity} (max_locks_per_transaction {per_transaction} x (max_connections + max_prepared_transactions) {slots}); nothing was changed. Raise max_locks_per_transaction to at least {suggest} (needs a server restart) and try again"
    )]
    TooManyLocks {
        /// The dump.
        file: PathBuf,
        /// Locks the drops and the replay take.
        needed: u64,
        /// What the server can hold.
        capacity: u64,
        /// `max_locks_per_transaction`.
        per_transaction: u64,
        /// `max_connections + max_prepared_transactions`.
        slots: u64,
        /// A setting that would do.
        suggest: u64,
    },
}

/// What a restore will do.
#[derive(Debug, Clone)]
pub struct RestorePlan {
    /// The backup, its checksum verified.
    pub backup: Backup,
    /// The database it goes into.
    pub database: String,
    /// The schemas that will be dropped with everything in them.
    pub schemas: Vec<String>,
    /// Schemas kept as they are, and why.
    pub kept: Vec<(String, String)>,
    /// Extensions living in a kept schema (their entries are not replayed).
    pub kept_extensions: Vec<String>,
    /// Objects outside schemas that the restore cannot make exact.
    pub globals: Vec<String>,
    /// Whether the database has an audit trail, which the restore keeps.
    pub audit: bool,
    /// The dump's table of contents (`pg_restore --list`).
    pub list: String,
    /// Locks the transaction takes (relations dropped and created, roughly).
    pub locks_needed: u64,
    /// `max_locks_per_transaction` and `max_connections + max_prepared_transactions`.
    pub lock_table: (u64, u64),
    /// The server.
    pub server: Server,
    /// Whether the restore commits in one transaction (PostgreSQL's, SQLite's copy): a
    /// restore stopped part way, even by SIGKILL, leaves the database as it was.
    pub one_transaction: bool,
}

impl RestorePlan {
    /// Whether the restore must not start, given `options`.
    pub fn refusal(&self, options: RestoreOptions) -> Option<RestoreRefusal> {
        let manifest = &self.backup.manifest;
        if !options.into_other_database && !manifest.is_of(&self.server.origin()) {
            let server = if manifest.database == self.database {
                " on another server".to_owned()
            } else {
                String::new()
            };
            return Some(RestoreRefusal::OtherDatabase {
                file: self.backup.path.clone(),
                dumped: manifest.database.clone(),
                server,
                target: self.database.clone(),
            });
        }
        if !options.keep_global_objects && !self.globals.is_empty() {
            return Some(RestoreRefusal::GlobalObjects {
                database: self.database.clone(),
                objects: self.globals.clone(),
            });
        }
        let (per_transaction, slots) = self.lock_table;
        let capacity = per_transaction * slots;
        (self.locks_needed > capacity).then(|| RestoreRefusal::TooManyLocks {
            file: self.backup.path.clone(),
            needed: self.locks_needed,
            capacity,
            per_transaction,
            slots,
            suggest: self.locks_needed.div_ceil(slots.max(1)) * 2,
        })
    }
}
