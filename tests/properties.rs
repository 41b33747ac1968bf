//! Bad input (issue 7): whatever a user or an attacker puts in a file name, a migration or
//! compat.toml, the parsers return a value or a clear error; they never panic. And the
//! statement splitter (PostgreSQL's grammar, through pg_query) cuts scripts where
//! PostgreSQL itself does: its oracle is psql and the server.

use proptest::prelude::*;
use schemagate::Compat;
use schemagate::catalogue::{self, Direction, SourceFile, parse_file_name};
use schemagate::internals::split_statements;
use std::sync::LazyLock;

/// The rule DESIGN states for a migration's name, as an independent oracle.
static WORD: LazyLock<regex::Regex> = LazyLock::new(|| regex::Regex::new(r"^\w+$").unwrap());

/// File names near the accepted styles: prefixes, versions, separators and suffixes mixed,
/// plus arbitrary text.
fn file_name() -> impl Strategy<Value = String> {
    let version = prop_oneof![
        (0u64..20).prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| v.to_string()),
        Just("2147483647".to_owned()),
        Just("2147483648".to_owned()),
        Just("0000".to_owned()),
        "[0-9]{1,30}",
    ];
    let prefix = prop_oneof![Just(""), Just("V"), Just("v"), Just("U")];
    let separator = prop_oneof![Just("_"), Just("__"), Just("-"), Just("")];
    let stem = prop_oneof![
        "[a-z_]{0,8}",
        "\\PC{0,8}",
        Just("é".to_owned()),
        Just("a b".to_owned())
    ];
    let suffix = prop_oneof![
        Just(".sql"),
        Just(".up.sql"),
        Just(".down.sql"),
        Just(".SQL"),
        Just(".sql.bak"),
        Just(""),
    ];
    prop_oneof![
        (prefix, version, separator, stem, suffix)
            .prop_map(|(p, v, s, n, x)| format!("{p}{v}{s}{n}{x}")),
        any::<String>(),
    ]
}

/// SQL-ish text: statements, quotes, dollar quotes, comments and control keywords, cut anywhere.
fn sql_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("SELECT 1".to_owned()),
        Just(";".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("$$".to_owned()),
        Just("$tag$".to_owned()),
        Just("$1".to_owned()),
        Just("--".to_owned()),
        Just("/*".to_owned()),
        Just("*/".to_owned()),
        Just("\n".to_owned()),
        Just(" ".to_owned()),
        Just("\u{b}".to_owned()),
        Just("\u{a0}".to_owned()),
        Just("COMMIT".to_owned()),
        Just("BEGIN".to_owned()),
        Just("-- schemagate:no-transaction\n".to_owned()),
        Just("-- schemagate:irreversible\n".to_owned()),
        "\\PC{0,6}",
    ];
    prop_oneof![
        prop::collection::vec(token, 0..24).prop_map(|t| t.concat()),
        any::<String>(),
    ]
}

/// TOML-ish text: the real tables and keys with arbitrary values, unknown keys, garbage lines.
fn compat_text() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        (-3i64..12).prop_map(|v| v.to_string()),
        "[0-9v.]{0,8}".prop_map(|v| format!("\"{v}\"")),
        Just("\"1.4.0\"".to_owned()),
        Just("\"v1.3.0-rc.1+build\"".to_owned()),
        any::<String>().prop_map(|v| format!("{v:?}")),
        Just("true".to_owned()),
        Just("[1, 2]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        Just("1e400".to_owned()),
        Just("".to_owned()),
    ];
    let key = prop_oneof![
        Just("version"),
        Just("min"),
        Just("max"),
        Just("target"),
        Just("unknown"),
        Just("app.version"),
        Just("\"min\""),
    ];
    let line = prop_oneof![
        Just("[app]".to_owned()),
        Just("[schema]".to_owned()),
        Just("[[releases]]".to_owned()),
        Just("[other]".to_owned()),
        Just("[app".to_owned()),
        (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        any::<String>(),
    ];
    prop::collection::vec(line, 0..14).prop_map(|lines| lines.join("\n"))
}

