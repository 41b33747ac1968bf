//! Migration file names: the accepted styles of DESIGN §3, and diesel's layout (§21), whose
//! file names are `{directory}/up.sql` and `{directory}/down.sql`.

/// The naming convention of a migration directory; one per directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `V{n}__{name}.sql` + `V{n}__{name}.down.sql` (refinery, Flyway).
    Refinery,
    /// `{n}_{name}.sql` + `{n}_{name}.down.sql`.
    Numbered,
    /// `{n}_{name}.up.sql` + `{n}_{name}.down.sql` (golang-migrate, sqlx).
    UpDown,
    /// diesel: `{timestamp}_{name}/up.sql` + `{timestamp}_{name}/down.sql`, the timestamp
    /// `2019-02-26-002946` (or `20190226002946`), maybe followed by diesel's counter
    /// (`-0000`); the version is the timestamp's 14 digits (see [`diesel_version`]).
    Diesel,
}

/// A database engine a migration file may be written for (DESIGN §17): `NAME.postgres.sql`,
/// `NAME.sqlite.sql` and `NAME.mysql.sql` (downs: `NAME.sqlite.down.sql`) replace `NAME.sql`
/// on that engine. Only names: the catalogue knows no driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Engine {
    /// PostgreSQL: `.postgres.sql`.
    Postgres,
    /// SQLite: `.sqlite.sql`.
    Sqlite,
    /// MariaDB or MySQL: `.mysql.sql`.
    Mysql,
}

impl Engine {
    /// Every engine, in the order variants are listed.
    pub const ALL: [Engine; 3] = [Engine::Postgres, Engine::Sqlite, Engine::Mysql];

    /// The word a variant's file name carries (`postgres`, `sqlite`, `mysql`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Sqlite => "sqlite",
            Engine::Mysql => "mysql",
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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
    /// The engine of a variant (`NAME.sqlite.sql`); `None` for a file of every engine.
    pub engine: Option<Engine>,
}

/// Why a `.sql` file name is not a migration name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Matches none of the styles.
    Unparsable,
    /// The version is 0 or does not fit `i64`.
    VersionOutOfRange,
}

/// Parses a `.sql` file name. Leading zeros in the version are ignored.
///
/// The grammar is that of refinery's pattern, read by hand: an optional `V` (then `__`
/// after the version) or none (then `_`), ASCII digits, a name of word characters
/// (Unicode `\w`, so refinery computes the same checksum), an optional `.up` (only
/// without `V`) or `.down`, and `.sql`. Compiling the equivalent regular expressions cost
/// more than everything else `schemagate version` does (issue 12).
pub fn parse_file_name(file_name: &str) -> Result<ParsedName, NameError> {
    if let Some((directory, file)) = file_name.split_once('/') {
        return parse_diesel(directory, file);
    }
    let stem = file_name
        .strip_suffix(".sql")
        .ok_or(NameError::Unparsable)?;
    let (stem, marker) = if let Some(stem) = stem.strip_suffix(".down") {
        (stem, Some(Direction::Down))
    } else if let Some(stem) = stem.strip_suffix(".up") {
        (stem, Some(Direction::Up))
    } else {
        (stem, None)
    };
    let (stem, engine) = Engine::ALL
        .into_iter()
        .find_map(|engine| {
            let stem = stem.strip_suffix(engine.name())?.strip_suffix('.')?;
            Some((stem, Some(engine)))
        })
        .unwrap_or((stem, None));
    let (style, digits_and_name, separator) = match stem.strip_prefix('V') {
        // refinery has no `.up` marker: `V1__x.up.sql` is no migration name.
        Some(_) if marker == Some(Direction::Up) => return Err(NameError::Unparsable),
        Some(rest) => (Style::Refinery, rest, "__"),
        None if marker == Some(Direction::Up) => (Style::UpDown, stem, "_"),
        None => (Style::Numbered, stem, "_"),
    };
    let digits_end = digits_and_name
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits_and_name.len());
    let (digits, rest) = digits_and_name.split_at(digits_end);
    let name = rest.strip_prefix(separator).ok_or(NameError::Unparsable)?;
    if digits.is_empty() || name.is_empty() || !name.chars().all(is_word_character) {
        return Err(NameError::Unparsable);
    }
    let version = digits
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or(NameError::VersionOutOfRange)?;
    Ok(ParsedName {
        version,
        name: name.to_owned(),
        direction: marker.unwrap_or(Direction::Up),
        // A down file of the numbered styles pairs with both of them.
        style: match (style, marker) {
            (Style::Refinery, _) => Style::Refinery,
            (_, Some(Direction::Down)) => Style::Numbered,
            (style, _) => style,
        },
        engine,
    })
}

