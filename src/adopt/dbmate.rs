//! dbmate (`dbmate up`): `schema_migrations` with one row per applied version, as text.
//!
//! pkg/driver/postgres `postgres.go` creates `(version varchar(255) primary key)`, inserts
//! the version in the migration's transaction and deletes it on rollback, so every row is
//! an applied migration and there is no failed state. Versions are the file names' digits
//! (`20240120120000`) kept as text. golang-migrate uses the same table name with a `dirty`
//! column ([`super::golang_migrate`]).

/// Whether the columns are dbmate's: a version and no `dirty` flag.
pub(crate) fn has_layout(columns: &[String]) -> bool {
    columns.iter().any(|c| c == "version") && !columns.iter().any(|c| c == "dirty")
}
