//! What the user schemas of a database hold, described object by object in PostgreSQL's
//! own words (`pg_get_indexdef`, `pg_get_constraintdef`, `format_type`, …), so two databases
//! can be compared and their differences named: "index public.users_email_idx: CREATE
//! UNIQUE INDEX …" missing, "column public.users.age integer" extra.
//!
//! Extensions are described by name and version (their own objects are left out), so an
//! `ALTER EXTENSION … UPDATE` shows as drift. Left out: system schemas, objects an extension
//! owns, and schemagate's own tables. Owners, grants and OIDs are not described: a scratch
//! database made by another role must compare equal. Used by `baseline --verify` (is the live database at the schema the catalogue
//! makes?), by the check for an existing database without a history, and, object by
//! object, by `verify` (`super::tracked`).

use std::collections::BTreeSet;

use tokio_postgres::Client;

/// Tables schemagate itself keeps in the database.
pub(crate) const OWN_TABLES: &[&str] = &[
    "refinery_schema_history",
    "schemagate_audit",
    crate::fleet::TABLE,
    crate::drift::TABLE,
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

/// The letters of the keys [`lines`] gives, in the order of the arrays of [`Scope::Keys`].
pub(super) const KINDS: [char; 7] = ['r', 'c', 't', 'p', 'y', 'n', 'e'];

/// Which objects a description covers.
#[derive(Clone, Copy)]
pub(super) enum Scope {
    /// Every object of the user schemas.
    All,
    /// The objects of the `touched` table of the statement `lines` is part of (see
    /// `super::tracked`).
    Touched,
    /// The same, each looked up by its catalogue's oid index: the oids of each kind are
    /// gathered into an array first (`= ANY(ARRAY(…))`, which the planner takes for a
    /// parameter, as in [`Self::Keys`]), so the plan stays probes of the oid indexes however
    /// large the catalogues grow after it was made.
    TouchedByOid,
    /// The objects whose oids are in the statement's parameters: `$1` the `oid[]` of the
    /// relations, `$2` of the constraints, and so on in the order of [`KINDS`]. Each is
    /// looked up by its catalogue's oid index, so the work is that of the objects asked for.
    Keys,
}

impl Scope {
    /// The condition that the object `oid` of `kind` (its key's letter, see [`lines`]) is
    /// covered.
    fn covers(self, kind: char, oid: &str) -> String {
        match self {
            Self::All => "true".to_owned(),
            Self::Touched => format!("{oid} IN (SELECT oid FROM touched WHERE kind = '{kind}')"),
            Self::TouchedByOid => {
                format!("{oid} = ANY(ARRAY(SELECT oid FROM touched WHERE kind = '{kind}'))")
            }
            Self::Keys => {
                let n = KINDS
                    .iter()
                    .position(|k| *k == kind)
                    .expect("every kind a line can have has its array");
                format!("{oid} = ANY(${}::oid[])", n + 1)
            }
        }
    }
}

/// One text per object of the user schemas (see the module docs), each starting with its
/// kind and qualified name.
pub(crate) async fn describe(client: &Client) -> Result<BTreeSet<String>, tokio_postgres::Error> {
    let rows = client.query(&lines(Scope::All), &[]).await?;
    Ok(rows.iter().map(|row| row.get::<_, String>(1)).collect())
}

/// The statement giving `(key, line, owners)` for each object `scope` covers: the line as
/// [`describe`] gives it, the key naming the object that owns it (`r` and the oid of a
/// relation or an index, `c` of a constraint, `t` a trigger, `p` a routine, `y` a type, `n`
/// a schema, `e` an extension; a relation owns its columns' lines), so that a changed
/// object's lines can be replaced, and the `oid[]` of the relations the object hangs on (an
/// index's table, a constraint's table and the one it references, a trigger's table, a
/// sequence's owning table): PostgreSQL may drop and remake those objects while it changes
/// such a relation (`ALTER COLUMN … TYPE` rebuilds its indexes and constraints) without
/// saying so, so whoever follows the schema must look at them again.
pub(super) fn lines(scope: Scope) -> String {
    let own = OWN_TABLES.join("','");
    let relation = format!(
        "{} AND {}",
        not_an_extensions("pg_class", "c.oid"),
        not_ours(&own)
    );
    let queries = [
        format!(
            "SELECT 'n' || n.oid, 'schema ' || n.nspname, '{{}}'::oid[] FROM pg_namespace n WHERE n.oid IN ({USER_NAMESPACES}) \
             AND n.nspname <> 'public' AND {}",
            scope.covers('n', "n.oid")
        ),
        format!(
            "SELECT 'r' || c.oid, CASE c.relkind WHEN 'r' THEN 'table ' WHEN 'p' THEN 'table ' WHEN 'v' THEN 'view ' \
               WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence ' WHEN 'f' THEN 'foreign table ' END \
               || c.oid::regclass::text \
               || coalesce(': ' || pg_get_viewdef(c.oid), ''), \
               CASE c.relkind WHEN 'S' THEN ARRAY(SELECT d.refobjid FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                 AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')) ELSE '{{}}' END \
             FROM pg_class c WHERE c.relnamespace IN ({USER_NAMESPACES}) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
             AND {relation} AND {}",
            scope.covers('r', "c.oid")
        ),
        format!(
            "SELECT 'r' || c.oid, 'column ' || c.oid::regclass::text || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) \
               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END \
               || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), ''), '{{}}'::oid[] \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
             WHERE c.relnamespace IN ({USER_NAMESPACES}) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
             AND a.attnum > 0 AND NOT a.attisdropped AND {relation} AND {}",
            scope.covers('r', "c.oid")
        ),
        format!(
            "SELECT 'r' || i.indexrelid, 'index ' || i.indexrelid::regclass::text || ': ' || pg_get_indexdef(i.indexrelid), \
               ARRAY[i.indrelid] FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
             WHERE c.relnamespace IN ({USER_NAMESPACES}) AND {relation} AND {}",
            scope.covers('r', "i.indexrelid")
        ),
        // PostgreSQL 18 keeps a named row for each NOT NULL (contype 'n'); the column's
        // `not null` already says it, on every major, so one schema reads the same on all.
        format!(
            "SELECT 'c' || co.oid, 'constraint ' || co.conrelid::regclass::text || '.' || co.conname || ': ' || pg_get_constraintdef(co.oid), \
               ARRAY[co.conrelid, co.confrelid] FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid \
             WHERE c.relnamespace IN ({USER_NAMESPACES}) AND co.contype <> 'n' AND {relation} AND {}",
            scope.covers('c', "co.oid")
        ),
        format!(
            "SELECT 't' || t.oid, 'trigger ' || t.tgname || ': ' || pg_get_triggerdef(t.oid), ARRAY[t.tgrelid] FROM pg_trigger t \
             JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relnamespace IN ({USER_NAMESPACES}) AND {}",
            scope.covers('t', "t.oid")
        ),
        format!(
            "SELECT 'p' || p.oid, 'routine ' || p.oid::regprocedure::text || ': ' || md5(pg_get_functiondef(p.oid)), '{{}}'::oid[] FROM pg_proc p \
             WHERE p.pronamespace IN ({USER_NAMESPACES}) AND p.prokind IN ('f', 'p') AND {} AND {}",
            not_an_extensions("pg_proc", "p.oid"),
            scope.covers('p', "p.oid")
        ),
        format!(
            "SELECT 'y' || t.oid, 'type ' || t.oid::regtype::text || ': ' || t.typtype::text || coalesce(' ' || \
               (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), ''), \
               '{{}}'::oid[] FROM pg_type t WHERE t.typnamespace IN ({USER_NAMESPACES}) AND t.typtype IN ('e', 'd', 'r') AND {} AND {}",
            not_an_extensions("pg_type", "t.oid"),
            scope.covers('y', "t.oid")
        ),
        format!(
            "SELECT 'e' || x.oid, 'extension ' || x.extname || ': ' || x.extversion, '{{}}'::oid[] FROM pg_extension x WHERE {}",
            scope.covers('e', "x.oid")
        ),
    ];
    queries.join(" UNION ALL ")
}
