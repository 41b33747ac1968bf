use super::*;
use crate::catalogue::{SourceFile, from_files};

const UP: &str = "-- schemagate:placeholders\n\
                  CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}';\n\
                  SELECT '${PASSWORD}'::int;\n";

fn catalogue(up: &str) -> Result<Catalogue, CatalogueError> {
    from_files(
        "m/",
        vec![
            SourceFile {
                name: "V1__role.sql".to_owned(),
                bytes: up.as_bytes().to_vec(),
            },
            SourceFile {
                name: "V1__role.down.sql".to_owned(),
                bytes: b"-- schemagate:placeholders\nDROP ROLE ${ROLE};\n".to_vec(),
            },
        ],
    )
}

fn values() -> Placeholders {
    let mut values = Placeholders::default();
    values.insert("ROLE", "app");
    values.insert("PASSWORD", "s3cr3t-ü");
    values
}

#[test]
fn the_file_as_written_is_checksummed_and_the_values_are_only_in_the_text_run() {
    let loaded = catalogue(UP).unwrap();
    let resolved = loaded.clone().with_placeholders(&values()).unwrap();
    let (before, after) = (&loaded.migrations()[0], &resolved.migrations()[0]);
    assert_eq!(before.checksum, after.checksum);
    assert_eq!(
        after.checksum,
        crate::catalogue::checksum::written("role", 1, UP)
    );
    assert_eq!(after.up.written(), UP);
    assert!(!after.up.sql.contains("s3cr3t") && !after.up.sql.contains("${"));
    assert_eq!(after.up.sql.len(), UP.len());
    assert_eq!(
        after.up.to_run(),
        "-- schemagate:placeholders\nCREATE ROLE app LOGIN PASSWORD 's3cr3t-ü';\nSELECT 's3cr3t-ü'::int;\n"
    );
    let Down::Script(down) = &after.down else {
        panic!("a down script")
    };
    assert_eq!(
        down.to_run(),
        "-- schemagate:placeholders\nDROP ROLE app;\n"
    );
    assert!(!format!("{after:?}").contains("s3cr3t"));
}

#[cfg(feature = "postgres")]
#[test]
fn the_masked_text_is_read_by_the_grammar_statement_by_statement() {
    let resolved = catalogue(UP).unwrap().with_placeholders(&values()).unwrap();
    let script = &resolved.migrations()[0].up;
    let statements = crate::postgres::sql::split_statements(&script.sql).unwrap();
    assert_eq!(statements.len(), 2);
    let second = script.sql.find("SELECT").unwrap()..script.sql.len();
    assert_eq!(script.statement_to_run(second), "SELECT 's3cr3t-ü'::int;\n");
}

#[test]
fn an_undefined_placeholder_is_refused_naming_file_line_and_column() {
    let mut only_role = Placeholders::default();
    only_role.insert("ROLE", "app");
    let error = catalogue(UP)
        .unwrap()
        .with_placeholders(&only_role)
        .unwrap_err();
    let CatalogueError::Invalid { problems, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        problems,
        &[
            Problem::UndefinedPlaceholder("m/V1__role.sql".into(), 2, 37, "PASSWORD".into()),
            Problem::UndefinedPlaceholder("m/V1__role.sql".into(), 3, 9, "PASSWORD".into()),
        ]
    );
    assert!(
        error
            .to_string()
            .contains("set SCHEMAGATE_PLACEHOLDER_PASSWORD in the environment or PASSWORD in compat.toml's [placeholders]"),
        "{error}"
    );
}

#[test]
fn a_dollar_brace_that_opens_no_placeholder_is_refused_at_load() {
    for (sql, column) in [
        ("-- schemagate:placeholders\nSELECT '${not a name}';", 9),
        ("-- schemagate:placeholders\nSELECT 1; -- ${", 14),
        ("-- schemagate:placeholders\nSELECT '${1X}';", 9),
    ] {
        let CatalogueError::Invalid { problems, .. } = catalogue(sql).unwrap_err() else {
            panic!("{sql}")
        };
        assert_eq!(
            problems,
            [Problem::MalformedPlaceholder(
                "m/V1__role.sql".into(),
                2,
                column
            )],
            "{sql}"
        );
    }
}

#[test]
fn an_unmarked_file_is_sent_as_written() {
    let sql = "SELECT '${PASSWORD}';\n";
    let resolved = catalogue(sql)
        .unwrap()
        .with_placeholders(&values())
        .unwrap();
    let script = &resolved.migrations()[0].up;
    assert_eq!((script.sql.as_str(), script.to_run()), (sql, sql.into()));
}

#[test]
fn an_error_position_in_the_text_sent_is_placed_in_the_file() {
    let resolved = catalogue(UP).unwrap().with_placeholders(&values()).unwrap();
    let script = &resolved.migrations()[0].up;
    let sent = script.to_run();
    let in_sent = |needle: &str| sent[..sent.find(needle).unwrap()].chars().count() + 1;
    let in_file = |needle: &str| script.written().find(needle).unwrap();
    for needle in ["LOGIN", "::int", "SELECT"] {
        assert_eq!(
            script.offset_of_sent(0, in_sent(needle)),
            in_file(needle),
            "{needle}"
        );
    }
    // Inside a value: the place of its `${NAME}`.
    let inside = in_sent("3cr3t");
    assert_eq!(script.offset_of_sent(0, inside), in_file("${PASSWORD}"));
}

#[test]
fn hidden_values_are_put_back_as_their_names_longest_first() {
    let mut values = values();
    values.insert("SHORT", "abc");
    values.insert("LONG", "abcdef");
    let sql = "-- schemagate:placeholders\nSELECT '${SHORT}', '${LONG}';";
    let resolved = catalogue(sql).unwrap().with_placeholders(&values).unwrap();
    let hidden = resolved.migrations()[0].up.hidden();
    assert_eq!(
        hidden.hide("invalid input \"abcdef\" and \"abc\""),
        "invalid input \"${LONG}\" and \"${SHORT}\""
    );
    assert_eq!(format!("{hidden:?}"), "[\"SHORT\", \"LONG\"]");
    assert_eq!(
        format!("{values:?}"),
        "{\"LONG\", \"PASSWORD\", \"ROLE\", \"SHORT\"}"
    );
}
