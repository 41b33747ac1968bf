use super::*;

mod properties;
mod sql_text;

/// A script read by PostgreSQL's grammar: its statements and its `--` comments.
#[derive(Debug)]
struct Script<'a> {
    statements: Vec<Statement<'a>>,
    comments: Vec<Comment<'a>>,
}

fn parse(sql: &str) -> Result<Script<'_>, SyntaxError> {
    let mut statements = Vec::new();
    let comments = read(sql, &mut |statement| statements.push(statement))?;
    Ok(Script {
        statements,
        comments,
    })
}

/// Scripts and the statements PostgreSQL's grammar finds in them.
const SPLITS: &[(&str, &[&str])] = &[
    (
        "CREATE TABLE \"a;b\" (x text default 'it''s; fine');\n\
         -- a comment; still a comment\n\
         /* outer /* nested; */ still; */\n\
         SELECT 2",
        &[
            "CREATE TABLE \"a;b\" (x text default 'it''s; fine')",
            "SELECT 2",
        ],
    ),
    (
        "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\nDO $$ BEGIN PERFORM 1; END $$;",
        &[
            "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
            "DO $$ BEGIN PERFORM 1; END $$",
        ],
    ),
    // The hand-written splitter took `\'` for the end of the string.
    (
        "SELECT E'\\''; SELECT ';'",
        &["SELECT E'\\''", "SELECT ';'"],
    ),
    // A function body in SQL-standard form holds its own `;`.
    (
        "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\nSELECT 3;",
        &[
            "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END",
            "SELECT 3",
        ],
    ),
    // `$` continues an identifier: `a$b$` opens no dollar quote.
    (
        "SELECT 1 AS a$b$; SELECT ';'",
        &["SELECT 1 AS a$b$", "SELECT ';'"],
    ),
    // A dollar quote inside another with a different tag.
    (
        "DO $outer$ BEGIN EXECUTE $inner$ SELECT ';' $inner$; END $outer$; SELECT 4",
        &[
            "DO $outer$ BEGIN EXECUTE $inner$ SELECT ';' $inner$; END $outer$",
            "SELECT 4",
        ],
    ),
    ("-- nothing to undo\n\n/* really */ ;;", &[]),
    ("", &[]),
    ("\u{b}\u{c} ;", &[]),
    // U+00A0 is not white space to PostgreSQL but part of an identifier (an alias here).
    ("SELECT 1 \u{a0}", &["SELECT 1 \u{a0}"]),
    ("SELECT $1::int", &["SELECT $1::int"]),
];

#[test]
fn statements_end_where_postgresqls_grammar_ends_them() {
    for (sql, expected) in SPLITS {
        assert_eq!(split_statements(sql).as_deref(), Ok(*expected), "{sql:?}");
    }
}

#[test]
fn statements_are_slices_of_the_script_at_their_byte_offsets() {
    let sql = "-- é\nSELECT 'é';\n  SELECT 2;";
    let script = parse(sql).unwrap();
    for statement in &script.statements {
        assert_eq!(&sql[statement.range.clone()], statement.text);
        assert_eq!(
            statement.text.as_ptr() as usize - sql.as_ptr() as usize,
            statement.range.start
        );
    }
    assert_eq!(
        script.comments,
        [Comment {
            text: "-- é",
            offset: 0
        }]
    );
}

#[test]
fn a_comment_inside_a_string_is_not_a_comment() {
    let script = parse("SELECT '-- schemagate:allow x y';\n-- real\n").unwrap();
    let texts: Vec<&str> = script.comments.iter().map(|c| c.text).collect();
    assert_eq!(texts, ["-- real"]);
}

