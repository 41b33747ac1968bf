//! `schemagate lint` and the gate's lint of its plan (issue 13, DESIGN §12): exit codes and
//! formats; `breaks-window` refused with the example compat windows before anything
//! changes; strict mode; plain `CREATE INDEX` sets still installing.

use crate::support::{Project, TestDb};

/// The repository's example compat.toml: this release 1.4.0 on [4, 5], 1.3.0 on [3, 4].
const EXAMPLE_COMPAT: &str = include_str!("../compat.toml");

/// The example migrations, with migration 5 replaced by `v5_up`.
fn example_project(v5_up: &str) -> Project {
    let project = Project::new();
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, project.migrations().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(project.migrations().join("V5__create_api_keys.sql"), v5_up).unwrap();
    project.compat_text(EXAMPLE_COMPAT);
    project
}

/// A project whose second migration indexes the first one's table without CONCURRENTLY.
fn plain_index_project() -> Project {
    let project = Project::with_tables(1, 1, 2);
    project.migration(
        2,
        "index_t1",
        "CREATE INDEX t1_id ON t1 (id);",
        "DROP INDEX t1_id;",
    );
    project
}

#[tokio::test]
async fn lint_exits_0_when_clean_3_on_findings_and_2_on_unreadable_input() {
    let project = Project::with_tables(2, 1, 2);
    let url = "postgres://nobody@127.0.0.1:1/none";
    project.run(url, &["lint"]).await.expect_code(0);
    let index = project.migrations().join("V3__index.sql");
    std::fs::write(&index, "SELECT 1;\nCREATE INDEX t1_id ON t1 (id);\n").unwrap();
    let found = project.run(url, &["lint", index.to_str().unwrap()]).await;
    found.expect_code(3);
    let stdout = String::from_utf8_lossy(&found.0.stdout).into_owned();
    assert_eq!(
        stdout,
        format!(
            "{}:2:1: index-not-concurrent: CREATE INDEX on existing table `t1` without CONCURRENTLY blocks every write to it while the index builds (safe: CREATE INDEX CONCURRENTLY (or DROP INDEX CONCURRENTLY) in a `-- schemagate:no-transaction` file)\n",
            index.display()
        )
    );
    let directory = project
        .run(url, &["lint", project.migrations().to_str().unwrap()])
        .await;
    directory.expect_code(3);
    directory.expect_text("V3__index.sql:2:1");

    let missing = project.path().join("nope.sql");
    project
        .run(url, &["lint", missing.to_str().unwrap()])
        .await
        .expect_code(2);
    let broken = project.path().join("broken.sql");
    std::fs::write(&broken, "SELECT 1;\n  CREATE TABLEE t ();\n").unwrap();
    let refused = project.run(url, &["lint", broken.to_str().unwrap()]).await;
    refused
        .expect_code(2)
        .expect_text("broken.sql:2:10: syntax error");
    assert!(!refused.text().contains("TABLEE"), "{}", refused.text());
}

/// `lint` of the repository's own migrations/ (the README's quick start), judged against
/// the compat.toml beside it: clean, without a warning.
#[tokio::test]
async fn the_repositorys_own_migrations_lint_clean_against_the_compat_beside_them() {
    let project = Project::new();
    let migrations = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut command = project.command("postgres://nobody@127.0.0.1:1/none", &["lint", migrations]);
    command.env_remove("SCHEMAGATE_COMPAT");
    let run = crate::support::Run(command.output().await.unwrap());
    run.expect_code(0);
    assert!(!run.text().contains("WARN"), "{}", run.text());
    assert!(
        run.text()
            .contains(concat!(env!("CARGO_MANIFEST_DIR"), "/compat.toml")),
        "{}",
        run.text()
    );
}

/// `lint PATHS` without `--compat` judges `breaks-window` against the project's own
/// window (compat.toml beside the migrations directory), not the binary's embedded one,
/// and says so when there is none.
#[tokio::test]
async fn lint_paths_without_compat_judge_breaks_window_against_their_own_compat_or_say_it_is_missing()
 {
    let url = "postgres://nobody@127.0.0.1:1/none";
    let lint = |project: &Project| {
        let mut command = project.command(url, &["lint", project.migrations().to_str().unwrap()]);
        command.env_remove("SCHEMAGATE_COMPAT");
        async move { crate::support::Run(command.output().await.unwrap()) }
    };
    // Migration 2 drops a column inside this project's window (1, 2], which the embedded
    // window [4, 5] would not see.
    let project = Project::with_tables(1, 1, 2);
    project.migration(2, "drop", "ALTER TABLE t1 DROP COLUMN id;", "SELECT 1;");
    let run = lint(&project).await;
    run.expect_code(3);
    run.expect_text("breaks-window");
    project.compat(2, 2);
    lint(&project).await.expect_code(0);

    // Migration 5 drops a column: inside the embedded window (4, 5], but this project has
    // no compat.toml, so the window is not judged, and the output says so.
    let bare = Project::new();
    bare.migration(5, "drop", "ALTER TABLE t1 DROP COLUMN id;", "SELECT 1;");
    let run = lint(&bare).await;
    run.expect_code(0);
    run.expect_text("no compat.toml beside the paths");
}

