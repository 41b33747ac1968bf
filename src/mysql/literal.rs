//! Values written into queries sent as text, where the wing sends a query in one round
//! trip rather than preparing it first (preparing costs a second round trip the first time
//! a session sends a query, and a query whose text changes is prepared every time).
//!
//! A string goes as a hexadecimal literal with the `utf8mb4` introducer: nothing in it is
//! read as a quote or an escape, whatever the session's `sql_mode`
//! (`NO_BACKSLASH_ESCAPES` changes what a backslash in a quoted string means), and the
//! server converts it into the column's character set as it converts a parameter.

use std::fmt::Write as _;

/// `s` as a string literal: `_utf8mb4 X'…'`.
pub(crate) fn string(s: &str) -> String {
    let mut literal = String::with_capacity(11 + 2 * s.len());
    literal.push_str("_utf8mb4 X'");
    for byte in s.bytes() {
        let _ = write!(literal, "{byte:02X}");
    }
    literal.push('\'');
    literal
}

#[cfg(test)]
mod tests {
    use mysql_async::prelude::Queryable as _;

    use super::*;
    use crate::mysql::testing::TestDatabase;

    #[tokio::test]
    async fn quotes_backslashes_and_non_ascii_text_reach_the_server_as_they_are() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        conn.query_drop("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
            .await
            .unwrap();
        for text in ["", "it's", "back\\slash\\'", "é 雪 \u{1F600}", "a\"b`c;--"] {
            let back: Option<String> = conn
                .query_first(format!("SELECT {}", string(text)))
                .await
                .unwrap();
            assert_eq!(back.as_deref(), Some(text));
        }
    }
}
