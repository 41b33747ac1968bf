//! `constraint-not-valid`: adding a FOREIGN KEY or CHECK constraint to an existing table
//! checks every row while holding a lock that blocks writes (and, for a foreign key, on
//! the referenced table too). `NOT VALID` adds it at once for new rows; `VALIDATE
//! CONSTRAINT` then checks the old rows under a lock that lets writes through.

use pg_query::NodeEnum;
use pg_query::protobuf::{AlterTableType, ConstrType};

use super::{Hit, Rule};
use crate::postgres::lint::input::Input;

/// The rule.
pub(super) const RULE: Rule = Rule {
    id: "constraint-not-valid",
    safe: "ADD CONSTRAINT … NOT VALID, then ALTER TABLE … VALIDATE CONSTRAINT in a later statement or migration",
    check,
};

fn check(input: &Input<'_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (statement, table, cmd) in input.alter_commands() {
        if cmd.subtype != AlterTableType::AtAddConstraint as i32 {
            continue;
        }
        let Some(NodeEnum::Constraint(c)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
            continue;
        };
        let kind = match ConstrType::try_from(c.contype) {
            Ok(ConstrType::ConstrForeign) => "FOREIGN KEY",
            Ok(ConstrType::ConstrCheck) => "CHECK",
            _ => continue,
        };
        if !c.skip_validation {
            hits.push(Hit::at(
                statement,
                format!(
                    "adding a {kind} constraint to `{table}` checks every row while blocking writes"
                ),
            ));
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
                (
                    "ALTER TABLE projects ADD CONSTRAINT fk FOREIGN KEY (account_id) REFERENCES accounts (id);",
                    Fires,
                ),
                (
                    "ALTER TABLE projects ADD CONSTRAINT named CHECK (length(name) > 0);",
                    Fires,
                ),
                (
                    "ALTER TABLE projects ADD CONSTRAINT fk FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;",
                    Quiet,
                ),
                ("ALTER TABLE projects VALIDATE CONSTRAINT fk;", Quiet),
                (
                    "ALTER TABLE projects ADD CONSTRAINT u UNIQUE (name);",
                    Quiet,
                ),
                (
                    "CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);",
                    Quiet,
                ),
                (
                    "-- schemagate:allow constraint-not-valid projects is empty until 2.0\nALTER TABLE projects ADD CONSTRAINT c CHECK (id > 0);",
                    Waived,
                ),
            ],
        );
    }
}
