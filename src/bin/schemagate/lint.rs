//! `schemagate lint [PATHS…]`: the lint of DESIGN §12 on files, directories or the
//! release's catalogue, without a database: exit 0 clean, 3 on an unwaived finding, 2 on
//! unreadable input.

use schemagate::Compat;
use schemagate::catalogue::Catalogue;
use schemagate::gate::{Error, Exit};
use schemagate::lint::{self, Format, LintFile};

use crate::cli::{LintArgs, LintFormat};
use crate::output;

/// Lints `args.paths`, or the catalogue `catalogue` loads when none are given.
pub fn command(
    compat: &Compat,
    catalogue: impl FnOnce() -> Result<Catalogue, Error>,
    args: &LintArgs,
) -> Result<(), Error> {
    let files = if args.paths.is_empty() {
        LintFile::from_catalogue(&catalogue()?)
    } else {
        LintFile::from_paths(&args.paths).map_err(|e| Error::new(Exit::Usage, e))?
    };
    let findings = lint::lint(&files, compat).map_err(|e| Error::new(Exit::Usage, e))?;
    let format = match args.format {
        LintFormat::Text => Format::Text,
        LintFormat::Json => Format::Json,
        LintFormat::Github => Format::Github,
    };
    output::lint(&lint::render(&findings, format));
    let active = findings.iter().filter(|f| f.is_active()).count();
    if active == 0 {
        tracing::info!(files = files.len(), "lint: no findings");
        Ok(())
    } else {
        Err(Error::new(
            Exit::Refused,
            Findings {
                active,
                files: files.len(),
            },
        ))
    }
}

/// Unwaived findings (exit 3).
#[derive(Debug, thiserror::Error)]
#[error("lint: {active} finding(s) in {files} file(s)")]
struct Findings {
    active: usize,
    files: usize,
}
