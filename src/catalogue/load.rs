//! Reading migration files (embedded at build time or from a directory) into a validated
//! [`Catalogue`]. Every problem is collected and reported together, naming the files,
//! before any SQL runs.

use std::fmt;
use std::fs::{DirEntry, File};
use std::io::Read as _;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::directives::{
    self, Timeouts, is_irreversible, only_comments, wants_no_transaction, wants_placeholders,
};
use super::model::{Catalogue, Down, Migration, Script, Split};
use super::naming::{
    Direction, Engine, NameError, ParsedName, parse_file_name, spelled_version, variant_file_name,
};
use super::{checksum, parallel, placeholders};

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
    /// A symbolic link to a file outside the migrations directory.
    LinkOutside(String),
    /// Could not be read.
    Unreadable(String, String),
    /// Larger than [`MAX_FILE_BYTES`].
    TooLarge(String),
    /// Empty, or white space and comments only.
    Empty(String),
    /// Two files of the same direction share a version.
    DuplicateVersion(i64, Vec<String>),
    /// Up files of more than one naming style.
    MixedStyles(String, String),
    /// An up file without its down file.
    MissingDown(String, String),
    /// A down file without its up file.
    DownWithoutUp(String),
    /// A directive whose value cannot be read.
    Directive(String, String),
    /// A `${` in a file marked for placeholders that opens none (file, line, column).
    MalformedPlaceholder(String, usize, usize),
    /// A placeholder without a value (file, line, column, name).
    UndefinedPlaceholder(String, usize, usize, String),
    /// A version whose only files are variants for other engines (version, engine, files).
    NoFileForEngine(i64, Engine, Vec<String>),
    /// A pending file that the engine's grammar refuses (or holds a statement too large to
    /// read): file, line, column, the grammar's message, which never quotes the file, and
    /// the engine whose grammar it is (`PostgreSQL`).
    Syntax(String, usize, usize, String, &'static str),
    /// A statement of a pending transactional file that ends or starts the transaction:
    /// file, line, column and the statement's name.
    TransactionControl(String, usize, usize, &'static str),
    /// A statement of a pending transactional file that the engine refuses inside a
    /// transaction block: file, line, column and the statement's name.
    InTransaction(String, usize, usize, &'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unparsable(file) => write!(
                f,
                "{file}: name matches no style; use V{{n}}__{{name}}.sql, {{n}}_{{name}}.sql or {{n}}_{{name}}.up.sql (name: letters, digits, _), each with a .down.sql, or diesel's {{timestamp}}_{{name}}/up.sql + down.sql (timestamp: 2019-02-26-002946, maybe with diesel's -0000)"
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
            Problem::LinkOutside(file) => write!(
                f,
                "{file}: a symbolic link to a file outside the migrations directory, which is not followed; copy the file into the directory"
            ),
            Problem::Unreadable(file, error) => write!(f, "{file}: cannot be read: {error}"),
            Problem::TooLarge(file) => {
                write!(
                    f,
                    "{file}: larger than {} MiB; load data outside migrations",
                    MAX_FILE_BYTES >> 20
                )
            }
            Problem::Empty(file) => write!(
                f,
                "{file}: empty (nothing but white space and comments); write its SQL or delete it"
            ),
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
            Problem::Directive(file, reason) => write!(f, "{file}: {reason}"),
            Problem::MalformedPlaceholder(file, line, column) => write!(
                f,
                "{file}:{line}:{column}: `${{` opens no placeholder in a file marked `-- schemagate:placeholders`; write ${{NAME}} (ASCII letters, digits and _, not starting with a digit)"
            ),
            Problem::UndefinedPlaceholder(file, line, column, name) => write!(
                f,
                "{file}:{line}:{column}: placeholder ${{{name}}} has no value; set {env}{name} in the environment or {name} in compat.toml's [placeholders]",
                env = placeholders::ENV_PREFIX,
            ),
            Problem::NoFileForEngine(version, engine, files) => write!(
                f,
                "version {version} has no file for {engine}, only variants for other engines ({}); add its file for every engine (without an engine in its name) or its .{engine}.sql variant, each with its down file",
                files.join(", ")
            ),
            Problem::Syntax(file, line, column, message, grammar) => write!(
                f,
                "{file}:{line}:{column}: {message} ({grammar}'s grammar, which reads every statement of a file before it runs); fix the file"
            ),
            Problem::TransactionControl(file, line, column, statement) => write!(
                f,
                "{file}:{line}:{column}: {statement} inside a transactional migration; remove it or start the file with `-- schemagate:no-transaction`"
            ),
            Problem::InTransaction(file, line, column, statement) => write!(
                f,
                "{file}:{line}:{column}: {statement} cannot run inside a transaction block, and this file runs in one; start the file with `-- schemagate:no-transaction` (and keep the statement alone in it)"
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

/// Reads every `*.sql` file of `dir`, and the `up.sql` and `down.sql` of each of its
/// subdirectories (diesel's layout); other files are ignored.
pub fn from_dir(dir: &Path) -> Result<Catalogue, CatalogueError> {
    let directory_error = |source| CatalogueError::Directory {
        dir: dir.display().to_string(),
        source,
    };
    let mut listed = Vec::new();
    let mut problems = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(directory_error)?;
    let directory = open_directory(dir).map_err(directory_error)?;
    for entry in entries {
        let entry = entry.map_err(directory_error)?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            // Other files are ignored, whatever their name; a `.sql` one is refused.
            if entry.file_name().to_string_lossy().ends_with(".sql") {
                problems.push(Problem::NotUtf8(entry.path().display().to_string()));
            }
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        if name.ends_with(".sql") {
            listed.push((name, entry));
        } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
            diesel_files(&entry, &name, &mut listed, &mut problems);
        }
    }
    let origin = format!("{}/", dir.display());
    // Each file is read and checked on the same thread, so its text is still in cache.
    let read = parallel::map(listed, |buffer: &mut Vec<u8>, (name, entry)| {
        let bytes = read_file(dir, &directory, &name, &entry, buffer)?;
        Ok(prepare(&origin, SourceFile { name, bytes }))
    });
    // Files that could not be read are reported first, then what the others hold.
    let mut prepared = Vec::with_capacity(read.len());
    for file in read {
        match file {
            Ok(file) => prepared.push(file),
            Err(problem) => problems.push(problem),
        }
    }
    assemble(&origin, prepared, problems)
}

/// The `up.sql` and `down.sql` of a subdirectory, diesel's layout (a directory per
/// migration); other files and directories in it are ignored.
fn diesel_files(
    directory: &DirEntry,
    name: &str,
    listed: &mut Vec<(String, DirEntry)>,
    problems: &mut Vec<Problem>,
) {
    let unreadable = |e: std::io::Error| {
        Problem::Unreadable(directory.path().display().to_string(), e.to_string())
    };
    let entries = match std::fs::read_dir(directory.path()) {
        Ok(entries) => entries,
        Err(e) => return problems.push(unreadable(e)),
    };
    for entry in entries {
        match entry {
            Ok(entry) if entry.file_name() == "up.sql" || entry.file_name() == "down.sql" => {
                let file = entry.file_name().to_string_lossy().into_owned();
                listed.push((format!("{name}/{file}"), entry));
            }
            Ok(_) => {}
            Err(e) => problems.push(unreadable(e)),
        }
    }
}

/// What the first read of a file asks for: more than most migrations, so a file costs
/// that read and the one that finds its end.
const FIRST_READ: usize = 64 * 1024;

/// The migrations directory, open, so that each file is opened by its name in it: the
/// kernel then looks up that name alone, not every component of the directory's path again
/// (a no-op gate opens every file of the catalogue).
fn open_directory(dir: &Path) -> std::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::open(dir, flags, Mode::empty())?)
}

/// Reads the file `name` of `dir` (open as `directory`), refusing one too large to be a
/// migration; `buffer` is the reading thread's, reused from file to file.
fn read_file(
    dir: &Path,
    directory: &OwnedFd,
    name: &str,
    entry: &DirEntry,
    buffer: &mut Vec<u8>,
) -> Result<Vec<u8>, Problem> {
    let path = entry.path();
    let unreadable =
        |e: std::io::Error| Problem::Unreadable(path.display().to_string(), e.to_string());
    // The entry's type comes with the listing on most file systems, so a regular file
    // costs no `stat`; a symbolic link is followed only inside the directory: a link to a
    // secret elsewhere must not be read, let alone sent to the server.
    let file_type = entry.file_type().map_err(unreadable)?;
    let is_file = if file_type.is_symlink() {
        let target = std::fs::canonicalize(&path).map_err(unreadable)?;
        if !target.starts_with(std::fs::canonicalize(dir).map_err(unreadable)?) {
            return Err(Problem::LinkOutside(path.display().to_string()));
        }
        std::fs::metadata(&target).map_err(unreadable)?.is_file()
    } else {
        file_type.is_file()
    };
    // Reading a FIFO would block forever, and a directory cannot be read.
    if !is_file {
        return Err(Problem::NotAFile(path.display().to_string()));
    }
    let opened = rustix::fs::openat(
        directory,
        name,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    );
    let mut file = File::from(opened.map_err(|e| unreadable(e.into()))?);
    buffer.clear();
    buffer.reserve(FIRST_READ);
    (&mut file)
        .take(FIRST_READ as u64)
        .read_to_end(buffer)
        .map_err(unreadable)?;
    let mut bytes = buffer.clone();
    if bytes.len() == FIRST_READ {
        // A large file: its size is checked before the rest is read.
        if file.metadata().map_err(unreadable)?.len() > MAX_FILE_BYTES {
            return Err(Problem::TooLarge(path.display().to_string()));
        }
        file.take(MAX_FILE_BYTES + 1 - FIRST_READ as u64)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(Problem::TooLarge(path.display().to_string()));
        }
    }
    Ok(bytes)
}

