//! A script cut into pieces of one statement each, so that each is parsed on its own.
//!
//! libpg_query's scanner split finds every `;` at parenthesis depth 0 that follows a
//! keyword, in C, without building tokens or trees: cheap on any size. Two corrections
//! make its pieces the grammar's statements. A `BEGIN ATOMIC … END` body holds `;` of its
//! own, so a piece that opens one runs on until its `END` (counting the `CASE … END`
//! inside, as psql does). And a piece the parser finds unfinished ("at end of input")
//! while more follows is read with the next one, so the error is where the parser of the
//! whole file would stop: at the `;`. The scanner also drops a piece without a keyword
//! (`asdf;`); the pieces here cover the whole text, so the parser sees it and refuses it.

use std::ops::Range;

use pg_query::protobuf::{ScanToken, Token};

use super::{MAX_STATEMENT_BYTES, MAX_TOKENS, SyntaxError, is_comment, message, without_quotes};

/// One statement's text, or several joined by `BEGIN ATOMIC`, or none (comments).
pub(super) struct Piece {
    /// Its byte range in the script, from after the `;` before it to before its own.
    pub range: Range<usize>,
    /// Its tokens, comments included, at their offsets in the script.
    pub tokens: Vec<ScanToken>,
    /// For each statement in it, whether it is a utility statement (neither `SELECT`,
    /// `INSERT`, `UPDATE`, `DELETE` nor `MERGE`), from a parse in C; or PostgreSQL's
    /// message refusing it.
    pub kinds: Result<Vec<bool>, String>,
}

/// The pieces of `sql`, each parsed in C once its tokens are counted; a scanner error
/// (an unterminated quote, comment or dollar quote) refuses the script at once.
pub(super) fn pieces(sql: &str) -> Result<Pieces<'_>, SyntaxError> {
    Ok(Pieces {
        sql,
        ends: ends(sql)?,
        next: 0,
        start: 0,
    })
}

/// The pieces of a script, in order.
pub(super) struct Pieces<'a> {
    sql: &'a str,
    /// The offsets of the `;` that may end statements, then the end of the script.
    ends: Vec<usize>,
    /// The index in `ends` of the next piece's end.
    next: usize,
    /// Where the next piece starts.
    start: usize,
}

impl Iterator for Pieces<'_> {
    type Item = Result<Piece, SyntaxError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.start;
        let end = *self.ends.get(self.next)?;
        self.next += 1;
        let piece = self.piece(start..end);
        self.start = piece.as_ref().map_or(self.sql.len(), |p| p.range.end) + 1;
        if piece.is_err() {
            self.next = self.ends.len();
        }
        Some(piece)
    }
}

impl Pieces<'_> {
    /// The piece that starts at `range`, extended as the module says, and parsed.
    fn piece(&mut self, mut range: Range<usize>) -> Result<Piece, SyntaxError> {
        let mut tokens = scan(self.sql, range.clone())?;
        let mut depth = atomic_depth(&tokens, 0);
        while depth > 0 && tokens.len() <= MAX_TOKENS {
            let Some(more) = self.extend(&mut range, &mut tokens)? else {
                break;
            };
            depth = atomic_depth(&more, depth);
        }
        let mut kinds = parse(self.sql, &range, &tokens)?;
        if matches!(&kinds, Err(m) if m.ends_with("at end of input"))
            && self.extend(&mut range, &mut tokens)?.is_some()
        {
            kinds = parse(self.sql, &range, &tokens)?;
        }
        Ok(Piece {
            range,
            tokens,
            kinds,
        })
    }

    /// Extends `range` and `tokens` to the next end; returns the tokens added, or `None`
    /// at the end of the script.
    fn extend(
        &mut self,
        range: &mut Range<usize>,
        tokens: &mut Vec<ScanToken>,
    ) -> Result<Option<Vec<ScanToken>>, SyntaxError> {
        let Some(&end) = self.ends.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let more = scan(self.sql, range.end..end)?;
        tokens.extend(more.iter().cloned());
        range.end = end;
        Ok(Some(more))
    }
}

/// The piece parsed in C: the kind of each statement, or PostgreSQL's message; a piece
/// of more than [`MAX_TOKENS`] is refused before it is parsed.
fn parse(
    sql: &str,
    range: &Range<usize>,
    tokens: &[ScanToken],
) -> Result<Result<Vec<bool>, String>, SyntaxError> {
    let code = tokens.iter().filter(|t| !is_comment(t));
    let count = code.clone().count();
    if count > MAX_TOKENS {
        return Err(SyntaxError {
            message: format!(
                "a statement of {count} tokens, more than the {MAX_TOKENS} schemagate reads at once; split it into smaller statements (a data load into INSERTs of a few thousand rows each)"
            ),
            offset: code
                .map(|t| usize::try_from(t.start).unwrap_or(range.start))
                .next()
                .unwrap_or(range.start),
        });
    }
    Ok(pg_query::is_utility_stmt(&sql[range.clone()]).map_err(|e| message(&e)))
}

