//! `concurrently-in-transaction`: `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`,
//! `REINDEX … CONCURRENTLY` and every other statement PostgreSQL refuses inside a
//! transaction block (`VACUUM`, `CREATE DATABASE`, `ALTER SYSTEM`, …), in a file that runs
//! in one: PostgreSQL would refuse it when it runs, so the gate refuses the file before
//! anything changes whatever a waiver says ([`crate::postgres::sql::refused_in_transaction`], the
//! same list); the lint names it earlier, in CI.

use super::{Hit, Rule};
use crate::postgres::lint::input::Input;
use crate::postgres::sql::refused_in_transaction;

/// The rule.
pub(super) const RULE: Rule = Rule {
    id: "concurrently-in-transaction",
    safe: "start the file with `-- schemagate:no-transaction` (and keep the statement alone in it)",
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
            let what = refused_in_transaction(statement.node.as_ref()?)?;
            Some(Hit::at(
                statement,
                format!("{what} cannot run inside a transaction block, and this file runs in one"),
            ))
        })
        .collect()
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
                ("VACUUM accounts;", Fires),
                ("ANALYZE accounts;", Quiet),
                (
                    "-- schemagate:allow concurrently-in-transaction run by hand\nCREATE INDEX CONCURRENTLY i ON accounts (email);",
                    Waived,
                ),
            ],
        );
    }
}