/// Refused scripts, PostgreSQL's message (without the text it quotes), and the text at
/// the offset given.
const ERRORS: &[(&str, &str, &str)] = &[
    (
        "SELECT 1;\nCREATE TABLEE t (a int);",
        "syntax error",
        "TABLEE",
    ),
    (
        "SELECT 1;\nSELECT (1;\nSELECT 2;",
        "syntax error",
        ";\nSELECT 2",
    ),
    // Unfinished before a `;`: the error is at the `;`, as for the whole file.
    ("SELECT 1 +;\nSELECT 2;", "syntax error", ";\nSELECT 2"),
    // A statement without a keyword, which libpg_query's scanner split skips.
    ("SELECT 1;\nasdf;\nSELECT 2;", "syntax error", "asdf"),
    ("SELECT 'abc", "unterminated quoted string", "'abc"),
    ("SELECT 1; /* open", "unterminated /* comment", "/* open"),
    (
        "SELECT $$ body",
        "unterminated dollar-quoted string",
        "$$ body",
    ),
    ("CREATE TABLE t (a int", "syntax error at end of input", ""),
    // An unterminated `BEGIN ATOMIC` body runs to the end.
    (
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2;",
        "syntax error at end of input",
        "",
    ),
];

#[test]
fn a_refused_script_is_located_at_the_token_postgresql_names() {
    for (sql, message, at) in ERRORS {
        let error = parse(sql).unwrap_err();
        assert_eq!(error.message, *message, "{sql:?}: {error:?}");
        if at.is_empty() {
            assert_eq!(error.offset, sql.trim_end().len(), "{sql:?}");
        } else {
            assert!(sql[error.offset..].starts_with(at), "{sql:?}: {error:?}");
        }
    }
}

#[test]
fn no_message_quotes_the_script() {
    let secret = "root:$6$hash:19000:0:99999:7:::";
    for sql in [
        format!("{secret}\n"),
        format!("SELECT 1;\n{secret};"),
        format!("SELECT '{secret}"),
        format!("CREATE TABLE t (\"{secret}\" int"),
        format!("SELECT 1; /* {secret}"),
    ] {
        let error = parse(&sql).unwrap_err();
        assert!(
            !error.message.contains("root") && !error.message.contains("hash"),
            "{sql:?}: {error:?}"
        );
    }
}

#[test]
fn only_statements_a_check_reads_get_a_tree() {
    let script = parse("INSERT INTO t VALUES (1);\nSELECT 2;\nCREATE TABLE u ();").unwrap();
    let trees: Vec<bool> = script.statements.iter().map(|s| s.node.is_some()).collect();
    assert_eq!(trees, [false, false, true]);
}

#[test]
fn a_statement_too_large_to_read_is_refused_where_it_starts() {
    let values = vec!["(1)"; MAX_TOKENS / 2 + 1].join(",");
    let sql = format!("SELECT 1;\n  INSERT INTO t VALUES {values};");
    let error = parse(&sql).unwrap_err();
    assert!(error.message.contains("split it"), "{}", error.message);
    assert_eq!(error.offset, 12);
}

#[test]
fn transaction_statements_are_in_the_tree() {
    let script = parse("BEGIN; CREATE TABLE t (); COMMIT;").unwrap();
    assert!(matches!(
        script.statements[0].node,
        Some(NodeEnum::TransactionStmt(_))
    ));
    assert!(matches!(
        script.statements[2].node,
        Some(NodeEnum::TransactionStmt(_))
    ));
}

#[test]
fn a_script_longer_than_the_scanners_window_splits_as_a_short_one() {
    // Strings, dollar quotes and comments far longer than a window, so that windows cut
    // them open, among many short statements.
    let long = "x;'".repeat(piece::WINDOW / 2);
    let mut expected = Vec::new();
    for n in 0..40 {
        expected.push(format!("SELECT {n}"));
        match n % 4 {
            0 => expected.push(format!("SELECT '{}'", long.replace('\'', "''"))),
            1 => expected.push(format!("SELECT $body$ {long} $body$")),
            2 => expected.push(format!("SELECT \"{}\" FROM t", "y".repeat(50))),
            _ => expected.push(format!("SELECT 2 /* {} */ + 1", long.replace("*/", ""))),
        }
    }
    let sql = format!("{};\n-- {long}\n", expected.join(";\n"));
    assert!(sql.len() > 10 * piece::WINDOW);
    let statements = split_statements(&sql).unwrap();
    assert_eq!(statements.len(), expected.len());
    for (statement, expected) in statements.iter().zip(&expected) {
        assert!(statement == expected, "a statement differs");
    }
}
