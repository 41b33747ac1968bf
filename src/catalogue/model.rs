//! The validated catalogue: one [`Migration`] per version, sorted.

use std::ops::Range;

/// One SQL file of a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Where the file came from, as shown in messages (`migrations/V3__x.sql`).
    pub file: String,
    /// Its SQL, line endings normalised to LF.
    pub sql: String,
    /// False when a no-transaction directive opts the file out of the transaction.
    pub transactional: bool,
    /// Its own lock and statement timeouts, overriding `--ddl-lock-timeout` and
    /// `--statement-timeout`.
    pub timeouts: super::directives::Timeouts,
    /// The byte ranges in `sql` of its statements, split when first asked for: a file is
    /// read with PostgreSQL's grammar only when it is about to run, never at every start.
    pub(super) statements: Split,
}

/// A script's statements once split: derived from its SQL, so two scripts of the same SQL
/// are equal whether or not either has been split yet.
#[derive(Debug, Clone, Default)]
pub(super) struct Split(pub(super) std::sync::OnceLock<Vec<Range<usize>>>);

impl PartialEq for Split {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Split {}

impl Script {
    /// The byte ranges in `sql` of its statements, as PostgreSQL's grammar splits them, for
    /// a file that runs a statement at a time. The gate checks every file it is about to
    /// run first ([`super::check_pending`]), which splits it; a file the grammar refuses
    /// is one statement here, so the server refuses it, and nothing of it is skipped.
    pub fn statements(&self) -> &[Range<usize>] {
        self.statements.0.get_or_init(|| {
            let mut ranges = Vec::new();
            match crate::postgres::sql::read(&self.sql, &mut |statement| {
                ranges.push(statement.range)
            }) {
                Ok(_) => ranges,
                Err(_) => std::iter::once(0..self.sql.len()).collect(),
            }
        })
    }
}

/// How a migration is undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Down {
    /// The down file's SQL.
    Script(Script),
    /// The down file says `-- schemagate:irreversible`: only a restore goes back.
    Irreversible {
        /// The down file that says so.
        file: String,
    },
}

/// An up file paired with its down file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Schema version.
    pub version: i64,
    /// Name, as stored in the history.
    pub name: String,
    /// refinery's checksum of version, name and up SQL, as schemagate writes it.
    pub checksum: u64,
    /// The up file.
    pub up: Script,
    /// The down file.
    pub down: Down,
}

impl Migration {
    /// Whether a history row with this checksum is this migration: the checksum
    /// schemagate writes, or one refinery wrote in another configuration (see `checksum`).
    /// The others are computed only when the first does not match, so an up-to-date
    /// database costs one hash per migration, computed at load.
    pub fn accepts(&self, checksum: u64) -> bool {
        checksum == self.checksum
            || super::checksum::accepted(&self.name, self.version, &self.up.sql).contains(&checksum)
    }
}

/// Every migration of the release, sorted by version, versions unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    /// Where it was loaded from (`embedded` or a directory).
    pub origin: String,
    migrations: Vec<Migration>,
}

impl Catalogue {
    /// A catalogue of already validated, sorted migrations.
    pub(super) fn new(origin: String, migrations: Vec<Migration>) -> Self {
        debug_assert!(migrations.windows(2).all(|w| w[0].version < w[1].version));
        Self { origin, migrations }
    }

    /// All migrations, by version.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// The migration of a version, if the catalogue has it.
    pub fn get(&self, version: i64) -> Option<&Migration> {
        self.migrations
            .binary_search_by_key(&version, |m| m.version)
            .ok()
            .map(|i| &self.migrations[i])
    }

    /// The highest version in the catalogue; 0 when it is empty.
    pub fn latest(&self) -> i64 {
        self.migrations.last().map_or(0, |m| m.version)
    }
}
