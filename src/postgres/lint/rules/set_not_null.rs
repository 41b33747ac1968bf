//! `set-not-null`: `ALTER COLUMN … SET NOT NULL` scans the whole table under an ACCESS
//! EXCLUSIVE lock, unless a validated `CHECK (column IS NOT NULL)` already proves it
//! (PostgreSQL 12 and later then skip the scan). The file is checked for such a CHECK, or
//! a `VALIDATE CONSTRAINT` on the table, before the `SET NOT NULL` (`Created::checked`);
//! one in an earlier migration is the waiver's business.

use pg_query::protobuf::AlterTableType;

use super::{Hit, Rule};
use crate::postgres::lint::input::Input;

/// The rule.
pub(super) const RULE: Rule = Rule {
    id: "set-not-null",
    safe: "ADD CONSTRAINT … CHECK (column IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT, then SET NOT NULL (and drop the CHECK)",
    check,
};

fn check(input: &Input<'_>) -> Vec<Hit> {
    input
        .alter_commands()
        .filter(|(_, table, cmd)| {
            cmd.subtype == AlterTableType::AtSetNotNull as i32
                && !input.created.checked.contains(*table)
        })
        .map(|(statement, table, cmd)| {
            Hit::at(
                statement,
                format!(
                    "SET NOT NULL on `{table}.{}` scans the whole table under an ACCESS EXCLUSIVE lock",
                    cmd.name
                ),
            )
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
                (
                    "ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;",
                    Fires,
                ),
                (
                    "ALTER TABLE accounts ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n\
                     ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;",
                    Fires,
                ),
                (
                    "ALTER TABLE accounts ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n\
                     ALTER TABLE accounts VALIDATE CONSTRAINT email_nn;\n\
                     ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;",
                    Quiet,
                ),
                (
                    "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;",
                    Quiet,
                ),
                (
                    "ALTER TABLE accounts ALTER COLUMN email DROP NOT NULL;",
                    Quiet,
                ),
                (
                    "-- schemagate:allow set-not-null CHECK validated in migration 2\n\
                     ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;",
                    Waived,
                ),
            ],
        );
    }
}
