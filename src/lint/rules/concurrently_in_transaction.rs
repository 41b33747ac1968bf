//! `concurrently-in-transaction`: `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`
//! and `REINDEX … CONCURRENTLY` cannot run inside a transaction block, and a migration
//! file runs in one unless it says otherwise: PostgreSQL would refuse it when it runs.

use pg_query::NodeEnum;

use super::{Hit, Rule};
use crate::lint::input::Input;

/// The rule.
pub const RULE: Rule = Rule {
    id: "concurrently-in-transaction",
    summary: "CONCURRENTLY in a file that runs in a transaction",
    safe: "start the file with `-- schemagate:no-transaction` (and keep the concurrent statement alone in it)",
    check,
};

fn check(input: &Input<'_>) -> Vec<Hit> {
    if !input.transactional {
        return Vec::new();
    }
    input
        .statements
        .iter()
        .filter_map(|statement| {
            let what = match &statement.node {
                Some(NodeEnum::IndexStmt(s)) if s.concurrent => "CREATE INDEX CONCURRENTLY",
                Some(NodeEnum::DropStmt(s)) if s.concurrent => "DROP INDEX CONCURRENTLY",
                Some(NodeEnum::ReindexStmt(s))
                    if s.params.iter().any(|p| {
                        matches!(&p.node, Some(NodeEnum::DefElem(d)) if d.defname == "concurrently")
                    }) =>
                {
                    "REINDEX CONCURRENTLY"
                }
                _ => return None,
            };
            Some(Hit::at(
                statement,
                format!("{what} cannot run inside a transaction block, and this file runs in one"),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::table::{Expect::*, check};

    #[test]
    fn cases() {
        check(
            super::RULE.id,
            3,
            &[
                ("CREATE INDEX CONCURRENTLY i ON accounts (email);", Fires),
                ("DROP INDEX CONCURRENTLY i;", Fires),
                ("REINDEX INDEX CONCURRENTLY i;", Fires),
                (
                    "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY i ON accounts (email);",
                    Quiet,
                ),
                (
                    "-- +goose NO TRANSACTION\nREINDEX INDEX CONCURRENTLY i;",
                    Quiet,
                ),
                ("REINDEX INDEX i;", Quiet),
                (
                    "-- schemagate:allow concurrently-in-transaction run by hand\nCREATE INDEX CONCURRENTLY i ON accounts (email);",
                    Waived,
                ),
            ],
        );
    }
}
