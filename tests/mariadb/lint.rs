//! MySQL's own lint rule in the gate on a MariaDB URL: an `ALTER TABLE` that may copy the
//! table is found, the safe form is not, and PostgreSQL's rules never run there; a
//! version's `.mysql.sql` variant is the file that runs.

use crate::support::Project;
use crate::support::mariadb::MariaDb;

#[tokio::test]
async fn an_alter_that_may_copy_the_table_is_a_finding_and_strict_lint_refuses_it() {
    let db = MariaDb::new().await;
    let project = Project::new();
    // PostgreSQL's syntax for every engine, and MySQL's variant.
    project.migration(
        1,
        "t",
        "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY, c int);\n",
        "DROP TABLE t;\n",
    );
    std::fs::write(
        project.migrations().join("V1__t.mysql.sql"),
        "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, c INT);\n",
    )
    .unwrap();
    std::fs::write(
        project.migrations().join("V1__t.mysql.down.sql"),
        "DROP TABLE t;\n",
    )
    .unwrap();
    project.compat(1, 1);
    project.migrate_no_backup(&db.url).await;
    project.migration(
        2,
        "widen",
        "-- a plain CREATE INDEX, which PostgreSQL's rules would flag, is online here\nCREATE INDEX i ON t (c);\nALTER TABLE t MODIFY c BIGINT;\n",
        "ALTER TABLE t MODIFY c INT;\n",
    );
    project.compat(2, 2);
    let refused = project
        .run(&db.url, &["migrate", "--lint", "strict", "--no-backup"])
        .await;
    refused.expect_code(3);
    let text = refused.text();
    assert!(
        text.contains("V2__widen.sql:3:1: alter-copies-table")
            && text.contains("ALGORITHM=INPLACE, LOCK=NONE"),
        "{text}"
    );
    assert!(!text.contains("index-not-concurrent"), "{text}");
    assert_eq!(db.history().await, [1], "nothing ran");

    project.migration(
        2,
        "widen",
        "CREATE INDEX i ON t (c);\nALTER TABLE t MODIFY c BIGINT, ALGORITHM=INPLACE, LOCK=NONE;\n",
        "ALTER TABLE t MODIFY c INT;\n",
    );
    let refused = project
        .run(&db.url, &["migrate", "--lint", "strict", "--no-backup"])
        .await;
    // MariaDB cannot widen INT to BIGINT in place: the server refuses rather than copies.
    refused.expect_code(6);
    assert!(
        refused
            .text()
            .contains("ALGORITHM=INPLACE is not supported"),
        "{}",
        refused.text()
    );
}
