//! Following the schema by noting each step's DDL as it runs: two event triggers on the
//! scratch database (`ddl_command_end`, `sql_drop`) write the catalogue and oid of every
//! object a command creates, alters or drops into a temporary table of the scratch session.
//!
//! A look takes those rows and adds, transitively, every object that depends on one
//! (`pg_depend`: a table's columns' defaults, indexes, constraints, triggers and sequences, a
//! view on it, a foreign key that references it, a column of a renamed type), then
//! describes exactly those with [`schema::lines`], each catalogue read through its oid
//! index (`= ANY($n)`). A dropped object is among the noted ones (`sql_drop` names every
//! object a drop takes with it) and describes to no lines, so it is removed. A look is one
//! statement in one round trip, whose cost is that of what the step touched; on a scratch
//! database that round trip is the step's own (`crate::postgres::session`'s
//! `execute_and_look`).
//!
//! PostgreSQL drops and remakes some objects while it alters a table without naming them
//! (`ALTER COLUMN … TYPE` rebuilds the table's indexes and constraints, and foreign keys
//! that reference it, under new oids; `DROP IDENTITY` drops the sequence). So each look also
//! keeps, per relation, the objects that hang on it ([`schema::lines`]' owners); when a
//! relation is touched, those are described again too (in a second round trip, for those
//! the notes did not reach), and the ones gone are removed.
//!
//! The triggers are `ENABLE ALWAYS`, so a step that sets `session_replication_role` is
//! still noted; their function and table live in the session's temporary schema, which the
//! description leaves out and PostgreSQL drops (triggers included) with the session. DDL of
//! another session is not noted: nobody else uses a scratch database.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use crate::postgres::schema::{self, KINDS, Scope};
use crate::schema::{Earlier, Tracked};

/// The table, the function and the triggers that note each command's objects, and the
/// function that takes the notes ([`LOOK`]), in one implicit transaction: all or nothing.
/// The noting function runs as its owner, so a step that switches to a role of its own
/// (`SET ROLE`) still writes the notes. `GRANT` and `ALTER DEFAULT PRIVILEGES` name no
/// object (and privileges are not described).
const INSTALL: &str = "CREATE TEMP TABLE schemagate_noted (classid oid NOT NULL, objid oid NOT NULL); \
    CREATE FUNCTION pg_temp.schemagate_take() RETURNS TABLE (classid oid, objid oid) ROWS 10 \
      LANGUAGE sql AS 'DELETE FROM pg_temp.schemagate_noted RETURNING classid, objid'; \
    CREATE FUNCTION pg_temp.schemagate_note() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER \
      SET search_path = pg_catalog, pg_temp AS $$ \
    BEGIN \
      IF to_regclass('pg_temp.schemagate_noted') IS NULL THEN RETURN; END IF; \
      IF tg_event = 'sql_drop' THEN \
        INSERT INTO pg_temp.schemagate_noted SELECT classid, objid FROM pg_event_trigger_dropped_objects(); \
      ELSE \
        INSERT INTO pg_temp.schemagate_noted SELECT classid, objid FROM pg_event_trigger_ddl_commands() \
          WHERE objid IS NOT NULL; \
      END IF; \
    END $$; \
    CREATE EVENT TRIGGER schemagate_noted_end ON ddl_command_end EXECUTE FUNCTION pg_temp.schemagate_note(); \
    CREATE EVENT TRIGGER schemagate_noted_drop ON sql_drop EXECUTE FUNCTION pg_temp.schemagate_note(); \
    ALTER EVENT TRIGGER schemagate_noted_end ENABLE ALWAYS; \
    ALTER EVENT TRIGGER schemagate_noted_drop ENABLE ALWAYS";

