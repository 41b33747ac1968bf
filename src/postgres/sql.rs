//! SQL read with PostgreSQL's own grammar (`pg_query`, libpg_query: the server's scanner
//! and parser compiled as a library): the statements of a pending file, checked before
//! anything runs (DESIGN §18), split for no-transaction files, and parsed for the lint
//! (DESIGN §11, §12).
//!
//! PostgreSQL runs a multi-statement simple query as one implicit transaction, so
//! `CREATE INDEX CONCURRENTLY` in such a string fails; a no-transaction file must be sent a
//! statement at a time. Where a statement ends is the grammar's business, not a scanner's
//! guess: `BEGIN ATOMIC … END` bodies hold `;`, `E'\''` is one quote inside a string, `$`
//! may continue an identifier (`a$b`), and dollar quotes and block comments nest.
//!
//! A script is read a statement at a time ([`piece`]): PostgreSQL's scanner finds the `;`
//! that may end statements, and each piece between them is parsed alone, so what a parse
//! holds in memory follows the largest statement, not the file (issue 22: a parse tree
//! takes about 230 times its text, so a 2 MB data migration needed 456 MB). A piece is
//! first parsed in C only, where nothing is copied out; the tree is built in Rust only for
//! statements other than `SELECT`, `INSERT`, `UPDATE`, `DELETE` and `MERGE`, the only
//! ones a check looks into.

use std::ops::Range;

use pg_query::NodeEnum;
use pg_query::protobuf::{ScanToken, Token};

mod piece;
mod transaction;

pub(crate) use transaction::{controls_transaction, refused_in_transaction};

/// One statement of a script: its text (a slice of the script, without the `;` that ends
/// it and without the white space and comments around it), where it starts, and its tree.
#[derive(Debug)]
pub(crate) struct Statement<'a> {
    /// The statement's text.
    pub text: &'a str,
    /// Its byte range in the script.
    pub range: Range<usize>,
    /// PostgreSQL's parse tree of it; `None` for `SELECT`, `INSERT`, `UPDATE`, `DELETE`
    /// and `MERGE`, whose trees no check reads (the grammar accepted them all the same).
    pub node: Option<NodeEnum>,
}

/// A `--` comment of a script, with its byte offset (comments inside strings and dollar
/// quotes are not comments, and are not listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Comment<'a> {
    /// The comment, from `--` to the end of its line.
    pub text: &'a str,
    /// Its byte offset in the script.
    pub offset: usize,
}

/// PostgreSQL's grammar refuses the text, or a statement is too large to be read.
///
/// The message never quotes the script: a migration file may be anything (a link to a
/// secret), and an error shows its place, not its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct SyntaxError {
    /// PostgreSQL's message without the text it quotes (`syntax error`).
    pub message: String,
    /// The byte offset it points at.
    pub offset: usize,
}

/// The largest statement read, in bytes: its tokens take about four times its size.
pub(crate) const MAX_STATEMENT_BYTES: usize = 16 << 20;

/// The most tokens a statement may have to be parsed in C (to check it): about 100 bytes
/// each while the parser holds the tree, so a 512 MiB container has room to spare.
pub(crate) const MAX_TOKENS: usize = 1_000_000;

/// The most tokens a statement other than `SELECT`, `INSERT`, `UPDATE`, `DELETE` and
/// `MERGE` may have, whose tree is also built in Rust: about 1 KiB each.
pub(crate) const MAX_TREE_TOKENS: usize = 100_000;

/// The statements of `sql`, as PostgreSQL's grammar delimits them, or where it refuses it.
pub(crate) fn split_statements(sql: &str) -> Result<Vec<&str>, SyntaxError> {
    let mut statements = Vec::new();
    read(sql, &mut |statement| statements.push(statement.text))?;
    Ok(statements)
}

/// Reads `sql` a statement at a time: `each` gets every statement in order (and may drop
/// it, tree and all, before the next is parsed); returns the script's `--` comments.
pub(crate) fn read<'a>(
    sql: &'a str,
    each: &mut dyn FnMut(Statement<'a>),
) -> Result<Vec<Comment<'a>>, SyntaxError> {
    let mut comments = Vec::new();
    for piece in piece::pieces(sql)? {
        let piece = piece?;
        comments.extend(
            piece
                .tokens
                .iter()
                .filter(|t| t.token == Token::SqlComment as i32)
                .filter_map(|t| {
                    let range = token_range(t)?;
                    Some(Comment {
                        text: sql.get(range.clone())?,
                        offset: range.start,
                    })
                }),
        );
        statements(sql, &piece, each)?;
    }
    Ok(comments)
}