/// A file whose name and text have been checked, and its script.
struct Parsed {
    name: ParsedName,
    script: Script,
    /// A down file that says `-- schemagate:irreversible` (its script is not checked).
    irreversible: bool,
    /// What the checks of its script found, reported when it is paired.
    problems: Vec<Problem>,
}

/// Validates a set of files into a catalogue; `origin` prefixes file names in messages.
pub fn from_files(origin: &str, files: Vec<SourceFile>) -> Result<Catalogue, CatalogueError> {
    let prepared = parallel::map(files, |(): &mut (), file| prepare(origin, file));
    assemble(origin, prepared, Vec::new())
}

/// The catalogue of the checked files, or every problem: `problems` (found before), then
/// those of single files, of styles, of versions and of pairs.
fn assemble(
    origin: &str,
    prepared: Vec<Result<Parsed, Problem>>,
    mut problems: Vec<Problem>,
) -> Result<Catalogue, CatalogueError> {
    let mut ups = Vec::new();
    let mut downs = Vec::new();
    for file in prepared {
        match file {
            Ok(file) if file.name.direction == Direction::Up => ups.push(file),
            Ok(file) => downs.push(file),
            Err(problem) => problems.push(problem),
        }
    }
    check_styles(&ups, &downs, &mut problems);
    let ups = by_key(ups, &mut problems);
    let mut downs = by_key(downs, &mut problems).into_iter().peekable();
    // Both sorted by version and engine: one pass pairs them, each engine's files apart.
    let mut unpaired = Vec::new();
    let mut paired = Vec::with_capacity(ups.len());
    for up in ups {
        let key = key(&up);
        while let Some(down) = downs.next_if(|d| self::key(d) < key) {
            unpaired.push(down);
        }
        let down = downs.next_if(|d| self::key(d) == key);
        paired.extend(pair(up, down, origin, &mut problems).map(|m| (key.1, m)));
    }
    unpaired.extend(downs);
    problems.extend(
        unpaired
            .into_iter()
            .map(|d| Problem::DownWithoutUp(d.script.file)),
    );
    check_variant_names(&paired, &mut problems);
    if problems.is_empty() {
        let (neutral, variants): (Vec<_>, Vec<_>) =
            paired.into_iter().partition(|(engine, _)| engine.is_none());
        Ok(Catalogue::new(
            origin.trim_end_matches('/').to_owned(),
            neutral.into_iter().map(|(_, m)| m).collect(),
            variants
                .into_iter()
                .filter_map(|(engine, m)| Some((engine?, m)))
                .collect(),
        ))
    } else {
        Err(CatalogueError::Invalid {
            origin: origin.to_owned(),
            problems,
        })
    }
}

