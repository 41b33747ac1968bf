//! What a SQLite database holds, described object by object in the same form as
//! PostgreSQL's ([`crate::schema`]): one line per table, column, index, foreign key, view
//! and trigger, each starting with its kind and name, so `verify`, `baseline --verify`
//! and drift compare two databases and name their differences the same way.
//!
//! Read from `sqlite_schema` and the table-valued pragmas (`pragma_table_list`,
//! `pragma_table_info`, `pragma_index_list`, `pragma_index_xinfo`,
//! `pragma_foreign_key_list`), so two tables made by different `CREATE TABLE` texts with
//! the same structure compare equal. Views and triggers are described by their SQL text,
//! which SQLite keeps as written. Left out: SQLite's internal objects (`sqlite_%`) and
//! schemagate's own tables. Not described: `CHECK` constraints and generated-column
//! expressions, which SQLite exposes only inside the table's text.

use std::collections::BTreeSet;

use rusqlite::Connection;

use super::error::SqliteError;

/// Tables schemagate itself keeps in the database.
const OWN_TABLES: [&str; 4] = [
    "refinery_schema_history",
    "schemagate_audit",
    "schemagate_fleet",
    crate::drift::TABLE,
];

/// User tables: not SQLite's, not schemagate's (`?1` is the list of those, quoted).
fn user_tables(own: &str) -> String {
    format!(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT IN ({own})"
    )
}

/// One text per object (see the module docs).
pub(crate) fn describe(connection: &Connection) -> Result<BTreeSet<String>, SqliteError> {
    let own = OWN_TABLES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let tables = user_tables(&own);
    let queries = [
        format!(
            "SELECT 'table ' || l.name || CASE WHEN l.wr THEN ' without rowid' ELSE '' END || CASE WHEN l.strict THEN ' strict' ELSE '' END \
             FROM pragma_table_list l WHERE l.schema = 'main' AND l.type = 'table' AND l.name IN ({tables})"
        ),
        format!(
            "SELECT 'column ' || t.name || '.' || c.name || ' ' || lower(c.type) || CASE WHEN c.\"notnull\" THEN ' not null' ELSE '' END \
               || coalesce(' default ' || c.dflt_value, '') || CASE WHEN c.pk > 0 THEN ' primary key ' || c.pk ELSE '' END \
             FROM ({tables}) t, pragma_table_xinfo(t.name) c"
        ),
        format!(
            "SELECT 'index ' || CASE WHEN i.origin = 'c' THEN i.name ELSE '(' || i.origin || ')' END || ' on ' || t.name || ': ' \
               || CASE WHEN i.\"unique\" THEN 'unique ' ELSE '' END || '(' \
               || (SELECT group_concat(coalesce(x.name, '<expression>') || CASE WHEN x.\"desc\" THEN ' desc' ELSE '' END \
                     || CASE WHEN x.coll <> 'BINARY' THEN ' collate ' || x.coll ELSE '' END, ', ') \
                   FROM (SELECT * FROM pragma_index_xinfo(i.name) WHERE key ORDER BY seqno) x) || ')' \
               || CASE WHEN i.partial THEN ' where: ' || (SELECT sql FROM sqlite_schema WHERE name = i.name) ELSE '' END \
             FROM ({tables}) t, pragma_index_list(t.name) i"
        ),
        format!(
            "SELECT 'foreign key ' || t.name || ' (' || group_concat(f.\"from\", ', ') || ') references ' || f.\"table\" \
               || ' (' || group_concat(coalesce(f.\"to\", '<primary key>'), ', ') || ') on update ' || lower(f.on_update) \
               || ' on delete ' || lower(f.on_delete) \
             FROM ({tables}) t, pragma_foreign_key_list(t.name) f GROUP BY t.name, f.id"
        ),
        "SELECT type || ' ' || name || ': ' || sql FROM sqlite_schema WHERE type IN ('view', 'trigger') AND sql IS NOT NULL"
            .to_owned(),
    ];
    let failed = SqliteError::query("describe the schema");
    let mut objects = BTreeSet::new();
    for query in &queries {
        let mut statement = connection.prepare(query).map_err(&failed)?;
        let rows = statement
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(&failed)?;
        for row in rows {
            objects.insert(row.map_err(&failed)?);
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(sql: &str) -> BTreeSet<String> {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(sql).unwrap();
        super::super::history::ensure_table(&connection).unwrap();
        describe(&connection).unwrap()
    }

    #[test]
    fn tables_columns_indexes_keys_views_and_triggers_are_described_without_our_own() {
        let objects = described(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, age int DEFAULT 0) STRICT;\n\
             CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id) ON DELETE CASCADE);\n\
             CREATE INDEX posts_user ON posts (user_id DESC) WHERE user_id > 0;\n\
             CREATE VIEW adults AS SELECT * FROM users WHERE age >= 18;\n\
             CREATE TRIGGER no_delete BEFORE DELETE ON users BEGIN SELECT RAISE(ABORT, 'no'); END;",
        );
        let expected = [
            "column posts.id integer primary key 1",
            "column posts.user_id integer",
            "column users.age int default 0",
            "column users.email text not null",
            "column users.id integer primary key 1",
            "foreign key posts (user_id) references users (id) on update no action on delete cascade",
            "index posts_user on posts: (user_id desc) where: CREATE INDEX posts_user ON posts (user_id DESC) WHERE user_id > 0",
            "index (u) on users: unique (email)",
            "table posts",
            "table users strict",
            "trigger no_delete: CREATE TRIGGER no_delete BEFORE DELETE ON users BEGIN SELECT RAISE(ABORT, 'no'); END",
            "view adults: CREATE VIEW adults AS SELECT * FROM users WHERE age >= 18",
        ];
        assert_eq!(objects, expected.iter().map(|s| s.to_string()).collect());
    }

    #[test]
    fn the_same_structure_written_differently_compares_equal_and_a_change_is_named() {
        let a = described("CREATE TABLE t (a INTEGER NOT NULL, b TEXT);");
        let b = described("create table \"t\"(\n  a integer not null,\n  b text\n)");
        assert_eq!(a, b);
        let c = described("CREATE TABLE t (a INTEGER NOT NULL, b TEXT, c BLOB);");
        assert_eq!(
            crate::schema::differences(&a, &c),
            ["extra: column t.c blob"]
        );
    }
}
