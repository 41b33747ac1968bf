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
    let accepted = &crlf.migrations()[0].accepted_checksums;
    for sql in ["SELECT 1;\nSELECT 2;\n", "SELECT 1;\r\nSELECT 2;\r\n"] {
        let refinery = refinery_core::Migration::unapplied("V2__x", sql).unwrap();
        assert!(accepted.contains(&refinery.checksum()), "{sql:?}");
    }
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
                file("1_a.sql", "CREATE TABLE t ();\nCOMMIT;\nCREATE TABLE u ();"),
                file("1_a.down.sql", "x"),
            ],
            Problem::TransactionControl("m/1_a.sql".into(), "COMMIT".into()),
        ),
        (
            vec![
                file("1_a.sql", "SELECT 1;\nPREPARE TRANSACTION 'x';"),
                file("1_a.down.sql", "x"),
            ],
            Problem::TransactionControl("m/1_a.sql".into(), "PREPARE TRANSACTION 'x'".into()),
        ),
        (
            vec![
                file(
                    "1_a.sql",
                    "-- schemagate:no-transaction\nSELECT 1;\n  CREATE INDEXX i ON t (a);",
                ),
                file("1_a.down.sql", "x"),
            ],
            Problem::Syntax(
                "m/1_a.sql".into(),
                3,
                10,
                "syntax error at or near \"INDEXX\"".into(),
            ),
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
fn begin_atomic_bodies_savepoints_and_case_end_are_not_transaction_control() {
    let up = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n\
              SAVEPOINT s; SELECT CASE WHEN true THEN 1 END; RELEASE SAVEPOINT s;";
    let catalogue = from_files("m/", vec![file("1_a.sql", up), file("1_a.down.sql", "x")]);
    assert!(catalogue.is_ok(), "{catalogue:?}");
}

#[test]
fn a_no_transaction_file_keeps_each_statements_place_in_the_file() {
    let up = "-- no-transaction\nCREATE FUNCTION f() RETURNS int LANGUAGE sql\n\
              BEGIN ATOMIC SELECT 1; SELECT E'\\''; END;\nCREATE INDEX CONCURRENTLY i ON t (a);\n";
    let catalogue = from_files("m/", vec![file("1_a.sql", up), file("1_a.down.sql", "x")]).unwrap();
    let script = &catalogue.migrations()[0].up;
    let texts: Vec<&str> = script
        .statements
        .iter()
        .map(|r| &script.sql[r.clone()])
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].ends_with("END"), "{texts:?}");
    assert_eq!(texts[1], "CREATE INDEX CONCURRENTLY i ON t (a)");
}
