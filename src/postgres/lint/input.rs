//! What a rule sees of a file: its parsed statements, how it runs, its version and the
//! release's window, and what the file itself creates.

use std::collections::BTreeSet;

use pg_query::NodeEnum;
use pg_query::protobuf::{AlterTableType, ConstrType};

use crate::config::Compat;
use crate::postgres::sql::Statement;

/// One file as the rules see it.
pub(super) struct Input<'a> {
    /// Its statements, parsed.
    pub statements: &'a [Statement<'a>],
    /// Whether it runs in a transaction.
    pub transactional: bool,
    /// Its schema version, when its name is a migration's.
    pub version: Option<i64>,
    /// The release's compat.toml (window and earlier releases).
    pub compat: &'a Compat,
    /// The tables and indexes the file creates before this statement.
    pub created: &'a Created,
}

/// What a file's statements have done so far, which a rule looking at one statement needs:
/// the tables and indexes it created (nothing else can be using them yet, so locking or
/// rewriting them is harmless), and the tables a validated `CHECK` now covers.
#[derive(Debug, Default)]
pub(super) struct Created {
    /// Table names (unqualified, as the parser folds them).
    pub tables: BTreeSet<String>,
    /// Index names.
    pub indexes: BTreeSet<String>,
    /// Tables with a `CHECK` constraint added validated, or a constraint validated.
    pub checked: BTreeSet<String>,
}

impl Created {
    /// Adds what `statement` creates.
    pub(super) fn add(&mut self, statement: &Statement<'_>) {
        match &statement.node {
            Some(NodeEnum::CreateStmt(stmt)) => {
                if let Some(relation) = &stmt.relation {
                    self.tables.insert(relation.relname.clone());
                }
            }
            Some(NodeEnum::CreateTableAsStmt(stmt)) => {
                if let Some(relation) = stmt.into.as_ref().and_then(|i| i.rel.as_ref()) {
                    self.tables.insert(relation.relname.clone());
                }
            }
            Some(NodeEnum::IndexStmt(stmt)) if !stmt.idxname.is_empty() => {
                self.indexes.insert(stmt.idxname.clone());
            }
            Some(NodeEnum::AlterTableStmt(stmt)) if stmt.cmds.iter().any(checks) => {
                if let Some(relation) = &stmt.relation {
                    self.checked.insert(relation.relname.clone());
                }
            }
            _ => {}
        }
    }

    /// Whether the file creates this table (`None`: no table named, e.g. unparsed).
    pub(super) fn table(&self, relation: Option<&pg_query::protobuf::RangeVar>) -> bool {
        relation.is_some_and(|r| self.tables.contains(&r.relname))
    }
}

impl Input<'_> {
    /// Each `ALTER TABLE` command of the file on a table it did not create, with its
    /// statement and table name.
    pub(super) fn alter_commands(
        &self,
    ) -> impl Iterator<Item = (&Statement<'_>, &str, &pg_query::protobuf::AlterTableCmd)> {
        self.statements.iter().flat_map(move |statement| {
            let commands = match &statement.node {
                Some(NodeEnum::AlterTableStmt(stmt))
                    if !self.created.table(stmt.relation.as_ref()) =>
                {
                    let table = stmt.relation.as_ref().map_or("", |r| r.relname.as_str());
                    stmt.cmds
                        .iter()
                        .filter_map(|n| match &n.node {
                            Some(NodeEnum::AlterTableCmd(cmd)) => Some((table, &**cmd)),
                            _ => None,
                        })
                        .collect()
                }
                _ => Vec::new(),
            };
            commands
                .into_iter()
                .map(move |(table, cmd)| (statement, table, cmd))
        })
    }
}

/// Whether an `ALTER TABLE` command validates a constraint or adds a validated `CHECK`.
fn checks(command: &pg_query::protobuf::Node) -> bool {
    let Some(NodeEnum::AlterTableCmd(cmd)) = &command.node else {
        return false;
    };
    match AlterTableType::try_from(cmd.subtype) {
        Ok(AlterTableType::AtValidateConstraint) => true,
        Ok(AlterTableType::AtAddConstraint) => matches!(
            cmd.def.as_ref().and_then(|d| d.node.as_ref()),
            Some(NodeEnum::Constraint(c))
                if c.contype == ConstrType::ConstrCheck as i32 && !c.skip_validation
        ),
        _ => false,
    }
}

/// The last part of a qualified name given as a list of `String` nodes.
pub(super) fn last_name(items: &[pg_query::protobuf::Node]) -> Option<&str> {
    match items.last()?.node.as_ref()? {
        NodeEnum::String(s) => Some(&s.sval),
        _ => None,
    }
}
