//! `index-not-concurrent`: `CREATE INDEX` or `DROP INDEX` without `CONCURRENTLY` on a
//! table the same migration did not create. A plain `CREATE INDEX` holds a SHARE lock that
//! blocks every write to the table for the whole build; a plain `DROP INDEX` takes ACCESS
//! EXCLUSIVE. On a table the migration just created nobody is waiting, so it is fine (and
//! imported migration sets full of plain `CREATE INDEX` install unchanged).

use pg_query::NodeEnum;
use pg_query::protobuf::ObjectType;

use super::{Hit, Rule};
use crate::postgres::lint::input::{Input, last_name};

/// The rule.
pub(super) const RULE: Rule = Rule {
    id: "index-not-concurrent",
    safe: "CREATE INDEX CONCURRENTLY (or DROP INDEX CONCURRENTLY) in a `-- schemagate:no-transaction` file",
    check,
};

fn check(input: &Input<'_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for statement in input.statements {
        match &statement.node {
            Some(NodeEnum::IndexStmt(stmt))
                if !stmt.concurrent && !input.created.table(stmt.relation.as_ref()) =>
            {
                let table = stmt.relation.as_ref().map_or("?", |r| r.relname.as_str());
                hits.push(Hit::at(
                    statement,
                    format!("CREATE INDEX on existing table `{table}` without CONCURRENTLY blocks every write to it while the index builds"),
                ));
            }
            Some(NodeEnum::DropStmt(stmt))
                if stmt.remove_type == ObjectType::ObjectIndex as i32 && !stmt.concurrent =>
            {
                let existing = stmt.objects.iter().filter_map(|o| match &o.node {
                    Some(NodeEnum::List(list)) => last_name(&list.items),
                    _ => None,
                });
                for index in existing.filter(|i| !input.created.indexes.contains(*i)) {
                    hits.push(Hit::at(
                        statement,
                        format!("DROP INDEX `{index}` without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its table"),
                    ));
                }
            }
            _ => {}
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use crate::postgres::lint::rules::table::{Expect::*, check};

    #[test]
    fn cases() {
        check(
            super::RULE.id,
            3,
            &[
                ("CREATE INDEX i ON accounts (email);", Fires),
                (
                    "CREATE UNIQUE INDEX IF NOT EXISTS i ON public.accounts (lower(email));",
                    Fires,
                ),
                ("DROP INDEX i;", Fires),
                (
                    "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY i ON accounts (email);",
                    Quiet,
                ),
                (
                    "-- no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS i;",
                    Quiet,
                ),
                (
                    "CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);\nDROP INDEX t_a;",
                    Quiet,
                ),
                (
                    "-- schemagate:allow index-not-concurrent the table has 12 rows\nCREATE INDEX i ON accounts (email);",
                    Waived,
                ),
                (
                    "-- schemagate:allow index-not-concurrent\nCREATE INDEX i ON accounts (email);",
                    Fires,
                ),
            ],
        );
    }
}
