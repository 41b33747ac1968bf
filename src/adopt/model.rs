//! What another tool's history table is read into, and why adopting it can be refused.

/// A migration tool whose history `adopt --from` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// sqlx-cli / `sqlx::migrate!`: `_sqlx_migrations`.
    Sqlx,
    /// golang-migrate: `schema_migrations` with `version` and `dirty`.
    GolangMigrate,
    /// dbmate: `schema_migrations` with text versions.
    Dbmate,
    /// goose: `goose_db_version`.
    Goose,
    /// Flyway: `flyway_schema_history`.
    Flyway,
}

impl Tool {
    /// The name `--from` takes and messages use.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Sqlx => "sqlx",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Dbmate => "dbmate",
            Tool::Goose => "goose",
            Tool::Flyway => "flyway",
        }
    }

    /// The tool's history table (its default name).
    pub const fn table(self) -> &'static str {
        match self {
            Tool::Sqlx => "_sqlx_migrations",
            Tool::GolangMigrate => "schema_migrations",
            Tool::Dbmate => "schema_migrations",
            Tool::Goose => "goose_db_version",
            Tool::Flyway => "flyway_schema_history",
        }
    }
}

impl std::fmt::Display for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A checksum the tool stored, to compare with the catalogue's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// sqlx: SHA-384 of the file's SQL.
    Sha384(Vec<u8>),
    /// Flyway: CRC-32 of the file's lines, as Java's signed `int`.
    FlywayCrc32(i32),
}

/// What one row (or one version's newest row) of the tool's table says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// This version was applied.
    Applied {
        /// The stored checksum, when the tool keeps one we can recompute.
        checksum: Option<Checksum>,
    },
    /// Every version up to this one counts as applied (golang-migrate's current version,
    /// a Flyway baseline).
    UpTo {
        /// Whether the version itself is a migration the catalogue must have
        /// (golang-migrate's), rather than only a mark (a Flyway baseline).
        is_migration: bool,
    },
    /// A failed or dirty migration: the database is somewhere inside it.
    Failed {
        /// What the tool's table says (`dirty = true`, `success = false`).
        state: &'static str,
        /// How to get the tool's history clean again.
        advice: String,
    },
}

/// One version of the tool's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The version as the tool wrote it (`20240120120000`, `1.1`).
    pub label: String,
    /// The version as a number, when it is a whole number.
    pub version: Option<i64>,
    /// What the tool says about it.
    pub kind: Kind,
}

impl Entry {
    /// An entry whose version is read from the tool's text.
    pub fn parse(label: impl Into<String>, kind: Kind) -> Self {
        let label = label.into();
        let version = label.trim().parse().ok();
        Self {
            label,
            version,
            kind,
        }
    }

    /// An entry of a tool that stores versions as integers.
    pub fn number(version: i64, kind: Kind) -> Self {
        Self {
            label: version.to_string(),
            version: Some(version),
            kind,
        }
    }
}

/// The tool's history as read, in the tool's order of versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolHistory {
    /// The tool.
    pub tool: Tool,
    /// Its table.
    pub table: &'static str,
    /// What it says, one entry per version.
    pub entries: Vec<Entry>,
    /// Rows read but not adopted, with why (a Flyway repeatable migration).
    pub skipped: Vec<String>,
}

