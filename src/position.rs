//! Line and column of a place in a file, for messages that point into compat.toml or a
//! migration.

/// 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_column(text: &str, byte_offset: usize) -> (usize, usize) {
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
pub fn byte_offset(text: &str, base: usize, char_position: usize) -> usize {
    text.get(base..)
        .and_then(|rest| rest.char_indices().nth(char_position.saturating_sub(1)))
        .map_or(text.len(), |(i, _)| base + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "ab\nçd;\nxyz";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, byte_offset(text, 3, 3)), (2, 3));
        assert_eq!(line_column(text, 100), (3, 4));
    }
}
