//! `schemagate new NAME`: writes the next up/down pair in the naming style the migrations
//! directory already uses (DESIGN §21), as `sqlx migrate add`, `dbmate new`, `goose create`
//! and `diesel migration generate` do. No database. Every refusal is exit 2 and writes nothing.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use schemagate::catalogue::{self, Direction, Style, parse_file_name, spelled_version};
use schemagate::gate::{Error, Exit};
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use crate::output;

/// The style of an empty or missing directory: that of this repository's own
/// `migrations/` (refinery's `V1__name.sql`, which refinery and Flyway also read).
const DEFAULT_STYLE: Style = Style::Refinery;

/// The timestamp versions of sqlx, dbmate and goose: UTC `YYYYMMDDhhmmss`.
const TIMESTAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year][month][day][hour][minute][second]");

/// diesel's directory timestamps, `diesel migration generate`'s: UTC `YYYY-MM-DD-hhmmss`,
/// followed by its counter `-0000`.
const DIESEL_TIMESTAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]-[hour][minute][second]-0000");

/// Writes the pair for migration `name` in `dir` (created when missing) and prints both
/// paths.
pub fn command(dir: &Path, name: &str) -> Result<(), Error> {
    let next = next_of(dir)?;
    let (up, down) = file_names(&next, name).map_err(usage)?;
    std::fs::create_dir_all(dir).map_err(|e| usage(Refusal::Write(dir.to_owned(), e)))?;
    let up = dir.join(up);
    let down = dir.join(down);
    write_pair(dir, &up, &down, &next.version, name).map_err(usage)?;
    output::created(&[&up, &down]);
    Ok(())
}

/// The style and the spelled version of the migration to write.
struct Next {
    style: Style,
    version: String,
}

/// The next version after the directory's latest, in its style, padding or timestamp
/// format; a directory that does not load is refused, since the new pair would not either.
fn next_of(dir: &Path) -> Result<Next, Error> {
    if !dir.exists() {
        return Ok(first());
    }
    let catalogue = catalogue::from_dir(dir).map_err(|e| usage(Refusal::Directory(e)))?;
    // The latest of any engine: a variant's version (`V6__x.sqlite.sql`) is taken too.
    let variants = catalogue.variants().iter().map(|(_, m)| m);
    let Some(latest) = catalogue
        .migrations()
        .iter()
        .chain(variants)
        .max_by_key(|m| m.version)
    else {
        return Ok(first());
    };
    // The name in the directory: a file's, or diesel's `{directory}/up.sql`.
    let file = latest
        .up
        .file
        .strip_prefix(&catalogue.origin)
        .unwrap_or(&latest.up.file)
        .trim_start_matches('/');
    let style = parse_file_name(file).map_or(DEFAULT_STYLE, |parsed| parsed.style);
    // The version as spelled, leading zeros kept.
    let spelled = spelled_version(file).to_owned();
    let version = if style == Style::Diesel {
        // `diesel setup`'s version 1 is no timestamp: the next is now.
        let last = PrimitiveDateTime::parse(&format!("{:014}", latest.version), TIMESTAMP)
            .unwrap_or(PrimitiveDateTime::MIN);
        next_timestamp(last, DIESEL_TIMESTAMP)
    } else {
        match PrimitiveDateTime::parse(&spelled, TIMESTAMP) {
            Ok(last) => next_timestamp(last, TIMESTAMP),
            Err(_) => next_number(latest.version, spelled.len()),
        }
    }
    .ok_or_else(|| usage(Refusal::Exhausted(spelled)))?;
    Ok(Next { style, version })
}

/// Version 1 in the default style.
fn first() -> Next {
    Next {
        style: DEFAULT_STYLE,
        version: "1".to_owned(),
    }
}