/// Files for `from_files`: names near the styles, contents SQL-ish or arbitrary bytes.
fn file_set() -> impl Strategy<Value = Vec<SourceFile>> {
    let bytes = prop_oneof![
        sql_text().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    let name = prop_oneof![
        file_name(),
        (
            1i32..4,
            prop_oneof![Just("a"), Just("b")],
            prop_oneof![
                Just("V{v}__{n}.sql"),
                Just("V{v}__{n}.down.sql"),
                Just("{v}_{n}.sql"),
                Just("{v}_{n}.up.sql"),
                Just("{v}_{n}.down.sql"),
            ]
        )
            .prop_map(|(v, n, pattern)| pattern.replace("{v}", &v.to_string()).replace("{n}", n)),
    ];
    prop::collection::vec(
        (name, bytes).prop_map(|(name, bytes)| SourceFile { name, bytes }),
        0..8,
    )
}

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
    fn a_file_name_parses_to_a_positive_version_or_a_clear_error(name in file_name()) {
        if let Ok(parsed) = parse_file_name(&name) {
            prop_assert!(parsed.version > 0);
            prop_assert!(name.ends_with(".sql"));
            prop_assert!(!parsed.name.is_empty());
            // A name is made of word characters as `\w` defines them (marks and connector
            // punctuation included), checked against the regex crate rather than the parser.
            prop_assert!(WORD.is_match(&parsed.name), "{:?} is not \\w+", parsed.name);
            prop_assert_eq!(parsed.direction == Direction::Down, name.ends_with(".down.sql"));
        }
    }

    #[test]
    fn a_version_is_accepted_exactly_when_it_fits_1_to_i64_max(version in any::<u64>(), zeros in 0usize..3) {
        let name = format!("V{}{version}__x.sql", "0".repeat(zeros));
        let fits = (1..=i64::MAX.unsigned_abs()).contains(&version);
        match parse_file_name(&name) {
            Ok(parsed) => prop_assert!(fits && parsed.version.unsigned_abs() == version),
            Err(_) => prop_assert!(!fits),
        }
    }

    #[test]
    fn compat_toml_parses_to_a_valid_window_or_an_error_naming_the_file(text in compat_text()) {
        check_compat(&text)?;
    }

    #[test]
    fn arbitrary_text_as_compat_toml_never_panics(text in any::<String>()) {
        check_compat(&text)?;
    }

    #[test]
    fn any_set_of_files_gives_a_catalogue_or_problems_naming_them(files in file_set()) {
        let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
        match catalogue::from_files("m/", files) {
            Ok(catalogue) => {
                let versions: Vec<i64> = catalogue.migrations().iter().map(|m| m.version).collect();
                prop_assert!(versions.iter().all(|v| *v > 0));
                prop_assert!(versions.windows(2).all(|w| w[0] < w[1]), "sorted and unique: {:?}", versions);
                for migration in catalogue.migrations() {
                    prop_assert!(!migration.up.sql.contains('\0'));
                }
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.contains("m/"), "{}", message);
                match error {
                    catalogue::CatalogueError::Invalid { problems, .. } => prop_assert!(!problems.is_empty()),
                    other => prop_assert!(false, "unexpected error {:?} for {:?}", other, names),
                }
            }
        }
    }

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

fn check_compat(text: &str) -> Result<(), TestCaseError> {
    match Compat::parse("compat.toml", text) {
        Ok(compat) => {
            let w = compat.window;
            prop_assert!(0 <= w.min && w.min <= w.target && w.target <= w.max);
            for release in &compat.releases {
                prop_assert!(release.window.min <= release.window.max);
            }
        }
        Err(error) => {
            let message = error.to_string();
            prop_assert!(message.starts_with("compat.toml"), "{}", message);
            prop_assert!(message.len() > "compat.toml: ".len(), "{}", message);
        }
    }
    Ok(())
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
/// lexer (psqlscan.l, the server's rules) and sends each statement on its own.
async fn psql_rows(url: &str, script: &str) -> Result<Vec<String>, String> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script).unwrap();
    let output = tokio::process::Command::new(crate::support::psql().await)
        .args([
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-F",
            "\u{1f}",
            "-d",
            url,
            "-f",
        ])
        .arg(file.path())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
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
    let db = runtime.block_on(crate::support::TestDb::new());
    let client = runtime.block_on(db.client());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        // A failure prints its minimal script; a persistence file needs a source path.
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let atomic = runtime.block_on(crate::support::server_major()) >= 14;
    let result = runner.run(&select_script(atomic), |(script, expected)| {
        let (theirs, ours) = runtime.block_on(async {
            (
                psql_rows(&db.url, &script).await,
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
