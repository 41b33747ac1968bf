//! A migration file cut into the statements the `mariadb` client would send, one at a
//! time: on MariaDB and MySQL each DDL statement commits by itself, so the gate runs and
//! records them one by one and must know where each starts (line and column, for the
//! message of a failure at statement k of n).
//!
//! The lexer is sqlparser's `MySqlDialect` tokenizer (quotes with backslash escapes,
//! backticks, `--`, `#` and `/* */` comments): a kept crate, not a hand-written scanner.
//! What it does not know is the client's `DELIMITER` command, with which routines and
//! triggers (whose bodies hold `;`) are written; that directive is a line of its own read
//! here, as the client reads it: at the start of a statement, the rest of the line is the
//! new delimiter. A delimiter is found wherever its text begins outside a quoted string,
//! identifier or comment, even inside a token (`END$$`), as the client finds it.
//!
//! MySQL has no dollar quotes, but sqlparser reads `$$` as one under every dialect that
//! does not take `$` as a placeholder character; the lexer is therefore MySQL's dialect
//! with that one switch turned (sqlparser's supported way of wrapping a dialect).

use std::any::TypeId;
use std::ops::Range;

use sqlparser::dialect::{Dialect, MySqlDialect};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

/// One statement of a file, without its delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    /// Its bytes in the file, sent to the server as they are: from its first keyword
    /// (comments before it are left out) to its delimiter, comments inside kept.
    pub range: Range<usize>,
    /// 1-based line of its first character in the file.
    pub line: u64,
    /// 1-based column (in characters) of its first character.
    pub column: u64,
    /// Whether it only changes rows (`INSERT`, `UPDATE`, `DELETE`, `REPLACE`), and so can
    /// run inside a transaction.
    pub data_only: bool,
    /// Whether the server answers it with one result and no rows (DDL, and data changes
    /// without `RETURNING`): what follows it in a multi-statement packet then answers
    /// after it, and an error is told apart from the statement's own. Any other statement
    /// (`SELECT`, `CALL` of a procedure that selects, …) may answer with several results,
    /// so it ends its packet.
    pub one_answer: bool,
}

/// The file could not be cut: an unterminated quote or comment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub(crate) struct SplitError {
    /// Where the lexer stopped.
    pub line: u64,
    /// Column of that place.
    pub column: u64,
    /// What it found.
    pub message: String,
}

/// The statements of a file, in order; empty statements (only blanks and comments) are
/// left out, as the client leaves them out.
pub(crate) fn split(sql: &str) -> Result<Vec<Statement>, SplitError> {
    let lines = LineStarts::of(sql);
    let mut statements = Vec::new();
    let mut delimiter = String::from(";");
    let mut from = 0;
    while from < sql.len() {
        let tokens = tokens(&sql[from..], lines.line_of(from))?;
        let mut cutter = Cutter {
            sql,
            lines: &lines,
            delimiter: &delimiter,
            start: None,
        };
        match cutter.run(&tokens, &mut statements) {
            Next::Delimiter { new, resume } => {
                delimiter = new;
                from = resume;
            }
            Next::End => break,
        }
    }
    Ok(statements)
}

/// Whether every statement only changes rows: such a file runs in one transaction.
pub(crate) fn data_only(statements: &[Statement]) -> bool {
    !statements.is_empty() && statements.iter().all(|s| s.data_only)
}

/// A `--` or `#` comment of a file: its 1-based line and column, and its text from the
/// marker on (`-- schemagate:allow …`), for the lint's waivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Comment {
    pub line: u64,
    pub column: u64,
    pub text: String,
}

/// The file's line comments (none when the lexer cannot read it: the gate refuses such a
/// file before anything runs).
pub(crate) fn comments(sql: &str) -> Vec<Comment> {
    tokens(sql, 1)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|token| match token.token {
            Token::Whitespace(Whitespace::SingleLineComment { comment, prefix }) => Some(Comment {
                line: token.span.start.line,
                column: token.span.start.column,
                text: format!("{prefix}{}", comment.trim_end()),
            }),
            _ => None,
        })
        .collect()
}

/// sqlparser's MySQL dialect, except that `$` never opens a dollar-quoted string.
#[derive(Debug)]
struct MysqlLexer(MySqlDialect);

impl Dialect for MysqlLexer {
    fn dialect(&self) -> TypeId {
        self.0.dialect()
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        self.0.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        self.0.is_identifier_part(ch)
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.0.is_delimited_identifier_start(ch)
    }

    fn supports_string_literal_backslash_escape(&self) -> bool {
        self.0.supports_string_literal_backslash_escape()
    }

    fn supports_dollar_placeholder(&self) -> bool {
        true
    }
}

/// The tokens of `text`, which starts at line `first_line` of the file (at its column 1).
fn tokens(text: &str, first_line: u64) -> Result<Vec<TokenWithSpan>, SplitError> {
    let dialect = MysqlLexer(MySqlDialect {});
    let mut tokens = Tokenizer::new(&dialect, text)
        .with_unescape(false)
        .tokenize_with_location()
        .map_err(|e| SplitError {
            line: e.location.line + first_line - 1,
            column: e.location.column,
            message: e.message,
        })?;
    for token in &mut tokens {
        token.span.start.line += first_line - 1;
        token.span.end.line += first_line - 1;
    }
    Ok(tokens)
}

