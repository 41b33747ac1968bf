//! What the user schemas of a database hold, described object by object in PostgreSQL's
//! own words (`pg_get_indexdef`, `pg_get_constraintdef`, `format_type`, …), so two databases
//! can be compared and their differences named: "index public.users_email_idx: CREATE
//! UNIQUE INDEX …" missing, "column public.users.age integer" extra.
//!
//! Left out: system schemas, objects an extension owns, and schemagate's own tables. Owners,
//! grants and OIDs are not described: a scratch database made by another role must compare
//! equal. Used by `baseline --verify` (is the live database at the schema the catalogue
//! makes?) and by the check for an existing database without a history.

use std::collections::BTreeSet;

use tokio_postgres::Client;

/// Tables schemagate itself keeps in the database.
pub const OWN_TABLES: &[&str] = &[
    "refinery_schema_history",
    "schemagate_audit",
    crate::fleet::TABLE,
];

/// Namespaces that are the user's: not the system's, not an extension's.
const USER_NAMESPACES: &str = "SELECT n.oid FROM pg_namespace n \
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%' \
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')";

/// Relations that are not schemagate's own tables nor belong to them (the audit trail's
/// identity sequence).
fn not_ours(own: &str) -> String {
    format!(
        "c.relname NOT IN ('{own}') AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid \
         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i') AND t.relname IN ('{own}'))"
    )
}

/// Objects no extension owns (`classid` is the catalogue table of `objid`).
fn not_an_extensions(classid: &str, objid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{classid}'::regclass AND d.objid = {objid} AND d.deptype = 'e')"
    )
}

/// One text per object of the user schemas (see the module docs), each starting with its
/// kind and qualified name.
pub async fn describe(client: &Client) -> Result<BTreeSet<String>, tokio_postgres::Error> {
    let own = OWN_TABLES.join("','");
    let relation = format!(
        "{} AND {}",
        not_an_extensions("pg_class", "c.oid"),
        not_ours(&own)
    );
    let queries = [
        format!(
            "SELECT 'schema ' || n.nspname FROM pg_namespace n WHERE n.oid IN ({USER_NAMESPACES}) AND n.nspname <> 'public'"
        ),
        format!(
            "SELECT CASE c.relkind WHEN 'r' THEN 'table ' WHEN 'p' THEN 'table ' WHEN 'v' THEN 'view ' \
               WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence ' WHEN 'f' THEN 'foreign table ' END \
               || c.oid::regclass::text \
               || coalesce(': ' || pg_get_viewdef(c.oid), '') \
             FROM pg_class c WHERE c.relnamespace IN ({USER_NAMESPACES}) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
             AND {relation}"
        ),
        format!(
            "SELECT 'column ' || c.oid::regclass::text || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) \
               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END \
               || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '') \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
             WHERE c.relnamespace IN ({USER_NAMESPACES}) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
             AND a.attnum > 0 AND NOT a.attisdropped AND {relation}"
        ),
        format!(
            "SELECT 'index ' || i.indexrelid::regclass::text || ': ' || pg_get_indexdef(i.indexrelid) \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
             WHERE c.relnamespace IN ({USER_NAMESPACES}) AND {relation}"
        ),
        format!(
            "SELECT 'constraint ' || co.conrelid::regclass::text || '.' || co.conname || ': ' || pg_get_constraintdef(co.oid) \
             FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid \
             WHERE c.relnamespace IN ({USER_NAMESPACES}) AND {relation}"
        ),
        format!(
            "SELECT 'trigger ' || t.tgname || ': ' || pg_get_triggerdef(t.oid) FROM pg_trigger t \
             JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relnamespace IN ({USER_NAMESPACES})"
        ),
        format!(
            "SELECT 'routine ' || p.oid::regprocedure::text || ': ' || md5(pg_get_functiondef(p.oid)) FROM pg_proc p \
             WHERE p.pronamespace IN ({USER_NAMESPACES}) AND p.prokind IN ('f', 'p') AND {}",
            not_an_extensions("pg_proc", "p.oid")
        ),
        format!(
            "SELECT 'type ' || t.oid::regtype::text || ': ' || t.typtype::text || coalesce(' ' || \
               (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '') \
             FROM pg_type t WHERE t.typnamespace IN ({USER_NAMESPACES}) AND t.typtype IN ('e', 'd', 'r') AND {}",
            not_an_extensions("pg_type", "t.oid")
        ),
    ];
    let mut objects = BTreeSet::new();
    for query in &queries {
        for row in client.query(query.as_str(), &[]).await? {
            objects.insert(row.get::<_, String>(0));
        }
    }
    Ok(objects)
}
