//! `schemagate verify` (issue "Safe DDL" item 4): every down is proven to invert its up on
//! a scratch database that is always dropped; the first that does not is named with the
//! objects that differ.

use crate::support::scratch::{of_process, run_watching};
use crate::support::{Project, TestDb, with_user_password};

#[tokio::test]
async fn the_example_migrations_verify_clean_and_the_target_database_is_untouched() {
    let db = TestDb::new().await;
    let project = Project::new();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), project.migrations().join(entry.file_name())).unwrap();
    }
    project.compat(1, 5);
    let watched = run_watching(&project, &db.url, &["verify"]).await;
    let run = watched.run;
    run.expect_code(0);
    let text = run.text();
    assert_eq!(
        text.matches("up, down, up again: identical").count(),
        5,
        "{text}"
    );
    assert!(text.contains("verified: every down"), "{text}");
    assert_eq!(db.tables().await, Vec::<String>::new());
    assert_eq!(db.history().await, Vec::<i64>::new());
    assert_eq!(of_process(watched.pid).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_down_that_forgets_an_index_is_caught_and_the_index_named() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 2);
    project.migration(
        2,
        "index_t1",
        // The sleep keeps the scratch database long enough for the test to see it.
        "CREATE INDEX t1_id_idx ON t1 (id);\nSELECT pg_sleep(0.3);",
        "SELECT 1; -- forgot DROP INDEX t1_id_idx",
    );
    let watched = run_watching(&project, &db.url, &["verify"]).await;
    let run = watched.run;
    run.expect_code(3);
    let text = run.text();
    assert!(
        text.contains("version 1 (") && text.contains("identical"),
        "{text}"
    );
    assert!(
        text.contains("the down of version 2") && text.contains("extra: index t1_id_idx"),
        "{text}"
    );
    assert_eq!(
        watched.seen.len(),
        1,
        "the run's one scratch database, seen while it ran"
    );
    assert_eq!(
        of_process(watched.pid).await,
        Vec::<String>::new(),
        "the scratch database was dropped"
    );
}

/// Runs `verify` on the catalogue of `migrations` (versions 1, 2, … of `(up, down)`),
/// expecting the down of the last to be refused with each of `lines`.
async fn the_last_down_is_refused_naming(migrations: &[(&str, &str)], lines: &[&str]) {
    let db = TestDb::new().await;
    the_last_down_is_refused_at(&db, &db.url, migrations, lines).await;
}

/// As [`the_last_down_is_refused_naming`], with `verify` run on `db` through `url`.
async fn the_last_down_is_refused_at(
    db: &TestDb,
    url: &str,
    migrations: &[(&str, &str)],
    lines: &[&str],
) {
    let project = Project::new();
    for (version, (up, down)) in (1..).zip(migrations) {
        project.migration(version, &format!("step{version}"), up, down);
    }
    let last = i64::try_from(migrations.len()).unwrap();
    project.compat(1, last);
    let run = project.run(url, &["verify"]).await;
    run.expect_code(3);
    let text = run.text();
    assert!(
        text.contains(&format!("the down of version {last}")),
        "{text}"
    );
    for line in lines {
        assert!(text.contains(line), "{line} in {text}");
    }
    assert_eq!(db.tables().await, Vec::<String>::new());
}

const T1: (&str, &str) = ("CREATE TABLE t1 (id int);", "DROP TABLE t1;");

#[tokio::test]
async fn a_down_that_forgets_a_column_is_caught_and_the_column_named() {
    the_last_down_is_refused_naming(
        &[
            T1,
            (
                "ALTER TABLE t1 ADD COLUMN note text NOT NULL DEFAULT '';",
                "SELECT 1; -- forgot DROP COLUMN note",
            ),
        ],
        &["extra: column t1.note text not null default ''::text"],
    )
    .await;
}

#[tokio::test]
async fn a_down_that_forgets_a_constraint_is_caught_and_the_constraint_named() {
    the_last_down_is_refused_naming(
        &[
            T1,
            (
                "ALTER TABLE t1 ADD CONSTRAINT t1_id_positive CHECK (id > 0);",
                "SELECT 1; -- forgot DROP CONSTRAINT",
            ),
        ],
        &["extra: constraint t1.t1_id_positive: CHECK ((id > 0))"],
    )
    .await;
}

