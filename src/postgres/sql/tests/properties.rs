//! The splitter's properties: no text is ever lost between statements, and it cuts
//! scripts where PostgreSQL itself does, with psql and the server as the oracle.

use proptest::prelude::*;

use super::sql_text::sql_text;
use super::*;
use crate::postgres::backup::tools;
use crate::postgres::testing::TestDatabase;

/// The statements' byte ranges in `sql`; each statement is a slice of it.
fn ranges(sql: &str, statements: &[&str]) -> Vec<(usize, usize)> {
    statements
        .iter()
        .map(|s| {
            let start = s.as_ptr() as usize - sql.as_ptr() as usize;
            assert!(
                start + s.len() <= sql.len(),
                "a statement is not a slice of the input"
            );
            (start, start + s.len())
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn splitting_never_loses_sql_text(sql in sql_text()) {
        let statements = match split_statements(&sql) {
            Ok(statements) => statements,
            Err(error) => {
                // Refused text is located inside it, with PostgreSQL's reason.
                prop_assert!(error.offset <= sql.len() && !error.message.is_empty(), "{:?}", error);
                return Ok(());
            }
        };
        let ranges = ranges(&sql, &statements);
        prop_assert!(ranges.windows(2).all(|w| w[0].1 < w[1].0), "in order, apart: {:?}", ranges);
        for statement in &statements {
            prop_assert!(!statement.is_empty(), "empty statement in {:?}", statements);
        }
        // What lies between the statements is separators, white space and comments only.
        let mut gaps = Vec::new();
        let mut at = 0;
        for (start, end) in &ranges {
            gaps.push(&sql[at..*start]);
            at = *end;
        }
        gaps.push(&sql[at..]);
        for gap in gaps {
            prop_assert!(holds_no_statement(gap), "text lost between statements: {:?} in {:?}", gap, sql);
        }
    }
}

/// Whether `text` is nothing but PostgreSQL's white space, `;` and comments (`--` to the
/// end of the line, `/* … */` nested): an oracle written from the lexer's rules (scan.l),
/// not from the splitter it judges.
fn holds_no_statement(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | b';' => i += 1,
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                loop {
                    match bytes.get(i..i + 2) {
                        Some(b"/*") => {
                            depth += 1;
                            i += 2;
                        }
                        Some(b"*/") => {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        }
                        Some(_) => i += 1,
                        None => return false,
                    }
                }
            }
            _ => return false,
        }
    }
    true
}

#[test]
fn the_gap_oracle_knows_a_statement_from_a_comment() {
    for gap in [
        "",
        " ;\n",
        "-- x; 'y'\n",
        "/* a /* b; */ c */",
        "\u{b};-- end",
    ] {
        assert!(holds_no_statement(gap), "{gap:?}");
    }
    for text in ["x", "-- c\nx", "/* open", "/* a */ */", "\u{a0}", "'--'"] {
        assert!(!holds_no_statement(text), "{text:?}");
    }
}

/// The test server's major version (15 for 15.4), which picks its psql.
async fn server_major(client: &tokio_postgres::Client) -> u32 {
    let num: String = client
        .query_one("SELECT current_setting('server_version_num')", &[])
        .await
        .unwrap()
        .get(0);
    num.parse::<u32>().unwrap() / 10_000
}

/// A string literal whose value PostgreSQL and the test both know: `(sql, value)`. Plain
/// strings with doubled quotes, dollar quotes with and without a tag, and `E'…'` escapes.
fn literal() -> impl Strategy<Value = (String, String)> {
    // No `$` or newline in values: a `$` could close a dollar quote early, a newline would
    // cut a row of psql's output in two. `--`, `/*` and `;` inside strings are the point.
    let text = "[a-z ;'\"*/-]{0,12}";
    let plain = text.prop_map(|v| (format!("'{}'", v.replace('\'', "''")), v));
    let dollar = (
        prop_oneof![Just(""), Just("a"), Just("tag"), Just("x_1")],
        text,
    )
        .prop_map(|(tag, v)| (format!("${tag}${v}${tag}$"), v));
    let escape = prop::collection::vec(
        prop_oneof![
            "[a-z ;]{1,3}".prop_map(|v| (v.clone(), v)),
            Just(("''".to_owned(), "'".to_owned())),
            Just(("\\\\".to_owned(), "\\".to_owned())),
            Just(("\\t".to_owned(), "\t".to_owned())),
            // What the hand-written splitter took for the end of the string.
            Just(("\\'".to_owned(), "'".to_owned())),
        ],
        0..6,
    )
    .prop_map(|parts| {
        let (sql, value): (Vec<String>, Vec<String>) = parts.into_iter().unzip();
        (format!("E'{}'", sql.concat()), value.concat())
    });
    prop_oneof![plain, dollar, escape]
}