/// What ends one pass over the tokens.
enum Next {
    /// A `DELIMITER` line: go on with `new` from byte `resume` (the next line).
    Delimiter { new: String, resume: usize },
    /// The end of the file.
    End,
}

/// One pass over the tokens under one delimiter.
struct Cutter<'a> {
    sql: &'a str,
    lines: &'a LineStarts,
    delimiter: &'a str,
    /// The byte offset and the first token of the statement being read, once it has one.
    start: Option<(usize, usize)>,
}

impl Cutter<'_> {
    fn run(&mut self, tokens: &[TokenWithSpan], out: &mut Vec<Statement>) -> Next {
        let mut i = 0;
        while i < tokens.len() {
            let token = &tokens[i];
            let at = self.lines.offset(self.sql, token.span.start);
            let end = self.lines.offset(self.sql, token.span.end);
            if self.start.is_none() && is_delimiter_command(tokens, i) {
                let line_end = self.sql[at..].find('\n').map_or(self.sql.len(), |n| at + n);
                let new = self.sql[at + "DELIMITER".len()..line_end]
                    .split_whitespace()
                    .next()
                    .unwrap_or(";")
                    .to_owned();
                return Next::Delimiter {
                    new,
                    resume: (line_end + 1).min(self.sql.len()),
                };
            }
            if is_code(&token.token)
                && let Some(found) = self.delimiter_in(at, end)
            {
                self.finish(found, tokens, out);
                // Resume at the first token after the delimiter's last byte.
                let after = found + self.delimiter.len();
                while i < tokens.len() && self.lines.offset(self.sql, tokens[i].span.end) <= after {
                    i += 1;
                }
                continue;
            }
            if self.start.is_none() && is_content(&token.token) {
                self.start = Some((at, i));
            }
            i += 1;
        }
        self.finish(self.sql.len(), tokens, out);
        Next::End
    }

    /// The first place in the bytes `at..end` (one token's) where the delimiter begins.
    fn delimiter_in(&self, at: usize, end: usize) -> Option<usize> {
        self.sql[at..end]
            .char_indices()
            .map(|(i, _)| at + i)
            .find(|&i| self.sql[i..].starts_with(self.delimiter))
    }

    /// Ends the statement being read at byte `end`, keeping it unless it is empty.
    fn finish(&mut self, end: usize, tokens: &[TokenWithSpan], out: &mut Vec<Statement>) {
        let Some((start, first)) = self.start.take() else {
            return;
        };
        let end = start + self.sql[start..end].trim_end().len();
        if end == start {
            return;
        }
        let span = tokens[first].span.start;
        let first_word = first_word(&tokens[first..]);
        let is = |keywords: &[&str]| {
            first_word.is_some_and(|w| keywords.iter().any(|k| w.eq_ignore_ascii_case(k)))
        };
        let data_only = is(&["INSERT", "UPDATE", "DELETE", "REPLACE"]);
        let returning = tokens[first..]
            .iter()
            .take_while(|t| self.lines.offset(self.sql, t.span.start) < end)
            .any(|t| matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("RETURNING")));
        out.push(Statement {
            range: start..end,
            line: span.line,
            column: span.column,
            data_only,
            one_answer: !returning
                && (data_only || is(&["CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE"])),
        });
    }
}

/// Whether token `i` is the client's `DELIMITER` command: that word first on its line.
fn is_delimiter_command(tokens: &[TokenWithSpan], i: usize) -> bool {
    let Token::Word(word) = &tokens[i].token else {
        return false;
    };
    word.quote_style.is_none()
        && word.value.eq_ignore_ascii_case("DELIMITER")
        && tokens[..i]
            .iter()
            .rev()
            .take_while(|t| t.span.start.line == tokens[i].span.start.line)
            .all(|t| {
                matches!(
                    t.token,
                    Token::Whitespace(Whitespace::Space | Whitespace::Tab)
                )
            })
}

/// Whether the server sees this token as code: not a string, a quoted identifier or a
/// comment (a `/*! … */` versioned comment is code to the server, but the client does not
/// look for its delimiter inside it, so it is no code here; it is content, see
/// [`is_content`]).
fn is_code(token: &Token) -> bool {
    match token {
        Token::Whitespace(
            Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_),
        ) => false,
        Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::NationalStringLiteral(_)
        | Token::HexStringLiteral(_)
        | Token::SingleQuotedByteStringLiteral(_)
        | Token::DoubleQuotedByteStringLiteral(_) => false,
        Token::Word(word) => word.quote_style.is_none(),
        _ => true,
    }
}

/// Whether a token starts a statement: anything but blanks and plain comments (a
/// statement's text and position start at its first keyword, past the comments before it).
fn is_content(token: &Token) -> bool {
    match token {
        Token::Whitespace(Whitespace::MultiLineComment(body)) => {
            body.starts_with('!') || body.starts_with("M!")
        }
        Token::Whitespace(_) => false,
        _ => true,
    }
}