/// Now in UTC to the second, or a second after `last` when the clock is not past it, so
/// versions keep increasing, spelled in `format`; `None` past the year 9999.
fn next_timestamp(
    last: PrimitiveDateTime,
    format: &[time::format_description::BorrowedFormatItem<'_>],
) -> Option<String> {
    let now = OffsetDateTime::now_utc();
    let now = PrimitiveDateTime::new(now.date(), now.time().replace_nanosecond(0).ok()?);
    let next = now.max(last.checked_add(Duration::SECOND)?);
    next.format(format).ok()
}

/// `latest + 1`, zero-padded to `width` digits as the directory spells its versions;
/// `None` past `i64::MAX`.
fn next_number(latest: i64, width: usize) -> Option<String> {
    latest.checked_add(1).map(|next| format!("{next:0width$}"))
}

/// The pair's file names, refused unless the catalogue reads them back as this migration.
fn file_names(next: &Next, name: &str) -> Result<(String, String), Refusal> {
    let up = next.style.up_file_name(&next.version, name);
    let down = next.style.down_file_name(&next.version, name);
    let reads_back = |file: &str, direction: Direction| {
        parse_file_name(file).is_ok_and(|parsed| {
            parsed.name == name
                && parsed.direction == direction
                && (direction == Direction::Up && parsed.style == next.style
                    || direction == Direction::Down && next.style.accepts_down(parsed.style))
        })
    };
    if reads_back(&up, Direction::Up) && reads_back(&down, Direction::Down) {
        Ok((up, down))
    } else {
        Err(Refusal::Name(name.to_owned(), up))
    }
}

/// Creates both files (and, in diesel's layout, their directory), never replacing one; on
/// failure, nothing it created is left.
fn write_pair(
    dir: &Path,
    up: &Path,
    down: &Path,
    version: &str,
    name: &str,
) -> Result<(), Refusal> {
    let own = up.parent().filter(|parent| *parent != dir);
    if let Some(own) = own {
        std::fs::create_dir(own).map_err(|e| Refusal::Write(own.to_owned(), e))?;
    }
    create(up, &up_header(version, name))
        .and_then(|()| {
            create(down, &down_header(version, name)).inspect_err(|_| {
                // Ours alone: `create_new` made it a moment ago.
                let _ = std::fs::remove_file(up);
            })
        })
        .inspect_err(|_| {
            if let Some(own) = own {
                // Ours alone, and empty again: `create_dir` made it a moment ago.
                let _ = std::fs::remove_dir(own);
            }
        })
}

fn create(path: &Path, text: &str) -> Result<(), Refusal> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| Refusal::Write(path.to_owned(), e))
}

/// What a user fills in. No line is a directive: each would change how the file runs.
fn up_header(version: &str, name: &str) -> String {
    format!(
        "-- Migration {version} {name}: the schema change, applied by `schemagate migrate`.\n\
         -- Keep every release in compat.toml's window working (add before you drop).\n\
         -- To run it outside a transaction (CREATE INDEX CONCURRENTLY), make\n\
         -- `-- schemagate:no-transaction` its first line.\n"
    )
}

fn down_header(version: &str, name: &str) -> String {
    format!(
        "-- Migration {version} {name}, down: undoes the up file (`schemagate --rollback-to`).\n\
         -- Write the SQL that brings the schema back to what it was before the up file;\n\
         -- if it cannot be undone, replace this text with `-- schemagate:irreversible`.\n"
    )
}

fn usage(refusal: Refusal) -> Error {
    Error::new(Exit::Usage, refusal)
}

/// Why no pair was written (exit 2).
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error(
        "{0:?} is not a migration name: the catalogue would not read {1} as migration {0:?}; use letters, digits and _ (e.g. add_users_email)"
    )]
    Name(String, String),
    #[error("cannot add a migration to a directory that does not load; fix it first")]
    Directory(#[source] catalogue::CatalogueError),
    #[error("no version follows {0}; renumber the migrations to add one")]
    Exhausted(String),
    #[error("cannot create {} (it must not exist yet, in a writable directory)", .0.display())]
    Write(PathBuf, #[source] std::io::Error),
}
