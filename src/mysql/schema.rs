//! What a MariaDB/MySQL database holds, object by object, read from `information_schema`
//! in the same form as PostgreSQL's description (`crate::schema`): one line per object,
//! starting with its kind and name, so two databases (the live one and a scratch one the
//! catalogue built) compare as two sets and their differences are named.
//!
//! Left out: schemagate's own tables, owners (`DEFINER`), grants, auto-increment counters,
//! and the database's own name inside view definitions (a scratch database must compare
//! equal to the live one). Routine and trigger bodies are compared by their MD5.

use std::collections::BTreeSet;

use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

/// Tables schemagate keeps in the database.
const OWN_TABLES: &str = "'refinery_schema_history', 'schemagate_audit', 'schemagate_fleet', 'schemagate_restore', 'schemagate_schema'";

/// The queries, one per kind of object, each returning one text column.
///
/// The server reads an `information_schema` table from one database only when the query
/// names that database in a column it looks tables up by (`EVENT_OBJECT_SCHEMA` for
/// triggers, a table's own condition rather than a join's); otherwise it opens every table
/// of every database on the server. So each such table is read alone with `DATABASE()`
/// (the `DISTINCT` keeps the optimizer from merging it back into the join), and a
/// trigger, which always lives in its table's database, is looked up by that too.
fn queries() -> [String; 8] {
    let user_table = format!("TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT IN ({OWN_TABLES})");
    [
        format!(
            "SELECT CONCAT('table ', TABLE_NAME, ' ', IFNULL(ENGINE, '')) FROM information_schema.TABLES \
             WHERE {user_table} AND TABLE_TYPE = 'BASE TABLE'"
        ),
        format!(
            "SELECT CONCAT('column ', TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE, \
               IF(IS_NULLABLE = 'NO', ' not null', ''), \
               IF(COLUMN_DEFAULT IS NULL, '', CONCAT(' default ', COLUMN_DEFAULT)), \
               IF(EXTRA = '', '', CONCAT(' ', EXTRA)), \
               IF(IFNULL(GENERATION_EXPRESSION, '') = '', '', CONCAT(' as ', GENERATION_EXPRESSION))) \
             FROM information_schema.COLUMNS WHERE {user_table}"
        ),
        format!(
            "SELECT CONCAT('index ', TABLE_NAME, '.', INDEX_NAME, ': ', IF(NON_UNIQUE = 0, 'unique ', ''), INDEX_TYPE, ' (', \
               GROUP_CONCAT(CONCAT(COLUMN_NAME, IFNULL(CONCAT('(', SUB_PART, ')'), ''), IF(COLLATION = 'D', ' desc', '')) \
                 ORDER BY SEQ_IN_INDEX SEPARATOR ', '), ')') \
             FROM information_schema.STATISTICS WHERE {user_table} GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE"
        ),
        format!(
            "SELECT CONCAT('constraint ', k.TABLE_NAME, '.', k.CONSTRAINT_NAME, ': foreign key (', \
               GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ', '), ') references ', \
               k.REFERENCED_TABLE_NAME, ' (', GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ', '), \
               ') on update ', r.UPDATE_RULE, ' on delete ', r.DELETE_RULE) \
             FROM information_schema.KEY_COLUMN_USAGE k JOIN (SELECT DISTINCT CONSTRAINT_SCHEMA, CONSTRAINT_NAME, TABLE_NAME, \
               UPDATE_RULE, DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()) r \
               ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
             WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME NOT IN ({OWN_TABLES}) AND k.REFERENCED_TABLE_NAME IS NOT NULL \
             GROUP BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.REFERENCED_TABLE_NAME, r.UPDATE_RULE, r.DELETE_RULE"
        ),
        "SELECT CONCAT('constraint ', t.TABLE_NAME, '.', t.CONSTRAINT_NAME, ': check ', c.CHECK_CLAUSE) \
         FROM information_schema.TABLE_CONSTRAINTS t JOIN (SELECT DISTINCT CONSTRAINT_SCHEMA, CONSTRAINT_NAME, CHECK_CLAUSE \
           FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()) c \
           ON c.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA AND c.CONSTRAINT_NAME = t.CONSTRAINT_NAME \
         WHERE t.TABLE_SCHEMA = DATABASE() AND t.CONSTRAINT_TYPE = 'CHECK'"
            .to_owned(),
        "SELECT CONCAT('view ', TABLE_NAME, ': ', REPLACE(VIEW_DEFINITION, CONCAT('`', DATABASE(), '`.'), '')) \
         FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()"
            .to_owned(),
        "SELECT CONCAT('routine ', LOWER(ROUTINE_TYPE), ' ', ROUTINE_NAME, ': ', MD5(IFNULL(ROUTINE_DEFINITION, ''))) \
         FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()"
            .to_owned(),
        "SELECT CONCAT('trigger ', TRIGGER_NAME, ': ', ACTION_TIMING, ' ', EVENT_MANIPULATION, ' on ', EVENT_OBJECT_TABLE, ' ', \
           MD5(ACTION_STATEMENT)) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() \
         AND EVENT_OBJECT_SCHEMA = DATABASE()"
            .to_owned(),
    ]
}

