use std::path::Path;

use super::*;

fn file(name: &str, sql: &str) -> SourceFile {
    SourceFile {
        name: name.to_owned(),
        bytes: sql.as_bytes().to_vec(),
    }
}

fn problems(files: Vec<SourceFile>) -> Vec<Problem> {
    match from_files("m/", files) {
        Err(CatalogueError::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn each_style_pairs_up_and_down_files() {
    for (up, down) in [
        ("V1__users.sql", "V1__users.down.sql"),
        ("0001_users.sql", "0001_users.down.sql"),
        ("0001_users.up.sql", "0001_users.down.sql"),
    ] {
        let catalogue = from_files(
            "m/",
            vec![file(up, "CREATE TABLE u ();"), file(down, "DROP TABLE u;")],
        )
        .unwrap();
        let migration = &catalogue.migrations()[0];
        assert_eq!(
            (migration.version, migration.name.as_str()),
            (1, "users"),
            "{up}"
        );
        assert!(matches!(&migration.down, Down::Script(s) if s.sql == "DROP TABLE u;"));
    }
}

#[test]
fn a_crlf_file_accepts_refinerys_checksums_of_both_spellings() {
    let crlf = from_files(
        "m/",
        vec![
            file("V2__x.sql", "SELECT 1;\r\nSELECT 2;\r\n"),
            file("V2__x.down.sql", "SELECT 3;"),
        ],
    )
    .unwrap();
    let migration = &crlf.migrations()[0];
    for sql in ["SELECT 1;\nSELECT 2;\n", "SELECT 1;\r\nSELECT 2;\r\n"] {
        let refinery = refinery_core::Migration::unapplied("V2__x", sql).unwrap();
        assert!(migration.accepts(refinery.checksum()), "{sql:?}");
    }
    assert!(migration.accepts(migration.checksum));
    assert!(!migration.accepts(migration.checksum ^ 1));
}

#[test]
fn every_rejection_names_its_files() {
    let cases: Vec<(Vec<SourceFile>, Problem)> = vec![
        (
            vec![
                file("V1__a.sql", "x"),
                file("V1__b.sql", "y"),
                file("V1__a.down.sql", "z"),
            ],
            Problem::DuplicateVersion(1, vec!["m/V1__a.sql".into(), "m/V1__b.sql".into()]),
        ),
        (
            vec![
                file("V1__a.sql", "x"),
                file("V1__a.down.sql", "x"),
                file("2_b.sql", "y"),
                file("2_b.down.sql", "y"),
            ],
            Problem::MixedStyles("m/V1__a.sql".into(), "m/2_b.sql".into()),
        ),
        (
            vec![
                file("1_a.sql", "x"),
                file("1_a.down.sql", "x"),
                file("2_b.up.sql", "y"),
                file("2_b.down.sql", "y"),
            ],
            Problem::MixedStyles("m/1_a.sql".into(), "m/2_b.up.sql".into()),
        ),
        (
            vec![file("notes.sql", "x")],
            Problem::Unparsable("m/notes.sql".into()),
        ),
        (
            vec![file("0_zero.sql", "x")],
            Problem::VersionOutOfRange("m/0_zero.sql".into()),
        ),
        (
            vec![file("0003_a.sql", "x")],
            Problem::MissingDown("m/0003_a.sql".into(), "m/0003_a.down.sql".into()),
        ),
        (
            vec![file("V4__a.down.sql", "x")],
            Problem::DownWithoutUp("m/V4__a.down.sql".into()),
        ),
        (
            vec![
                SourceFile {
                    name: "1_a.sql".into(),
                    bytes: vec![0xff, 0xfe],
                },
                file("1_a.down.sql", "x"),
            ],
            Problem::NotUtf8("m/1_a.sql".into()),
        ),
        (
            vec![file("1_a.sql", " \n\t"), file("1_a.down.sql", "x")],
            Problem::Empty("m/1_a.sql".into()),
        ),
        (
            vec![
                file("1_a.sql", "-- todo\n/* later */ ;\n"),
                file("1_a.down.sql", "x"),
            ],
            Problem::Empty("m/1_a.sql".into()),
        ),
        (
            vec![
                file("1_a.sql", "SELECT 1;\nSELECT '\0';"),
                file("1_a.down.sql", "x"),
            ],
            Problem::NulByte("m/1_a.sql".into(), 2, 9),
        ),
    ];
    for (files, expected) in cases {
        let found = problems(files);
        assert!(
            found.contains(&expected),
            "expected {expected:?} in {found:?}"
        );
    }
}

#[test]
fn all_problems_are_reported_together() {
    let found = problems(vec![
        file("bad.sql", "x"),
        file("2_b.sql", "y"),
        file("3_c.down.sql", "z"),
    ]);
    assert_eq!(found.len(), 3, "{found:?}");
    let message = CatalogueError::Invalid {
        origin: "m/".into(),
        problems: found,
    }
    .to_string();
    assert!(
        message.contains("m/bad.sql")
            && message.contains("m/2_b.down.sql")
            && message.contains("m/3_c.down.sql"),
        "{message}"
    );
}

#[test]
fn an_irreversible_marker_replaces_the_down_sql() {
    let catalogue = from_files(
        "m/",
        vec![
            file("1_a.sql", "DROP TABLE old;"),
            file("1_a.down.sql", "-- schemagate:irreversible\n"),
        ],
    )
    .unwrap();
    assert_eq!(
        catalogue.migrations()[0].down,
        Down::Irreversible {
            file: "m/1_a.down.sql".into()
        }
    );
}

#[test]
fn no_transaction_files_may_control_transactions_and_are_flagged_as_such() {
    let catalogue = from_files(
        "m/",
        vec![
            file(
                "1_a.sql",
                "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;",
            ),
            file(
                "1_a.down.sql",
                "-- +goose NO TRANSACTION\nDROP INDEX CONCURRENTLY i;",
            ),
        ],
    )
    .unwrap();
    let migration = &catalogue.migrations()[0];
    assert!(!migration.up.transactional);
    assert!(matches!(&migration.down, Down::Script(s) if !s.transactional));
}

#[test]
fn the_crates_own_catalogue_is_valid() {
    let catalogue =
        from_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")).unwrap();
    assert!(catalogue.migrations().len() >= 4);
}

#[test]
fn embedded_files_are_read_as_a_directory_is() {
    let files: &[(&str, &[u8])] = &[
        ("V1__a.sql", b"CREATE TABLE a (id int);"),
        ("V1__a.down.sql", b"DROP TABLE a;"),
    ];
    let catalogue = from_static("migrations/ (embedded)", files).unwrap();
    assert_eq!(catalogue.migrations()[0].version, 1);
    let missing_down: &[(&str, &[u8])] = &[("V1__a.sql", b"SELECT 1;")];
    let error = from_static("migrations/ (embedded)", missing_down).unwrap_err();
    assert!(error.to_string().contains("V1__a.down.sql"), "{error}");
}

#[test]
fn a_directory_is_read_and_other_files_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("V1__a.sql"), "SELECT 1;").unwrap();
    std::fs::write(dir.path().join("V1__a.down.sql"), "SELECT 2;").unwrap();
    std::fs::write(dir.path().join("README.md"), "docs").unwrap();
    let catalogue = from_dir(dir.path()).unwrap();
    assert_eq!(catalogue.latest(), 1);
    assert!(matches!(
        from_dir(&dir.path().join("missing")),
        Err(CatalogueError::Directory { .. })
    ));
}

#[test]
fn no_sql_is_parsed_at_load() {
    // Statements a pending check refuses load fine: they are read only when they are about
    // to run, so an applied file is never parsed again.
    for up in [
        "CREATE TABLE t ();\nCOMMIT;",
        "CREATE INDEX CONCURRENTLY i ON t (a);",
        "-- schemagate:no-transaction\nCREATE TABLEE t ();",
    ] {
        let catalogue = from_files("m/", vec![file("1_a.sql", up), file("1_a.down.sql", "x")]);
        assert!(catalogue.is_ok(), "{up:?}: {catalogue:?}");
    }
}

/// `count` migrations `V{n}__t{n}.sql` in `dir`, each up file naming its version.
fn write_migrations(dir: &Path, count: usize) {
    for n in 1..=count {
        std::fs::write(dir.join(format!("V{n}__t{n}.sql")), format!("SELECT {n};")).unwrap();
        std::fs::write(dir.join(format!("V{n}__t{n}.down.sql")), "SELECT 0;").unwrap();
    }
}

#[test]
fn a_directory_read_on_several_threads_gives_each_file_its_own_contents() {
    let dir = tempfile::tempdir().unwrap();
    let count = 2 * parallel::MIN_PER_THREAD;
    write_migrations(dir.path(), count);
    let catalogue = from_dir(dir.path()).unwrap();
    assert_eq!(catalogue.migrations().len(), count);
    for (n, migration) in (1..).zip(catalogue.migrations()) {
        assert_eq!(migration.version, n);
        assert_eq!(migration.up.sql, format!("SELECT {n};"));
        assert!(migration.up.file.ends_with(&format!("/V{n}__t{n}.sql")));
    }
}

#[test]
fn problems_in_a_directory_read_on_several_threads_name_their_files() {
    let dir = tempfile::tempdir().unwrap();
    write_migrations(dir.path(), 2 * parallel::MIN_PER_THREAD);
    std::fs::create_dir(dir.path().join("V9000__dir.sql")).unwrap();
    std::fs::write(dir.path().join("V9001__empty.sql"), "").unwrap();
    std::fs::write(dir.path().join("V9001__empty.down.sql"), "SELECT 1;").unwrap();
    let Err(CatalogueError::Invalid { problems, .. }) = from_dir(dir.path()) else {
        panic!("expected problems");
    };
    let shown = |name: &str| dir.path().join(name).display().to_string();
    assert_eq!(
        problems,
        [
            Problem::NotAFile(shown("V9000__dir.sql")),
            Problem::Empty(shown("V9001__empty.sql")),
            Problem::DownWithoutUp(shown("V9001__empty.down.sql")),
        ]
    );
}

#[test]
fn files_larger_than_the_first_read_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    for (n, size) in [
        (1, FIRST_READ - 1),
        (2, FIRST_READ),
        (3, FIRST_READ + 1),
        (4, 3 * FIRST_READ),
    ] {
        let sql = format!("SELECT 1;{}\n", " ".repeat(size - 10));
        assert_eq!(sql.len(), size);
        std::fs::write(dir.path().join(format!("V{n}__t.sql")), &sql).unwrap();
        std::fs::write(dir.path().join(format!("V{n}__t.down.sql")), "SELECT 0;").unwrap();
    }
    let catalogue = from_dir(dir.path()).unwrap();
    let sizes: Vec<usize> = catalogue
        .migrations()
        .iter()
        .map(|m| m.up.sql.len())
        .collect();
    assert_eq!(
        sizes,
        [FIRST_READ - 1, FIRST_READ, FIRST_READ + 1, 3 * FIRST_READ]
    );
}

