//! A failing statement of a no-transaction file is named by its number, line and column;
//! without a server position, by its number and the line it starts at.

use super::migrated;
use crate::support::TestDb;

#[tokio::test]
async fn a_failing_statement_of_a_no_transaction_file_is_named_by_number_line_and_column() {
    let db = TestDb::new().await;
    let project = migrated(&db, 1, 1, (1, 2)).await;
    project.migration(
        2,
        "split",
        "-- schemagate:no-transaction\nCREATE TABLE a (id int);\nSELECT id\n  FROM missing_table;\nCREATE TABLE b (id int);\n",
        "DROP TABLE IF EXISTS a;",
    );
    let run = project.run(&db.url, &["migrate", "--no-backup"]).await;
    run.expect_code(6);
    assert!(
        run.text()
            .contains("V2__split.sql) failed at statement 2 of 3 (line 4, column 8)"),
        "{}",
        run.text()
    );
}

#[tokio::test]
async fn a_failing_statement_without_a_server_position_is_named_by_number_and_line() {
    let db = TestDb::new().await;
    let project = migrated(&db, 1, 1, (1, 2)).await;
    project.migration(
        2,
        "split",
        "-- schemagate:no-transaction\nCREATE TABLE a (id int);\n\nCREATE TABLE b (id int);\nSELECT 1 / 0;\n",
        "DROP TABLE IF EXISTS a;",
    );
    let run = project.run(&db.url, &["migrate", "--no-backup"]).await;
    run.expect_code(6);
    assert!(
        run.text()
            .contains("V2__split.sql) failed at statement 3 of 3 (which starts at line 5)"),
        "{}",
        run.text()
    );
    run.expect_text("division by zero");
}
