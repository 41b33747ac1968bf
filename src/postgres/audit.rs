//! PostgreSQL's `schemagate_audit` table ([`crate::audit`]): created and widened under the
//! lock, written, read, counted, and kept across a restore.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::audit::{Entry, Recorded, Totals};

/// Created under the migration lock, like the history.
const CREATE: &str = "CREATE TABLE IF NOT EXISTS schemagate_audit (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    action       text        NOT NULL,
    app_version  text        NOT NULL,
    host         text        NOT NULL,
    from_version int8        NOT NULL,
    to_version   int8        NOT NULL,
    duration_ms  bigint      NOT NULL,
    backup_file  text,
    outcome      text        NOT NULL
)";

/// Its columns, in [`CREATE`]'s order.
const COLUMNS: &str = "id, at, action, app_version, host, from_version, to_version, duration_ms, backup_file, outcome";

/// What a restore runs in its transaction before it drops the schemas, so that the trail
/// survives it (DESIGN §18): the rows as they are (when the database has a trail) in a
/// temporary table, which the drops do not reach and the commit removes.
pub(crate) fn keep_before_restore(exists: bool) -> String {
    let mut sql = String::from(
        "CREATE TEMP TABLE schemagate_audit_kept (id int8, at timestamptz, action text, app_version text, host text, \
         from_version int8, to_version int8, duration_ms int8, backup_file text, outcome text) ON COMMIT DROP;\n",
    );
    if exists {
        sql.push_str(&format!(
            "INSERT INTO pg_temp.schemagate_audit_kept SELECT {COLUMNS} FROM schemagate_audit;\n"
        ));
    }
    sql
}

/// What a restore runs after the dump's replay, in the same transaction and with the
/// session's own `search_path` back: the kept rows the dump does not have (those written
/// after it) go back with their ids, and the id sequence moves past every row, so no id is
/// used twice.
pub(crate) fn merge_after_restore() -> String {
    format!(
        "{CREATE};\n\
         INSERT INTO schemagate_audit ({COLUMNS}) OVERRIDING SYSTEM VALUE SELECT {COLUMNS} FROM pg_temp.schemagate_audit_kept k \
         WHERE NOT EXISTS (SELECT FROM schemagate_audit a WHERE a.id = k.id) ORDER BY k.id;\n\
         SELECT setval(pg_get_serial_sequence('schemagate_audit', 'id'), max(id)) FROM schemagate_audit HAVING max(id) IS NOT NULL;\n"
    )
}

/// Recording or reading the audit trail failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} schemagate_audit: {}", super::db::describe(.source))]
pub(crate) struct AuditError {
    action: &'static str,
    #[source]
    source: tokio_postgres::Error,
}

/// Creates the table unless it exists, and widens the version columns of one made with
/// `int4` before versions were `int8` (under the migration lock).
pub(crate) async fn ensure_table(client: &Client) -> Result<(), AuditError> {
    let failed = |action| move |source: tokio_postgres::Error| AuditError { action, source };
    super::db::create_table_unless_exists(client, "schemagate_audit", CREATE)
        .await
        .map_err(failed("create"))?;
    let narrow: bool = client
        .query_one(
            "SELECT atttypid <> 'int8'::regtype FROM pg_attribute \
             WHERE attrelid = 'schemagate_audit'::regclass AND attname = 'from_version'",
            &[],
        )
        .await
        .map_err(failed("read the types of"))?
        .get(0);
    if narrow {
        client
            .batch_execute(
                "ALTER TABLE schemagate_audit ALTER COLUMN from_version TYPE int8, \
                 ALTER COLUMN to_version TYPE int8",
            )
            .await
            .map_err(failed("widen"))?;
    }
    Ok(())
}

/// Records a change.
pub(crate) async fn record(client: &Client, entry: &Entry) -> Result<(), AuditError> {
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let duration_ms = i64::try_from(entry.duration.as_millis()).unwrap_or(i64::MAX);
    client
        .execute(
            "INSERT INTO schemagate_audit (action, app_version, host, from_version, to_version, duration_ms, backup_file, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[&entry.action, &entry.app_version, &host, &entry.from, &entry.to, &duration_ms, &entry.backup_file, &entry.outcome],
        )
        .await
        .map(drop)
        .map_err(|source| AuditError {
            action: "write",
            source,
        })
}

/// The latest `limit` entries, newest first; empty when nothing was recorded yet.
pub(crate) async fn recent(client: &Client, limit: i64) -> Result<Vec<Recorded>, AuditError> {
    let query = "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), action, app_version, host, \
                 from_version::int8, to_version::int8, duration_ms, backup_file, outcome FROM schemagate_audit ORDER BY id DESC LIMIT $1";
    let rows = match client.query(query, &[&limit]).await {
        Ok(rows) => rows,
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(Vec::new()),
        Err(e) => {
            return Err(AuditError {
                action: "read",
                source: e,
            });
        }
    };
    Ok(rows
        .iter()
        .map(|r| Recorded {
            at: r.get(0),
            action: r.get(1),
            app_version: r.get(2),
            host: r.get(3),
            from: r.get(4),
            to: r.get(5),
            duration_ms: r.get(6),
            backup_file: r.get(7),
            outcome: r.get(8),
        })
        .collect())
}

/// The [`Totals`] of the whole trail, in one query; zero when nothing was recorded yet.
pub(crate) async fn totals(client: &Client) -> Result<Totals, AuditError> {
    const QUERY: &str = "SELECT \
        count(*) FILTER (WHERE action IN ('migrate', 'rollback') AND outcome LIKE 'failed%'), \
        count(*) FILTER (WHERE action = 'rollback' AND outcome LIKE 'ok%') \
        FROM schemagate_audit";
    let row = match client.query_one(QUERY, &[]).await {
        Ok(row) => row,
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(Totals::default()),
        Err(source) => {
            return Err(AuditError {
                action: "count",
                source,
            });
        }
    };
    let count = |i| u64::try_from(row.get::<_, i64>(i)).unwrap_or_default();
    Ok(Totals {
        migration_failures: count(0),
        rollbacks: count(1),
    })
}
