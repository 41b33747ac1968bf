//! Line and column of a place in a file, for messages that point into compat.toml or a
//! migration.

/// 1-based line and column (in characters) of a byte offset in `text`.
pub(crate) fn line_column(text: &str, byte_offset: usize) -> (usize, usize) {
    let mut end = byte_offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The byte offset of a 1-based character position counted from `base` (a byte offset).
pub(crate) fn byte_offset(text: &str, base: usize, char_position: usize) -> usize {
    text.get(base..)
        .and_then(|rest| rest.char_indices().nth(char_position.saturating_sub(1)))
        .map_or(text.len(), |(i, _)| base + i)
}

/// At most `width` characters of the line holding `byte_offset`, starting a few characters
/// before it, with `…` where the line goes on: enough to find the place, never a whole line
/// of a file that may hold a secret or a megabyte.
pub(crate) fn excerpt(text: &str, byte_offset: usize, width: usize) -> String {
    let mut at = byte_offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].split('\n').next().unwrap_or_default();
    let column = text[start..at].chars().count();
    let skip = column.saturating_sub(width / 4);
    let shown: String = line.chars().skip(skip).take(width).collect();
    let before = if skip > 0 { "…" } else { "" };
    let after = if line.chars().count() > skip + width {
        "…"
    } else {
        ""
    };
    format!("{before}{}{after}", shown.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_a_short_piece_of_the_line_around_the_place() {
        let long = format!("a = \"x\"\nversion = \"1\" {}\nb = 1", "y".repeat(5000));
        let at = long.find(" y").unwrap() + 1;
        let shown = excerpt(&long, at, 40);
        assert_eq!(shown, format!("…ion = \"1\" {}…", "y".repeat(30)));
        assert_eq!(excerpt("min = 6", 6, 40), "min = 6");
        assert_eq!(excerpt("é = [", 3, 40), "é = [");
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "ab\nçd;\nxyz";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, byte_offset(text, 3, 3)), (2, 3));
        assert_eq!(line_column(text, 100), (3, 4));
    }
}
