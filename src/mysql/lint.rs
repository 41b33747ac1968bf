//! MySQL's and MariaDB's own lint rule (DESIGN §12): `alter-copies-table`, an `ALTER
//! TABLE` of an existing table that the server may carry out by copying the table, which
//! blocks every write to it until the copy is done (InnoDB's `ALGORITHM=COPY`).
//!
//! Without an `ALGORITHM` clause the server picks the cheapest algorithm it supports for
//! the change and falls back to a copy in silence. Changing a column's definition (`MODIFY`,
//! `CHANGE`: its type, say), adding or dropping the primary key, and adding a column
//! anywhere but last (on MySQL before 8.0.29) all may copy. With `ALGORITHM=INSTANT`, or
//! `ALGORITHM=INPLACE, LOCK=NONE`, the server refuses the statement instead of copying,
//! so those are the safe forms; `ALGORITHM=COPY` or `LOCK=SHARED|EXCLUSIVE` ask for the
//! lock outright. A table created earlier in the same file is empty and is never flagged.
//!
//! Each statement is read with sqlparser's MySQL grammar; a statement it does not know
//! (routines, triggers, the odd MariaDB extension) is not judged. A waiver is the same
//! comment as PostgreSQL's (`-- schemagate:allow alter-copies-table why`); waivers of
//! rules this engine does not have are another engine's and are left alone.

use std::collections::BTreeSet;

use sqlparser::ast::{
    AlterTableAlgorithm, AlterTableLock, AlterTableOperation, ObjectName, Statement,
    TableConstraint,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::split;
use crate::lint::{Finding, LintFile};

/// The rule's id.
pub(crate) const ALTER_COPIES_TABLE: &str = "alter-copies-table";

/// What to write instead.
const SAFE: &str = "say `ALGORITHM=INSTANT` or `ALGORITHM=INPLACE, LOCK=NONE` so the server refuses rather than copies, or copy the table online (gh-ost, pt-online-schema-change)";

/// The comment that starts a waiver.
const WAIVER: &str = "-- schemagate:allow";

/// The findings of the rule in `file`, waived ones marked.
pub(crate) fn lint(file: &LintFile) -> Vec<Finding> {
    let Ok(statements) = split::split(&file.sql) else {
        // The gate refuses a file its lexer cannot cut before anything runs.
        return Vec::new();
    };
    let (waiver, mut findings) = waivers(file);
    let mut created = BTreeSet::new();
    for statement in statements {
        let text = &file.sql[statement.range.clone()];
        let Ok(parsed) = Parser::parse_sql(&MySqlDialect {}, text) else {
            continue;
        };
        for tree in parsed {
            if let Some(message) = judge(&tree, &mut created) {
                findings.push(Finding {
                    file: file.file.clone(),
                    line: usize::try_from(statement.line).unwrap_or(usize::MAX),
                    column: usize::try_from(statement.column).unwrap_or(usize::MAX),
                    rule: ALTER_COPIES_TABLE,
                    message,
                    safe: SAFE,
                    waived: waiver.clone(),
                });
            }
        }
    }
    findings
}

/// The reason of the file's waiver of the rule, and findings for waivers of it without
/// one.
fn waivers(file: &LintFile) -> (Option<String>, Vec<Finding>) {
    let mut reason = None;
    let mut bad = Vec::new();
    for comment in split::comments(&file.sql) {
        let Some(rest) = comment.text.strip_prefix(WAIVER) else {
            continue;
        };
        let rest = rest.trim();
        let (rule, why) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if rule != ALTER_COPIES_TABLE {
            continue;
        }
        if why.trim().is_empty() {
            bad.push(Finding {
                file: file.file.clone(),
                line: usize::try_from(comment.line).unwrap_or(usize::MAX),
                column: usize::try_from(comment.column).unwrap_or(usize::MAX),
                rule: "waiver",
                message: format!(
                    "waiver of `{ALTER_COPIES_TABLE}` without a reason; it waives nothing until it says why"
                ),
                safe: "`-- schemagate:allow RULE why it is safe here`",
                waived: None,
            });
        } else {
            reason = Some(why.trim().to_owned());
        }
    }
    (reason, bad)
}

/// What is wrong with one statement, if anything; remembers the tables it creates.
fn judge(statement: &Statement, created: &mut BTreeSet<String>) -> Option<String> {
    match statement {
        Statement::CreateTable(table) => {
            created.insert(key(&table.name));
            None
        }
        Statement::AlterTable {
            name, operations, ..
        } if !created.contains(&key(name)) => copies(operations).map(|what| {
            format!("ALTER TABLE {name} {what}: the server may copy the table, blocking every write to it until the copy is done")
        }),
        _ => None,
    }
}

/// How the operations of one `ALTER TABLE` may copy the table, unless they say the safe
/// form.
fn copies(operations: &[AlterTableOperation]) -> Option<String> {
    let mut algorithm = None;
    let mut lock = None;
    let mut risky = None;
    for operation in operations {
        match operation {
            AlterTableOperation::Algorithm { algorithm: a, .. } => algorithm = Some(a),
            AlterTableOperation::Lock { lock: l, .. } => lock = Some(l),
            operation => risky = risky.or_else(|| may_copy(operation)),
        }
    }
    match (algorithm, lock) {
        (Some(AlterTableAlgorithm::Copy), _) => Some("asks for ALGORITHM=COPY".to_owned()),
        (_, Some(l @ (AlterTableLock::Shared | AlterTableLock::Exclusive))) => {
            Some(format!("asks for LOCK={l}"))
        }
        (Some(AlterTableAlgorithm::Instant), _)
        | (Some(AlterTableAlgorithm::Inplace), Some(AlterTableLock::None)) => None,
        _ => risky.map(|what| {
            format!("{what} without ALGORITHM=INSTANT or ALGORITHM=INPLACE, LOCK=NONE")
        }),
    }
}

/// What an operation does that may copy the table.
fn may_copy(operation: &AlterTableOperation) -> Option<&'static str> {
    match operation {
        AlterTableOperation::ModifyColumn { .. } => Some("redefines a column (MODIFY)"),
        AlterTableOperation::ChangeColumn { .. } => Some("redefines a column (CHANGE)"),
        AlterTableOperation::AddConstraint {
            constraint: TableConstraint::PrimaryKey { .. },
            ..
        } => Some("adds a primary key"),
        AlterTableOperation::DropPrimaryKey { .. } => Some("drops the primary key"),
        AlterTableOperation::AddColumn {
            column_position: Some(_),
            ..
        } => Some("adds a column before the last (FIRST/AFTER)"),
        _ => None,
    }
}

