//! `column-type-change`: `ALTER COLUMN … TYPE` on an existing table rewrites it and its
//! indexes under an ACCESS EXCLUSIVE lock (a few binary-coercible changes, such as
//! `varchar(n)` to `text`, do not; waive those with the reason).

use pg_query::protobuf::AlterTableType;

use super::{Hit, Rule};
use crate::postgres::lint::input::Input;

/// The rule.
pub(super) const RULE: Rule = Rule {
    id: "column-type-change",
    safe: "add a column of the new type, backfill it in batches, move the code to it, and drop the old column in a later release",
    check,
};

fn check(input: &Input<'_>) -> Vec<Hit> {
    input
        .alter_commands()
        .filter(|(_, _, cmd)| cmd.subtype == AlterTableType::AtAlterColumnType as i32)
        .map(|(statement, table, cmd)| {
            Hit::at(
                statement,
                format!(
                    "changing the type of `{table}.{}` rewrites the table and its indexes under an ACCESS EXCLUSIVE lock",
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
                    "ALTER TABLE accounts ALTER COLUMN name TYPE varchar(200);",
                    Fires,
                ),
                (
                    "ALTER TABLE accounts ALTER name SET DATA TYPE bigint USING name::bigint;",
                    Fires,
                ),
                ("ALTER TABLE accounts ADD COLUMN name2 varchar(200);", Quiet),
                (
                    "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a TYPE bigint;",
                    Quiet,
                ),
                (
                    "-- schemagate:allow column-type-change varchar to text is binary coercible\nALTER TABLE accounts ALTER COLUMN name TYPE text;",
                    Waived,
                ),
            ],
        );
    }
}
