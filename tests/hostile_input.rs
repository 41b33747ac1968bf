//! Hostile input (issue 7, issue 22): each kind of bad migrations directory is refused with
//! exit 2 and a message naming the file and the problem, before anything changes (at load,
//! or for what only PostgreSQL's grammar can tell, when the plan is read): the database and
//! the backup directory are untouched, and no message shows the text of a file.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use crate::support::{Project, TestDb, running_as_root};

/// A bad migrations directory: what to put in it and what the error must say.
#[derive(Clone, Copy)]
struct Case {
    what: &'static str,
    setup: fn(&Path),
    expected: &'static [&'static str],
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// The up file of version 2 with a valid down file beside it.
fn up_2(dir: &Path, name: &str, bytes: &[u8]) {
    write(dir, &format!("V2__{name}.sql"), bytes);
    write(dir, &format!("V2__{name}.down.sql"), b"DROP TABLE t2;");
}

const CASES: &[Case] = &[
    Case {
        what: "a file over the 64 MiB limit",
        setup: |dir| {
            // Sparse: the size is checked before anything is read.
            let file = std::fs::File::create(dir.join("V2__huge.sql")).unwrap();
            file.set_len(65 << 20).unwrap();
            write(dir, "V2__huge.down.sql", b"SELECT 1;");
        },
        expected: &["V2__huge.sql: larger than 64 MiB"],
    },
    Case {
        what: "a NUL byte",
        setup: |dir| up_2(dir, "nul", b"CREATE TABLE t2 (id int);\nSELECT '\0';"),
        expected: &["V2__nul.sql:2:9: NUL byte"],
    },
    Case {
        what: "content that is not UTF-8",
        setup: |dir| up_2(dir, "latin1", b"COMMENT ON TABLE t1 IS 'caf\xe9';"),
        expected: &["V2__latin1.sql: not UTF-8"],
    },
    Case {
        what: "UTF-16 content",
        setup: |dir| up_2(dir, "utf16", b"\xff\xfeS\0E\0L\0"),
        expected: &["V2__utf16.sql: not UTF-8"],
    },
    Case {
        what: "a file name that is not UTF-8",
        setup: |dir| {
            let name = std::ffi::OsStr::from_bytes(b"V2__caf\xe9.sql");
            std::fs::write(dir.join(name), b"SELECT 1;").unwrap();
        },
        expected: &["V2__caf\u{fffd}.sql: not UTF-8"],
    },
    Case {
        what: "a symlink to itself",
        setup: |dir| {
            symlink(dir.join("V2__loop.sql"), dir.join("V2__loop.sql")).unwrap();
            write(dir, "V2__loop.down.sql", b"SELECT 1;");
        },
        expected: &["V2__loop.sql: cannot be read", "symbolic links"],
    },
    Case {
        what: "two symlinks pointing at each other",
        setup: |dir| {
            symlink(dir.join("V2__a.sql"), dir.join("V3__b.sql")).unwrap();
            symlink(dir.join("V3__b.sql"), dir.join("V2__a.sql")).unwrap();
        },
        expected: &[
            "V2__a.sql: cannot be read",
            "V3__b.sql: cannot be read",
            "symbolic links",
        ],
    },
    Case {
        what: "a symlink to the migrations directory itself",
        setup: |dir| symlink(dir, dir.join("V2__self.sql")).unwrap(),
        expected: &["V2__self.sql: not a regular file"],
    },
    Case {
        what: "a directory named like a migration",
        setup: |dir| std::fs::create_dir(dir.join("V2__dir.sql")).unwrap(),
        expected: &["V2__dir.sql: not a regular file"],
    },
    Case {
        what: "version 0",
        setup: |dir| {
            write(dir, "V0__zero.sql", b"SELECT 1;");
            write(dir, "V0__zero.down.sql", b"SELECT 1;");
        },
        expected: &["V0__zero.sql: version must be a positive integer that fits i64"],
    },
    Case {
        what: "a version past i64::MAX",
        setup: |dir| {
            write(dir, "V9223372036854775808__big.sql", b"SELECT 1;");
            write(dir, "V9223372036854775808__big.down.sql", b"SELECT 1;");
        },
        expected: &[
            "V9223372036854775808__big.sql: version must be a positive integer that fits i64",
        ],
    },
    Case {
        what: "an empty up file",
        setup: |dir| up_2(dir, "empty", b""),
        expected: &["V2__empty.sql: empty"],
    },
    Case {
        what: "an empty down file",
        setup: |dir| {
            write(dir, "V2__t2.sql", b"CREATE TABLE t2 (id int);");
            write(dir, "V2__t2.down.sql", b"\n  \n");
        },
        expected: &["V2__t2.down.sql: empty"],
    },
    Case {
        what: "COMMIT inside a transactional migration",
        setup: |dir| {
            up_2(
                dir,
                "commit",
                b"CREATE TABLE t2 (id int);\ncommit;\nCREATE TABLE t3 (id int);",
            );
        },
        expected: &["V2__commit.sql:2:1: COMMIT inside a transactional migration"],
    },
    Case {
        what: "a comment-only up file",
        setup: |dir| up_2(dir, "todo", b"-- TODO: write it\n/* later */\n"),
        expected: &["V2__todo.sql: empty (nothing but white space and comments)"],
    },
    Case {
        what: "a statement PostgreSQL's grammar refuses",
        setup: |dir| {
            up_2(
                dir,
                "typo",
                format!("CREATE TABLE t2 (id int);\nCREATE TABLEE {SECRET} ();").as_bytes(),
            );
        },
        expected: &["V2__typo.sql:2:8: syntax error"],
    },
    Case {
        what: "CREATE INDEX CONCURRENTLY in a transactional migration",
        setup: |dir| {
            up_2(
                dir,
                "concurrently",
                b"CREATE TABLE t2 (id int);\nCREATE INDEX CONCURRENTLY t2_id ON t2 (id);",
            );
        },
        expected: &[
            "V2__concurrently.sql:2:1: CREATE INDEX CONCURRENTLY cannot run inside a transaction block",
        ],
    },
    Case {
        what: "a symlink to a file outside the migrations directory",
        setup: |dir| {
            // Beside the directory, as /etc/shadow would be elsewhere.
            let outside = dir.parent().unwrap().join("shadow");
            std::fs::write(&outside, format!("{SECRET}:$6$x:19000:0:99999:7:::\n")).unwrap();
            symlink(&outside, dir.join("V2__shadow.sql")).unwrap();
            write(dir, "V2__shadow.down.sql", b"SELECT 1;");
        },
        expected: &["V2__shadow.sql: a symbolic link to a file outside the migrations directory"],
    },
];

