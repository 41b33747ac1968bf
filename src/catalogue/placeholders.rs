//! Placeholders (DESIGN §21): `${NAME}` in a file whose leading comments say
//! `-- schemagate:placeholders` stands for a value given by `SCHEMAGATE_PLACEHOLDER_NAME` or
//! by `[placeholders]` in compat.toml.
//!
//! A value may be a secret (a role's password), so it lives only in the text sent to the
//! database. The script's `sql` keeps each `${NAME}` masked as `_` of the same length, which
//! PostgreSQL's grammar reads as an identifier: the checks before a run and the lint read the
//! file's statements at the file's own offsets, never a value. The checksum is of the file as
//! written ([`Script::written`]), and a database error about a statement with values is shown
//! with each value put back as `${NAME}` ([`Hidden`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use super::load::{CatalogueError, Problem};
use super::model::{Catalogue, Down, Script};
use crate::position::{byte_offset, line_column};

/// The environment variables that give placeholder values: `SCHEMAGATE_PLACEHOLDER_NAME`
/// gives `${NAME}`. They are removed from the environment of every child process.
pub const ENV_PREFIX: &str = "SCHEMAGATE_PLACEHOLDER_";

/// The values of placeholders by name. Its `Debug` shows the names, never a value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Placeholders {
    values: BTreeMap<String, String>,
}

impl fmt::Debug for Placeholders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl Placeholders {
    /// Gives `${name}` a value, replacing any earlier one.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    /// These values overridden by the `SCHEMAGATE_PLACEHOLDER_*` variables of the
    /// environment: compat.toml is built into the image, while the environment is the
    /// deployment's, as Flyway's `FLYWAY_PLACEHOLDERS_*` override its configuration file.
    pub fn with_environment(mut self) -> Self {
        for (key, value) in std::env::vars_os() {
            let (Some(key), Some(value)) = (key.to_str(), value.to_str()) else {
                continue;
            };
            if let Some(name) = key.strip_prefix(ENV_PREFIX).filter(|n| is_name(n)) {
                self.insert(name, value);
            }
        }
        self
    }

    /// The names that have a value.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// Whether `name` can be a placeholder's: ASCII letters, digits and `_`, not starting with a
/// digit (so it can end an environment variable's name).
pub fn is_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One `${NAME}` of a file: where it stands in the file and, once the catalogue is given
/// values, its value. `Debug` shows the name and place, never the value.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Placeholder {
    name: String,
    /// The bytes of `${NAME}` in the file (and of its mask in the script's `sql`).
    range: Range<usize>,
    value: Option<String>,
}

impl fmt::Debug for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{{}}} at {:?}", self.name, self.range)
    }
}

/// The placeholders of a marked file, or the byte offset of a `${` that opens none.
pub(super) fn find(sql: &str) -> Result<Vec<Placeholder>, usize> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = sql[from..].find("${").map(|i| from + i) {
        let name_start = at + 2;
        let name = sql[name_start..]
            .split_once('}')
            .map(|(name, _)| name)
            .filter(|name| is_name(name))
            .ok_or(at)?;
        let end = name_start + name.len() + 1;
        found.push(Placeholder {
            name: name.to_owned(),
            range: at..end,
            value: None,
        });
        from = end;
    }
    Ok(found)
}

/// `sql` with each placeholder masked as `_` of its length (ASCII, so offsets are kept).
pub(super) fn mask(mut sql: String, placeholders: &[Placeholder]) -> String {
    for placeholder in placeholders {
        let mask = "_".repeat(placeholder.range.len());
        sql.replace_range(placeholder.range.clone(), &mask);
    }
    sql
}

/// A file's text as the grammar and the lint read it: in a file marked for placeholders,
/// each `${NAME}` masked (a file with a malformed one is left as written, and refused at
/// load).
pub fn masked(sql: String) -> String {
    if !super::directives::wants_placeholders(&sql) {
        return sql;
    }
    match find(&sql) {
        Ok(placeholders) => mask(sql, &placeholders),
        Err(_) => sql,
    }
}

