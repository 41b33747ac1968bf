//! MariaDB/MySQL through the binary (issue 26): migrate, a step that fails part way leaves
//! the database dirty and refused until `repair`, and rollback; racers and kills in
//! [`kills`], restores in [`restore`], MySQL's lint in [`lint`].

mod kills;
mod lint;
mod restore;

use crate::support::Project;
use crate::support::mariadb::MariaDb;

/// Migrations 1 (two tables) and 2 (three statements, the second failing), window [1, 2].
fn project() -> Project {
    let project = Project::new();
    project.migration(
        1,
        "two_tables",
        "CREATE TABLE a (id INT PRIMARY KEY);\nCREATE TABLE b (id INT PRIMARY KEY);\n",
        "DROP TABLE b;\nDROP TABLE a;\n",
    );
    project.migration(
        2,
        "three_statements",
        "CREATE TABLE c (id INT);\n-- the next one fails\n  ALTER TABLE missing ADD x INT;\nCREATE TABLE d (id INT);\n",
        "DROP TABLE d;\nDROP TABLE c;\n",
    );
    project.compat(1, 2);
    project
}

#[tokio::test]
async fn a_statement_failing_part_way_leaves_a_dirty_database_refused_until_repaired() {
    let db = MariaDb::new().await;
    let project = project();
    let failed = project.run(&db.url, &["migrate"]).await;
    failed.expect_code(6);
    let text = failed.text();
    for said in [
        "V2__three_statements.sql",
        "statement 2 of 3",
        "line 3",
        "statement 1 ran and stays applied, statements 2 to 3 did not run",
        "the database is dirty",
    ] {
        assert!(text.contains(said), "{said:?} not in:\n{text}");
    }
    assert_eq!(
        db.tables().await,
        [
            "a",
            "b",
            "c",
            "refinery_schema_history",
            "schemagate_audit",
            "schemagate_schema"
        ]
    );
    let backups = std::fs::read_dir(project.backups()).unwrap().count();
    assert_eq!(
        backups, 2,
        "a verified backup and its manifest before the change"
    );

    project.run(&db.url, &["migrate"]).await
        .expect_code(3)
        .expect_text("the database is dirty: version 2 (three_statements) stopped part way while applying: statement 1 of 3 ran");
    project.run(&db.url, &["check"]).await.expect_code(3);

    let dry = project
        .run(
            &db.url,
            &["repair", "--version", "2", "--reverted", "--dry-run"],
        )
        .await;
    dry.expect_code(0);
    dry.expect_text("would record version 2 as reverted");
    project.run(&db.url, &["migrate"]).await.expect_code(3);
    project
        .run(&db.url, &["repair", "--version", "1", "--reverted"])
        .await
        .expect_code(2);

    use mysql_async::prelude::Queryable as _;
    db.conn().await.query_drop("DROP TABLE c").await.unwrap();
    let repaired = project
        .run(&db.url, &["repair", "--version", "2", "--reverted"])
        .await;
    repaired.expect_code(0);
    assert!(
        repaired
            .text()
            .contains("repaired: version 2 recorded as reverted"),
        "{}",
        repaired.text()
    );

    project.migration(
        2,
        "three_statements",
        "CREATE TABLE c (id INT);\nCREATE TABLE d (id INT);\n",
        "DROP TABLE d;\nDROP TABLE c;\n",
    );
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(
        db.tables().await,
        [
            "a",
            "b",
            "c",
            "d",
            "refinery_schema_history",
            "schemagate_audit",
            "schemagate_schema"
        ]
    );
    let actions: Vec<(String, String)> = db
        .conn()
        .await
        .query("SELECT action, LEFT(outcome, 40) FROM schemagate_audit ORDER BY id")
        .await
        .unwrap();
    let actions: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["migrate", "repair", "migrate"]);
}

#[tokio::test]
async fn a_migrated_database_rolls_back_and_a_second_run_changes_nothing() {
    let db = MariaDb::new().await;
    let project = project();
    project.migration(
        2,
        "three_statements",
        "CREATE TABLE c (id INT);\nINSERT INTO a VALUES (1);\nCREATE TABLE d (id INT);\n",
        "DROP TABLE d;\nDROP TABLE c;\n",
    );
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(
        db.tables().await,
        [
            "a",
            "b",
            "c",
            "d",
            "refinery_schema_history",
            "schemagate_audit",
            "schemagate_schema"
        ]
    );
    let rolled = project
        .run(&db.url, &["migrate", "--no-backup", "--rollback-to", "1"])
        .await;
    rolled.expect_code(0);
    rolled.expect_text("rolled back: schema 2 -> 1");
    assert_eq!(
        db.tables().await,
        [
            "a",
            "b",
            "refinery_schema_history",
            "schemagate_audit",
            "schemagate_schema"
        ]
    );
    let status = project.run(&db.url, &["status"]).await;
    status.expect_code(0);
}
