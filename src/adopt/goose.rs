//! goose (`goose up`): `goose_db_version`, a log of applies and reverts.
//!
//! internal/dialect/dialectquery `postgres.go` creates `(id serial, version_id bigint,
//! is_applied boolean, tstamp timestamp, PRIMARY KEY(id))`; goose inserts version 0 itself
//! when it creates the table, a row per apply, and (older goose) a row with `is_applied =
//! false` per revert, while newer goose deletes the version's rows instead. For each version
//! the newest row (highest `id`) says whether it is applied, as goose's own listing reads it.
//! Each migration runs with its row in one transaction, so there is no failed state.

/// Whether the columns are goose's.
pub(crate) fn has_layout(columns: &[String]) -> bool {
    ["id", "version_id", "is_applied"]
        .iter()
        .all(|c| columns.iter().any(|have| have == c))
}