/// The first keyword of a statement, past blanks and comments.
fn first_word(tokens: &[TokenWithSpan]) -> Option<&str> {
    tokens.iter().find_map(|t| match &t.token {
        Token::Whitespace(_) => None,
        Token::Word(word) if word.quote_style.is_none() => Some(Some(word.value.as_str())),
        _ => Some(None),
    })?
}

/// Byte offsets of the starts of the lines of a text, to turn the lexer's (line, column)
/// into byte offsets.
struct LineStarts(Vec<usize>);

impl LineStarts {
    fn of(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self(starts)
    }

    /// The 1-based line holding byte `offset`.
    fn line_of(&self, offset: usize) -> u64 {
        let index = self.0.partition_point(|&start| start <= offset);
        u64::try_from(index).unwrap_or(u64::MAX)
    }

    /// The byte offset of a lexer location.
    fn offset(&self, text: &str, at: sqlparser::tokenizer::Location) -> usize {
        let line = usize::try_from(at.line.saturating_sub(1)).unwrap_or(usize::MAX);
        let Some(&base) = self.0.get(line) else {
            return text.len();
        };
        let column = usize::try_from(at.column).unwrap_or(usize::MAX);
        crate::position::byte_offset(text, base, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split(sql)
            .unwrap()
            .into_iter()
            .map(|s| &sql[s.range])
            .collect()
    }

    #[test]
    fn semicolons_in_quotes_identifiers_and_comments_do_not_end_a_statement() {
        let sql = "CREATE TABLE `a;b` (c VARCHAR(9) DEFAULT 'x;\\';y');\n\
                   -- a comment; with a semicolon\n\
                   # another; one\n\
                   INSERT INTO `a;b` VALUES (\"q;\") /* c;d */;\n";
        assert_eq!(
            texts(sql),
            [
                "CREATE TABLE `a;b` (c VARCHAR(9) DEFAULT 'x;\\';y')",
                "INSERT INTO `a;b` VALUES (\"q;\") /* c;d */",
            ]
        );
    }

    #[test]
    fn the_delimiter_command_lets_a_routine_body_hold_semicolons() {
        let sql = "CREATE TABLE t (x INT);\n\
                   DELIMITER $$\n\
                   CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW\n\
                   BEGIN\n  SET NEW.x = NEW.x + 1;\n  SET @n = 'a$$b';\nEND$$\n\
                   delimiter //\n\
                   CREATE PROCEDURE p() BEGIN SELECT 1; END //\n\
                   DELIMITER ;\n\
                   DROP TABLE u;";
        let statements = split(sql).unwrap();
        assert_eq!(
            texts(sql),
            [
                "CREATE TABLE t (x INT)",
                "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n  SET NEW.x = NEW.x + 1;\n  SET @n = 'a$$b';\nEND",
                "CREATE PROCEDURE p() BEGIN SELECT 1; END",
                "DROP TABLE u",
            ]
        );
        let lines: Vec<(u64, u64)> = statements.iter().map(|s| (s.line, s.column)).collect();
        assert_eq!(lines, [(1, 1), (3, 1), (9, 1), (11, 1)]);
    }

    #[test]
    fn positions_count_lines_and_characters_from_the_statement_s_first_token() {
        let statements = split("SELECT 'é';  ALTER TABLE t ADD c INT;\n\n  DROP TABLE t").unwrap();
        let at: Vec<(u64, u64)> = statements.iter().map(|s| (s.line, s.column)).collect();
        assert_eq!(at, [(1, 1), (1, 14), (3, 3)]);
    }

    #[test]
    fn a_file_of_only_data_changes_is_told_apart() {
        let data = split("INSERT INTO t VALUES (1);\n-- fix\nupdate t SET x = 2;\nDELETE FROM t;")
            .unwrap();
        assert!(data_only(&data));
        let mixed = split("INSERT INTO t VALUES (1); ALTER TABLE t ADD y INT;").unwrap();
        assert!(!data_only(&mixed));
        assert!(!data_only(&split("-- nothing\n").unwrap()));
    }

    #[test]
    fn statements_that_may_answer_with_rows_are_told_apart() {
        let statements = split(
            "CREATE TABLE t (x INT);\nINSERT INTO t VALUES (1);\nSELECT * FROM t;\nCALL p();\n\
             DELETE FROM t RETURNING x;\nalter table t add `returning` int;\nSET @a = 1;",
        )
        .unwrap();
        let one: Vec<bool> = statements.iter().map(|s| s.one_answer).collect();
        assert_eq!(one, [true, true, false, false, false, true, false]);
    }

    #[test]
    fn blank_and_comment_only_pieces_are_not_statements() {
        assert!(texts(";;\n-- only a comment\n;  ").is_empty());
        assert_eq!(
            texts("/*!40101 SET NAMES utf8 */;"),
            ["/*!40101 SET NAMES utf8 */"]
        );
    }

    #[test]
    fn an_unterminated_quote_is_refused_with_its_place() {
        let error = split("SELECT 1;\nSELECT 'open").unwrap_err();
        assert_eq!(error.line, 2, "{error}");
    }
}
