//! The applied history on SQLite: refinery's `refinery_schema_history` exactly as its
//! rusqlite driver makes and reads it (`version` PRIMARY KEY, `name`, `applied_on` as
//! RFC 3339 text, `checksum` as decimal text), so a refinery + rusqlite application is
//! adopted as it is and refinery can read what schemagate writes.
//!
//! refinery declares `version` `int4` unless built with `int8-versions`; SQLite stores
//! every integer in up to 8 bytes whatever the declared type, so unlike PostgreSQL there
//! is nothing to widen.

use rusqlite::{Connection, OptionalExtension as _, params};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::SqliteError;
use crate::applied::Applied;

/// refinery's table name.
const TABLE: &str = crate::applied::HISTORY_TABLE;

/// refinery's DDL (with `int8-versions`), so both tools create the same table.
const CREATE: &str = "CREATE TABLE IF NOT EXISTS refinery_schema_history(
             version int8 PRIMARY KEY,
             name VARCHAR(255),
             applied_on VARCHAR(255),
             checksum VARCHAR(255))";

/// Whether the database has a table (or view) of this name.
pub(crate) fn has_table(connection: &Connection, name: &str) -> rusqlite::Result<bool> {
    connection
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
}

/// Creates the table unless it exists; called under the migration lock.
pub(crate) fn ensure_table(connection: &Connection) -> Result<(), SqliteError> {
    connection
        .execute_batch(CREATE)
        .map_err(SqliteError::query("create refinery_schema_history"))
}

/// The applied history by version; empty when the table does not exist yet.
pub(crate) fn read(connection: &Connection) -> Result<Vec<Applied>, SqliteError> {
    let failed = SqliteError::query("read refinery_schema_history");
    if !has_table(connection, TABLE).map_err(&failed)? {
        return Ok(Vec::new());
    }
    let mut statement = connection
        .prepare(
            "SELECT version, CAST(name AS TEXT), CAST(applied_on AS TEXT), CAST(checksum AS TEXT) \
             FROM refinery_schema_history ORDER BY version",
        )
        .map_err(&failed)?;
    let rows = statement
        .query_map([], |row| {
            Ok(Applied {
                version: row.get(0)?,
                name: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                applied_on: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                checksum: row
                    .get::<_, Option<String>>(3)?
                    .and_then(|c| c.trim().parse().ok()),
            })
        })
        .map_err(&failed)?;
    rows.collect::<Result<_, _>>().map_err(failed)
}

/// The highest applied version (0 when nothing is applied), in one cheap query.
pub(crate) fn current_version(connection: &Connection) -> Result<i64, SqliteError> {
    let failed = SqliteError::query("read refinery_schema_history");
    if !has_table(connection, TABLE).map_err(&failed)? {
        return Ok(0);
    }
    connection
        .query_row(
            "SELECT coalesce(max(version), 0) FROM refinery_schema_history",
            [],
            |row| row.get(0),
        )
        .map_err(failed)
}

/// Records a migration as applied, in refinery's format, in the caller's transaction.
pub(crate) fn insert(
    connection: &Connection,
    version: i64,
    name: &str,
    checksum: u64,
) -> rusqlite::Result<()> {
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    connection
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (?1, ?2, ?3, ?4)",
            params![version, name, now, checksum.to_string()],
        )
        .map(drop)
}

/// Forgets a reverted migration, in the caller's transaction.
pub(crate) fn delete(connection: &Connection, version: i64) -> rusqlite::Result<()> {
    connection
        .execute(
            "DELETE FROM refinery_schema_history WHERE version = ?1",
            [version],
        )
        .map(drop)
}