/// Checks one file by itself: its name, its text and, unless it is an irreversible
/// down file, its script.
fn prepare(origin: &str, source: SourceFile) -> Result<Parsed, Problem> {
    let file = [origin, &source.name].concat();
    let name = match parse_file_name(&source.name) {
        Ok(name) => name,
        Err(NameError::Unparsable) => return Err(Problem::Unparsable(file)),
        Err(NameError::VersionOutOfRange) => return Err(Problem::VersionOutOfRange(file)),
    };
    if source.bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Problem::TooLarge(file));
    }
    let Ok(text) = String::from_utf8(source.bytes) else {
        return Err(Problem::NotUtf8(file));
    };
    if let Some(offset) = text.find('\0') {
        let (line, column) = crate::position::line_column(&text, offset);
        return Err(Problem::NulByte(file, line, column));
    }
    let irreversible = name.direction == Direction::Down && is_irreversible(&text);
    if only_comments(&text) && !irreversible {
        return Err(Problem::Empty(file));
    }
    // `replace` copies even when there is nothing to replace.
    let sql = if text.contains('\r') {
        text.replace("\r\n", "\n")
    } else {
        text
    };
    let mut problems = Vec::new();
    let script = script(file, sql, irreversible, &mut problems);
    Ok(Parsed {
        name,
        script,
        irreversible,
        problems,
    })
}