/// `touched(kind, oid)`: the objects noted since the last look and every object that
/// depends on one (see [`schema::lines`] for the kinds), the notes cleared; [`look_statement`]
/// describes them in the same statement. A rule or a column default stands for its
/// relation; objects of other catalogues (casts, policies, …) are not described.
///
/// The planner cannot know how few rows the notes hold (a temporary table has no
/// statistics: it guesses thousands, and the closure a hundred times that), so the notes
/// are taken through a function that says a step notes about ten (`ROWS 10`; a `DELETE`
/// in a function is not inlined, so the estimate stands). With the guess, the closure's
/// `UNION` sized its hash table for hundreds of thousands of rows at every look, which
/// cost three times the rest of the statement. Each lookup is also a `LATERAL` subquery
/// kept apart by `OFFSET 0`, so it stays one probe of the catalogue's index per noted
/// object whatever the estimates.
const LOOK: &str = "WITH RECURSIVE noted AS (SELECT classid, objid FROM pg_temp.schemagate_take()), \
    closure(classid, objid) AS ( \
      SELECT classid, objid FROM noted \
      UNION SELECT d.classid, d.objid FROM closure c CROSS JOIN LATERAL ( \
        SELECT classid, objid FROM pg_depend WHERE refclassid = c.classid AND refobjid = c.objid OFFSET 0) d), \
    keys(kind, oid) AS ( \
      SELECT CASE classid WHEN 'pg_class'::regclass::oid THEN 'r' WHEN 'pg_constraint'::regclass::oid THEN 'c' \
        WHEN 'pg_trigger'::regclass::oid THEN 't' WHEN 'pg_proc'::regclass::oid THEN 'p' \
        WHEN 'pg_type'::regclass::oid THEN 'y' WHEN 'pg_namespace'::regclass::oid THEN 'n' \
        WHEN 'pg_extension'::regclass::oid THEN 'e' END, objid FROM closure \
      UNION SELECT 'r', r.ev_class FROM closure c CROSS JOIN LATERAL ( \
        SELECT ev_class FROM pg_rewrite WHERE oid = c.objid OFFSET 0) r WHERE c.classid = 'pg_rewrite'::regclass::oid \
      UNION SELECT 'r', a.adrelid FROM closure c CROSS JOIN LATERAL ( \
        SELECT adrelid FROM pg_attrdef WHERE oid = c.objid OFFSET 0) a WHERE c.classid = 'pg_attrdef'::regclass::oid), \
    touched(kind, oid) AS (SELECT kind, oid FROM keys WHERE kind IS NOT NULL) ";

/// A look in one statement: `(key, line, owners)` of each line of the touched objects
/// ([`schema::lines`], each looked up through its oid index), then `(key, NULL, NULL)` of
/// each touched object, described or gone.
fn look_statement() -> String {
    format!(
        "{LOOK} SELECT key, line, owners FROM ({}) d(key, line, owners) \
         UNION ALL SELECT kind || oid, NULL, NULL FROM touched",
        schema::lines(Scope::TouchedByOid)
    )
}

/// A look is a transaction of its own with these settings, which the steps' statements
/// never see. It runs the same statements thousands of times, so each is planned once
/// (a generic plan) and never compiled (JIT). That plan is made at the first look, when the
/// scratch database's catalogues are nearly empty and scanning, hashing or merging whole
/// ones is the cheapest plan; it must stay a few probes of oid indexes as they grow, hence
/// nested loops over index scans only.
const LOOK_SETTINGS: &str = "BEGIN; SET LOCAL jit = off; SET LOCAL plan_cache_mode = force_generic_plan; \
    SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off";

/// What a look leaves for the next.
struct Notes {
    /// [`look_statement`], prepared.
    look: Statement,
    /// [`schema::lines`] of [`Scope::Keys`], prepared: what hung on a touched relation
    /// and the look did not reach.
    describe: Statement,
    /// The keys of the objects that hang on each relation, by the relation's key.
    owned: HashMap<String, BTreeSet<String>>,
}

impl Notes {
    /// Records the object of `row` (a row of [`schema::lines`]) as hanging on its owners.
    fn own(&mut self, row: &Row) {
        for owner in row.get::<_, Vec<u32>>(2) {
            if owner != 0 {
                self.owned
                    .entry(format!("r{owner}"))
                    .or_default()
                    .insert(row.get(0));
            }
        }
    }
}

