//! Flyway (`flyway migrate`): `flyway_schema_history`, one row per applied script, ordered
//! by `installed_rank`.
//!
//! flyway-database-postgresql `PostgreSQLDatabase.getRawCreateScript` creates
//! `installed_rank INT, version VARCHAR(50), description, type VARCHAR(20), script,
//! checksum INTEGER, installed_by, installed_on, execution_time, success BOOLEAN`. What a row
//! means depends on its `type`:
//! - `SQL` (and Java types such as `JDBC`): the version was applied; `SQL` rows carry the
//!   CRC-32 checksum of [`checksum`];
//! - `BASELINE` / `SQL_BASELINE`: the database was taken over at that version, so every
//!   version up to it counts as applied;
//! - `SCHEMA`: Flyway created the schemas; not a migration;
//! - `DELETE` (written by `flyway repair` for a missing migration) and `UNDO_*`: the version
//!   is no longer applied;
//! - a row without a version is a repeatable migration (`R__…`), which schemagate has no
//!   equivalent of: it is reported and not adopted (its objects stay as they are).
//!
//! `success = false` is a failed migration, which Flyway refuses to go past until `flyway
//! repair`.

/// Whether the columns are Flyway's.
pub(crate) fn has_layout(columns: &[String]) -> bool {
    [
        "installed_rank",
        "version",
        "type",
        "script",
        "checksum",
        "success",
    ]
    .iter()
    .all(|c| columns.iter().any(|have| have == c))
}

/// Flyway's checksum of a SQL file: CRC-32 over the UTF-8 bytes of its lines without their
/// line endings (Java's `BufferedReader.readLine`, so `\n`, `\r\n` and `\r` all end a line),
/// a leading byte-order mark dropped, as Java's signed `int` (flyway-core
/// `ChecksumCalculator.calculateChecksumForResource`). Line endings therefore never matter.
pub(crate) fn checksum(sql: &str) -> i32 {
    let text = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    let mut hasher = crc32fast::Hasher::new();
    for line in text.split(['\n', '\r']) {
        hasher.update(line.as_bytes());
    }
    i32::from_be_bytes(hasher.finalize().to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_crc32_of_the_lines_without_endings_or_bom_as_a_signed_int() {
        // python3 -c 'import zlib; print(zlib.crc32(b"CREATE TABLE t (id int);SELECT 1;"))'
        // gives 2649910505, above i32::MAX, so Java's int is 2649910505 - 2^32.
        let expected = i32::try_from(2_649_910_505_i64 - (1_i64 << 32)).unwrap();
        for text in [
            "CREATE TABLE t (id int);\nSELECT 1;\n",
            "CREATE TABLE t (id int);\r\nSELECT 1;\r\n",
            "CREATE TABLE t (id int);\rSELECT 1;",
            "\u{feff}CREATE TABLE t (id int);\n\nSELECT 1;",
        ] {
            assert_eq!(checksum(text), expected, "{text:?}");
        }
        assert_ne!(checksum("CREATE TABLE t (id int); SELECT 1;"), expected);
    }
}