/// A table's name as compared: unquoted parts, lower case (MySQL on Linux compares table
/// names by case, but a file rarely spells one table two ways).
fn key(name: &ObjectName) -> String {
    name.to_string().replace('`', "").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_hit(sql: &str) -> Vec<(usize, Option<String>)> {
        lint(&LintFile {
            file: "V2__x.mysql.sql".into(),
            sql: sql.into(),
            transactional: true,
            version: Some(2),
        })
        .into_iter()
        .map(|f| {
            assert_eq!(f.rule, ALTER_COPIES_TABLE, "{f}");
            (f.line, f.waived)
        })
        .collect()
    }

    #[test]
    fn alters_that_may_copy_the_table_are_found_unless_they_say_the_safe_form() {
        for (sql, hit) in [
            ("ALTER TABLE t MODIFY c BIGINT NOT NULL", true),
            ("ALTER TABLE t CHANGE c d BIGINT", true),
            ("ALTER TABLE t ADD PRIMARY KEY (id)", true),
            ("ALTER TABLE t DROP PRIMARY KEY", true),
            ("ALTER TABLE t ADD COLUMN c INT AFTER b", true),
            ("ALTER TABLE t ADD COLUMN c INT FIRST", true),
            ("ALTER TABLE t ADD COLUMN c INT, ALGORITHM=COPY", true),
            ("ALTER TABLE t ADD COLUMN c INT, LOCK=EXCLUSIVE", true),
            ("ALTER TABLE t MODIFY c BIGINT, ALGORITHM=INPLACE", true),
            (
                "ALTER TABLE t MODIFY c BIGINT, ALGORITHM=INPLACE, LOCK=NONE",
                false,
            ),
            (
                "ALTER TABLE t ADD COLUMN c INT AFTER b, ALGORITHM=INSTANT",
                false,
            ),
            ("ALTER TABLE t ADD COLUMN c INT", false),
            ("ALTER TABLE t ADD INDEX i (c)", false),
            ("ALTER TABLE t RENAME COLUMN a TO b", false),
            (
                "CREATE TABLE t (id INT); ALTER TABLE t ADD PRIMARY KEY (id)",
                false,
            ),
            ("SELECT 1", false),
        ] {
            assert_eq!(!rules_hit(sql).is_empty(), hit, "{sql}");
        }
    }

    #[test]
    fn a_finding_is_placed_on_its_statement_and_a_waiver_needs_a_reason() {
        let sql = "CREATE TABLE a (id INT);\n\nALTER TABLE `b` MODIFY c BIGINT;\n";
        assert_eq!(rules_hit(sql), [(3, None)]);
        let waived = format!("-- schemagate:allow alter-copies-table b holds 20 rows\n{sql}");
        assert_eq!(
            rules_hit(&waived),
            [(4, Some("b holds 20 rows".to_owned()))]
        );
        let other_engine = format!("-- schemagate:allow set-not-null checked\n{sql}");
        assert_eq!(rules_hit(&other_engine), [(4, None)]);
        let bare = lint(&LintFile::new(
            "V2__x.sql".into(),
            &format!("-- schemagate:allow alter-copies-table\n{sql}"),
        ));
        assert_eq!(bare[0].rule, "waiver", "{bare:?}");
        assert!(bare[1].is_active(), "{bare:?}");
    }
}
