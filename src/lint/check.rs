//! Runs every rule on files, applies their waivers, and places findings by line and column.

use std::path::Path;

use crate::catalogue::{Catalogue, Direction, directives, parse_file_name};
use crate::config::Compat;
use crate::position::line_column;
use crate::postgres::sql;

use super::finding::Finding;
use super::input::{Created, Input};
use super::rules::RULES;
use super::waiver;

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
    /// A file PostgreSQL's grammar refuses.
    #[error("{file}:{line}:{column}: {message} (PostgreSQL's grammar)")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// PostgreSQL's message.
        message: String,
    },
}

impl LintFile {
    /// A file of SQL text named `file`; its version and transaction mode come from its
    /// name and its directives, as the catalogue reads them.
    pub fn new(file: String, sql: &str) -> Self {
        let name = Path::new(&file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let version = parse_file_name(&name).ok().map(|parsed| parsed.version);
        Self {
            transactional: !directives::wants_no_transaction(sql),
            sql: sql.replace("\r\n", "\n"),
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
    /// `*.down.sql`: down files undo, and dropping is their job), sorted by name.
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

fn is_up_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.is_file()
        && name.ends_with(".sql")
        && !name.starts_with('.')
        && parse_file_name(&name).map_or(!name.ends_with(".down.sql"), |p| {
            p.direction == Direction::Up
        })
}

/// Every rule's findings in one file, waived ones marked. The file is read a statement at
/// a time and each tree is dropped once the rules have seen it, so memory follows the
/// largest statement; what a rule needs of the statements before (the tables the file
/// created) is kept in [`Created`].
pub fn lint_file(file: &LintFile, compat: &Compat) -> Result<Vec<Finding>, LintError> {
    let mut created = Created::default();
    let mut hits = Vec::new();
    let comments = sql::read(&file.sql, &mut |statement| {
        created.add(&statement);
        let input = Input {
            statements: std::slice::from_ref(&statement),
            transactional: file.transactional,
            version: file.version,
            compat,
            created: &created,
        };
        for rule in RULES {
            hits.extend((rule.check)(&input).into_iter().map(|hit| (rule, hit)));
        }
    })
    .map_err(|error| {
        let (line, column) = line_column(&file.sql, error.offset);
        LintError::Syntax {
            file: file.file.clone(),
            line,
            column,
            message: error.message,
        }
    })?;
    let waivers = waiver::waivers(&comments);
    let known = |id: &str| RULES.iter().any(|r| r.id == id);
    let place = |offset: usize| line_column(&file.sql, offset);
    let mut findings = Vec::new();
    for waiver in &waivers {
        if let Some(message) = waiver::problem(waiver, known) {
            let (line, column) = place(waiver.offset);
            findings.push(Finding {
                file: file.file.clone(),
                line,
                column,
                rule: waiver::RULE_ID,
                message,
                safe: waiver::SAFE,
                waived: None,
            });
        }
    }
    for (rule, hit) in hits {
        let waived = waivers
            .iter()
            .find(|w| w.rule == rule.id && !w.reason.is_empty())
            .map(|w| w.reason.clone());
        let (line, column) = place(hit.offset);
        findings.push(Finding {
            file: file.file.clone(),
            line,
            column,
            rule: rule.id,
            message: hit.message,
            safe: rule.safe,
            waived,
        });
    }
    findings.sort_by_key(|f| (f.line, f.column));
    Ok(findings)
}

/// Every file's findings, in file order.
pub fn lint(files: &[LintFile], compat: &Compat) -> Result<Vec<Finding>, LintError> {
    let mut findings = Vec::new();
    for file in files {
        findings.extend(lint_file(file, compat)?);
    }
    Ok(findings)
}
