//! golang-migrate (`migrate -database … up`): `schema_migrations` holding one row, the
//! current version and whether it is dirty.
//!
//! database/postgres `postgres.go` creates `(version bigint not null primary key, dirty
//! boolean not null)`, and `SetVersion` truncates the table and inserts the new row in one
//! transaction, so the row is the whole history: every migration up to `version` is
//! applied. `dirty = true` means the migration to `version` failed part-way; golang-migrate
//! refuses to go on until `migrate force V`. dbmate uses the same table name with other
//! columns ([`super::dbmate`]).

/// Whether the columns are golang-migrate's: a `dirty` flag beside the version.
pub(crate) fn has_layout(columns: &[String]) -> bool {
    ["version", "dirty"]
        .iter()
        .all(|c| columns.iter().any(|have| have == c))
}