fn fail<T>(problems: &mut Vec<Problem>, problem: Problem) -> Option<T> {
    problems.push(problem);
    None
}

/// One naming style per directory, and down files of the matching family.
fn check_styles(ups: &[Parsed], downs: &[Parsed], problems: &mut Vec<Problem>) {
    let Some(first) = ups.first() else { return };
    let mixed =
        |other: &Parsed| Problem::MixedStyles(first.script.file.clone(), other.script.file.clone());
    if let Some(other) = ups.iter().find(|p| p.name.style != first.name.style) {
        problems.push(mixed(other));
    }
    if let Some(other) = downs
        .iter()
        .find(|d| !first.name.style.accepts_down(d.name.style))
    {
        problems.push(mixed(other));
    }
}

/// What pairs a file: its version, and the engine of a variant (`None`, every engine, first).
fn key(file: &Parsed) -> (i64, Option<Engine>) {
    (file.name.version, file.name.engine)
}

/// Files sorted by version and engine; duplicates are reported (in version order) and left
/// out.
fn by_key(mut files: Vec<Parsed>, problems: &mut Vec<Problem>) -> Vec<Parsed> {
    // Sorts the keys and moves each file once, instead of moving files while sorting.
    files.sort_by_cached_key(key);
    let mut unique = Vec::with_capacity(files.len());
    let mut files = files.into_iter().peekable();
    while let Some(file) = files.next() {
        let at = key(&file);
        if files.peek().is_none_or(|next| key(next) != at) {
            unique.push(file);
            continue;
        }
        let mut names = vec![file.script.file];
        while let Some(same) = files.next_if(|next| key(next) == at) {
            names.push(same.script.file);
        }
        names.sort();
        problems.push(Problem::DuplicateVersion(at.0, names));
    }
    unique
}

/// The variants of a version carry its name (one version, one history row): variants of
/// another name are one version used twice.
fn check_variant_names(paired: &[(Option<Engine>, Migration)], problems: &mut Vec<Problem>) {
    for same in paired.chunk_by(|a, b| a.1.version == b.1.version) {
        if same.iter().any(|(_, m)| m.name != same[0].1.name) {
            let mut files: Vec<String> = same.iter().map(|(_, m)| m.up.file.clone()).collect();
            files.sort();
            problems.push(Problem::DuplicateVersion(same[0].1.version, files));
        }
    }
}

/// Pairs an up file with its down file, reporting what the checks of both found, and
/// computes refinery's checksum.
fn pair(
    up: Parsed,
    down: Option<Parsed>,
    origin: &str,
    problems: &mut Vec<Problem>,
) -> Option<Migration> {
    let Some(down) = down else {
        // The version as spelled in the up file (leading zeros kept), for the down's name.
        let version_text = spelled_version(&up.script.file[origin.len()..]);
        let expected = up.name.style.down_file_name(version_text, &up.name.name);
        let expected = variant_file_name(&expected, up.name.engine);
        return fail(
            problems,
            Problem::MissingDown(up.script.file, format!("{origin}{expected}")),
        );
    };
    problems.extend(up.problems);
    problems.extend(down.problems);
    let down_script = if down.irreversible {
        Down::Irreversible {
            file: down.script.file,
        }
    } else {
        Down::Script(down.script)
    };
    let checksum = checksum::written(&up.name.name, up.name.version, &up.script.written());
    Some(Migration {
        version: up.name.version,
        name: up.name.name,
        checksum,
        up: up.script,
        down: down_script,
    })
}

/// The script of a file: how it runs, its timeouts and placeholders (an irreversible down
/// file's are not read: it never runs). Its statements are read only when it is about to run
/// (the engine's [`crate::engine::Grammar::check_pending`]), not at every start.
fn script(file: String, sql: String, irreversible: bool, problems: &mut Vec<Problem>) -> Script {
    let timeouts = if irreversible {
        Timeouts::default()
    } else {
        directives::timeouts(&sql).unwrap_or_else(|reason| {
            problems.push(Problem::Directive(file.clone(), reason));
            Timeouts::default()
        })
    };
    let placeholders = if irreversible || !wants_placeholders(&sql) {
        Vec::new()
    } else {
        placeholders::find(&sql).unwrap_or_else(|offset| {
            let (line, column) = crate::position::line_column(&sql, offset);
            problems.push(Problem::MalformedPlaceholder(file.clone(), line, column));
            Vec::new()
        })
    };
    Script {
        file,
        transactional: irreversible || !wants_no_transaction(&sql),
        sql: placeholders::mask(sql, &placeholders),
        timeouts,
        statements: Split::default(),
        placeholders,
    }
}

#[cfg(test)]
mod tests;