/// Why a database cannot be adopted. Every variant but the last two is a refusal: nothing
/// was changed.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    /// The tool's table is not there.
    #[error(
        "adopt --from {tool}: there is no table {table} in the database (looked up on the search_path); nothing was changed. Point --database-url at the database {tool} migrated, or name the tool that did (--from sqlx|golang-migrate|dbmate|goose|flyway)"
    )]
    NoTable {
        /// The tool asked for.
        tool: Tool,
        /// Its table.
        table: &'static str,
    },
    /// The table exists but was made by another tool.
    #[error(
        "adopt --from {asked}: {table} has {found}'s layout ({columns}), not {asked}'s; nothing was changed. Run `schemagate adopt --from {found}`"
    )]
    WrongTool {
        /// The tool asked for.
        asked: Tool,
        /// The table.
        table: &'static str,
        /// The tool whose layout it has.
        found: Tool,
        /// Its columns.
        columns: String,
    },
    /// The table has neither tool's layout.
    #[error(
        "adopt --from {tool}: {table} has columns ({columns}), which is not {tool}'s layout; nothing was changed. Check that {tool} made this table"
    )]
    UnknownLayout {
        /// The tool asked for.
        tool: Tool,
        /// The table.
        table: &'static str,
        /// Its columns.
        columns: String,
    },
    /// Our own history already has rows.
    #[error(
        "the database already has a migration history in refinery_schema_history (up to version {current}); adopt is for a database whose history is in another tool's table: nothing was changed. `schemagate status` shows where it is"
    )]
    HasHistory {
        /// Its highest applied version.
        current: i64,
    },
    /// The tool applied nothing.
    #[error(
        "{table} records no applied migration: there is nothing to adopt, nothing was changed. A database without a history is migrated by `schemagate migrate`, or taken over by `schemagate baseline --version N` if it has tables"
    )]
    NothingApplied {
        /// The table.
        table: &'static str,
    },
    /// A dirty or failed row.
    #[error(
        "{table}: version {version} is {state}: a migration failed part-way, so the schema is somewhere inside it; nothing was changed. {advice}, then run adopt again"
    )]
    Failed {
        /// The table.
        table: &'static str,
        /// The version as the tool wrote it.
        version: String,
        /// What the row says.
        state: &'static str,
        /// The tool's way out.
        advice: String,
    },
    /// A version that is not a whole number.
    #[error(
        "{table}: version {version:?} is not a whole number, and schemagate versions are; nothing was changed. Give the migration an integer version in both tools (for Flyway, V{digits}__… without dots), or baseline instead: `schemagate baseline --version N`",
        digits = version.replace(['.', '_'], "")
    )]
    NotAnInteger {
        /// The table.
        table: &'static str,
        /// The version as the tool wrote it.
        version: String,
    },
    /// An applied version the catalogue lacks.
    #[error(
        "{table}: version {version} is applied, but the catalogue {origin} has no migration {version} (it has {known}); nothing was changed. Add its file (up and down) to the migrations, with the same SQL, then run adopt again"
    )]
    UnknownVersion {
        /// The table.
        table: &'static str,
        /// The version as the tool wrote it.
        version: String,
        /// The catalogue's origin.
        origin: String,
        /// The catalogue's first and last versions.
        known: String,
    },
    /// The file differs from what the tool applied.
    #[error(
        "{table}: version {version} was applied with {tool} checksum {applied}, but {file} has {expected}; the file is not what {tool} ran, nothing was changed. Restore {file} to the SQL {tool} applied, then run adopt again"
    )]
    ChecksumMismatch {
        /// The table.
        table: &'static str,
        /// The tool.
        tool: Tool,
        /// The version.
        version: i64,
        /// The catalogue's file.
        file: String,
        /// The stored checksum, as text.
        applied: String,
        /// The file's checksum, as text.
        expected: String,
    },
    /// Catalogue migrations below the newest applied version that the tool never applied.
    #[error(
        "{table}: {files} never applied, but version {newest} is; adopting would leave a gap that `migrate` refuses as out of order, so nothing was changed. Apply them with {tool} first, or give them versions above {newest}"
    )]
    Gap {
        /// The table.
        table: &'static str,
        /// The tool.
        tool: Tool,
        /// The files never applied.
        files: String,
        /// The newest applied version.
        newest: i64,
    },
    /// A query failed.
    #[error("adopt: cannot {action}: {}", crate::postgres::db::describe(.source))]
    Query {
        /// What it was doing.
        action: &'static str,
        /// The error.
        #[source]
        source: tokio_postgres::Error,
    },
}

impl AdoptError {
    /// Whether this is a refusal (exit 3): the database and the tool's table are as they
    /// were, and the message says what to do.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            AdoptError::Query { .. } | AdoptError::WrongTool { .. }
        )
    }

    /// Refusals are exit 3, `--from` naming the other tool of `schema_migrations` exit 2, a
    /// lost connection exit 4, anything else exit 1.
    pub(crate) fn exit(&self) -> crate::gate::Exit {
        use crate::gate::Exit;
        match self {
            AdoptError::WrongTool { .. } => Exit::Usage,
            e if e.connection_lost() => Exit::Unreachable,
            e if e.is_refusal() => Exit::Refused,
            _ => Exit::Internal,
        }
    }

    /// Whether the connection was lost (exit 4).
    pub fn connection_lost(&self) -> bool {
        match self {
            AdoptError::Query { source, .. } => crate::postgres::db::connection_lost(source),
            _ => false,
        }
    }
}

/// Wraps a failed query of `action`.
pub(super) fn query(action: &'static str) -> impl FnOnce(tokio_postgres::Error) -> AdoptError {
    move |source| AdoptError::Query { action, source }
}
