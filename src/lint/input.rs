//! What a rule sees of a file: its parsed statements, how it runs, its version and the
//! release's window, and what the file itself creates.

use std::collections::BTreeSet;

use pg_query::NodeEnum;

use crate::config::Compat;
use crate::sql::Statement;

/// One file as the rules see it.
pub struct Input<'a> {
    /// Its statements, parsed.
    pub statements: &'a [Statement<'a>],
    /// Whether it runs in a transaction.
    pub transactional: bool,
    /// Its schema version, when its name is a migration's.
    pub version: Option<i64>,
    /// The release's compat.toml (window and earlier releases).
    pub compat: &'a Compat,
    /// The tables and indexes the file creates.
    pub created: Created,
}

/// Tables and indexes created by a file: nothing else can be using them yet, so locking
/// or rewriting them is harmless.
#[derive(Debug, Default)]
pub struct Created {
    /// Table names (unqualified, as the parser folds them).
    pub tables: BTreeSet<String>,
    /// Index names.
    pub indexes: BTreeSet<String>,
}

impl Created {
    /// What `statements` create.
    pub fn of(statements: &[Statement<'_>]) -> Self {
        let mut created = Self::default();
        for statement in statements {
            match &statement.node {
                Some(NodeEnum::CreateStmt(stmt)) => {
                    if let Some(relation) = &stmt.relation {
                        created.tables.insert(relation.relname.clone());
                    }
                }
                Some(NodeEnum::CreateTableAsStmt(stmt)) => {
                    if let Some(relation) = stmt.into.as_ref().and_then(|i| i.rel.as_ref()) {
                        created.tables.insert(relation.relname.clone());
                    }
                }
                Some(NodeEnum::IndexStmt(stmt)) if !stmt.idxname.is_empty() => {
                    created.indexes.insert(stmt.idxname.clone());
                }
                _ => {}
            }
        }
        created
    }

    /// Whether the file creates this table (`None`: no table named, e.g. unparsed).
    pub fn table(&self, relation: Option<&pg_query::protobuf::RangeVar>) -> bool {
        relation.is_some_and(|r| self.tables.contains(&r.relname))
    }
}

impl Input<'_> {
    /// Each `ALTER TABLE` command of the file on a table it did not create, with its
    /// statement and table name.
    pub fn alter_commands(
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

/// The last part of a qualified name given as a list of `String` nodes.
pub fn last_name(items: &[pg_query::protobuf::Node]) -> Option<&str> {
    match items.last()?.node.as_ref()? {
        NodeEnum::String(s) => Some(&s.sval),
        _ => None,
    }
}
