//! Reading migration files (embedded at build time or from a directory) into a validated
//! [`Catalogue`]. Every problem is collected and reported together, naming the files,
//! before any SQL runs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::checksum;
use super::directives::{self, Timeouts, is_irreversible, wants_no_transaction};
use super::model::{Catalogue, Down, Migration, Script};
use super::naming::{Direction, NameError, ParsedName, parse_file_name};
use crate::sql::{self, SyntaxError};

/// Files larger than this are refused: a migration this size is a data dump by mistake.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A migration file as read: its file name and raw bytes.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The file name, without directory.
    pub name: String,
    /// Raw contents; decoded as UTF-8 during validation.
    pub bytes: Vec<u8>,
}

/// The catalogue could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The migrations directory could not be listed.
    #[error("cannot read the migrations directory {dir} (check --migrations-dir)")]
    Directory {
        /// The directory.
        dir: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// One or more files are invalid.
    #[error("{} invalid migration file(s) in {origin}:\n{}", problems.len(), list(problems))]
    Invalid {
        /// `embedded` or the directory.
        origin: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

/// One reason a file or pair of files is refused (DESIGN §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A `.sql` file that matches no naming style.
    Unparsable(String),
    /// Version 0, or too large for `i64`.
    VersionOutOfRange(String),
    /// Not UTF-8.
    NotUtf8(String),
    /// Holds a NUL byte (file, line, column), which PostgreSQL cannot receive in SQL text.
    NulByte(String, usize, usize),
    /// A directory, FIFO, socket or device with a migration's name.
    NotAFile(String),
    /// Could not be read.
    Unreadable(String, String),
    /// Larger than [`MAX_FILE_BYTES`].
    TooLarge(String),
    /// Empty, or white space only.
    Empty(String),
    /// Two files of the same direction share a version.
    DuplicateVersion(i64, Vec<String>),
    /// Up files of more than one naming style.
    MixedStyles(String, String),
    /// An up file without its down file.
    MissingDown(String, String),
    /// A down file without its up file.
    DownWithoutUp(String),
    /// A transactional file that ends or starts a transaction itself.
    TransactionControl(String, String),
    /// A directive whose value cannot be read.
    Directive(String, String),
    /// A no-transaction file that PostgreSQL's grammar refuses, so it cannot be split into
    /// statements: file, line, column and PostgreSQL's message.
    Syntax(String, usize, usize, String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unparsable(file) => write!(
                f,
                "{file}: name matches no style; use V{{n}}__{{name}}.sql, {{n}}_{{name}}.sql or {{n}}_{{name}}.up.sql (name: letters, digits, _), each with a .down.sql"
            ),
            Problem::VersionOutOfRange(file) => {
                write!(
                    f,
                    "{file}: version must be a positive integer that fits i64 (1..=9223372036854775807; timestamps such as 20240120120000 are fine)"
                )
            }
            Problem::NotUtf8(file) => write!(f, "{file}: not UTF-8; save it as UTF-8"),
            Problem::NulByte(file, line, column) => write!(
                f,
                "{file}:{line}:{column}: NUL byte, which PostgreSQL cannot receive in SQL; is this a binary or UTF-16 file?"
            ),
            Problem::NotAFile(file) => write!(
                f,
                "{file}: not a regular file (a directory, FIFO, socket or device); move it out of the migrations directory"
            ),
            Problem::Unreadable(file, error) => write!(f, "{file}: cannot be read: {error}"),
            Problem::TooLarge(file) => {
                write!(
                    f,
                    "{file}: larger than {} MiB; load data outside migrations",
                    MAX_FILE_BYTES >> 20
                )
            }
            Problem::Empty(file) => write!(f, "{file}: empty; write its SQL or delete it"),
            Problem::DuplicateVersion(version, files) => {
                write!(
                    f,
                    "version {version} is used by more than one file: {}",
                    files.join(", ")
                )
            }
            Problem::MixedStyles(a, b) => write!(
                f,
                "mixed naming styles: {a} and {b}; rename the files to one style per directory"
            ),
            Problem::MissingDown(up, down) => write!(
                f,
                "{up}: no down file; add {down} (or put `-- schemagate:irreversible` in it)"
            ),
            Problem::DownWithoutUp(file) => write!(f, "{file}: down file without an up file"),
            Problem::TransactionControl(file, statement) => write!(
                f,
                "{file}: `{statement}` inside a transactional migration; remove it or start the file with `-- schemagate:no-transaction`"
            ),
            Problem::Directive(file, reason) => write!(f, "{file}: {reason}"),
            Problem::Syntax(file, line, column, message) => write!(
                f,
                "{file}:{line}:{column}: {message} (PostgreSQL's grammar; this file runs outside a transaction, so it is split into statements before anything runs)"
            ),
        }
    }
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A catalogue of files embedded at build time (name and bytes), as
/// `embed_catalogue!("dir")` expands to; `origin` is the directory they came from.
pub fn from_static(origin: &str, files: &[(&str, &[u8])]) -> Result<Catalogue, CatalogueError> {
    let files = files.iter().map(|(name, bytes)| SourceFile {
        name: (*name).to_owned(),
        bytes: bytes.to_vec(),
    });
    from_files(origin, files.collect())
}

/// Reads every `*.sql` file of `dir` (not recursing; other files are ignored).
pub fn from_dir(dir: &Path) -> Result<Catalogue, CatalogueError> {
    let directory_error = |source| CatalogueError::Directory {
        dir: dir.display().to_string(),
        source,
    };
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(directory_error)? {
        let entry = entry.map_err(directory_error)?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            // Other files are ignored, whatever their name; a `.sql` one is refused.
            if entry.file_name().to_string_lossy().ends_with(".sql") {
                problems.push(Problem::NotUtf8(entry.path().display().to_string()));
            }
            continue;
        };
        if !name.ends_with(".sql") || name.starts_with('.') {
            continue;
        }
        match read_limited(&entry.path()) {
            Ok(bytes) => files.push(SourceFile { name, bytes }),
            Err(problem) => problems.push(problem),
        }
    }
    let origin = format!("{}/", dir.display());
    match from_files(&origin, files) {
        Err(CatalogueError::Invalid {
            origin,
            problems: more,
        }) => {
            problems.extend(more);
            Err(CatalogueError::Invalid { origin, problems })
        }
        Ok(_) if !problems.is_empty() => Err(CatalogueError::Invalid { origin, problems }),
        result => result,
    }
}