/// The statements of one piece of `sql` (see [`piece`]), given to `each`.
fn statements<'a>(
    sql: &'a str,
    piece: &piece::Piece,
    each: &mut dyn FnMut(Statement<'a>),
) -> Result<(), SyntaxError> {
    let code = code_tokens(&piece.tokens);
    let kinds = match &piece.kinds {
        Ok(kinds) => kinds,
        Err(message) => return Err(locate(sql, piece, &code, message)),
    };
    match kinds.as_slice() {
        [] => {}
        // The common case, and every row of a data migration: one statement whose tree no
        // check reads, so none is built.
        [false] => {
            if let Some(range) = trimmed(&code, piece.range.clone()) {
                each(Statement {
                    text: &sql[range.clone()],
                    range,
                    node: None,
                });
            }
        }
        _ if code.len() > MAX_TREE_TOKENS => {
            return Err(SyntaxError {
                message: format!(
                    "a statement of {} tokens, more than the {MAX_TREE_TOKENS} schemagate reads at once for a statement other than SELECT, INSERT, UPDATE, DELETE or MERGE; split it",
                    code.len()
                ),
                offset: code.first().map_or(piece.range.start, |(r, _)| r.start),
            });
        }
        _ => {
            let text = &sql[piece.range.clone()];
            let tree = pg_query::parse(text, pg_query::ParserOptions::DEFAULT)
                .map_err(|error| locate(sql, piece, &code, &message(&error)))?;
            for raw in tree.protobuf.stmts {
                let start = piece.range.start + usize::try_from(raw.stmt_location).unwrap_or(0);
                let end = match usize::try_from(raw.stmt_len) {
                    // A length of 0 means "to the end of the text" (a last statement
                    // without `;`).
                    Ok(0) | Err(_) => piece.range.end,
                    Ok(len) => start + len,
                };
                let Some(range) = trimmed(&code, start..end) else {
                    continue;
                };
                each(Statement {
                    text: &sql[range.clone()],
                    range,
                    node: raw.stmt.and_then(|node| node.node),
                });
            }
        }
    }
    Ok(())
}

/// PostgreSQL's message without pg_query's prefix.
fn message(error: &pg_query::Error) -> String {
    match error {
        pg_query::Error::Parse(m)
        | pg_query::Error::Scan(m)
        | pg_query::Error::Split(m)
        | pg_query::Error::IsUtility(m) => m.clone(),
        other => other.to_string(),
    }
}

/// PostgreSQL's message without the text of the script it quotes: `syntax error at or
/// near "TABLEE"` becomes `syntax error`, and a message that names an identifier stops
/// before it.
fn without_quotes(message: &str) -> String {
    let end = message
        .find(" at or near ")
        .or_else(|| message.find('"'))
        .unwrap_or(message.len());
    message[..end].trim_end().to_owned()
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

/// The byte offset a parser error in `piece` points at. libpg_query reports the message
/// but not the cursor position, so the position is found the way the parser found the
/// error: the shortest prefix of whole tokens that fails with the same message ends with
/// the token the parser stopped at (an LR parser detects an error at the first token that
/// cannot continue, whatever follows it). "at end of input" points at the end of the
/// piece's text.
fn locate(
    sql: &str,
    piece: &piece::Piece,
    code: &[(Range<usize>, i32)],
    message: &str,
) -> SyntaxError {
    let error = |offset| SyntaxError {
        message: without_quotes(message),
        offset,
    };
    let ends: Vec<usize> = code.iter().map(|(r, _)| r.end).collect();
    if message.ends_with("at end of input") || ends.is_empty() {
        return error(ends.last().copied().unwrap_or(piece.range.end));
    }
    let start = piece.range.start;
    let fails_alike = |count: usize| {
        pg_query::is_utility_stmt(&sql[start..ends[count - 1]])
            .err()
            .is_some_and(|e| self::message(&e) == message)
    };
    // The smallest count of tokens whose prefix fails alike; the whole piece does.
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

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;
