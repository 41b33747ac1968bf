//! Splitting SQL into statements, for files that run outside a transaction.
//!
//! PostgreSQL runs a multi-statement simple query as one implicit transaction, so
//! `CREATE INDEX CONCURRENTLY` in such a string fails; a no-transaction file must be sent a
//! statement at a time. The scanner knows what can hide a `;`: quoted strings, quoted
//! identifiers, dollar quotes and both kinds of comments.

/// The statements of `sql`, without their terminating `;`, skipping empty ones.
pub fn split_statements(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut statements = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        i = match bytes[i] {
            b';' => {
                push_statement(&mut statements, &sql[start..i]);
                start = i + 1;
                i + 1
            }
            b'\'' | b'"' => skip_quoted(bytes, i, bytes[i]),
            b'-' if bytes.get(i + 1) == Some(&b'-') => skip_line_comment(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => skip_block_comment(bytes, i),
            b'$' => skip_dollar_quoted(sql, i),
            _ => i + 1,
        };
    }
    push_statement(&mut statements, &sql[start..]);
    statements
}

/// Keeps a statement unless it holds nothing but white space and comments.
fn push_statement<'a>(statements: &mut Vec<&'a str>, candidate: &'a str) {
    if !split_is_blank(candidate) {
        statements.push(candidate.trim_matches(|c: char| u8::try_from(c).is_ok_and(is_sql_space)));
    }
}

/// PostgreSQL's white space (`space` in its lexer, scan.l): not Unicode's, which also
/// counts characters such as U+00A0 that PostgreSQL reads as part of an identifier.
fn is_sql_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Whether the text holds no SQL at all.
fn split_is_blank(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        i = match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => skip_line_comment(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => skip_block_comment(bytes, i),
            c if is_sql_space(c) => i + 1,
            _ => return false,
        };
    }
    true
}

/// Past a `'…'` or `"…"` that starts at `i`; a doubled quote stays inside.
fn skip_quoted(bytes: &[u8], i: usize, quote: u8) -> usize {
    let mut j = i + 1;
    while j < bytes.len() {
        if bytes[j] == quote {
            if bytes.get(j + 1) == Some(&quote) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    bytes.len()
}

fn skip_line_comment(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| i + p + 1)
}

/// Past a `/* … */` comment; PostgreSQL nests them.
fn skip_block_comment(bytes: &[u8], i: usize) -> usize {
    let (mut depth, mut j) = (0usize, i);
    while j + 1 < bytes.len() {
        match (bytes[j], bytes[j + 1]) {
            (b'/', b'*') => {
                depth += 1;
                j += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return j;
                }
            }
            _ => j += 1,
        }
    }
    bytes.len()
}

/// Past a `$tag$ … $tag$` body starting at `i`, or one byte when `$` opens no tag
/// (a positional parameter such as `$1`).
fn skip_dollar_quoted(sql: &str, i: usize) -> usize {
    let rest = &sql[i + 1..];
    let tag_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|&end| rest.as_bytes()[end] == b'$')
        .filter(|&end| !rest[..end].starts_with(|c: char| c.is_ascii_digit()));
    let Some(tag_len) = tag_len else { return i + 1 };
    let delimiter = &sql[i..i + tag_len + 2];
    let body_start = i + delimiter.len();
    sql[body_start..]
        .find(delimiter)
        .map_or(sql.len(), |p| body_start + p + delimiter.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_inside_quotes_comments_and_dollar_bodies_do_not_split() {
        let sql = "CREATE TABLE \"a;b\" (x text default 'it''s; fine');\n\
                   -- a comment; still a comment\n\
                   /* outer /* nested; */ still; */\n\
                   CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n\
                   DO $$ BEGIN PERFORM 1; END $$;\n\
                   SELECT $1::int";
        let statements = split_statements(sql);
        assert_eq!(statements.len(), 4, "{statements:#?}");
        assert!(statements[1].contains("$body$ SELECT 1; $body$"));
        assert!(statements[2].starts_with("DO $$"));
        assert_eq!(statements[3], "SELECT $1::int");
    }

    #[test]
    fn comment_only_and_empty_text_has_no_statements() {
        assert!(split_statements("-- nothing to undo\n\n/* really */ ;;").is_empty());
        assert!(split_statements("").is_empty());
    }

    #[test]
    fn only_postgresqls_white_space_is_blank() {
        assert!(split_statements("\u{b}\u{c} ;").is_empty());
        assert_eq!(split_statements("SELECT 1 \u{a0}"), ["SELECT 1 \u{a0}"]);
    }

    #[test]
    fn an_unterminated_quote_keeps_the_rest_in_one_statement() {
        assert_eq!(split_statements("SELECT 'a;b").len(), 1);
    }
}
