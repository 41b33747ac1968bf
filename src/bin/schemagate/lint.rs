//! `schemagate lint [PATHS…]`: the lint of DESIGN §12 on files, directories or the
//! release's catalogue, without a database: exit 0 clean, 3 on an unwaived finding, 2 on
//! unreadable input.

use std::path::{Path, PathBuf};

use schemagate::Compat;
use schemagate::catalogue::Catalogue;
use schemagate::gate::{Error, Exit};
use schemagate::lint::{self, Format, LintFile};

use crate::cli::{LintArgs, LintFormat};
use crate::output;

/// Lints `args.paths`, or the catalogue `catalogue` loads when none are given.
///
/// `breaks-window` is judged against `compat` (embedded, or `--compat`) for the catalogue
/// or with `--compat` (`compat_given`); for paths without it, against the `compat.toml`
/// beside them (in the directory or its parent, as in a project's layout), or not at all
/// when there is none, which is said: the embedded window belongs to this binary's own
/// release, not to the files given.
pub fn command(
    compat: impl FnOnce() -> Result<Compat, Error>,
    compat_given: bool,
    catalogue: impl FnOnce() -> Result<Catalogue, Error>,
    args: &LintArgs,
) -> Result<(), Error> {
    let (files, compat) = if args.paths.is_empty() {
        // compat.toml first, as every command reads it.
        let compat = compat()?;
        (LintFile::from_catalogue(&catalogue()?), compat)
    } else {
        let mut files =
            LintFile::from_paths(&args.paths).map_err(|e| Error::new(Exit::Usage, e))?;
        let compat = match (compat_given, beside(&args.paths[0])) {
            (true, _) => compat()?,
            (false, Some(path)) => {
                tracing::info!(compat = %path.display(), "lint: breaks-window judged against the window of this compat.toml");
                Compat::from_file(&path).map_err(|e| Error::new(Exit::Usage, e))?
            }
            (false, None) => {
                tracing::warn!(
                    "lint: no compat.toml beside the paths (nor in their parent directory): breaks-window is not judged; pass --compat FILE to judge it"
                );
                files.iter_mut().for_each(|file| file.version = None);
                compat()?
            }
        };
        (files, compat)
    };
    let findings = lint::lint(&files, &compat).map_err(|e| Error::new(Exit::Usage, e))?;
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

/// The `compat.toml` of the project `path` belongs to: in its directory (`path` itself
/// when it is one) or the parent of that.
fn beside(path: &Path) -> Option<PathBuf> {
    let dir = if path.is_dir() { path } else { path.parent()? };
    [Some(dir), dir.parent()]
        .into_iter()
        .flatten()
        .map(|d| d.join("compat.toml"))
        .find(|candidate| candidate.is_file())
}

/// Unwaived findings (exit 3).
#[derive(Debug, thiserror::Error)]
#[error("lint: {active} finding(s) in {files} file(s)")]
struct Findings {
    active: usize,
    files: usize,
}