/// Reads a file, refusing one too large to be a migration.
fn read_limited(path: &Path) -> Result<Vec<u8>, Problem> {
    let shown = path.display().to_string();
    let metadata =
        std::fs::metadata(path).map_err(|e| Problem::Unreadable(shown.clone(), e.to_string()))?;
    // Reading a FIFO would block forever, and a directory cannot be read.
    if !metadata.is_file() {
        return Err(Problem::NotAFile(shown));
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(Problem::TooLarge(shown));
    }
    std::fs::read(path).map_err(|e| Problem::Unreadable(shown, e.to_string()))
}

/// A file whose name and text have been checked.
struct Parsed {
    name: ParsedName,
    file: String,
    version_text: String,
    sql: String,
}

/// Validates a set of files into a catalogue; `origin` prefixes file names in messages.
pub fn from_files(origin: &str, files: Vec<SourceFile>) -> Result<Catalogue, CatalogueError> {
    let mut problems = Vec::new();
    let parsed: Vec<Parsed> = files
        .into_iter()
        .filter_map(|f| parse_one(origin, f, &mut problems))
        .collect();
    let (ups, downs): (Vec<_>, Vec<_>) = parsed
        .into_iter()
        .partition(|p| p.name.direction == Direction::Up);
    check_styles(&ups, &downs, &mut problems);
    let ups = by_version(ups, &mut problems);
    let mut downs = by_version(downs, &mut problems);
    let migrations = ups
        .into_values()
        .filter_map(|up| {
            let down = downs.remove(&up.name.version);
            pair(up, down, origin, &mut problems)
        })
        .collect();
    problems.extend(downs.into_values().map(|d| Problem::DownWithoutUp(d.file)));
    if problems.is_empty() {
        Ok(Catalogue::new(
            origin.trim_end_matches('/').to_owned(),
            migrations,
        ))
    } else {
        Err(CatalogueError::Invalid {
            origin: origin.to_owned(),
            problems,
        })
    }
}

fn parse_one(origin: &str, source: SourceFile, problems: &mut Vec<Problem>) -> Option<Parsed> {
    let file = format!("{origin}{}", source.name);
    let name = match parse_file_name(&source.name) {
        Ok(name) => name,
        Err(NameError::Unparsable) => return fail(problems, Problem::Unparsable(file)),
        Err(NameError::VersionOutOfRange) => {
            return fail(problems, Problem::VersionOutOfRange(file));
        }
    };
    if source.bytes.len() as u64 > MAX_FILE_BYTES {
        return fail(problems, Problem::TooLarge(file));
    }
    let Ok(text) = String::from_utf8(source.bytes) else {
        return fail(problems, Problem::NotUtf8(file));
    };
    if let Some(offset) = text.find('\0') {
        let (line, column) = crate::position::line_column(&text, offset);
        return fail(problems, Problem::NulByte(file, line, column));
    }
    if text.trim().is_empty() {
        return fail(problems, Problem::Empty(file));
    }
    let version_text = source
        .name
        .trim_start_matches('V')
        .split('_')
        .next()
        .unwrap_or_default()
        .to_owned();
    Some(Parsed {
        name,
        file,
        version_text,
        sql: text.replace("\r\n", "\n"),
    })
}

fn fail<T>(problems: &mut Vec<Problem>, problem: Problem) -> Option<T> {
    problems.push(problem);
    None
}

