//! SQL read with PostgreSQL's own grammar (`pg_query`, libpg_query: the server's scanner
//! and parser compiled as a library), for splitting no-transaction files into statements,
//! for the transaction-control check at load, and for the lint (DESIGN §11, §12).
//!
//! PostgreSQL runs a multi-statement simple query as one implicit transaction, so
//! `CREATE INDEX CONCURRENTLY` in such a string fails; a no-transaction file must be sent a
//! statement at a time. Where a statement ends is the grammar's business, not a scanner's
//! guess: `BEGIN ATOMIC … END` bodies hold `;`, `E'\''` is one quote inside a string, `$`
//! may continue an identifier (`a$b`), and dollar quotes and block comments nest.

use std::ops::Range;

use pg_query::NodeEnum;
use pg_query::protobuf::{ScanToken, Token};

/// One statement of a script: its text (a slice of the script, without the `;` that ends
/// it and without the white space and comments around it), where it starts, and its tree.
#[derive(Debug)]
pub struct Statement<'a> {
    /// The statement's text.
    pub text: &'a str,
    /// Its byte range in the script.
    pub range: Range<usize>,
    /// PostgreSQL's parse tree of it.
    pub node: Option<NodeEnum>,
}

/// A `--` comment of a script, with its byte offset (comments inside strings and dollar
/// quotes are not comments, and are not listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment<'a> {
    /// The comment, from `--` to the end of its line.
    pub text: &'a str,
    /// Its byte offset in the script.
    pub offset: usize,
}

/// A script read by PostgreSQL's grammar.
#[derive(Debug)]
pub struct Script<'a> {
    /// Its statements, in order; empty ones (`;;`, comments alone) are not statements.
    pub statements: Vec<Statement<'a>>,
    /// Its `--` comments, in order.
    pub comments: Vec<Comment<'a>>,
}

/// PostgreSQL's grammar refuses the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    /// PostgreSQL's message (`syntax error at or near "TABLEE"`).
    pub message: String,
    /// The byte offset it points at.
    pub offset: usize,
}

/// The statements of `sql`, as PostgreSQL's parser delimits them, or where it refuses it.
///
/// Only where they are is asked of the parser (libpg_query's split), not their trees: a
/// tree is built in C, serialised and read back in Rust, which made splitting six times
/// slower than the split itself (bench row 11).
pub fn split_statements(sql: &str) -> Result<Vec<&str>, SyntaxError> {
    let tokens = scan(sql)?;
    let pieces =
        pg_query::split_with_parser(sql).map_err(|error| locate(sql, &tokens, &message(&error)))?;
    let code = code_tokens(&tokens);
    Ok(pieces
        .into_iter()
        .filter_map(|piece| {
            // Each piece is a slice of `sql`.
            let start = piece.as_ptr() as usize - sql.as_ptr() as usize;
            trimmed(&code, start..start + piece.len()).map(|range| &sql[range])
        })
        .collect())
}

/// Parses `sql` into its statements and comments.
pub fn parse(sql: &str) -> Result<Script<'_>, SyntaxError> {
    let tokens = scan(sql)?;
    let tree = pg_query::parse(sql, pg_query::ParserOptions::DEFAULT)
        .map_err(|error| locate(sql, &tokens, &message(&error)))?;
    let code = code_tokens(&tokens);
    let mut statements = Vec::with_capacity(tree.protobuf.stmts.len());
    for raw in tree.protobuf.stmts {
        let start = usize::try_from(raw.stmt_location).unwrap_or(0);
        let end = match usize::try_from(raw.stmt_len) {
            // A length of 0 means "to the end of the text" (a last statement without `;`).
            Ok(0) | Err(_) => sql.len(),
            Ok(len) => start + len,
        };
        let Some(range) = trimmed(&code, start..end) else {
            continue;
        };
        statements.push(Statement {
            text: &sql[range.clone()],
            range,
            node: raw.stmt.and_then(|node| node.node),
        });
    }
    let comments = tokens
        .iter()
        .filter(|t| t.token == Token::SqlComment as i32)
        .filter_map(|t| {
            let range = token_range(t)?;
            Some(Comment {
                text: sql.get(range.clone())?,
                offset: range.start,
            })
        })
        .collect();
    Ok(Script {
        statements,
        comments,
    })
}

