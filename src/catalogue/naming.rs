//! Migration file names: the three accepted styles of DESIGN §3.

use std::sync::LazyLock;

use regex::Regex;

/// The naming convention of a migration directory; one per directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `V{n}__{name}.sql` + `V{n}__{name}.down.sql` (refinery, Flyway).
    Refinery,
    /// `{n}_{name}.sql` + `{n}_{name}.down.sql`.
    Numbered,
    /// `{n}_{name}.up.sql` + `{n}_{name}.down.sql` (golang-migrate, sqlx).
    UpDown,
}

/// Whether a file applies or reverts its migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Applies the migration.
    Up,
    /// Reverts the migration.
    Down,
}

/// What a file name says about its migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    /// Schema version, a positive `i64`.
    pub version: i64,
    /// The name part, which goes into the history row and the checksum.
    pub name: String,
    /// Up or down.
    pub direction: Direction,
    /// The style; a down file of the numbered styles is reported as [`Style::Numbered`],
    /// since `{n}_{name}.down.sql` pairs with both.
    pub style: Style,
}

/// Why a `.sql` file name is not a migration name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Matches none of the styles.
    Unparsable,
    /// The version is 0 or does not fit `i64`.
    VersionOutOfRange,
}

/// The name part is `\w+`, refinery's rule, so refinery computes the same checksum.
static PATTERNS: LazyLock<[(Regex, Style, Direction); 5]> = LazyLock::new(|| {
    let re = |pattern: &str| Regex::new(pattern).expect("static migration name pattern");
    [
        (
            re(r"^V([0-9]+)__(\w+)\.down\.sql$"),
            Style::Refinery,
            Direction::Down,
        ),
        (
            re(r"^V([0-9]+)__(\w+)\.sql$"),
            Style::Refinery,
            Direction::Up,
        ),
        (
            re(r"^([0-9]+)_(\w+)\.up\.sql$"),
            Style::UpDown,
            Direction::Up,
        ),
        (
            re(r"^([0-9]+)_(\w+)\.down\.sql$"),
            Style::Numbered,
            Direction::Down,
        ),
        (re(r"^([0-9]+)_(\w+)\.sql$"), Style::Numbered, Direction::Up),
    ]
});

/// Parses a `.sql` file name. Leading zeros in the version are ignored.
pub fn parse_file_name(file_name: &str) -> Result<ParsedName, NameError> {
    let (captures, style, direction) = PATTERNS
        .iter()
        .find_map(|(re, style, direction)| re.captures(file_name).map(|c| (c, *style, *direction)))
        .ok_or(NameError::Unparsable)?;
    let version = captures[1]
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or(NameError::VersionOutOfRange)?;
    Ok(ParsedName {
        version,
        name: captures[2].to_owned(),
        direction,
        style,
    })
}

impl Style {
    /// Whether a down file of style `down` pairs with up files of this style.
    pub fn accepts_down(self, down: Style) -> bool {
        match self {
            Style::Refinery => down == Style::Refinery,
            Style::Numbered | Style::UpDown => down == Style::Numbered,
        }
    }

    /// The down file name that pairs with an up file of this style.
    pub fn down_file_name(self, version_text: &str, name: &str) -> String {
        match self {
            Style::Refinery => format!("V{version_text}__{name}.down.sql"),
            Style::Numbered | Style::UpDown => format!("{version_text}_{name}.down.sql"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(
        version: i64,
        name: &str,
        direction: Direction,
        style: Style,
    ) -> Result<ParsedName, NameError> {
        Ok(ParsedName {
            version,
            name: name.to_owned(),
            direction,
            style,
        })
    }

    #[test]
    fn every_naming_case_parses_as_the_table_says() {
        use Direction::{Down, Up};
        use NameError::{Unparsable, VersionOutOfRange};
        use Style::{Numbered, Refinery, UpDown};
        let cases = [
            ("V1__create_users.sql", ok(1, "create_users", Up, Refinery)),
            (
                "V1__create_users.down.sql",
                ok(1, "create_users", Down, Refinery),
            ),
            ("V0003__x.sql", ok(3, "x", Up, Refinery)),
            ("0001_auth.sql", ok(1, "auth", Up, Numbered)),
            ("0001_auth.down.sql", ok(1, "auth", Down, Numbered)),
            ("20_add_index.up.sql", ok(20, "add_index", Up, UpDown)),
            ("20_add_index.down.sql", ok(20, "add_index", Down, Numbered)),
            (
                "9223372036854775807_max.sql",
                ok(i64::MAX, "max", Up, Numbered),
            ),
            (
                "20240120120000_add_users.sql",
                ok(20_240_120_120_000, "add_users", Up, Numbered),
            ),
            ("9223372036854775808_overflow.sql", Err(VersionOutOfRange)),
            ("99999999999999999999_huge.sql", Err(VersionOutOfRange)),
            ("0_zero.sql", Err(VersionOutOfRange)),
            ("V0__zero.sql", Err(VersionOutOfRange)),
            ("V1_single_underscore.sql", Err(Unparsable)),
            ("V1__.sql", Err(Unparsable)),
            ("V1__name.up.sql", Err(Unparsable)),
            ("v1__lowercase.sql", Err(Unparsable)),
            ("1-dash.sql", Err(Unparsable)),
            ("1_has-dash.sql", Err(Unparsable)),
            ("1_has space.sql", Err(Unparsable)),
            ("create_users.sql", Err(Unparsable)),
            ("-1_negative.sql", Err(Unparsable)),
            ("1_name.SQL", Err(Unparsable)),
            ("1_name.sql.bak", Err(Unparsable)),
            ("1_name.rollback.sql", Err(Unparsable)),
            ("１_fullwidth_digit.sql", Err(Unparsable)),
        ];
        for (file, expected) in cases {
            assert_eq!(parse_file_name(file), expected, "{file}");
        }
    }

    #[test]
    fn down_files_pair_only_with_their_family() {
        assert!(Style::Refinery.accepts_down(Style::Refinery));
        assert!(!Style::Refinery.accepts_down(Style::Numbered));
        assert!(Style::UpDown.accepts_down(Style::Numbered));
        assert!(Style::Numbered.accepts_down(Style::Numbered));
        assert_eq!(
            Style::UpDown.down_file_name("0001", "auth"),
            "0001_auth.down.sql"
        );
        assert_eq!(
            Style::Refinery.down_file_name("1", "auth"),
            "V1__auth.down.sql"
        );
    }
}