#[tokio::test]
async fn lint_prints_json_and_github_annotations_and_honours_waivers() {
    let project = Project::with_tables(1, 1, 2);
    let url = "postgres://nobody@127.0.0.1:1/none";
    project.migration(
        2,
        "both",
        "-- schemagate:allow set-not-null checked in migration 1\n\
         ALTER TABLE t1 ALTER COLUMN id SET NOT NULL;\n\
         ALTER TABLE t1 ADD CONSTRAINT positive CHECK (id > 0);\n",
        "SELECT 1;",
    );
    let json = project.run(url, &["lint", "--format", "json"]).await;
    json.expect_code(3);
    let findings: serde_json::Value = serde_json::from_slice(&json.0.stdout).unwrap();
    let findings = findings.as_array().unwrap();
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert_eq!(findings[0]["rule"], "set-not-null");
    assert_eq!(findings[0]["waived"], "checked in migration 1");
    assert_eq!(findings[1]["rule"], "constraint-not-valid");
    assert_eq!(findings[1]["line"], 3);
    assert!(findings[1].get("waived").is_none());

    let github = project.run(url, &["lint", "--format", "github"]).await;
    github.expect_code(3);
    let stdout = String::from_utf8_lossy(&github.0.stdout).into_owned();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("::error file=")
            && stdout.contains(",line=3,col=1,title=constraint-not-valid::"),
        "{stdout}"
    );

    // A waiver without a reason is a finding of its own and waives nothing.
    project.migration(
        2,
        "both",
        "-- schemagate:allow constraint-not-valid\n\
         ALTER TABLE t1 ADD CONSTRAINT positive CHECK (id > 0);\n",
        "SELECT 1;",
    );
    let text = project.run(url, &["lint"]).await;
    text.expect_code(3);
    assert!(
        text.text()
            .contains(":1:1: waiver: waiver of `constraint-not-valid` without a reason"),
        "{}",
        text.text()
    );
    text.expect_text(":2:1: constraint-not-valid:");
}

#[tokio::test]
async fn the_gate_refuses_breaks_window_with_the_example_windows_before_any_change() {
    let db = TestDb::new().await;
    let project = example_project("ALTER TABLE projects DROP COLUMN archived_at;\n");
    let refused = project.run(&db.url, &["migrate"]).await;
    refused.expect_code(3);
    let text = refused.text();
    assert!(
        text.contains("breaks-window: DROP COLUMN `projects.archived_at` in migration 5, inside (4, 5] of v1.4.0's window: release v1.3.0 (schema 3..4) still runs on the schema before it"),
        "{text}"
    );
    assert!(!text.contains("1.2.0"), "{text}");
    assert_eq!(db.history().await, Vec::<i64>::new());
    assert!(db.tables().await.is_empty());
    assert!(
        !project.backups().exists(),
        "no backup is taken for a refused plan"
    );

    // `plan` refuses as `migrate` would; a waiver with its reason lets it through.
    project.run(&db.url, &["plan"]).await.expect_code(3);
    std::fs::write(
        project.migrations().join("V5__create_api_keys.sql"),
        "-- schemagate:allow breaks-window archived_at unused by v1.3.0 (checked)\n\
         ALTER TABLE projects DROP COLUMN archived_at;\n",
    )
    .unwrap();
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn at_or_below_the_window_min_a_drop_is_no_break() {
    let db = TestDb::new().await;
    let project = example_project(
        "CREATE TABLE api_keys (id bigint);\nALTER TABLE projects ADD COLUMN owner bigint NOT NULL DEFAULT 0;\n",
    );
    // Migration 4 (= min) may drop what it likes: no release older than the window runs.
    std::fs::write(
        project.migrations().join("V4__add_projects_archived_at.sql"),
        "ALTER TABLE projects ADD COLUMN archived_at timestamptz;\nALTER TABLE projects DROP COLUMN archived_at;\nALTER TABLE projects ADD COLUMN archived_at timestamptz;\n",
    )
    .unwrap();
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn plain_create_index_installs_with_a_warning_and_strict_mode_refuses_it_before_any_change() {
    let db = TestDb::new().await;
    let project = plain_index_project();
    for strict in [
        vec!["migrate", "--no-backup", "--lint", "strict"],
        vec!["plan", "--lint", "strict"],
    ] {
        project
            .run(&db.url, &strict)
            .await
            .expect_code(3)
            .expect_text("index-not-concurrent")
            .expect_text("strict lint");
        assert_eq!(db.history().await, Vec::<i64>::new());
    }
    project.compat_text(
        "[app]\nversion = \"1.0.0\"\n[schema]\nmin = 1\nmax = 2\n[lint]\nstrict = true\n",
    );
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(3);
    assert!(db.tables().await.is_empty());
    // `--lint warn` overrides compat.toml; the default (no [lint]) warns too.
    let warned = project
        .run(&db.url, &["migrate", "--no-backup", "--lint", "warn"])
        .await;
    warned.expect_code(0);
    assert!(
        warned
            .text()
            .contains("lint: CREATE INDEX on existing table `t1`"),
        "{}",
        warned.text()
    );
    assert_eq!(db.history().await, [1, 2]);
}

#[tokio::test]
async fn an_imported_set_of_plain_create_index_on_its_own_tables_installs_without_findings() {
    let db = TestDb::new().await;
    let project = Project::new();
    project.migration(
        1,
        "users",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n\
         CREATE UNIQUE INDEX users_email ON users (email);\n\
         CREATE INDEX users_id_email ON users (id, email);\n",
        "DROP TABLE users;",
    );
    project.compat(1, 1);
    let run = project
        .run(&db.url, &["migrate", "--no-backup", "--lint", "strict"])
        .await;
    run.expect_code(0);
    assert!(!run.text().contains("lint:"), "{}", run.text());
    assert_eq!(db.history().await, [1]);
}
