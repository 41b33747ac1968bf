//! `breaks-window`: expand/contract, enforced (DESIGN §12). This release declares that its
//! code runs on schema `min` as well as on `target`, so while it rolls out, code written
//! for a schema below a migration `v` with `min < v <= target` still runs against the
//! database. In such a migration a change that old code cannot survive — dropping or
//! renaming a table or column, changing a column's type, adding a NOT NULL column without
//! a default (old code's INSERTs fail) — is refused by the gate whatever the lint mode.
//! The contract step belongs in a later release whose `min` is at or above `v`.

use pg_query::NodeEnum;
use pg_query::protobuf::{AlterTableType, ColumnDef, ConstrType, ObjectType};

use super::{Hit, Rule};
use crate::config::Compat;
use crate::postgres::lint::input::{Input, last_name};

/// The rule.
pub(super) const RULE: Rule = Rule {
    id: crate::lint::BREAKS_WINDOW,
    safe: "expand now (add, backfill, keep the old); drop, rename or tighten in a later release whose window min is at or above this migration",
    check,
};

/// Who still runs on the schema before `version`: the releases whose window ends below
/// it but inside this release's window, or else this release's own `min`.
fn still_running(compat: &Compat, version: i64) -> String {
    let min = compat.window.min;
    let releases: Vec<String> = compat
        .releases
        .iter()
        .filter(|r| r.window.max < version && r.window.max >= min)
        .map(|r| format!("v{} (schema {}..{})", r.version, r.window.min, r.window.max))
        .collect();
    if releases.is_empty() {
        format!("code on schema min {min} (this release's window)")
    } else {
        format!("release {}", releases.join(", "))
    }
}

/// Whether an added column is NOT NULL without a default (or identity or generation).
fn not_null_without_default(column: &ColumnDef) -> bool {
    let constraint = |kinds: &[ConstrType]| {
        column.constraints.iter().any(|c| {
            matches!(&c.node, Some(NodeEnum::Constraint(c))
                if kinds.iter().any(|k| *k as i32 == c.contype))
        })
    };
    let not_null =
        column.is_not_null || constraint(&[ConstrType::ConstrNotnull, ConstrType::ConstrPrimary]);
    let filled = column.raw_default.is_some()
        || !column.identity.is_empty()
        || !column.generated.is_empty()
        || constraint(&[
            ConstrType::ConstrDefault,
            ConstrType::ConstrIdentity,
            ConstrType::ConstrGenerated,
        ])
        || column
            .type_name
            .as_ref()
            .and_then(|t| last_name(&t.names))
            .is_some_and(|n| n.contains("serial"));
    not_null && !filled
}

