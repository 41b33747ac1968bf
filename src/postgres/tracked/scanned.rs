//! Following the schema when the role cannot note each step's DDL (no event triggers
//! without superuser): the catalogues' own rows tell what a step changed.
//!
//! Every catalogue row a transaction writes carries its id (`xmin`). A look notes the next
//! transaction id; the next look takes the objects whose rows in `pg_class`,
//! `pg_attribute`, `pg_attrdef`, `pg_index`, `pg_rewrite`, `pg_constraint`, `pg_trigger`,
//! `pg_proc`, `pg_type`, `pg_enum`, `pg_namespace` or `pg_extension` were written since,
//! adds every object that depends on them (`pg_depend`: an index, a view, a foreign key or a
//! trigger names the table it is on, a routine the types it takes), and describes those with
//! [`schema::lines`], in one statement. Finding the rows scans those catalogues, so a look
//! costs in proportion to the schema (about 11 ms at 500 tables), not to the step.
//!
//! A dropped object leaves no row to see. The look also counts the objects that exist;
//! every object made since the last look is among those it touched, so when the count is
//! below what the looks have seen, something went, and one more statement lists them all
//! (their oids only). Objects made by users have oids from 16384 on (PostgreSQL's
//! `FirstNormalObjectId`), which keeps most built-in rows out of the work. Not seen: an
//! object added to or removed from an extension (`ALTER EXTENSION … ADD`), whose own rows
//! stay as they were.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use tokio_postgres::{Client, Row, Statement};

use crate::postgres::schema::{self, Scope};
use crate::schema::{Earlier, Tracked};

/// The objects that can own lines of a description (see [`schema::lines`] for the key's
/// letters), each `(key, written since the transaction id in the `since` table)`.
const OBJECTS: &str = "SELECT 'r' || oid, age(xmin) <= (SELECT age FROM since) FROM pg_class WHERE oid >= 16384 \
     UNION ALL SELECT 'c' || oid, age(xmin) <= (SELECT age FROM since) FROM pg_constraint WHERE oid >= 16384 \
     UNION ALL SELECT 't' || oid, age(xmin) <= (SELECT age FROM since) FROM pg_trigger WHERE oid >= 16384 \
     UNION ALL SELECT 'p' || oid, age(xmin) <= (SELECT age FROM since) FROM pg_proc WHERE oid >= 16384 \
     UNION ALL SELECT 'y' || oid, age(xmin) <= (SELECT age FROM since) FROM pg_type WHERE oid >= 16384 \
     UNION ALL SELECT 'n' || oid, age(xmin) <= (SELECT age FROM since) FROM pg_namespace \
     UNION ALL SELECT 'e' || oid, age(xmin) <= (SELECT age FROM since) FROM pg_extension WHERE oid >= 16384";

/// The statement of a look, after the `WITH` of [`OBJECTS`] and `since` (the transaction id
/// `$1`: rows it or a later transaction wrote count as changed). `touched(classid, objid)`:
/// the objects changed, then, transitively, every object that depends on one of them;
/// `keys`: the touched objects' keys.
const TOUCHED: &str = "objects(key, changed) AS MATERIALIZED ({OBJECTS}), \
     changed(classid, objid) AS ( \
       SELECT CASE left(key, 1) WHEN 'r' THEN 'pg_class'::regclass::oid WHEN 'c' THEN 'pg_constraint'::regclass::oid \
         WHEN 't' THEN 'pg_trigger'::regclass::oid WHEN 'p' THEN 'pg_proc'::regclass::oid \
         WHEN 'y' THEN 'pg_type'::regclass::oid WHEN 'e' THEN 'pg_extension'::regclass::oid \
         ELSE 'pg_namespace'::regclass::oid END, substr(key, 2)::oid \
       FROM objects WHERE changed \
       UNION SELECT 'pg_class'::regclass::oid, attrelid FROM pg_attribute WHERE age(xmin) <= (SELECT age FROM since) \
       UNION SELECT 'pg_class'::regclass::oid, adrelid FROM pg_attrdef WHERE age(xmin) <= (SELECT age FROM since) \
       UNION SELECT 'pg_class'::regclass::oid, indexrelid FROM pg_index WHERE age(xmin) <= (SELECT age FROM since) \
       UNION SELECT 'pg_class'::regclass::oid, ev_class FROM pg_rewrite WHERE age(xmin) <= (SELECT age FROM since) \
       UNION SELECT 'pg_type'::regclass::oid, enumtypid FROM pg_enum WHERE age(xmin) <= (SELECT age FROM since)), \
     closure(classid, objid) AS ( \
       SELECT classid, objid FROM changed \
       UNION SELECT d.classid, d.objid FROM closure c \
         CROSS JOIN LATERAL (SELECT classid, objid FROM pg_depend WHERE refclassid = c.classid AND refobjid = c.objid) d), \
     touched(kind, oid) AS ( \
       SELECT CASE classid WHEN 'pg_class'::regclass::oid THEN 'r' WHEN 'pg_constraint'::regclass::oid THEN 'c' \
         WHEN 'pg_trigger'::regclass::oid THEN 't' WHEN 'pg_proc'::regclass::oid THEN 'p' \
         WHEN 'pg_type'::regclass::oid THEN 'y' WHEN 'pg_namespace'::regclass::oid THEN 'n' \
         WHEN 'pg_extension'::regclass::oid THEN 'e' END, objid FROM closure \
       UNION SELECT 'r', r.ev_class FROM closure c JOIN pg_rewrite r ON c.classid = 'pg_rewrite'::regclass::oid AND r.oid = c.objid \
       UNION SELECT 'r', a.adrelid FROM closure c JOIN pg_attrdef a ON c.classid = 'pg_attrdef'::regclass::oid AND a.oid = c.objid) ";