#[test]
fn problems_of_files_checked_on_several_threads_keep_the_order_of_the_files() {
    let mut files = Vec::new();
    for n in 1..=parallel::MIN_PER_THREAD {
        files.push(file(&format!("V{n}__t.sql"), "SELECT 1;"));
        files.push(file(&format!("V{n}__t.down.sql"), "SELECT 0;"));
    }
    files.insert(3, file("first-bad.sql", "x"));
    files.push(file("second-bad.sql", "x"));
    assert_eq!(
        problems(files),
        [
            Problem::Unparsable("m/first-bad.sql".into()),
            Problem::Unparsable("m/second-bad.sql".into()),
        ]
    );
}

#[test]
fn the_text_of_an_irreversible_down_file_is_not_checked_and_an_unpaired_file_only_reported_unpaired()
 {
    let catalogue = from_files(
        "m/",
        vec![
            file("1_a.sql", "DROP TABLE old;"),
            file("1_a.down.sql", "-- schemagate:irreversible\nCOMMIT;"),
        ],
    );
    assert!(catalogue.is_ok(), "{catalogue:?}");
    assert_eq!(
        problems(vec![file("2_b.down.sql", "COMMIT;")]),
        [Problem::DownWithoutUp("m/2_b.down.sql".into())]
    );
}