/// A file of diesel's layout: `up.sql` or `down.sql` in a directory `{timestamp}_{name}`.
fn parse_diesel(directory: &str, file: &str) -> Result<ParsedName, NameError> {
    let direction = match file {
        "up.sql" => Direction::Up,
        "down.sql" => Direction::Down,
        _ => return Err(NameError::Unparsable),
    };
    let (version, name) = directory.split_once('_').ok_or(NameError::Unparsable)?;
    if name.is_empty() || !name.chars().all(is_word_character) {
        return Err(NameError::Unparsable);
    }
    let version = diesel_version(&version.replace('-', "")).ok_or(NameError::Unparsable)?;
    Ok(ParsedName {
        version,
        name: name.to_owned(),
        direction,
        style: Style::Diesel,
        engine: None,
    })
}

/// The version of a diesel migration from its version as diesel stores it in
/// `__diesel_schema_migrations` (the directory's name before `_`, dashes removed): the 14
/// digits of its timestamp, followed or not by the 4 hexadecimal digits of diesel's
/// counter, which is not part of the version (two directories of the same second are one
/// version twice, refused). All versions having 14 digits, they order as diesel orders
/// its versions, as text. `diesel setup`'s `00000000000000` is version 1: schemagate's
/// versions are positive, and it stays first.
pub fn diesel_version(stored: &str) -> Option<i64> {
    let (stamp, counter) = stored.split_at_checked(14)?;
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let counter_ok = counter.is_empty() || (counter.len() == 4 && counter.bytes().all(hex));
    if !counter_ok || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stamp.parse::<i64>().ok().map(|version| version.max(1))
}

/// The name of the variant of `file_name` (a file of every engine, not diesel's) for
/// `engine`: `V3__x.down.sql` → `V3__x.sqlite.down.sql`. Names hold no `.`, so the first one
/// starts the suffix.
pub fn variant_file_name(file_name: &str, engine: Option<Engine>) -> String {
    match (engine, file_name.find('.')) {
        (Some(engine), Some(dot)) => {
            format!("{}.{engine}{}", &file_name[..dot], &file_name[dot..])
        }
        _ => file_name.to_owned(),
    }
}

/// The version as a file name spells it (leading zeros, diesel's dashes and counter kept),
/// which the name of its down file repeats.
pub fn spelled_version(file_name: &str) -> &str {
    let rest = file_name.strip_prefix('V').unwrap_or(file_name);
    rest.split('_').next().unwrap_or_default()
}

/// Unicode `\w` as the `regex` crate (and so refinery) defines it: alphabetic, marks,
/// decimal digits, connector punctuation and join controls.
fn is_word_character(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || (!c.is_ascii() && regex_syntax::is_word_character(c))
}

impl Style {
    /// Whether a down file of style `down` pairs with up files of this style.
    pub fn accepts_down(self, down: Style) -> bool {
        match self {
            Style::Refinery => down == Style::Refinery,
            Style::Numbered | Style::UpDown => down == Style::Numbered,
            Style::Diesel => down == Style::Diesel,
        }
    }

    /// The up file name of this style, the inverse of [`parse_file_name`]; `version_text`
    /// is the version as spelled, leading zeros kept.
    pub fn up_file_name(self, version_text: &str, name: &str) -> String {
        match self {
            Style::Refinery => format!("V{version_text}__{name}.sql"),
            Style::Numbered => format!("{version_text}_{name}.sql"),
            Style::UpDown => format!("{version_text}_{name}.up.sql"),
            Style::Diesel => format!("{version_text}_{name}/up.sql"),
        }
    }