/// What may stand between two statements: white space and comments hiding `;` and quotes.
fn between() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("\n"),
        Just(" "),
        Just("\n-- a comment; with 'quotes' and $$\n"),
        Just(" /* ; ' \" $$ */ "),
        Just("\n/* nested /* ; */ still; */\n"),
    ]
}

/// How a statement hands its literal back: a plain `SELECT` (with a quoted alias that
/// holds a `;`, or an alias with `$` inside, which opens no dollar quote), or a function
/// whose `BEGIN ATOMIC … END` body holds `;`, then a `SELECT` that calls it.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Select,
    DollarAlias,
    Atomic,
}

/// A script of one-row `SELECT`s (and functions they call), and the rows PostgreSQL must
/// return for it, in order. Without `atomic` (a server before 14, which has no
/// `BEGIN ATOMIC`) the function shape is a plain `SELECT` too.
fn select_script(atomic: bool) -> impl Strategy<Value = (String, Vec<String>)> {
    let shape = prop_oneof![
        Just(Shape::Select),
        Just(Shape::DollarAlias),
        Just(Shape::Atomic)
    ];
    prop::collection::vec((literal(), between(), shape), 1..6).prop_map(move |statements| {
        let mut script = String::new();
        let mut rows = Vec::new();
        for (n, ((sql, value), gap, shape)) in statements.into_iter().enumerate() {
            let shape = match shape {
                Shape::Atomic if !atomic => Shape::Select,
                other => other,
            };
            match shape {
                Shape::Select => script.push_str(&format!("SELECT {n} AS n, {sql} AS \"x;y\";{gap}")),
                Shape::DollarAlias => script.push_str(&format!("SELECT {n} AS n$, {sql} AS x$y$;{gap}")),
                Shape::Atomic => script.push_str(&format!(
                    "CREATE OR REPLACE FUNCTION split_{n}() RETURNS text LANGUAGE sql\n\
                     BEGIN ATOMIC SELECT ';'; SELECT {sql}; END;{gap}SELECT {n} AS n, split_{n}();{gap}"
                )),
            }
            rows.push(format!("{n}\u{1f}{value}"));
        }
        (script, rows)
    })
}

/// psql's answer for a script: one line per row, columns joined by U+001F. psql has its own
/// lexer (psqlscan.l, the server's rules) and sends each statement on its own. It is the
/// server's major's, connected as a backup's pg_dump is.
async fn psql_rows(db: &TestDatabase, major: u32, script: &str) -> Result<Vec<String>, String> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script).unwrap();
    let psql = tools::find("psql", major, None).await.unwrap();
    let mut command = tools::command(&psql);
    let passfile = tools::connect_env(&mut command, &db.connection, "schemagate-test").unwrap();
    command
        .args([
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-F",
            "\u{1f}",
            "-f",
        ])
        .arg(file.path());
    let output = command.output().await.unwrap();
    drop(passfile);
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect())
}

/// Our answer: each statement of `split_statements` sent on its own, as the gate sends a
/// no-transaction file.
async fn split_rows(client: &tokio_postgres::Client, script: &str) -> Result<Vec<String>, String> {
    let mut rows = Vec::new();
    let statements = split_statements(script).map_err(|e| format!("refused: {e:?}"))?;
    for statement in statements {
        let messages = client.simple_query(statement).await.map_err(|e| {
            let cause = e
                .as_db_error()
                .map_or_else(|| e.to_string(), ToString::to_string);
            format!("{statement:?}: {cause}")
        })?;
        for message in messages {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                let values: Vec<&str> = (0..row.len()).map(|i| row.get(i).unwrap_or("")).collect();
                rows.push(values.join("\u{1f}"));
            }
        }
    }
    Ok(rows)
}

/// The splitter agrees with PostgreSQL (psql's lexer and the server) about where statements
/// end and what their strings hold, for scripts whose `;` hide in strings and comments.
#[test]
fn split_statements_agrees_with_postgresql_on_where_statements_end() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDatabase::create());
    let client = runtime.block_on(db.client());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        // A failure prints its minimal script; a persistence file needs a source path.
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let major = runtime.block_on(server_major(&client));
    let atomic = major >= 14;
    let result = runner.run(&select_script(atomic), |(script, expected)| {
        let (theirs, ours) = runtime.block_on(async {
            (
                psql_rows(&db, major, &script).await,
                split_rows(&client, &script).await,
            )
        });
        prop_assert_eq!(theirs.as_ref(), Ok(&expected), "psql on {:?}", script);
        prop_assert_eq!(
            ours,
            theirs,
            "split_statements on {:?}: {:#?}",
            script,
            split_statements(&script)
        );
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}