/// Records `rows` as applied in one transaction, creating the table if it is missing
/// (`baseline` and `adopt`, under the lock, after the backup).
pub(crate) fn record_applied(
    connection: &mut Connection,
    rows: &[Applied],
) -> Result<(), SqliteError> {
    let failed = SqliteError::query("write refinery_schema_history");
    let transaction = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(&failed)?;
    transaction.execute_batch(CREATE).map_err(&failed)?;
    for row in rows {
        insert(
            &transaction,
            row.version,
            &row.name,
            row.checksum.unwrap_or_default(),
        )
        .map_err(&failed)?;
    }
    transaction.commit().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_without_the_table_has_no_history_and_gets_refinerys_table() {
        let dir = tempfile::tempdir().unwrap();
        let mut connection = Connection::open(dir.path().join("h.db")).unwrap();
        assert_eq!(read(&connection).unwrap(), []);
        assert_eq!(current_version(&connection).unwrap(), 0);
        let row = |version, name: &str| Applied {
            version,
            name: name.to_owned(),
            applied_on: String::new(),
            checksum: Some(u64::MAX),
        };
        record_applied(
            &mut connection,
            &[row(20_240_120_120_000, "big"), row(1, "first")],
        )
        .unwrap();
        let history = read(&connection).unwrap();
        assert_eq!(
            history.iter().map(|a| a.version).collect::<Vec<_>>(),
            [1, 20_240_120_120_000]
        );
        assert_eq!(history[0].checksum, Some(u64::MAX));
        OffsetDateTime::parse(&history[0].applied_on, &Rfc3339).unwrap();
        assert_eq!(current_version(&connection).unwrap(), 20_240_120_120_000);
        delete(&connection, 20_240_120_120_000).unwrap();
        assert_eq!(current_version(&connection).unwrap(), 1);
        let checksum_type: String = connection
            .query_row(
                "SELECT typeof(checksum) FROM refinery_schema_history",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            checksum_type, "text",
            "refinery parses the checksum from text"
        );
    }

    /// A database refinery itself migrated (refinery + rusqlite, as an application has
    /// it) is read as it is, and what schemagate records on top is accepted by refinery.
    #[test]
    fn a_database_migrated_by_refinery_is_read_as_it_is_and_refinery_reads_ours() {
        let files: [(&str, &[u8]); 6] = [
            (
                "V1__users.sql",
                b"CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);",
            ),
            ("V1__users.down.sql", b"DROP TABLE users;"),
            (
                "V2__posts.sql",
                b"CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER);",
            ),
            ("V2__posts.down.sql", b"DROP TABLE posts;"),
            (
                "V3__index.sql",
                b"CREATE INDEX posts_user ON posts (user_id);",
            ),
            ("V3__index.down.sql", b"DROP INDEX posts_user;"),
        ];
        let catalogue = crate::catalogue::from_static("refinery", &files).unwrap();
        let refinery_migration = |(name, sql): (&str, &[u8])| {
            refinery::Migration::unapplied(
                name.trim_end_matches(".sql"),
                std::str::from_utf8(sql).unwrap(),
            )
            .unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let mut connection = Connection::open(dir.path().join("app.db")).unwrap();
        let by_refinery: Vec<_> = [files[0], files[2]]
            .into_iter()
            .map(refinery_migration)
            .collect();
        refinery::Runner::new(&by_refinery)
            .run(&mut connection)
            .unwrap();

        let history = read(&connection).unwrap();
        assert_eq!(history.len(), 2);
        for (row, migration) in history.iter().zip(catalogue.migrations()) {
            assert_eq!(
                (row.version, row.name.as_str()),
                (migration.version, migration.name.as_str())
            );
            let checksum = row.checksum.expect("refinery's checksum, read as a number");
            assert!(migration.accepts(checksum), "version {}", row.version);
            OffsetDateTime::parse(&row.applied_on, &Rfc3339).unwrap();
        }
        assert_eq!(current_version(&connection).unwrap(), 2);

        // schemagate applies version 3; refinery reads its row as one of its own (its
        // reader unwraps the time and the checksum, so a foreign format would panic). The
        // checksum is the `int8-versions` one (see catalogue::checksum), which this build
        // of refinery (int4, as tests/gate.rs needs it) would call divergent.
        let third = &catalogue.migrations()[2];
        connection.execute_batch(&third.up.sql).unwrap();
        insert(&connection, third.version, &third.name, third.checksum).unwrap();
        let read_by_refinery = refinery::Runner::new(&[])
            .get_applied_migrations(&mut connection)
            .unwrap();
        let rows: Vec<_> = read_by_refinery
            .iter()
            .map(|m| (m.version(), m.name().to_owned(), m.checksum()))
            .collect();
        assert_eq!(rows[2], (3, "index".to_owned(), third.checksum));
        assert_eq!(rows.len(), 3);
    }
}