/// A word in hostile files that no message may show.
const SECRET: &str = "hunter2secret";

#[tokio::test]
async fn each_hostile_migrations_directory_is_refused_with_exit_2_and_nothing_is_touched() {
    let db = TestDb::new().await;
    let mut cases = CASES.to_vec();
    // A FIFO would block a plain read forever; mkfifo(1) spares us an unsafe libc call.
    cases.push(Case {
        what: "a FIFO named like a migration",
        setup: make_fifo,
        expected: &["V2__fifo.sql: not a regular file"],
    });
    for Case {
        what,
        setup,
        expected,
    } in cases
    {
        let project = Project::with_tables(1, 0, 3);
        setup(&project.migrations());
        let run = tokio::time::timeout(Duration::from_secs(30), project.run(&db.url, &["migrate"]))
            .await
            .unwrap_or_else(|_| panic!("{what}: schemagate hung"));
        assert_refused(&db, &project, what, &run, expected).await;
    }
}

/// A file the gate's user may not read: root reads a mode-000 file anyway, so the binary
/// runs as `nobody` when the tests run as root (as in CI), and as the tests' own user
/// otherwise.
#[tokio::test]
async fn a_migration_file_the_gates_user_may_not_read_is_refused_with_exit_2() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 0, 3);
    up_2(&project.migrations(), "secret", b"SELECT 1;");
    let secret = project.migrations().join("V2__secret.sql");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut command = project.command(&db.url, &["migrate"]);
    if running_as_root() {
        // nobody must reach the directory and read everything else in it.
        for dir in [project.path(), &project.migrations()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        command.uid(65534).gid(65534);
    }
    let run = crate::support::Run(command.output().await.unwrap());
    let expected = &["V2__secret.sql: cannot be read", "ermission denied"];
    assert_refused(&db, &project, "a file nobody may read", &run, expected).await;
}

/// The run was refused with exit 2 naming `expected`, showed nothing of the files' text,
/// and changed neither the database nor the backup directory.
async fn assert_refused(
    db: &TestDb,
    project: &Project,
    what: &str,
    run: &crate::support::Run,
    expected: &[&str],
) {
    assert_eq!(run.code(), 2, "{what}: {}", run.text());
    for needle in expected {
        assert!(
            run.text().contains(needle),
            "{what}: expected {needle:?} in:\n{}",
            run.text()
        );
    }
    assert!(
        !run.text().contains(SECRET) && !run.text().contains("TABLEE"),
        "{what}: the file's text was shown:\n{}",
        run.text()
    );
    assert!(!project.backups().exists(), "{what}: a backup was made");
    let tables = db
        .client()
        .await
        .query("SELECT 1 FROM pg_tables WHERE schemaname = 'public'", &[])
        .await
        .unwrap();
    assert!(tables.is_empty(), "{what}: the database was changed");
}

/// Creates the FIFO `V2__fifo.sql`.
#[allow(
    clippy::disallowed_types,
    reason = "mkfifo returns at once; the case table holds plain functions"
)]
fn make_fifo(dir: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(dir.join("V2__fifo.sql"))
        .status()
        .unwrap();
    assert!(status.success());
}

