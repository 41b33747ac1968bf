//! `volatile-default`: `ADD COLUMN` with a volatile default (`random()`,
//! `clock_timestamp()`, `gen_random_uuid()`, a `serial` type's `nextval()`) computes a
//! value per row, so PostgreSQL rewrites the whole table under an ACCESS EXCLUSIVE lock. A
//! constant or stable default (`0`, `now()`) is stored once in the catalogue instead
//! (PostgreSQL 11 and later) and costs nothing.

use pg_query::NodeEnum;
use pg_query::protobuf::{AlterTableType, ColumnDef, ConstrType};

use super::{Hit, Rule, expressions};
use crate::postgres::lint::input::{Input, last_name};

/// The rule.
pub(super) const RULE: Rule = Rule {
    id: "volatile-default",
    safe: "add the column without a default (or with a constant one), backfill it in batches, then SET DEFAULT",
    check,
};

/// Volatile functions seen in column defaults.
const VOLATILE: &[&str] = &[
    "random",
    "random_normal",
    "clock_timestamp",
    "timeofday",
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "nextval",
    "txid_current",
];

/// Types whose default is `nextval()` of a new sequence.
const SERIAL: &[&str] = &[
    "serial",
    "serial4",
    "bigserial",
    "serial8",
    "smallserial",
    "serial2",
];

/// The volatile function (or serial type) that makes a column's default per row.
fn volatile(column: &ColumnDef) -> Option<String> {
    if let Some(name) = column.type_name.as_ref().and_then(|t| last_name(&t.names))
        && SERIAL.contains(&name)
    {
        return Some(format!("{name} (nextval())"));
    }
    let defaults =
        column
            .raw_default
            .as_deref()
            .into_iter()
            .chain(column.constraints.iter().filter_map(|c| match &c.node {
                Some(NodeEnum::Constraint(c)) if c.contype == ConstrType::ConstrDefault as i32 => {
                    c.raw_expr.as_deref()
                }
                _ => None,
            }));
    defaults.flat_map(expressions).find_map(|node| match node {
        NodeEnum::FuncCall(call) => last_name(&call.funcname)
            .filter(|name| VOLATILE.contains(name))
            .map(|name| format!("{name}()")),
        _ => None,
    })
}

fn check(input: &Input<'_>) -> Vec<Hit> {
    input
        .alter_commands()
        .filter(|(_, _, cmd)| cmd.subtype == AlterTableType::AtAddColumn as i32)
        .filter_map(|(statement, table, cmd)| {
            let Some(NodeEnum::ColumnDef(column)) = cmd.def.as_ref().and_then(|d| d.node.as_ref())
            else {
                return None;
            };
            let function = volatile(column)?;
            Some(Hit::at(
                statement,
                format!(
                    "ADD COLUMN `{table}.{}` with the volatile default {function} rewrites the whole table under an ACCESS EXCLUSIVE lock",
                    column.colname
                ),
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
                (
                    "ALTER TABLE accounts ADD COLUMN token uuid DEFAULT gen_random_uuid();",
                    Fires,
                ),
                (
                    "ALTER TABLE accounts ADD COLUMN seen timestamptz NOT NULL DEFAULT clock_timestamp();",
                    Fires,
                ),
                (
                    "ALTER TABLE accounts ADD COLUMN r int DEFAULT (random() * 10)::int;",
                    Fires,
                ),
                ("ALTER TABLE accounts ADD COLUMN n bigserial;", Fires),
                (
                    "ALTER TABLE accounts ADD COLUMN seen timestamptz NOT NULL DEFAULT now();",
                    Quiet,
                ),
                ("ALTER TABLE accounts ADD COLUMN n int DEFAULT 0;", Quiet),
                ("ALTER TABLE accounts ADD COLUMN token uuid;", Quiet),
                (
                    "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN token uuid DEFAULT gen_random_uuid();",
                    Quiet,
                ),
                (
                    "-- schemagate:allow volatile-default accounts is small\nALTER TABLE accounts ADD COLUMN token uuid DEFAULT gen_random_uuid();",
                    Waived,
                ),
            ],
        );
    }
}
