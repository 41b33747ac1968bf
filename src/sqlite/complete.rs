//! Where SQLite's statements end, without a database: the state machine of SQLite's own
//! `sqlite3_complete()` (`src/complete.c`), which the `sqlite3` shell uses to know that a
//! statement is whole, read here a token at a time so that each place it returns to its
//! start state is a statement's end. It knows strings, quoted names (`"…"`, `` `…` ``,
//! `[…]`), both comment forms and `CREATE [TEMP] TRIGGER … BEGIN … END;` bodies, and
//! nothing else: it does not parse, so each statement it finds is then prepared by SQLite
//! itself ([`super::grammar`]) and run through SQLite's parser ([`super::statements`]).

use std::ops::Range;

/// The token classes of `complete.c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Semi = 0,
    Blank = 1,
    Other = 2,
    Explain = 3,
    Create = 4,
    Temp = 5,
    Trigger = 6,
    End = 7,
}

/// The start state, and the one after a statement's final `;`.
const START: u8 = 1;

/// `complete.c`'s transitions: `TRANSITIONS[state][token]`. States: 0 invalid, 1 start,
/// 2 normal, 3 explain, 4 create, 5 trigger, 6 semi (in a trigger), 7 end (of a trigger).
const TRANSITIONS: [[u8; 8]; 8] = [
    [1, 0, 2, 3, 4, 2, 2, 2],
    [1, 1, 2, 3, 4, 2, 2, 2],
    [1, 2, 2, 2, 2, 2, 2, 2],
    [1, 3, 3, 2, 4, 2, 2, 2],
    [1, 4, 2, 2, 2, 4, 5, 2],
    [6, 5, 5, 5, 5, 5, 5, 5],
    [6, 6, 5, 5, 5, 5, 5, 7],
    [1, 7, 5, 5, 5, 5, 5, 5],
];

/// Text that cannot end: an unterminated string, quoted name or block comment, at a byte
/// offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unterminated {
    /// Where the unterminated token starts.
    pub(crate) at: usize,
}

/// The byte ranges of the statements of `sql`, from each one's first token to its `;`
/// (the last one may lack it, as SQLite accepts). Blank statements (`;;`) are skipped.
pub(crate) fn split(sql: &str) -> Result<Vec<Range<usize>>, Unterminated> {
    let bytes = sql.as_bytes();
    let mut ranges = Vec::new();
    let mut state = 0u8;
    let mut start = None;
    let mut at = 0;
    while at < bytes.len() {
        let (token, end) = token(bytes, at)?;
        if token != Token::Blank && token != Token::Semi {
            start.get_or_insert(at);
        }
        state = TRANSITIONS[usize::from(state)][token as usize];
        if token == Token::Semi
            && state == START
            && let Some(begin) = start.take()
        {
            ranges.push(begin..end);
        }
        at = end;
    }
    if let Some(begin) = start {
        ranges.push(begin..sql.trim_end().len().max(begin));
    }
    Ok(ranges)
}

/// The class of the token at `at`, and where it ends.
fn token(bytes: &[u8], at: usize) -> Result<(Token, usize), Unterminated> {
    let rest = &bytes[at..];
    let after = |needle: &[u8], skip: usize| {
        rest[skip..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| at + skip + p + needle.len())
    };
    let unterminated = Unterminated { at };
    Ok(match rest[0] {
        b';' => (Token::Semi, at + 1),
        b' ' | b'\r' | b'\t' | b'\n' | b'\x0c' => (Token::Blank, at + 1),
        b'/' if rest.get(1) == Some(&b'*') => (Token::Blank, after(b"*/", 2).ok_or(unterminated)?),
        b'-' if rest.get(1) == Some(&b'-') => {
            (Token::Blank, after(b"\n", 2).unwrap_or(bytes.len()))
        }
        b'[' => (Token::Other, after(b"]", 1).ok_or(unterminated)?),
        quote @ (b'`' | b'"' | b'\'') => (Token::Other, after(&[quote], 1).ok_or(unterminated)?),
        c if is_id(c) => {
            let len = rest.iter().take_while(|&&c| is_id(c)).count();
            (keyword(&rest[..len]), at + len)
        }
        _ => (Token::Other, at + 1),
    })
}

/// SQLite's identifier characters: letters, digits, `_`, `$` and every byte of a
/// multi-byte UTF-8 character.
fn is_id(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

fn keyword(word: &[u8]) -> Token {
    let is = |k: &str| word.eq_ignore_ascii_case(k.as_bytes());
    if is("create") {
        Token::Create
    } else if is("trigger") {
        Token::Trigger
    } else if is("temp") || is("temporary") {
        Token::Temp
    } else if is("end") {
        Token::End
    } else if is("explain") {
        Token::Explain
    } else {
        Token::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(sql: &str) -> Vec<&str> {
        split(sql).unwrap().into_iter().map(|r| &sql[r]).collect()
    }

    #[test]
    fn statements_end_at_semicolons_outside_strings_names_and_comments() {
        assert_eq!(
            pieces(
                "-- one; two\nCREATE TABLE \"a;b\" (x TEXT DEFAULT 'it''s;', [y;z]);\n/* ; */ SELECT `;` ;;\n\nSELECT 2"
            ),
            [
                "CREATE TABLE \"a;b\" (x TEXT DEFAULT 'it''s;', [y;z]);",
                "SELECT `;` ;",
                "SELECT 2"
            ]
        );
        assert_eq!(pieces("  -- nothing\n ; \n"), Vec::<&str>::new());
    }

    #[test]
    fn a_trigger_body_is_part_of_its_statement() {
        let sql = "CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = 1;\n  DELETE FROM b;\nEND;\nSELECT 1;";
        assert_eq!(
            pieces(sql),
            [
                "CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = 1;\n  DELETE FROM b;\nEND;",
                "SELECT 1;"
            ]
        );
        // A table called "trigger" is not a trigger.
        assert_eq!(pieces("CREATE TABLE x (trigger_at);SELECT 1;").len(), 2);
    }

    #[test]
    fn an_unterminated_string_or_comment_is_refused_where_it_starts() {
        assert_eq!(
            split("SELECT 1;\nSELECT 'open"),
            Err(Unterminated { at: 17 })
        );
        assert_eq!(split("SELECT 1; /* open"), Err(Unterminated { at: 10 }));
    }
}
