//! Statements a migration that runs in a transaction cannot hold: those that end or start
//! the transaction, and those PostgreSQL refuses inside a transaction block (its
//! `PreventInTransactionBlock` callers, PostgreSQL 12 to 18). Either is a certain failure,
//! found in the parse tree before anything runs (DESIGN §18).

use pg_query::NodeEnum;
use pg_query::protobuf::{
    AlterTableType, DiscardMode, ReindexObjectType, TransactionStmtKind as Kind,
};

/// The statement's name when it ends or starts the transaction a migration runs in:
/// `BEGIN`, `START TRANSACTION`, `COMMIT`, `END`, `ROLLBACK`, `ABORT`, `PREPARE
/// TRANSACTION` and the `… PREPARED` forms. Savepoints stay inside the transaction and are
/// fine; a `BEGIN ATOMIC` body is part of its function.
pub(crate) fn controls_transaction(node: &NodeEnum) -> Option<&'static str> {
    let NodeEnum::TransactionStmt(stmt) = node else {
        return None;
    };
    match Kind::try_from(stmt.kind).ok()? {
        Kind::TransStmtBegin => Some("BEGIN"),
        Kind::TransStmtStart => Some("START TRANSACTION"),
        Kind::TransStmtCommit => Some("COMMIT"),
        Kind::TransStmtRollback => Some("ROLLBACK"),
        Kind::TransStmtPrepare => Some("PREPARE TRANSACTION"),
        Kind::TransStmtCommitPrepared => Some("COMMIT PREPARED"),
        Kind::TransStmtRollbackPrepared => Some("ROLLBACK PREPARED"),
        Kind::TransStmtSavepoint
        | Kind::TransStmtRelease
        | Kind::TransStmtRollbackTo
        | Kind::Undefined => None,
    }
}

/// The statement's name when PostgreSQL refuses it inside a transaction block ("… cannot
/// run inside a transaction block"), as every statement of a transactional migration runs.
pub(crate) fn refused_in_transaction(node: &NodeEnum) -> Option<&'static str> {
    match node {
        NodeEnum::IndexStmt(s) if s.concurrent => Some("CREATE INDEX CONCURRENTLY"),
        NodeEnum::DropStmt(s) if s.concurrent => Some("DROP INDEX CONCURRENTLY"),
        NodeEnum::ReindexStmt(s) if has_option(&s.params, "concurrently") => {
            Some("REINDEX CONCURRENTLY")
        }
        NodeEnum::ReindexStmt(s) => match ReindexObjectType::try_from(s.kind).ok()? {
            ReindexObjectType::ReindexObjectSchema => Some("REINDEX SCHEMA"),
            ReindexObjectType::ReindexObjectSystem => Some("REINDEX SYSTEM"),
            ReindexObjectType::ReindexObjectDatabase => Some("REINDEX DATABASE"),
            _ => None,
        },
        NodeEnum::AlterTableStmt(s) if s.cmds.iter().any(detaches_concurrently) => {
            Some("ALTER TABLE … DETACH PARTITION … CONCURRENTLY")
        }
        NodeEnum::VacuumStmt(s) if s.is_vacuumcmd => Some("VACUUM"),
        NodeEnum::ClusterStmt(s) if s.relation.is_none() => Some("CLUSTER without a table"),
        NodeEnum::CreatedbStmt(_) => Some("CREATE DATABASE"),
        NodeEnum::DropdbStmt(_) => Some("DROP DATABASE"),
        NodeEnum::AlterDatabaseStmt(s) if has_option(&s.options, "tablespace") => {
            Some("ALTER DATABASE … SET TABLESPACE")
        }
        NodeEnum::CreateTableSpaceStmt(_) => Some("CREATE TABLESPACE"),
        NodeEnum::DropTableSpaceStmt(_) => Some("DROP TABLESPACE"),
        NodeEnum::AlterSystemStmt(_) => Some("ALTER SYSTEM"),
        NodeEnum::DiscardStmt(s) if s.target == DiscardMode::DiscardAll as i32 => {
            Some("DISCARD ALL")
        }
        // It creates a replication slot unless told not to (or not to connect at all).
        NodeEnum::CreateSubscriptionStmt(s)
            if !is_false(&s.options, "create_slot") && !is_false(&s.options, "connect") =>
        {
            Some("CREATE SUBSCRIPTION (with a replication slot)")
        }
        _ => None,
    }
}

/// Whether a `DefElem` list names `option`.
fn has_option(options: &[pg_query::protobuf::Node], option: &str) -> bool {
    options
        .iter()
        .any(|o| matches!(&o.node, Some(NodeEnum::DefElem(d)) if d.defname == option))
}