/// How many `BEGIN ATOMIC` bodies are still open after `tokens`, `depth` being open
/// before them: `BEGIN ATOMIC` opens one, and inside one `CASE` opens and `END` closes.
fn atomic_depth(tokens: &[ScanToken], mut depth: usize) -> usize {
    let code: Vec<i32> = tokens
        .iter()
        .filter(|t| !is_comment(t))
        .map(|t| t.token)
        .collect();
    for (i, &token) in code.iter().enumerate() {
        let opens = if depth > 0 {
            token == Token::Case as i32
        } else {
            token == Token::BeginP as i32 && code.get(i + 1) == Some(&(Token::Atomic as i32))
        };
        if opens {
            depth += 1;
        } else if depth > 0 && token == Token::EndP as i32 {
            depth -= 1;
        }
    }
    depth
}

/// How much of a script the scanner split reads at once: its own copy of the text and the
/// strings of every token stay allocated until it returns, about six times what it reads.
pub(super) const WINDOW: usize = 1 << 20;

/// The offsets of the `;` where libpg_query's scanner split ends statements, then the end
/// of the script. The script is split a window at a time, each starting after an end found
/// before (where the scanner's state is its initial one: no open parenthesis, quote or
/// comment), and each window's last piece is left to the next, as the window may cut it. A
/// window that cuts a quote or comment open fails to scan and is read again twice as long:
/// only an error in the whole rest of the script is the script's.
fn ends(sql: &str) -> Result<Vec<usize>, SyntaxError> {
    let mut ends = Vec::new();
    let (mut start, mut window) = (0, WINDOW);
    while !sql[start..].bytes().all(is_sql_space) {
        let mut end = sql.len().min(start + window);
        while !sql.is_char_boundary(end) {
            end += 1;
        }
        let last = end == sql.len();
        let found: Vec<usize> = match pg_query::split_with_scanner(&sql[start..end]) {
            Ok(pieces) => pieces
                .iter()
                // Each piece is a slice of `sql`.
                .map(|piece| piece.as_ptr() as usize - sql.as_ptr() as usize + piece.len())
                .filter(|&end| sql.as_bytes().get(end) == Some(&b';'))
                .collect(),
            Err(_) if !last => Vec::new(),
            Err(error) => {
                let message = message(&error);
                return Err(SyntaxError {
                    offset: start + scan_error_offset(&sql[start..], &message),
                    message: without_quotes(&message),
                });
            }
        };
        ends.extend(&found);
        match found.last() {
            _ if last => break,
            Some(&end) => (start, window) = (end + 1, WINDOW),
            None => window *= 2,
        }
    }
    ends.push(sql.len());
    Ok(ends)
}

/// The tokens of `sql[range]`, comments included, at their offsets in `sql`.
fn scan(sql: &str, range: Range<usize>) -> Result<Vec<ScanToken>, SyntaxError> {
    let text = &sql[range.clone()];
    // pg_query 18.1 builds a slice from a null pointer on text without a token (a panic
    // in debug builds).
    if text.bytes().all(is_sql_space) {
        return Ok(Vec::new());
    }
    if text.len() > MAX_STATEMENT_BYTES {
        return Err(SyntaxError {
            message: format!(
                "a statement of {} MiB, more than the {} MiB schemagate reads at once; split it into smaller statements (a data load into INSERTs of a few thousand rows each)",
                text.len() >> 20,
                MAX_STATEMENT_BYTES >> 20
            ),
            offset: range.start + text.len() - text.trim_start().len(),
        });
    }
    let shift = i32::try_from(range.start).map_err(|_| SyntaxError {
        message: "the file is too large".to_owned(),
        offset: range.start,
    })?;
    let mut tokens = pg_query::scan_tokens(text).map_err(|error| SyntaxError {
        message: without_quotes(&message(&error)),
        offset: range.start,
    })?;
    for token in &mut tokens {
        token.start += shift;
        token.end += shift;
    }
    Ok(tokens)
}

/// PostgreSQL's white space (`space` in its lexer, scan.l): not Unicode's, which also
/// counts characters such as U+00A0 that PostgreSQL reads as part of an identifier.
fn is_sql_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Where a scanner error is: its message quotes the text from the bad token on (`at or
/// near "'abc…"`); the first place that text starts after cleanly scanned text is it.
/// The prefixes are checked with the scanner split, which holds no tokens.
fn scan_error_offset(sql: &str, message: &str) -> usize {
    let near = message
        .split_once("at or near \"")
        .and_then(|(_, rest)| rest.strip_suffix('"'));
    let Some(near) = near.filter(|n| !n.is_empty()) else {
        return sql.len();
    };
    sql.match_indices(near)
        .map(|(at, _)| at)
        .find(|&at| {
            sql[..at].bytes().all(is_sql_space) || pg_query::split_with_scanner(&sql[..at]).is_ok()
        })
        .unwrap_or(sql.len())
}
