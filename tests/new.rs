//! `schemagate new NAME` (issue 27 item 2, DESIGN §21): the next pair in the directory's
//! style, padding or timestamp format, which the catalogue then loads; refusals (exit 2)
//! write nothing.

use std::path::Path;

use crate::support::{Project, Run, TestDb};

/// No database is needed: `new`, `lint` and `version` never connect.
const NO_DATABASE: &str = "postgres://nobody@127.0.0.1:1/none";

/// Writes `files` (name, SQL) into the project's migrations directory.
fn seed(project: &Project, files: &[&str]) {
    for file in files {
        std::fs::write(project.migrations().join(file), "SELECT 1;\n").unwrap();
    }
}

/// Runs `schemagate new <args>` in the project (its migrations directory comes from
/// `SCHEMAGATE_MIGRATIONS_DIR`, as a user's would).
async fn new(project: &Project, args: &[&str]) -> Run {
    let mut all = vec!["new"];
    all.extend_from_slice(args);
    project.run(NO_DATABASE, &all).await
}

/// The file names `run` printed, each asserted to be a path into `dir`; stdout holds the
/// paths and nothing else. Each file is then filled in with a statement, as its user
/// would: a pair of comments alone does not load (an unwritten migration is never applied).
fn printed(run: &Run, dir: &Path) -> Vec<String> {
    run.expect_code(0);
    let stdout = String::from_utf8(run.0.stdout.clone()).unwrap();
    stdout
        .lines()
        .map(|line| {
            let path = Path::new(line);
            assert_eq!(path.parent().unwrap(), dir, "{stdout}");
            let template = std::fs::read_to_string(path).expect("printed but not written");
            std::fs::write(path, format!("{template}SELECT 1;\n")).unwrap();
            path.file_name().unwrap().to_str().unwrap().to_owned()
        })
        .collect()
}

/// The project's catalogue loads and lints clean, with `count` migrations.
async fn loads(project: &Project, count: usize) {
    project.run(NO_DATABASE, &["lint"]).await.expect_code(0);
    let version = project.run(NO_DATABASE, &["version"]).await;
    assert!(
        version
            .expect_code(0)
            .text()
            .contains(&format!("{count} migration(s)")),
        "{}",
        version.text()
    );
}

/// The file names in the migrations directory, sorted.
fn listing(project: &Project) -> Vec<String> {
    crate::support::files(&project.migrations())
}

#[tokio::test]
async fn each_style_gets_its_next_pair_with_the_directorys_padding_and_it_loads() {
    let cases: [(&[&str], [&str; 2]); 4] = [
        (
            &["V1__a.sql", "V1__a.down.sql"],
            ["V2__add_index.sql", "V2__add_index.down.sql"],
        ),
        (
            &["0009_a.sql", "0009_a.down.sql"],
            ["0010_add_index.sql", "0010_add_index.down.sql"],
        ),
        (
            &["007_a.up.sql", "007_a.down.sql"],
            ["008_add_index.up.sql", "008_add_index.down.sql"],
        ),
        (
            &["9_a.up.sql", "9_a.down.sql", "V99__x.txt"],
            ["10_add_index.up.sql", "10_add_index.down.sql"],
        ),
    ];
    for (existing, expected) in cases {
        let project = Project::with_tables(0, 1, 1);
        seed(&project, existing);
        let run = new(&project, &["add_index"]).await;
        assert_eq!(printed(&run, &project.migrations()), expected);
        loads(&project, 2).await;
    }
}

#[tokio::test]
async fn a_timestamped_directory_gets_the_current_utc_timestamp_always_after_the_last() {
    let project = Project::with_tables(0, 1, 1);
    seed(
        &project,
        &["20240101120000_a.sql", "20240101120000_a.down.sql"],
    );
    let before = utc_now();
    let first = printed(&new(&project, &["b"]).await, &project.migrations());
    let second = printed(&new(&project, &["c"]).await, &project.migrations());
    let after = utc_now();
    let version = |files: &[String]| files[0][..14].parse::<i64>().unwrap();
    assert_eq!(first[1], format!("{}_b.down.sql", &first[0][..14]));
    assert!(
        before <= version(&first) && version(&first) <= after,
        "{first:?}"
    );
    // Two in the same second still increase.
    assert!(version(&second) > version(&first), "{first:?} {second:?}");
    loads(&project, 3).await;

    // A last version in the future (a clock behind, a teammate's) is passed by a second,
    // into the next day and year.
    let project = Project::with_tables(0, 1, 1);
    seed(
        &project,
        &["V29991231235959__a.sql", "V29991231235959__a.down.sql"],
    );
    let run = new(&project, &["b"]).await;
    assert_eq!(
        printed(&run, &project.migrations()),
        ["V30000101000000__b.sql", "V30000101000000__b.down.sql"]
    );
    loads(&project, 2).await;
}