impl Script {
    /// The file as written (line endings normalised): what the checksum is of.
    pub fn written(&self) -> Cow<'_, str> {
        self.with(0..self.sql.len(), |p| {
            Cow::Owned(format!("${{{}}}", p.name))
        })
    }

    /// The text sent to the database for the whole file: each placeholder replaced by its
    /// value. A placeholder without a value is sent as written, which the server refuses.
    pub fn to_run(&self) -> Cow<'_, str> {
        self.statement_to_run(0..self.sql.len())
    }

    /// The text sent to the database for the statement at `range` (a range of `sql`).
    pub fn statement_to_run(&self, range: Range<usize>) -> Cow<'_, str> {
        self.with(range, |p| match &p.value {
            Some(value) => Cow::Borrowed(value.as_str()),
            None => Cow::Owned(format!("${{{}}}", p.name)),
        })
    }

    /// `sql[range]` with each placeholder inside it replaced by `text` of it.
    fn with<'a>(
        &'a self,
        range: Range<usize>,
        text: impl Fn(&'a Placeholder) -> Cow<'a, str>,
    ) -> Cow<'a, str> {
        let inside = self.placeholders_in(&range);
        if inside.is_empty() {
            return Cow::Borrowed(&self.sql[range]);
        }
        let mut out = String::with_capacity(range.len());
        let mut cursor = range.start;
        for placeholder in inside {
            out.push_str(&self.sql[cursor..placeholder.range.start]);
            out.push_str(&text(placeholder));
            cursor = placeholder.range.end;
        }
        out.push_str(&self.sql[cursor..range.end]);
        Cow::Owned(out)
    }

    /// The placeholders wholly inside `range`.
    fn placeholders_in(&self, range: &Range<usize>) -> &[Placeholder] {
        let first = self
            .placeholders
            .partition_point(|p| p.range.start < range.start);
        let last = self
            .placeholders
            .partition_point(|p| p.range.end <= range.end);
        &self.placeholders[first..last.max(first)]
    }

    /// The byte offset in the file of character `position` (from 1) of the text sent for
    /// the statement that starts at byte `start`, as PostgreSQL reports an error's place; a
    /// place inside a value is that of its `${NAME}`.
    pub fn offset_of_sent(&self, start: usize, position: usize) -> usize {
        let mut left = position.saturating_sub(1);
        let mut cursor = start;
        for placeholder in self.placeholders_in(&(start..self.sql.len())) {
            let before = self.sql[cursor..placeholder.range.start].chars().count();
            if left < before {
                break;
            }
            let value = placeholder
                .value
                .as_deref()
                .map_or(0, |v| v.chars().count());
            if left < before + value {
                return placeholder.range.start;
            }
            left -= before + value;
            cursor = placeholder.range.end;
        }
        byte_offset(&self.sql, cursor, left + 1)
    }

    /// What a message about this script must not show: the values sent with it.
    pub fn hidden(&self) -> Hidden {
        Hidden(
            self.placeholders
                .iter()
                .filter_map(|p| Some((p.name.clone(), p.value.clone()?)))
                .filter(|(_, value)| !value.is_empty())
                .collect(),
        )
    }
}

/// The values of a script's placeholders, to be put back as `${NAME}` in any text that might
/// quote them (a database error). `Debug` shows the names alone.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Hidden(Vec<(String, String)>);

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Hidden {
    /// `text` with every value replaced by its `${NAME}`, the longest values first so that
    /// no part of one survives inside another's replacement.
    pub fn hide(&self, text: &str) -> String {
        let mut values: Vec<&(String, String)> = self.0.iter().collect();
        values.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
        values
            .into_iter()
            .fold(text.to_owned(), |text, (name, value)| {
                text.replace(value.as_str(), &format!("${{{name}}}"))
            })
    }
}

impl Catalogue {
    /// The catalogue with `values` given to the placeholders of its marked files (up and
    /// down), or every placeholder without a value, named by file, line and column.
    pub fn with_placeholders(mut self, values: &Placeholders) -> Result<Self, CatalogueError> {
        let mut problems = Vec::new();
        for migration in self.migrations_mut() {
            give(&mut migration.up, values, &mut problems);
            if let Down::Script(down) = &mut migration.down {
                give(down, values, &mut problems);
            }
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(CatalogueError::Invalid {
                origin: self.origin.clone(),
                problems,
            })
        }
    }
}

/// Gives the script's placeholders their values, reporting each that has none.
fn give(script: &mut Script, values: &Placeholders, problems: &mut Vec<Problem>) {
    for placeholder in &mut script.placeholders {
        placeholder.value = values.values.get(&placeholder.name).cloned();
        if placeholder.value.is_none() {
            let (line, column) = line_column(&script.sql, placeholder.range.start);
            problems.push(Problem::UndefinedPlaceholder(
                script.file.clone(),
                line,
                column,
                placeholder.name.clone(),
            ));
        }
    }
}

#[cfg(test)]
mod tests;