/// One naming style per directory, and down files of the matching family.
fn check_styles(ups: &[Parsed], downs: &[Parsed], problems: &mut Vec<Problem>) {
    let Some(first) = ups.first() else { return };
    if let Some(other) = ups.iter().find(|p| p.name.style != first.name.style) {
        problems.push(Problem::MixedStyles(first.file.clone(), other.file.clone()));
    }
    if let Some(other) = downs
        .iter()
        .find(|d| !first.name.style.accepts_down(d.name.style))
    {
        problems.push(Problem::MixedStyles(first.file.clone(), other.file.clone()));
    }
}

/// Files keyed by version; duplicates are reported and left out.
fn by_version(files: Vec<Parsed>, problems: &mut Vec<Problem>) -> BTreeMap<i64, Parsed> {
    let mut groups: BTreeMap<i64, Vec<Parsed>> = BTreeMap::new();
    for file in files {
        groups.entry(file.name.version).or_default().push(file);
    }
    groups
        .into_iter()
        .filter_map(|(version, mut group)| {
            if group.len() == 1 {
                return group.pop().map(|file| (version, file));
            }
            let mut names: Vec<String> = group.into_iter().map(|p| p.file).collect();
            names.sort();
            fail(problems, Problem::DuplicateVersion(version, names))
        })
        .collect()
}

/// Pairs an up file with its down file and computes refinery's checksum.
fn pair(
    up: Parsed,
    down: Option<Parsed>,
    origin: &str,
    problems: &mut Vec<Problem>,
) -> Option<Migration> {
    let Some(down) = down else {
        let expected = up
            .name
            .style
            .down_file_name(&up.version_text, &up.name.name);
        return fail(
            problems,
            Problem::MissingDown(up.file, format!("{origin}{expected}")),
        );
    };
    let up_script = script(up.file, up.sql, problems);
    let down = if is_irreversible(&down.sql) {
        Down::Irreversible { file: down.file }
    } else {
        Down::Script(script(down.file, down.sql, problems))
    };
    let checksum = checksum::written(&up.name.name, up.name.version, &up_script.sql);
    let accepted_checksums = checksum::accepted(&up.name.name, up.name.version, &up_script.sql);
    Some(Migration {
        version: up.name.version,
        name: up.name.name,
        checksum,
        accepted_checksums,
        up: up_script,
        down,
    })
}

fn script(file: String, sql: String, problems: &mut Vec<Problem>) -> Script {
    let transactional = !wants_no_transaction(&sql);
    let timeouts = directives::timeouts(&sql).unwrap_or_else(|reason| {
        problems.push(Problem::Directive(file.clone(), reason));
        Timeouts::default()
    });
    let mut statements = Vec::new();
    if transactional {
        if let Some(statement) = transaction_control(&sql) {
            problems.push(Problem::TransactionControl(file.clone(), statement));
        }
    } else {
        match sql::parse(&sql) {
            Ok(script) => statements = script.statements.into_iter().map(|s| s.range).collect(),
            Err(SyntaxError { message, offset }) => {
                let (line, column) = crate::position::line_column(&sql, offset);
                problems.push(Problem::Syntax(file.clone(), line, column, message));
            }
        }
    }
    Script {
        file,
        sql,
        transactional,
        timeouts,
        statements,
    }
}

/// Words that open every statement that starts or ends a transaction (PostgreSQL's
/// `TransactionStmt`): a file without any of them needs no parse for this check.
const TRANSACTION_WORDS: [&str; 7] = [
    "ABORT", "BEGIN", "COMMIT", "END", "PREPARE", "ROLLBACK", "START",
];

/// A statement that would end or start the transaction a migration runs in, found in
/// PostgreSQL's parse tree: `BEGIN`, `START TRANSACTION`, `COMMIT`, `END`, `ROLLBACK`,
/// `ABORT`, `PREPARE TRANSACTION` and the `… PREPARED` forms. Savepoints stay inside the
/// transaction and are fine; a `BEGIN ATOMIC` body is part of its function. A file the
/// grammar refuses is left to the server, which reports where when it runs it (exit 6).
fn transaction_control(sql: &str) -> Option<String> {
    use pg_query::NodeEnum;
    use pg_query::protobuf::TransactionStmtKind as Kind;
    let upper = sql.to_ascii_uppercase();
    if !TRANSACTION_WORDS.iter().any(|word| upper.contains(word)) {
        return None;
    }
    let script = sql::parse(sql).ok()?;
    script.statements.into_iter().find_map(|statement| {
        let Some(NodeEnum::TransactionStmt(stmt)) = &statement.node else {
            return None;
        };
        let ends_or_starts = !matches!(
            Kind::try_from(stmt.kind),
            Ok(Kind::TransStmtSavepoint | Kind::TransStmtRelease | Kind::TransStmtRollbackTo)
        );
        ends_or_starts.then(|| statement.text.chars().take(40).collect())
    })
}

#[cfg(test)]
mod tests;