/// With compat.toml and a migration both bad, every command names compat.toml first: those
/// that connect first (`migrate`, `status`) and those that do not (`version`, `backup`).
#[tokio::test]
async fn with_compat_and_a_migration_both_bad_every_command_names_compat_first() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 0, 3);
    up_2(&project.migrations(), "nul", b"SELECT '\0';");
    project.compat_text("[app]\nversion = \"1.0.0\"\n[schema]\nmin = 3\nmax = 1\n");
    for command in ["migrate", "status", "version", "backup"] {
        let run = project.run(&db.url, &[command]).await;
        assert_eq!(run.code(), 2, "{command}: {}", run.text());
        assert!(
            run.text().contains("compat.toml") && !run.text().contains("V2__nul.sql"),
            "{command} should name compat.toml, not the migration:\n{}",
            run.text()
        );
    }
    assert!(!project.backups().exists(), "a backup was made");
}

/// A 20 MB data migration (no-transaction, `INSERT`s of 500 rows) is gated, `check` and
/// `migrate`, by a binary limited to 512 MiB of address space, the documented container
/// limit: parsing it whole took about 230 times its size.
#[tokio::test]
async fn a_20_mb_data_migration_is_gated_under_a_512_mib_address_space_limit() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 2, 2);
    let mut data = String::from("-- schemagate:no-transaction\n");
    let mut rows = 0;
    while data.len() < 20 << 20 {
        data.push_str("INSERT INTO t2 (id, name) VALUES\n");
        let batch: Vec<String> = (rows..rows + 500)
            .map(|n| format!("  ({n}, 'row {n}; it''s data')"))
            .collect();
        data.push_str(&batch.join(",\n"));
        data.push_str(";\n");
        rows += 500;
    }
    project.migration(
        2,
        "data",
        &format!("CREATE TABLE IF NOT EXISTS t2 (id int, name text);\n{data}"),
        "DROP TABLE t2;",
    );
    // `check` reads everything and refuses: the schema is below the window (exit 3).
    let check = limited(project.command(&db.url, &["check"])).output().await;
    crate::support::Run(check.unwrap()).expect_code(3);
    let migrate = limited(project.command(&db.url, &["migrate", "--no-backup"]))
        .output()
        .await;
    crate::support::Run(migrate.unwrap()).expect_code(0);
    assert_eq!(db.history().await, [1, 2]);
    let counted = db
        .client()
        .await
        .query_one("SELECT count(*) FROM t2", &[])
        .await
        .unwrap();
    assert_eq!(counted.get::<_, i64>(0), rows);
}

/// `command` run by `prlimit` under a 512 MiB address-space limit, with the same arguments
/// and environment.
fn limited(command: tokio::process::Command) -> tokio::process::Command {
    let command = command.as_std();
    let mut limited = tokio::process::Command::new("prlimit");
    limited
        .arg(format!("--as={}", 512 << 20))
        .arg("--")
        .arg(command.get_program())
        .args(command.get_args())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => limited.env(key, value),
            None => limited.env_remove(key),
        };
    }
    limited
}

/// A down file PostgreSQL's grammar refuses is refused (exit 2, file, line and column)
/// before a rollback shows its plan or changes anything, in a dry run too.
#[tokio::test]
async fn a_down_file_the_grammar_refuses_is_refused_before_a_rollback_changes_anything() {
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 2, 2);
    project.migrate_no_backup(&db.url).await;
    project.migration(
        2,
        "create_t2",
        "CREATE TABLE t2 (id int);",
        &format!("DROP TABLE t2;\nDROPP TABLE {SECRET};"),
    );
    for args in [
        &["--rollback-to", "1", "--dry-run"][..],
        &["--rollback-to", "1"][..],
    ] {
        let run = project.run(&db.url, args).await;
        run.expect_code(2);
        assert!(
            run.text()
                .contains("V2__create_t2.down.sql:2:1: syntax error"),
            "{}",
            run.text()
        );
        assert!(!run.text().contains(SECRET), "{}", run.text());
    }
    assert_eq!(db.history().await, [1, 2]);
    assert!(!project.backups().exists(), "a backup was made");
}

/// A certain failure in the third of three pending files: `plan` refuses it as `migrate`
/// would (exit 2, file, line and column), and `migrate` refuses it before the backup and
/// the first step, where it used to apply the first two and fail on the third (exit 6),
/// leaving the schema between releases.
#[tokio::test]
async fn a_certain_failure_in_a_later_step_is_refused_before_the_first_step_and_by_plan() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    let backups = crate::support::files(&project.backups());
    for v in 2..=3 {
        project.migration(
            v,
            &format!("create_t{v}"),
            &format!("CREATE TABLE t{v} (id int);"),
            &format!("DROP TABLE t{v};"),
        );
    }
    project.migration(
        4,
        "index_t3",
        "-- builds the index\nCREATE INDEX CONCURRENTLY t3_id ON t3 (id);",
        "DROP INDEX t3_id;",
    );
    project.compat(4, 4);
    for command in ["plan", "migrate"] {
        let run = project.run(&db.url, &[command]).await;
        run.expect_code(2);
        assert!(
            run.text().contains(
                "V4__index_t3.sql:2:1: CREATE INDEX CONCURRENTLY cannot run inside a transaction block"
            ),
            "{command}: {}",
            run.text()
        );
    }
    assert_eq!(db.history().await, [1]);
    assert_eq!(db.tables().await, ["t1"]);
    assert_eq!(crate::support::files(&project.backups()), backups);
}