/// The next transaction id as `xid` text (the low 32 bits of the 64-bit id): rows written
/// from now on carry it or a later one.
const NEXT: &str = "(pg_snapshot_xmax(pg_current_snapshot())::text::bigint % 4294967296)::text";

/// What a look leaves for the next.
struct Looks {
    /// The transaction id from which rows count as changed.
    since: String,
    /// The keys of the objects that exist, as far as the looks have seen.
    existing: HashSet<String>,
    /// A look: `(key, line)` of each touched object's lines, `(key, NULL)` of each touched
    /// object, and `(NULL, next transaction id)` with the count of the objects in the third
    /// column.
    look: Statement,
    /// The next transaction id and the keys of the objects that exist.
    listing: Statement,
}

/// The user schemas described in full, to be followed.
pub(super) async fn track(client: &Client) -> Result<Tracked, tokio_postgres::Error> {
    let with = format!(
        "WITH RECURSIVE since AS (SELECT age($1::text::xid) AS age), {}",
        TOUCHED.replace("{OBJECTS}", OBJECTS)
    );
    let look = format!(
        "{with} SELECT key, line, NULL::bigint FROM ({}) d(key, line, owners) \
         UNION ALL SELECT kind || oid, NULL, NULL FROM touched WHERE kind IS NOT NULL \
         UNION ALL SELECT NULL, {NEXT}, count(*) FROM objects",
        schema::lines(Scope::Touched)
    );
    let listing = format!(
        "WITH since AS (SELECT 0 AS age) SELECT {NEXT}, ARRAY(SELECT key FROM ({OBJECTS}) o(key, changed))"
    );
    let (look, listing) = tokio::try_join!(client.prepare(&look), client.prepare(&listing))?;
    let whole = schema::lines(Scope::All);
    let (lines, now) =
        tokio::try_join!(client.query(&whole, &[]), client.query_one(&listing, &[]))?;
    Ok(Tracked::new(
        lines.iter().map(|row| (row.get(0), row.get(1))),
        Box::new(Looks {
            since: now.get(0),
            existing: now.get::<_, Vec<String>>(1).into_iter().collect(),
            look,
            listing,
        }),
    ))
}

/// Brings `tracked` to the schema now: the objects touched since the last look described
/// again, those gone removed; returns their earlier lines.
pub(super) async fn changed(
    client: &Client,
    tracked: &mut Tracked,
) -> Result<Earlier, tokio_postgres::Error> {
    let looks = tracked
        .engine
        .downcast_mut::<Looks>()
        .expect("a PostgreSQL schema is tracked by this module");
    let rows = client.query(&looks.look, &[&looks.since]).await?;
    let mut described: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut count = 0;
    for row in &rows {
        match row.get::<_, Option<String>>(0) {
            Some(key) => add(described.entry(key).or_default(), row),
            None => {
                looks.since = row.get(1);
                count = row.get::<_, i64>(2);
            }
        }
    }
    looks.existing.extend(described.keys().cloned());
    let mut gone = Vec::new();
    if usize::try_from(count).ok() != Some(looks.existing.len()) {
        let now = client.query_one(&looks.listing, &[]).await?;
        let existing: HashSet<String> = now.get::<_, Vec<String>>(1).into_iter().collect();
        gone = looks.existing.difference(&existing).cloned().collect();
        looks.existing = existing;
    }
    let mut earlier = Earlier::new();
    for key in gone {
        tracked.set(key, BTreeSet::new(), &mut earlier);
    }
    for (key, lines) in described {
        tracked.set(key, lines, &mut earlier);
    }
    Ok(earlier)
}

/// Adds the line of `row`, if it has one, to its object's `lines`.
fn add(lines: &mut BTreeSet<String>, row: &Row) {
    if let Some(line) = row.get::<_, Option<String>>(1) {
        lines.insert(line);
    }
}
