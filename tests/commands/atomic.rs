//! Stranding and `--atomic` (DESIGN §18): a plan that a failure part-way would leave
//! between the running release's window and the deployed one's says so; `--atomic` applies
//! it whole or not at all, and refuses before any change what it cannot do.

use crate::support::{Project, Snapshot, TestDb, pg_dump_text};

/// Release 1.3.0 ([1, 2]) ran migrations 1 and 2; release 1.4.0 ([7, 7]) brings 3 to 7,
/// whose third step (5) fails.
async fn a_release_whose_third_step_fails(db: &TestDb) -> Project {
    let project = Project::with_tables(2, 1, 2);
    project.compat_text("[app]\nversion = \"1.3.0\"\n[schema]\nmin = 1\nmax = 2\n");
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    for v in 3..=7 {
        let up = if v == 5 {
            "CREATE TABLE t5 (id int);\nSELECT 1 / 0;".to_owned()
        } else {
            format!("CREATE TABLE t{v} (id int);")
        };
        project.migration(
            v,
            &format!("create_t{v}"),
            &up,
            &format!("DROP TABLE t{v};"),
        );
    }
    project.compat_text(
        "[app]\nversion = \"1.4.0\"\n[schema]\nmin = 7\nmax = 7\n[[releases]]\nversion = \"1.3.0\"\nmin = 1\nmax = 2\n",
    );
    project
}

/// The schema and the history, without the audit trail (a failure is recorded there).
async fn schema_and_history(db: &TestDb) -> String {
    pg_dump_text(&db.url, &["--exclude-table=schemagate_audit"]).await
}

#[tokio::test]
async fn without_atomic_the_plan_warns_that_a_failure_strands_the_schema_and_it_does() {
    let db = TestDb::new().await;
    let project = a_release_whose_third_step_fails(&db).await;
    let plan = project.run(&db.url, &["plan"]).await;
    plan.expect_code(0);
    let text = plan.text();
    assert!(
        text.contains("WARNING: if step 5 (")
            && text.contains("V5__create_t5.sql) fails the schema stays at 4: outside v1.3.0 [1, 2] and v1.4.0 [7, 7]"),
        "{text}"
    );
    assert!(text.contains("remedy: --atomic"), "{text}");
    let run = project.run(&db.url, &["migrate"]).await;
    run.expect_code(6);
    assert!(
        run.text().contains("if step 4 (")
            && run
                .text()
                .contains("a failure at any of 4 step(s) would strand the schema")
            && run.text().contains("--atomic"),
        "the gate's log warns before the steps:\n{}",
        run.text()
    );
    assert_eq!(
        db.history().await,
        [1, 2, 3, 4],
        "stranded between the windows"
    );
}

#[tokio::test]
async fn with_atomic_a_failing_third_of_five_steps_leaves_schema_history_and_backups_as_they_were()
{
    let db = TestDb::new().await;
    let project = a_release_whose_third_step_fails(&db).await;
    let schema_before = schema_and_history(&db).await;
    let backups_before = Snapshot::take(&db.url, &project.backups()).await.files;
    let plan = project.run(&db.url, &["plan", "--atomic"]).await;
    plan.expect_code(0);
    assert!(!plan.text().contains("WARNING: if step"), "{}", plan.text());
    let run = project.run(&db.url, &["migrate", "--atomic"]).await;
    run.expect_code(6);
    assert!(
        run.text().contains("division by zero")
            && run
                .text()
                .contains("--atomic: the whole plan was rolled back with it"),
        "{}",
        run.text()
    );
    assert_eq!(db.history().await, [1, 2]);
    assert_eq!(schema_and_history(&db).await, schema_before);
    let backups_after = Snapshot::take(&db.url, &project.backups()).await.files;
    for file in &backups_before {
        assert!(backups_after.contains(file), "{} changed or went", file.0);
    }
    assert_eq!(
        backups_after.len(),
        backups_before.len() + 2,
        "one new dump and its manifest"
    );
}

#[tokio::test]
async fn atomic_from_compat_toml_applies_a_whole_plan() {
    let db = TestDb::new().await;
    let project = Project::with_tables(5, 1, 5);
    project.compat_text(
        "[app]\nversion = \"1.0.0\"\n[schema]\nmin = 1\nmax = 5\n[apply]\natomic = true\n",
    );
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2, 3, 4, 5]);
    assert_eq!(db.tables().await, ["t1", "t2", "t3", "t4", "t5"]);
}

#[tokio::test]
async fn atomic_refuses_a_no_transaction_file_before_any_change_with_exit_2() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 2);
    project.migration(
        2,
        "index",
        "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY t1_id ON t1 (id);",
        "DROP INDEX t1_id;",
    );
    let before = Snapshot::take(&db.url, &project.backups()).await;
    let run = project.run(&db.url, &["migrate", "--atomic"]).await;
    run.expect_code(2);
    assert!(
        run.text()
            .contains("V2__index.sql runs outside a transaction"),
        "{}",
        run.text()
    );
    assert_eq!(Snapshot::take(&db.url, &project.backups()).await, before);
    project
        .run(&db.url, &["plan", "--atomic"])
        .await
        .expect_code(2);
}

#[tokio::test]
async fn atomic_refuses_a_plan_needing_more_locks_than_the_server_holds_with_exit_3() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let capacity: i64 = client
        .query_one(
            "SELECT current_setting('max_locks_per_transaction')::int8 * \
             (current_setting('max_connections')::int8 + current_setting('max_prepared_transactions')::int8)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let project = Project::new();
    let statements = "SELECT 1;\n".repeat(usize::try_from(capacity / 2 + 1).unwrap());
    project.migration(1, "many", &statements, "SELECT 1;");
    project.compat(1, 1);
    let before = Snapshot::take(&db.url, &project.backups()).await;
    project
        .run(&db.url, &["migrate", "--atomic"])
        .await
        .expect_code(3)
        .expect_text("Raise max_locks_per_transaction");
    assert_eq!(Snapshot::take(&db.url, &project.backups()).await, before);
}
