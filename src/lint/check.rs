//! Runs every rule on files, applies their waivers, and places findings by line and column.

use std::path::Path;

use crate::catalogue::{Catalogue, Direction, Engine, directives, parse_file_name};
use crate::config::Compat;
use crate::engine::Kind;

use super::finding::Finding;

/// One file to lint.
#[derive(Debug, Clone)]
pub struct LintFile {
    /// How to name it in findings.
    pub file: String,
    /// Its SQL, line endings normalised to LF.
    pub sql: String,
    /// Whether it runs in a transaction.
    pub transactional: bool,
    /// Its schema version, when its name is a migration's (`breaks-window` needs it).
    pub version: Option<i64>,
}

/// Input the lint cannot read (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    /// A path that cannot be read or listed.
    #[error("cannot read {path}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file that is not UTF-8.
    #[error("{0}: not UTF-8; save it as UTF-8")]
    NotUtf8(String),
    /// A file the engine's grammar refuses.
    #[error("{file}:{line}:{column}: {message} ({grammar}'s grammar)")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The grammar's message.
        message: String,
        /// The engine whose grammar it is (`PostgreSQL`).
        grammar: &'static str,
    },
    /// The rules' engine is not built into this binary.
    #[error(
        "the lint runs PostgreSQL's rules, and this build of schemagate has no PostgreSQL (cargo feature `postgres`); use a build with it"
    )]
    NoRules,
}

impl LintFile {
    /// A file of SQL text named `file`; its version and transaction mode come from its
    /// name and its directives, as the catalogue reads them.
    pub fn new(file: String, sql: &str) -> Self {
        let version = parse_file_name(&catalogue_name(Path::new(&file)))
            .ok()
            .map(|parsed| parsed.version);
        Self {
            transactional: !directives::wants_no_transaction(sql),
            sql: crate::catalogue::masked(sql.replace("\r\n", "\n")),
            file,
            version,
        }
    }

    /// The up files of a catalogue.
    pub fn from_catalogue(catalogue: &Catalogue) -> Vec<Self> {
        catalogue
            .migrations()
            .iter()
            .map(|m| Self {
                file: m.up.file.clone(),
                sql: m.up.sql.clone(),
                transactional: m.up.transactional,
                version: Some(m.version),
            })
            .collect()
    }

    /// The files of `paths`: a file as given, a directory's up migrations (`*.sql` but not
    /// `*.down.sql`: down files undo, and dropping is their job; nor another engine's
    /// variants, `*.sqlite.sql`), sorted by name.
    pub fn from_paths(paths: &[impl AsRef<Path>]) -> Result<Vec<Self>, LintError> {
        let mut files = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let read_error = |source| LintError::Read {
                path: path.display().to_string(),
                source,
            };
            if path.is_dir() {
                let mut names: Vec<_> = std::fs::read_dir(path)
                    .map_err(read_error)?
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    // diesel's layout: a directory per migration, its up file inside.
                    .map(|p| if p.is_dir() { p.join("up.sql") } else { p })
                    .filter(|p| is_up_file(p))
                    .collect();
                names.sort();
                for name in names {
                    files.push(Self::read(&name)?);
                }
            } else {
                files.push(Self::read(path)?);
            }
        }
        Ok(files)
    }

    fn read(path: &Path) -> Result<Self, LintError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| LintError::Read {
            path: shown.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| LintError::NotUtf8(shown.clone()))?;
        Ok(Self::new(shown, &text))
    }
}

/// The name the catalogue gives the file at `path`: its file name, or `{directory}/up.sql`
/// (`down.sql`) in diesel's layout.
fn catalogue_name(path: &Path) -> String {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let file = name(path);
    match path.parent() {
        Some(parent) if file == "up.sql" || file == "down.sql" => {
            format!("{}/{file}", name(parent))
        }
        _ => file,
    }
}

fn is_up_file(path: &Path) -> bool {
    let name = catalogue_name(path);
    path.is_file()
        && name.ends_with(".sql")
        && !name.starts_with('.')
        && parse_file_name(&name).map_or(
            !name.ends_with(".down.sql") && !name.ends_with("/down.sql"),
            // Its rules are PostgreSQL's: another engine's variant is not theirs to read.
            |p| p.direction == Direction::Up && p.engine.is_none_or(|e| e == Engine::Postgres),
        )
}

/// Every file's findings under PostgreSQL's rules (the files `schemagate lint` reads are
/// PostgreSQL's: [`LintFile::from_paths`] leaves other engines' variants out), in file order.
pub fn lint(files: &[LintFile], compat: &Compat) -> Result<Vec<Finding>, LintError> {
    let grammar = crate::engine::grammar(Kind::Postgres).ok_or(LintError::NoRules)?;
    let mut findings = Vec::new();
    for file in files {
        findings.extend(grammar.lint(file, compat)?);
    }
    Ok(findings)
}