/// The user schemas described in full, the notes begun; `None` when the role may not
/// create event triggers.
pub(super) async fn track(client: &Client) -> Result<Option<Tracked>, tokio_postgres::Error> {
    match client.batch_execute(INSTALL).await {
        Ok(()) => {}
        Err(error) if error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => return Ok(None),
        Err(error) => return Err(error),
    }
    let keys = schema::lines(Scope::Keys);
    let look = look_statement();
    let (look, describe) = tokio::try_join!(client.prepare(&look), client.prepare(&keys))?;
    let rows = client.query(&schema::lines(Scope::All), &[]).await?;
    let mut notes = Notes {
        look,
        describe,
        owned: HashMap::new(),
    };
    for row in &rows {
        notes.own(row);
    }
    Ok(Some(Tracked::new(
        rows.iter().map(|row| (row.get(0), row.get(1))),
        Box::new(notes),
    )))
}

/// Whether `tracked` is followed by this module.
pub(super) fn follows(tracked: &Tracked) -> bool {
    tracked.engine.is::<Notes>()
}

/// Brings `tracked` to the schema now (see [`look`]); returns the earlier lines of the
/// objects it described again.
pub(super) async fn changed(
    client: &Client,
    tracked: &mut Tracked,
) -> Result<Earlier, tokio_postgres::Error> {
    let notes = tracked
        .engine
        .downcast_mut::<Notes>()
        .expect("a schema followed by notes");
    let looked = look(client, notes).await;
    if looked.is_err() {
        client.batch_execute("ROLLBACK").await?;
    }
    let mut earlier = Earlier::new();
    for (key, lines) in looked? {
        tracked.set(key, lines, &mut earlier);
    }
    Ok(earlier)
}

/// The lines of each object noted since the last look, of what depends on them and of
/// what hung on their relations (none: gone). The notes' objects are described in one
/// look's transaction; what hung on a touched relation and is not among them (PostgreSQL
/// remade it under a new oid without naming it) in a second one, only when there is such
/// an object.
async fn look(
    client: &Client,
    notes: &mut Notes,
) -> Result<BTreeMap<String, BTreeSet<String>>, tokio_postgres::Error> {
    let rows = in_look(client, &notes.look, &[]).await?;
    let (lines, touched): (Vec<&Row>, Vec<&Row>) = rows
        .iter()
        .partition(|row| row.get::<_, Option<String>>(1).is_some());
    let mut described: BTreeMap<String, BTreeSet<String>> = touched
        .iter()
        .map(|row| (row.get(0), BTreeSet::new()))
        .collect();
    let mut hung = BTreeSet::new();
    for relation in described.keys().filter(|key| key.starts_with('r')) {
        hung.extend(notes.owned.remove(relation).into_iter().flatten());
    }
    hung.retain(|key| !described.contains_key(key));
    let rows = if hung.is_empty() {
        Vec::new()
    } else {
        let oids = oids_by_kind(&hung);
        let params: Vec<&(dyn ToSql + Sync)> = oids.iter().map(|o| o as _).collect();
        let found = in_look(client, &notes.describe, &params).await?;
        described.extend(hung.into_iter().map(|key| (key, BTreeSet::new())));
        found
    };
    for row in lines.into_iter().chain(&rows) {
        notes.own(row);
        described.entry(row.get(0)).or_default().insert(row.get(1));
    }
    Ok(described)
}

/// `statement`'s rows in a look's transaction ([`LOOK_SETTINGS`]): its start, the
/// statement and its commit are sent in one round trip (the commit, a message of its own,
/// ends a failed transaction as a rollback).
async fn in_look(
    client: &Client,
    statement: &Statement,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let ((), rows, ()) = tokio::try_join!(
        client.batch_execute(LOOK_SETTINGS),
        client.query(statement, params),
        client.batch_execute("COMMIT")
    )?;
    Ok(rows)
}

/// The oids of `keys`, one array per kind in the order of [`KINDS`]: the parameters of
/// [`Scope::Keys`].
fn oids_by_kind(keys: &BTreeSet<String>) -> [Vec<u32>; KINDS.len()] {
    let mut oids: [Vec<u32>; KINDS.len()] = Default::default();
    for key in keys {
        let (kind, oid) = key.split_at(1);
        let kind = KINDS
            .iter()
            .position(|k| kind.starts_with(*k))
            .expect("a key starts with its kind");
        oids[kind].push(oid.parse().expect("a key ends with its oid"));
    }
    oids
}