/// One line per object of the session's database (see the module docs).
pub(crate) async fn describe(conn: &mut Conn) -> Result<BTreeSet<String>, mysql_async::Error> {
    // GROUP_CONCAT stops at 1024 bytes by default: a wide index would be cut.
    conn.query_drop("SET SESSION group_concat_max_len = 1048576")
        .await?;
    let mut objects = BTreeSet::new();
    for query in queries() {
        let rows: Vec<Option<String>> = conn.query(query).await?;
        objects.extend(rows.into_iter().flatten());
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::testing::TestDatabase;
    use crate::schema::differences;

    const SCHEMA: &str = "CREATE TABLE parent (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(40) NOT NULL DEFAULT 'x', \
          CONSTRAINT name_nonempty CHECK (name <> ''));
        CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, note TEXT, \
          CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE);
        CREATE UNIQUE INDEX child_note ON child (note(10), parent_id);
        CREATE VIEW named AS SELECT p.name FROM parent p JOIN child c ON c.parent_id = p.id;
        CREATE PROCEDURE touch() SELECT 1;
        CREATE TRIGGER child_before BEFORE INSERT ON child FOR EACH ROW SET NEW.note = LOWER(NEW.note);
        CREATE TABLE refinery_schema_history (version BIGINT PRIMARY KEY)";

    async fn described(sql: &str) -> BTreeSet<String> {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        for statement in crate::mysql::split::split(sql).unwrap() {
            conn.query_drop(&sql[statement.range]).await.unwrap();
        }
        describe(&mut conn).await.unwrap()
    }

    #[tokio::test]
    async fn every_kind_of_object_is_described_and_two_databases_alike_compare_equal() {
        let first = described(SCHEMA).await;
        for expected in [
            "table child InnoDB",
            "column parent.name varchar(40) not null default 'x'",
            "column parent.id int(11) not null auto_increment",
            "index child.child_note: unique BTREE (note(10), parent_id)",
            "constraint child.child_parent: foreign key (parent_id) references parent (id) on update RESTRICT on delete CASCADE",
            "constraint parent.name_nonempty: check `name` <> ''",
        ] {
            assert!(first.contains(expected), "{expected} not in {first:#?}");
        }
        for prefix in [
            "view named: select `p`.`name`",
            "routine procedure touch: ",
            "trigger child_before: BEFORE INSERT on child ",
        ] {
            assert!(
                first.iter().any(|o| o.starts_with(prefix)),
                "{prefix} not in {first:#?}"
            );
        }
        assert!(
            !first.iter().any(|o| o.contains("refinery_schema_history")),
            "{first:#?}"
        );
        let second = described(SCHEMA).await;
        assert_eq!(differences(&first, &second), Vec::<String>::new());
        let changed = described(&SCHEMA.replace("note TEXT", "note TEXT NOT NULL")).await;
        assert_eq!(
            differences(&first, &changed),
            [
                "missing: column child.note text default NULL",
                "extra: column child.note text not null"
            ]
        );
    }
}