/// UTC now as `YYYYMMDDhhmmss`.
fn utc_now() -> i64 {
    let format = time::macros::format_description!("[year][month][day][hour][minute][second]");
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn an_empty_or_missing_directory_gets_refinerys_style_and_dir_overrides_the_setting() {
    let project = Project::with_tables(0, 1, 1);
    let run = new(&project, &["create_users"]).await;
    assert_eq!(
        printed(&run, &project.migrations()),
        ["V1__create_users.sql", "V1__create_users.down.sql"]
    );
    loads(&project, 1).await;

    let missing = project.path().join("db").join("migrations");
    let run = new(&project, &["first", "--dir", missing.to_str().unwrap()]).await;
    assert_eq!(
        printed(&run, &missing),
        ["V1__first.sql", "V1__first.down.sql"]
    );

    // Neither --dir nor the setting: `migrations` of the working directory.
    let run = project
        .command(NO_DATABASE, &["new", "second"])
        .env_remove("SCHEMAGATE_MIGRATIONS_DIR")
        .current_dir(project.path())
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(run.stdout).unwrap(),
        "migrations/V2__second.sql\nmigrations/V2__second.down.sql\n"
    );
    for file in ["V2__second.sql", "V2__second.down.sql"] {
        std::fs::write(project.migrations().join(file), "SELECT 1;\n").unwrap();
    }
    loads(&project, 2).await;
}

#[tokio::test]
async fn a_name_that_would_not_load_is_refused_and_nothing_is_written() {
    let project = Project::with_tables(0, 1, 1);
    seed(&project, &["0001_a.sql", "0001_a.down.sql"]);
    // `x.up` would make `0002_x.up.sql`: migration `x` of another style.
    for name in ["has-dash", "two words", "x.up", "../escape", "", "naïve²"] {
        let run = new(&project, &[name]).await;
        run.expect_code(2);
        assert!(run.0.stdout.is_empty(), "{}", run.text());
        assert!(
            run.text()
                .contains(&format!("{name:?} is not a migration name")),
            "{}",
            run.text()
        );
        run.expect_text("letters, digits and _");
    }
    assert_eq!(listing(&project), ["0001_a.down.sql", "0001_a.sql"]);
    // Unicode word characters are names, as the catalogue reads them.
    let run = new(&project, &["créer_table"]).await;
    assert_eq!(
        printed(&run, &project.migrations()),
        ["0002_créer_table.sql", "0002_créer_table.down.sql"]
    );
}

#[tokio::test]
async fn a_directory_that_does_not_load_is_refused_and_no_file_is_overwritten() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["V1__a.sql", "V1__a.down.sql", "2_b.up.sql", "2_b.down.sql"],
            "mixed naming styles",
        ),
        // The next pair's down file is there already, alone.
        (
            &["V1__a.sql", "V1__a.down.sql", "V2__b.down.sql"],
            "down file without an up file",
        ),
        (&["V1__a.sql"], "no down file"),
    ];
    for (existing, problem) in cases {
        let project = Project::with_tables(0, 1, 1);
        seed(&project, existing);
        std::fs::write(project.migrations().join(existing[0]), "SELECT 'mine';\n").unwrap();
        let before = listing(&project);
        let run = new(&project, &["b"]).await;
        run.expect_code(2);
        assert!(run.0.stdout.is_empty(), "{}", run.text());
        for expected in ["directory that does not load; fix it first", problem] {
            assert!(run.text().contains(expected), "{}", run.text());
        }
        assert_eq!(listing(&project), before);
        let kept = std::fs::read_to_string(project.migrations().join(existing[0])).unwrap();
        assert_eq!(kept, "SELECT 'mine';\n");
    }

    // A file where the directory should be: unreadable as a directory.
    let project = Project::with_tables(0, 1, 1);
    let file = project.path().join("not_a_dir");
    std::fs::write(&file, "x").unwrap();
    let run = new(&project, &["b", "--dir", file.to_str().unwrap()]).await;
    run.expect_code(2);
    run.expect_text("cannot read the migrations directory");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

/// The pair as written is refused until it is filled in (its comments alone are no
/// migration: nothing is applied); filled in, migrate applies it and the rollback runs
/// the down.
#[tokio::test]
async fn the_written_pair_is_refused_until_filled_in_then_migrates_and_rolls_back() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 2, 2);
    let run = new(&project, &["add_email"]).await;
    run.expect_code(0);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(2)
        .expect_text("V2__add_email.sql: empty");
    assert!(db.history().await.is_empty());
    printed(&run, &project.migrations());
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2]);
    project.compat(1, 2);
    project
        .run(&db.url, &["migrate", "--no-backup", "--rollback-to", "1"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1]);
}

#[tokio::test]
async fn no_pair_is_written_past_the_largest_version() {
    for latest in ["9223372036854775807", "99991231235959"] {
        let project = Project::with_tables(0, 1, 1);
        let files = [format!("{latest}_a.sql"), format!("{latest}_a.down.sql")];
        seed(&project, &[&files[0], &files[1]]);
        let run = new(&project, &["b"]).await;
        run.expect_code(2);
        assert!(
            run.text().contains(&format!("no version follows {latest}")),
            "{}",
            run.text()
        );
        assert_eq!(listing(&project).len(), 2);
    }
}