    /// The down file name that pairs with an up file of this style.
    pub fn down_file_name(self, version_text: &str, name: &str) -> String {
        match self {
            Style::Refinery => format!("V{version_text}__{name}.down.sql"),
            Style::Numbered | Style::UpDown => format!("{version_text}_{name}.down.sql"),
            Style::Diesel => format!("{version_text}_{name}/down.sql"),
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
            engine: None,
        })
    }

    #[test]
    fn engine_variants_parse_with_their_engine_in_every_style() {
        let variant =
            |file: &str| parse_file_name(file).map(|p| (p.version, p.direction, p.style, p.engine));
        use Direction::{Down, Up};
        use Engine::{Mysql, Postgres, Sqlite};
        assert_eq!(
            variant("V3__x.postgres.sql"),
            Ok((3, Up, Style::Refinery, Some(Postgres)))
        );
        assert_eq!(
            variant("V3__x.sqlite.down.sql"),
            Ok((3, Down, Style::Refinery, Some(Sqlite)))
        );
        assert_eq!(
            variant("0003_x.mysql.sql"),
            Ok((3, Up, Style::Numbered, Some(Mysql)))
        );
        assert_eq!(
            variant("3_x.sqlite.up.sql"),
            Ok((3, Up, Style::UpDown, Some(Sqlite)))
        );
        assert_eq!(
            variant("3_x.sqlite.down.sql"),
            Ok((3, Down, Style::Numbered, Some(Sqlite)))
        );
        for file in [
            "V3__x.oracle.sql",
            "V3__x.down.sqlite.sql",
            "V3__x.sqlite.sqlite.sql",
            "V3__.sqlite.sql",
            "V3__xsqlite.sql",
        ] {
            assert!(
                variant(file).is_err() || variant(file).unwrap().3.is_none(),
                "{file}"
            );
        }
        assert_eq!(
            variant_file_name("V3__x.down.sql", Some(Sqlite)),
            "V3__x.sqlite.down.sql"
        );
        assert_eq!(
            variant_file_name("3_x.up.sql", Some(Mysql)),
            "3_x.mysql.up.sql"
        );
        assert_eq!(variant_file_name("V3__x.sql", None), "V3__x.sql");
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
            // Unicode `\w`: letters, combining marks and connector punctuation are
            // name characters; other symbols and numbers are not.
            ("1_créer_table.sql", ok(1, "créer_table", Up, Numbered)),
            ("1_e\u{301}.sql", ok(1, "e\u{301}", Up, Numbered)),
            (
                "V2__a\u{203f}b.down.sql",
                ok(2, "a\u{203f}b", Down, Refinery),
            ),
            ("1_x\u{b2}.sql", Err(Unparsable)),
            ("1_x\u{a0}.sql", Err(Unparsable)),
            (
                "1__leading_underscore.sql",
                ok(1, "_leading_underscore", Up, Numbered),
            ),
            ("V1___x.sql", ok(1, "_x", Up, Refinery)),
            ("1_x.up.down.sql", Err(Unparsable)),
            ("1_x.down.up.sql", Err(Unparsable)),
            ("V1__x.up.down.sql", Err(Unparsable)),
            ("1_.up.sql", Err(Unparsable)),
            ("1_.down.sql", Err(Unparsable)),
            ("V.sql", Err(Unparsable)),
            (".sql", Err(Unparsable)),
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

    #[test]
    fn up_file_names_parse_back_to_their_style() {
        for style in [Style::Refinery, Style::Numbered, Style::UpDown] {
            let file = style.up_file_name("0007", "add_index");
            assert_eq!(
                parse_file_name(&file),
                ok(7, "add_index", Direction::Up, style),
                "{file}"
            );
        }
        let file = Style::Diesel.up_file_name("2024-01-20-120000-0000", "add_index");
        assert_eq!(
            parse_file_name(&file),
            ok(
                20_240_120_120_000,
                "add_index",
                Direction::Up,
                Style::Diesel
            )
        );
        assert_eq!(spelled_version(&file), "2024-01-20-120000-0000");
        assert_eq!(spelled_version("V0003__x.sql"), "0003");
    }

    #[test]
    fn diesel_directories_parse_to_their_timestamps_digits() {
        use Direction::{Down, Up};
        use NameError::Unparsable;
        use Style::Diesel;
        let stamp = 20_190_226_002_946;
        let cases = [
            (
                "2019-02-26-002946_create_user/up.sql",
                ok(stamp, "create_user", Up, Diesel),
            ),
            (
                "2019-02-26-002946_create_user/down.sql",
                ok(stamp, "create_user", Down, Diesel),
            ),
            (
                "2019-02-26-002946-0000_create_user/up.sql",
                ok(stamp, "create_user", Up, Diesel),
            ),
            (
                "2019-02-26-002946-00af_x/up.sql",
                ok(stamp, "x", Up, Diesel),
            ),
            (
                "20190226002946_create_user/up.sql",
                ok(stamp, "create_user", Up, Diesel),
            ),
            (
                "00000000000000_diesel_initial_setup/up.sql",
                ok(1, "diesel_initial_setup", Up, Diesel),
            ),
            (
                "2019-02-26-002946_create_user/metadata.toml",
                Err(Unparsable),
            ),
            ("2019-02-26-002946_create_user/up.down.sql", Err(Unparsable)),
            ("2019-02-26-002946_create-user/up.sql", Err(Unparsable)),
            ("2019-02-26-002946_/up.sql", Err(Unparsable)),
            ("2019-02-26-0029_x/up.sql", Err(Unparsable)),
            ("2019-02-26-002946-00AF_x/up.sql", Err(Unparsable)),
            ("2019-02-26-002946-000_x/up.sql", Err(Unparsable)),
            ("1_x/up.sql", Err(Unparsable)),
            ("archive/up.sql", Err(Unparsable)),
        ];
        for (file, expected) in cases {
            assert_eq!(parse_file_name(file), expected, "{file}");
        }
        assert!(Style::Diesel.accepts_down(Style::Diesel));
        assert!(!Style::Diesel.accepts_down(Style::Numbered));
        assert_eq!(diesel_version("201902260029460001"), Some(stamp));
        assert_eq!(diesel_version("2019022600294"), None);
    }

    /// The regular expressions the parser replaced, in the order they were tried: the
    /// oracle for [`parse_file_name`] on generated names.
    static OLD_PATTERNS: std::sync::LazyLock<Vec<(regex::Regex, Style, Direction)>> =
        std::sync::LazyLock::new(|| {
            use Direction::{Down, Up};
            [
                (r"^V([0-9]+)__(\w+)\.down\.sql$", Style::Refinery, Down),
                (r"^V([0-9]+)__(\w+)\.sql$", Style::Refinery, Up),
                (r"^([0-9]+)_(\w+)\.up\.sql$", Style::UpDown, Up),
                (r"^([0-9]+)_(\w+)\.down\.sql$", Style::Numbered, Down),
                (r"^([0-9]+)_(\w+)\.sql$", Style::Numbered, Up),
            ]
            .into_iter()
            .map(|(pattern, style, direction)| {
                (regex::Regex::new(pattern).unwrap(), style, direction)
            })
            .collect()
        });

    fn by_the_old_patterns(file_name: &str) -> Result<ParsedName, NameError> {
        let (captures, style, direction) = OLD_PATTERNS
            .iter()
            .find_map(|(re, style, direction)| {
                re.captures(file_name).map(|c| (c, *style, *direction))
            })
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
            engine: None,
        })
    }

    proptest::proptest! {
        /// Names built from the pieces that matter to the grammar (`V`, digits, `_`, `.`,
        /// the markers, word and non-word characters of Unicode), in the order of a
        /// migration name or not, parse as the regular expressions did.
        #[test]
        fn the_parser_agrees_with_the_regular_expressions_it_replaced(
            prefix in proptest::sample::select(vec!["", "V", "v", "VV", "_"]),
            digits in proptest::sample::select(vec!["", "0", "1", "007", "20240120120000", "9223372036854775808", "１", "٣"]),
            separator in proptest::sample::select(vec!["", "_", "__", "___", "-"]),
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "V", "1", "_", ".", "up", ".up", "down", ".down", ".sql", "x", "é",
                    "\u{301}", "\u{203f}", "\u{200d}", "\u{b2}", "\u{a0}", "-", " ", "١",
                ]),
                0..5,
            ),
            suffix in proptest::sample::select(vec!["", ".sql", ".up.sql", ".down.sql", ".SQL", ".sql.bak"]),
        ) {
            let name = format!("{prefix}{digits}{separator}{}{suffix}", pieces.concat());
            proptest::prop_assert_eq!(parse_file_name(&name), by_the_old_patterns(&name), "{}", name);
        }
    }
}