/// The script's tokens, comments included; a scanner error (an unterminated quote,
/// comment or dollar quote, a bad escape) is located at the token it names.
fn scan(sql: &str) -> Result<Vec<ScanToken>, SyntaxError> {
    match scan_tokens(sql) {
        Ok(tokens) => Ok(tokens),
        Err(error) => {
            let message = message(&error);
            Err(SyntaxError {
                offset: scan_error_offset(sql, &message),
                message,
            })
        }
    }
}

/// pg_query's scanner, except on text without a token: pg_query 18.1 then builds a slice
/// from a null pointer (a panic in debug builds).
fn scan_tokens(sql: &str) -> pg_query::Result<Vec<ScanToken>> {
    if sql.bytes().all(is_sql_space) {
        return Ok(Vec::new());
    }
    pg_query::scan_tokens(sql)
}

/// PostgreSQL's white space (`space` in its lexer, scan.l): not Unicode's, which also
/// counts characters such as U+00A0 that PostgreSQL reads as part of an identifier.
fn is_sql_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// PostgreSQL's message without pg_query's prefix.
fn message(error: &pg_query::Error) -> String {
    match error {
        pg_query::Error::Parse(m) | pg_query::Error::Scan(m) | pg_query::Error::Split(m) => {
            m.clone()
        }
        other => other.to_string(),
    }
}

/// The byte range of a token.
fn token_range(token: &ScanToken) -> Option<Range<usize>> {
    Some(usize::try_from(token.start).ok()?..usize::try_from(token.end).ok()?)
}

fn is_comment(token: &ScanToken) -> bool {
    token.token == Token::SqlComment as i32 || token.token == Token::CComment as i32
}

/// The byte ranges and kinds of the tokens that are not comments, in order.
fn code_tokens(tokens: &[ScanToken]) -> Vec<(Range<usize>, i32)> {
    tokens
        .iter()
        .filter(|t| !is_comment(t))
        .filter_map(|t| Some((token_range(t)?, t.token)))
        .collect()
}

/// From the first to the last of `code` (see [`code_tokens`]) inside `range` that is not a
/// `;` ending it; `None` when there is none.
fn trimmed(code: &[(Range<usize>, i32)], range: Range<usize>) -> Option<Range<usize>> {
    let from = code.partition_point(|(r, _)| r.start < range.start);
    let to = code.partition_point(|(r, _)| r.end <= range.end);
    let mut inside = code.get(from..to)?;
    while let [rest @ .., (_, token)] = inside
        && *token == Token::Ascii59 as i32
    {
        inside = rest;
    }
    Some(inside.first()?.0.start..inside.last()?.0.end)
}

/// The byte offset a parser error points at. libpg_query reports the message but not the
/// cursor position, so the position is found the way the parser found the error: the
/// shortest prefix of whole tokens that fails with the same message ends with the token
/// the parser stopped at (an LR parser detects an error at the first token that cannot
/// continue, whatever follows it). "at end of input" points at the end of the text.
fn locate(sql: &str, tokens: &[ScanToken], message: &str) -> SyntaxError {
    let error = |offset| SyntaxError {
        message: message.to_owned(),
        offset,
    };
    let code = code_tokens(tokens);
    let ends: Vec<usize> = code.iter().map(|(r, _)| r.end).collect();
    if message.ends_with("at end of input") || ends.is_empty() {
        return error(ends.last().copied().unwrap_or(sql.len()));
    }
    let fails_alike = |count: usize| {
        pg_query::parse(&sql[..ends[count - 1]], pg_query::ParserOptions::DEFAULT)
            .err()
            .is_some_and(|e| self::message(&e) == message)
    };
    // The smallest count of tokens whose prefix fails alike; the whole text does.
    let (mut low, mut high) = (1, ends.len());
    while low < high {
        let middle = low + (high - low) / 2;
        if fails_alike(middle) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    error(code[low - 1].0.start)
}

/// Where a scanner error is: its message quotes the text from the bad token on (`at or
/// near "'abc…"`); the first place that text starts after cleanly scanned text is it.
fn scan_error_offset(sql: &str, message: &str) -> usize {
    let near = message
        .split_once("at or near \"")
        .and_then(|(_, rest)| rest.strip_suffix('"'));
    let Some(near) = near.filter(|n| !n.is_empty()) else {
        return sql.len();
    };
    sql.match_indices(near)
        .map(|(at, _)| at)
        .find(|&at| scan_tokens(&sql[..at]).is_ok())
        .unwrap_or(sql.len())
}

#[cfg(test)]
mod tests;