#[tokio::test]
async fn a_down_that_forgets_a_function_is_caught_and_the_function_named() {
    the_last_down_is_refused_naming(
        &[
            T1,
            (
                "CREATE FUNCTION t1_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM t1';",
                "SELECT 1; -- forgot DROP FUNCTION",
            ),
        ],
        &["extra: routine t1_count(): "],
    )
    .await;
}

#[tokio::test]
async fn a_down_that_changes_what_its_up_did_not_touch_is_caught() {
    // Objects of earlier versions the up leaves alone, changed in place or dropped by the
    // down: no catalogue row of theirs is new, some are gone.
    the_last_down_is_refused_naming(
        &[
            T1,
            (
                "CREATE INDEX t1_id_idx ON t1 (id); \
                 CREATE FUNCTION t1_answer() RETURNS int LANGUAGE sql AS 'SELECT 42';",
                "DROP FUNCTION t1_answer(); DROP INDEX t1_id_idx;",
            ),
            (
                "CREATE TABLE t2 (id int);",
                "DROP TABLE t2; ALTER TABLE t1 ALTER COLUMN id SET NOT NULL; DROP INDEX t1_id_idx; \
                 CREATE OR REPLACE FUNCTION t1_answer() RETURNS int LANGUAGE sql AS 'SELECT 43';",
            ),
        ],
        &[
            "missing: column t1.id integer\n",
            "extra: column t1.id integer not null",
            "missing: index t1_id_idx",
            "missing: routine t1_answer(): ",
            "extra: routine t1_answer(): ",
        ],
    )
    .await;
}

#[tokio::test]
async fn renames_views_triggers_types_and_concurrent_indexes_that_invert_verify_clean() {
    let db = TestDb::new().await;
    let project = Project::new();
    project.migration(
        1,
        "base",
        "CREATE TYPE mood AS ENUM ('sad', 'ok'); \
         CREATE TABLE t1 (id int PRIMARY KEY, feeling mood, note text DEFAULT 'x'); \
         CREATE TABLE t2 (id int REFERENCES t1 (id)); \
         CREATE VIEW v1 AS SELECT id, note FROM t1; \
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$; \
         CREATE TRIGGER t1_touch BEFORE UPDATE ON t1 FOR EACH ROW EXECUTE FUNCTION touch();",
        "DROP VIEW v1; DROP TABLE t2; DROP TABLE t1; DROP FUNCTION touch(); DROP TYPE mood;",
    );
    project.migration(
        2,
        "renames",
        "ALTER TABLE t1 RENAME TO t1b; ALTER TABLE t1b RENAME COLUMN note TO remark; \
         ALTER TYPE mood RENAME TO feeling; ALTER FUNCTION touch() RENAME TO touched; \
         ALTER TABLE t1b ALTER COLUMN remark SET DEFAULT 'y';",
        "ALTER TABLE t1b ALTER COLUMN remark SET DEFAULT 'x'; ALTER FUNCTION touched() RENAME TO touch; \
         ALTER TYPE feeling RENAME TO mood; ALTER TABLE t1b RENAME COLUMN remark TO note; \
         ALTER TABLE t1b RENAME TO t1;",
    );
    project.migration(
        3,
        "concurrent_index",
        "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY t2_id_idx ON t2 (id);",
        "-- schemagate:no-transaction\nDROP INDEX CONCURRENTLY t2_id_idx;",
    );
    project.compat(1, 3);
    let run = project.run(&db.url, &["verify"]).await;
    run.expect_code(0);
    let text = run.text();
    assert_eq!(
        text.matches("up, down, up again: identical").count(),
        3,
        "{text}"
    );
}

#[tokio::test]
async fn a_down_that_forgets_a_trigger_is_caught_and_the_trigger_named() {
    the_last_down_is_refused_naming(
        &[
            (
                "CREATE TABLE t1 (id int); \
                 CREATE FUNCTION t1_keep() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;",
                "DROP TABLE t1; DROP FUNCTION t1_keep();",
            ),
            (
                "CREATE TRIGGER t1_kept BEFORE INSERT ON t1 FOR EACH ROW EXECUTE FUNCTION t1_keep();",
                "SELECT 1; -- forgot DROP TRIGGER t1_kept ON t1",
            ),
        ],
        &["extra: trigger t1_kept: CREATE TRIGGER t1_kept BEFORE INSERT ON "],
    )
    .await;
}