fn engine_files() -> Vec<SourceFile> {
    vec![
        file("V1__a.sql", "CREATE TABLE a ();"),
        file("V1__a.down.sql", "DROP TABLE a;"),
        file("V1__a.sqlite.sql", "CREATE TABLE a (x);"),
        file("V1__a.sqlite.down.sql", "DROP TABLE a;"),
        file(
            "V2__b.postgres.sql",
            "CREATE INDEX CONCURRENTLY b ON a (x);",
        ),
        file("V2__b.postgres.down.sql", "DROP INDEX b;"),
        file("V2__b.sqlite.sql", "CREATE INDEX b ON a (x);"),
        file("V2__b.sqlite.down.sql", "DROP INDEX b;"),
    ]
}

#[test]
fn each_engine_runs_its_variant_else_the_file_of_every_engine() {
    use crate::catalogue::Engine;
    let loaded = from_files("m/", engine_files()).unwrap();
    assert_eq!(loaded.engine(), None);
    assert_eq!(loaded.variants().len(), 3);
    let files = |engine| -> Vec<(i64, String, u64)> {
        let resolved = loaded.clone().for_engine(engine).unwrap();
        assert_eq!(resolved.engine(), Some(engine));
        resolved
            .migrations()
            .iter()
            .map(|m| (m.version, m.up.file.clone(), m.checksum))
            .collect()
    };
    let sum =
        |version, sql| super::checksum::written(if version == 1 { "a" } else { "b" }, version, sql);
    assert_eq!(
        files(Engine::Postgres),
        [
            (1, "m/V1__a.sql".to_owned(), sum(1, "CREATE TABLE a ();")),
            (
                2,
                "m/V2__b.postgres.sql".to_owned(),
                sum(2, "CREATE INDEX CONCURRENTLY b ON a (x);")
            ),
        ]
    );
    assert_eq!(
        files(Engine::Sqlite),
        [
            (
                1,
                "m/V1__a.sqlite.sql".to_owned(),
                sum(1, "CREATE TABLE a (x);")
            ),
            (
                2,
                "m/V2__b.sqlite.sql".to_owned(),
                sum(2, "CREATE INDEX b ON a (x);")
            ),
        ]
    );
    let sqlite = loaded.clone().for_engine(Engine::Sqlite).unwrap();
    let again = sqlite.for_engine(Engine::Postgres).unwrap();
    assert_eq!(again.migrations()[1].up.file, "m/V2__b.postgres.sql");
    let Err(CatalogueError::Invalid { problems, .. }) = loaded.for_engine(Engine::Mysql) else {
        panic!("version 2 has no file for mysql")
    };
    assert_eq!(
        problems,
        [Problem::NoFileForEngine(
            2,
            Engine::Mysql,
            vec![
                "m/V2__b.postgres.sql".to_owned(),
                "m/V2__b.sqlite.sql".to_owned()
            ]
        )]
    );
    assert!(
        problems[0]
            .to_string()
            .contains("or its .mysql.sql variant")
    );
}

#[test]
fn a_variant_pairs_with_its_own_engines_down_and_carries_the_versions_name() {
    let mut files = engine_files();
    files.retain(|f| f.name != "V1__a.sqlite.down.sql");
    files.push(file("V2__c.mysql.sql", "SELECT 1;"));
    files.push(file("V2__c.mysql.down.sql", "SELECT 1;"));
    assert_eq!(
        problems(files),
        [
            Problem::MissingDown(
                "m/V1__a.sqlite.sql".into(),
                "m/V1__a.sqlite.down.sql".into()
            ),
            Problem::DuplicateVersion(
                2,
                vec![
                    "m/V2__b.postgres.sql".into(),
                    "m/V2__b.sqlite.sql".into(),
                    "m/V2__c.mysql.sql".into()
                ]
            ),
        ]
    );
}