/// What in `input` breaks older code, each with its statement's place.
fn breaking(input: &Input<'_>) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for statement in input.statements {
        let at = statement.range.start;
        match &statement.node {
            Some(NodeEnum::DropStmt(s)) if s.remove_type == ObjectType::ObjectTable as i32 => {
                for table in s.objects.iter().filter_map(|o| match &o.node {
                    Some(NodeEnum::List(l)) => last_name(&l.items),
                    _ => None,
                }) {
                    if !input.created.tables.contains(table) {
                        found.push((at, format!("DROP TABLE `{table}`")));
                    }
                }
            }
            Some(NodeEnum::RenameStmt(s)) if !input.created.table(s.relation.as_ref()) => {
                let table = s.relation.as_ref().map_or("?", |r| r.relname.as_str());
                match ObjectType::try_from(s.rename_type) {
                    Ok(ObjectType::ObjectTable) => {
                        found.push((at, format!("RENAME of table `{table}` to `{}`", s.newname)));
                    }
                    Ok(ObjectType::ObjectColumn) => found.push((
                        at,
                        format!(
                            "RENAME of column `{table}.{}` to `{}`",
                            s.subname, s.newname
                        ),
                    )),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    for (statement, table, cmd) in input.alter_commands() {
        let at = statement.range.start;
        match AlterTableType::try_from(cmd.subtype) {
            Ok(AlterTableType::AtDropColumn) => {
                found.push((at, format!("DROP COLUMN `{table}.{}`", cmd.name)));
            }
            Ok(AlterTableType::AtAlterColumnType) => {
                found.push((at, format!("type change of `{table}.{}`", cmd.name)));
            }
            Ok(AlterTableType::AtAddColumn) => {
                if let Some(NodeEnum::ColumnDef(column)) =
                    cmd.def.as_ref().and_then(|d| d.node.as_ref())
                    && not_null_without_default(column)
                {
                    found.push((
                        at,
                        format!("ADD COLUMN `{table}.{}` NOT NULL without DEFAULT (older code's INSERTs fail)", column.colname),
                    ));
                }
            }
            _ => {}
        }
    }
    found.sort_by_key(|(at, _)| *at);
    found
}

fn check(input: &Input<'_>) -> Vec<Hit> {
    let window = input.compat.window;
    let Some(version) = input
        .version
        .filter(|v| window.min < *v && *v <= window.target)
    else {
        return Vec::new();
    };
    let who = still_running(input.compat, version);
    breaking(input)
        .into_iter()
        .map(|(offset, what)| Hit {
            offset,
            message: format!(
                "{what} in migration {version}, inside ({}, {}] of v{}'s window: {who} still runs on the schema before it",
                window.min, window.target, input.compat.app_version
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::Compat;
    use crate::postgres::lint::rules::table::{Expect::*, check, compat};

    const CASES: &[(&str, crate::postgres::lint::rules::table::Expect)] = &[
        ("DROP TABLE projects;", Fires),
        ("ALTER TABLE projects DROP COLUMN archived_at;", Fires),
        ("ALTER TABLE projects RENAME COLUMN name TO title;", Fires),
        ("ALTER TABLE projects RENAME TO workspaces;", Fires),
        (
            "ALTER TABLE projects ALTER COLUMN name TYPE varchar(80);",
            Fires,
        ),
        (
            "ALTER TABLE projects ADD COLUMN owner bigint NOT NULL;",
            Fires,
        ),
        (
            "ALTER TABLE projects ADD COLUMN owner bigint NOT NULL DEFAULT 0;",
            Quiet,
        ),
        ("ALTER TABLE projects ADD COLUMN owner bigint;", Quiet),
        (
            "CREATE TABLE scratch (a int);\nALTER TABLE scratch DROP COLUMN a;\nDROP TABLE scratch;",
            Quiet,
        ),
        (
            "-- schemagate:allow breaks-window column unused since v1.1\nALTER TABLE projects DROP COLUMN archived_at;",
            Waived,
        ),
        (
            "-- schemagate:allow breaks-window\nALTER TABLE projects DROP COLUMN archived_at;",
            Fires,
        ),
    ];

    #[test]
    fn inside_min_to_target_breaking_changes_are_found() {
        check(super::RULE.id, 5, CASES);
    }

    #[test]
    fn at_or_below_min_nothing_older_runs_so_nothing_is_found() {
        for version in [3, 4] {
            check(super::RULE.id, version, &[("DROP TABLE projects;", Quiet)]);
        }
    }

    #[test]
    fn the_message_names_the_release_that_still_runs_or_schema_min() {
        let hits = |compat: &Compat| {
            let file = crate::lint::LintFile::new("V5__x.sql".into(), "DROP TABLE projects;");
            crate::postgres::lint::lint_file(&file, compat)
                .unwrap()
                .remove(0)
                .message
        };
        let message = hits(&compat());
        assert!(
            message.contains("release v1.3.0 (schema 3..4)"),
            "{message}"
        );
        assert!(!message.contains("1.2.0"), "{message}");
        let alone = Compat::parse(
            "c",
            "[app]\nversion = \"2.0.0\"\n[schema]\nmin = 4\nmax = 6\ntarget = 5\n",
        )
        .unwrap();
        assert!(hits(&alone).contains("schema min 4"), "{}", hits(&alone));
    }
}