#[tokio::test]
async fn a_down_that_forgets_an_index_made_as_a_replica_session_is_caught() {
    // Triggers do not fire while `session_replication_role` is `replica`; the notes of
    // what a step touched must.
    the_last_down_is_refused_naming(
        &[
            T1,
            (
                "SET session_replication_role = replica; CREATE INDEX t1_id_idx ON t1 (id); \
                 RESET session_replication_role;",
                "SELECT 1; -- forgot DROP INDEX t1_id_idx",
            ),
        ],
        &["extra: index t1_id_idx"],
    )
    .await;
}

#[tokio::test]
async fn a_role_that_may_not_create_event_triggers_still_has_a_forgotten_index_caught() {
    let db = TestDb::new().await;
    db.execute(
        "DO $$ BEGIN CREATE ROLE sg_verify_createdb LOGIN CREATEDB NOSUPERUSER PASSWORD 'scratch'; \
         EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    )
    .await;
    let url = with_user_password(&db.url, "sg_verify_createdb", "scratch");
    the_last_down_is_refused_at(
        &db,
        &url,
        &[
            T1,
            (
                "CREATE INDEX t1_id_idx ON t1 (id); ALTER TABLE t1 ADD COLUMN note text;",
                "ALTER TABLE t1 DROP COLUMN note; -- forgot DROP INDEX t1_id_idx",
            ),
        ],
        &["extra: index t1_id_idx"],
    )
    .await;
}

#[tokio::test]
async fn column_types_changed_and_back_under_indexes_and_foreign_keys_verify_clean() {
    // PostgreSQL rebuilds the indexes, the constraints and the foreign keys that reference
    // a column whose type changes, under new oids, and drops an identity's sequence with
    // the identity, naming none of them; a GRANT names no object at all.
    let db = TestDb::new().await;
    let project = Project::new();
    project.migration(
        1,
        "base",
        "CREATE TABLE t1 (id int PRIMARY KEY, code int UNIQUE, n int GENERATED BY DEFAULT AS IDENTITY); \
         CREATE INDEX t1_code_idx ON t1 (code) WHERE code > 0; \
         CREATE TABLE t2 (id int REFERENCES t1 (id), code int REFERENCES t1 (code)); \
         GRANT SELECT ON t1 TO PUBLIC;",
        "REVOKE SELECT ON t1 FROM PUBLIC; DROP TABLE t2; DROP TABLE t1;",
    );
    project.migration(
        2,
        "wider",
        "ALTER TABLE t1 ALTER COLUMN id TYPE bigint, ALTER COLUMN code TYPE bigint; \
         ALTER TABLE t1 ALTER COLUMN n DROP IDENTITY;",
        "ALTER TABLE t1 ALTER COLUMN n ADD GENERATED BY DEFAULT AS IDENTITY; \
         ALTER TABLE t1 ALTER COLUMN id TYPE int, ALTER COLUMN code TYPE int;",
    );
    project.compat(1, 2);
    let run = project.run(&db.url, &["verify"]).await;
    run.expect_code(0);
    let text = run.text();
    assert_eq!(
        text.matches("up, down, up again: identical").count(),
        2,
        "{text}"
    );
}

#[tokio::test]
async fn a_down_that_forgets_a_table_made_as_another_role_is_caught() {
    // The notes of what a step touched are written whatever role the step switches to.
    let db = TestDb::new().await;
    db.execute(
        "DO $$ BEGIN CREATE ROLE sg_verify_maker; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    )
    .await;
    the_last_down_is_refused_at(
        &db,
        &db.url,
        &[
            T1,
            (
                "GRANT CREATE ON SCHEMA public TO sg_verify_maker; SET ROLE sg_verify_maker; \
                 CREATE TABLE t2 (id int); RESET ROLE;",
                "REVOKE CREATE ON SCHEMA public FROM sg_verify_maker; -- forgot DROP TABLE t2",
            ),
        ],
        &["extra: table t2", "extra: column t2.id integer"],
    )
    .await;
}