/// Whether a `DefElem` list sets `option` to false (`false`, `off` or `0`).
fn is_false(options: &[pg_query::protobuf::Node], option: &str) -> bool {
    options.iter().any(|o| {
        let Some(NodeEnum::DefElem(d)) = &o.node else {
            return false;
        };
        let value = d.arg.as_ref().and_then(|a| a.node.as_ref());
        d.defname == option
            && match value {
                Some(NodeEnum::String(s)) => {
                    matches!(s.sval.to_ascii_lowercase().as_str(), "false" | "off" | "0")
                }
                Some(NodeEnum::Boolean(b)) => !b.boolval,
                Some(NodeEnum::Integer(i)) => i.ival == 0,
                _ => false,
            }
    })
}

/// Whether an `ALTER TABLE` command is `DETACH PARTITION … CONCURRENTLY`.
fn detaches_concurrently(command: &pg_query::protobuf::Node) -> bool {
    let Some(NodeEnum::AlterTableCmd(cmd)) = &command.node else {
        return false;
    };
    cmd.subtype == AlterTableType::AtDetachPartition as i32
        && matches!(
            cmd.def.as_ref().and_then(|d| d.node.as_ref()),
            Some(NodeEnum::PartitionCmd(p)) if p.concurrent
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(sql: &str) -> NodeEnum {
        let mut first = None;
        crate::postgres::sql::read(sql, &mut |statement| {
            first.get_or_insert(statement);
        })
        .unwrap();
        first.unwrap().node.unwrap()
    }

    #[test]
    fn statements_postgresql_refuses_in_a_transaction_block_are_named() {
        for (sql, name) in [
            (
                "CREATE INDEX CONCURRENTLY i ON t (a)",
                "CREATE INDEX CONCURRENTLY",
            ),
            ("DROP INDEX CONCURRENTLY i", "DROP INDEX CONCURRENTLY"),
            ("REINDEX INDEX CONCURRENTLY i", "REINDEX CONCURRENTLY"),
            ("REINDEX (CONCURRENTLY) TABLE t", "REINDEX CONCURRENTLY"),
            ("REINDEX SCHEMA s", "REINDEX SCHEMA"),
            ("REINDEX DATABASE d", "REINDEX DATABASE"),
            ("VACUUM t", "VACUUM"),
            ("VACUUM (ANALYZE) t", "VACUUM"),
            ("CLUSTER", "CLUSTER without a table"),
            ("CREATE DATABASE d", "CREATE DATABASE"),
            ("DROP DATABASE d", "DROP DATABASE"),
            (
                "ALTER DATABASE d SET TABLESPACE x",
                "ALTER DATABASE … SET TABLESPACE",
            ),
            ("CREATE TABLESPACE x LOCATION '/x'", "CREATE TABLESPACE"),
            ("DROP TABLESPACE x", "DROP TABLESPACE"),
            ("ALTER SYSTEM SET work_mem = '1MB'", "ALTER SYSTEM"),
            ("DISCARD ALL", "DISCARD ALL"),
            (
                "ALTER TABLE t DETACH PARTITION p CONCURRENTLY",
                "ALTER TABLE … DETACH PARTITION … CONCURRENTLY",
            ),
            (
                "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p",
                "CREATE SUBSCRIPTION (with a replication slot)",
            ),
        ] {
            assert_eq!(refused_in_transaction(&node(sql)), Some(name), "{sql}");
        }
    }

    #[test]
    fn statements_that_run_in_a_transaction_block_are_not_refused() {
        for sql in [
            "CREATE INDEX i ON t (a)",
            "DROP INDEX i",
            "REINDEX INDEX i",
            "REINDEX TABLE t",
            "ANALYZE t",
            "CLUSTER t USING i",
            "ALTER DATABASE d SET work_mem = '1MB'",
            "ALTER TABLE t DETACH PARTITION p",
            "ALTER TYPE mood ADD VALUE 'meh'",
            "DISCARD TEMP",
            "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p WITH (connect = false)",
            "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p WITH (create_slot = false)",
            "REFRESH MATERIALIZED VIEW CONCURRENTLY v",
        ] {
            assert_eq!(refused_in_transaction(&node(sql)), None, "{sql}");
        }
    }

    #[test]
    fn only_statements_that_end_or_start_the_transaction_control_it() {
        for (sql, name) in [
            ("BEGIN", Some("BEGIN")),
            ("START TRANSACTION", Some("START TRANSACTION")),
            ("COMMIT", Some("COMMIT")),
            ("END", Some("COMMIT")),
            ("ROLLBACK", Some("ROLLBACK")),
            ("ABORT", Some("ROLLBACK")),
            ("PREPARE TRANSACTION 'x'", Some("PREPARE TRANSACTION")),
            ("COMMIT PREPARED 'x'", Some("COMMIT PREPARED")),
            ("SAVEPOINT s", None),
            ("RELEASE SAVEPOINT s", None),
            ("ROLLBACK TO SAVEPOINT s", None),
        ] {
            assert_eq!(controls_transaction(&node(sql)), name, "{sql}");
        }
    }
}
