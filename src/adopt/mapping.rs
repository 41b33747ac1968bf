//! The tool's applied versions against the catalogue: every refusal is decided here, before
//! anything is written.

use std::collections::BTreeMap;

use crate::catalogue::{Catalogue, Migration};

use super::model::{AdoptError, Checksum, Entry, Kind, ToolHistory};
use super::{flyway, sqlx};

/// One catalogue migration the adoption records as applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// What the tool's table says about it (`20240120120000`, `≤ 3 (baseline)`).
    pub tool: String,
    /// The catalogue's version.
    pub version: i64,
    /// The catalogue's up file.
    pub file: String,
    /// The checksum compared, if the tool keeps one (`sha-384`, `crc-32`).
    pub checked: Option<&'static str>,
}

/// Maps the tool's history onto the catalogue, refusing (in this order) a failed or dirty
/// row, a version that is not a whole number, an applied version the catalogue lacks, a
/// checksum that differs from the file's, nothing applied at all, and catalogue migrations
/// below the newest applied one that the tool never applied.
pub fn map(catalogue: &Catalogue, history: &ToolHistory) -> Result<Vec<Mapped>, AdoptError> {
    let table = history.table;
    if let Some((entry, state, advice)) = history.entries.iter().find_map(|e| match &e.kind {
        Kind::Failed { state, advice } => Some((e, *state, advice)),
        _ => None,
    }) {
        return Err(AdoptError::Failed {
            table,
            version: entry.label.clone(),
            state,
            advice: advice.clone(),
        });
    }
    let mut mapped: BTreeMap<i64, Mapped> = BTreeMap::new();
    for entry in &history.entries {
        let version = entry.version.ok_or_else(|| AdoptError::NotAnInteger {
            table,
            version: entry.label.clone(),
        })?;
        match &entry.kind {
            Kind::Applied { checksum } => {
                let migration = known(catalogue, table, entry)?;
                let checked = verify(history, migration, checksum.as_ref())?;
                mapped.insert(
                    version,
                    Mapped {
                        tool: entry.label.clone(),
                        version,
                        file: migration.up.file.clone(),
                        checked,
                    },
                );
            }
            Kind::UpTo { is_migration } => {
                if *is_migration {
                    known(catalogue, table, entry)?;
                }
                let why = if *is_migration {
                    "current version"
                } else {
                    "baseline"
                };
                for migration in catalogue
                    .migrations()
                    .iter()
                    .take_while(|m| m.version <= version)
                {
                    mapped.entry(migration.version).or_insert_with(|| Mapped {
                        tool: format!("≤ {} ({why})", entry.label),
                        version: migration.version,
                        file: migration.up.file.clone(),
                        checked: None,
                    });
                }
            }
            Kind::Failed { .. } => unreachable!("refused above"),
        }
    }
    let Some(newest) = mapped.keys().next_back().copied() else {
        return Err(AdoptError::NothingApplied { table });
    };
    let never: Vec<&str> = catalogue
        .migrations()
        .iter()
        .filter(|m| m.version < newest && !mapped.contains_key(&m.version))
        .map(|m| m.up.file.as_str())
        .collect();
    if !never.is_empty() {
        return Err(AdoptError::Gap {
            table,
            tool: history.tool,
            files: never.join(", "),
            newest,
        });
    }
    Ok(mapped.into_values().collect())
}

/// The catalogue's migration of an entry's version, or the refusal naming what it has.
fn known<'c>(
    catalogue: &'c Catalogue,
    table: &'static str,
    entry: &Entry,
) -> Result<&'c Migration, AdoptError> {
    entry
        .version
        .and_then(|v| catalogue.get(v))
        .ok_or_else(|| AdoptError::UnknownVersion {
            table,
            version: entry.label.clone(),
            origin: catalogue.origin.clone(),
            known: match (
                catalogue.migrations().first(),
                catalogue.migrations().last(),
            ) {
                (Some(first), Some(last)) => {
                    format!("versions {} to {}", first.version, last.version)
                }
                _ => "no migrations".to_owned(),
            },
        })
}

/// Compares a stored checksum with the file's; which one was compared.
fn verify(
    history: &ToolHistory,
    migration: &Migration,
    stored: Option<&Checksum>,
) -> Result<Option<&'static str>, AdoptError> {
    let mismatch = |applied: String, expected: String| AdoptError::ChecksumMismatch {
        table: history.table,
        tool: history.tool,
        version: migration.version,
        file: migration.up.file.clone(),
        applied,
        expected,
    };
    match stored {
        None => Ok(None),
        Some(Checksum::Sha384(applied)) => {
            let accepted = sqlx::checksums(&migration.up.written());
            if accepted.iter().any(|c| c == applied) {
                Ok(Some("sha-384"))
            } else {
                Err(mismatch(hex::encode(applied), hex::encode(&accepted[0])))
            }
        }
        Some(Checksum::FlywayCrc32(applied)) => {
            let expected = flyway::checksum(&migration.up.written());
            if expected == *applied {
                Ok(Some("crc-32"))
            } else {
                Err(mismatch(applied.to_string(), expected.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adopt::Tool;
    use crate::catalogue::{SourceFile, from_files};

    fn catalogue(versions: &[i64]) -> Catalogue {
        let mut files = Vec::new();
        for v in versions {
            files.push(SourceFile {
                name: format!("{v}_t{v}.up.sql"),
                bytes: format!("CREATE TABLE t{v} (id int);\n").into_bytes(),
            });
            files.push(SourceFile {
                name: format!("{v}_t{v}.down.sql"),
                bytes: format!("DROP TABLE t{v};\n").into_bytes(),
            });
        }
        from_files("test/", files).unwrap()
    }

    fn history(tool: Tool, entries: Vec<Entry>) -> ToolHistory {
        ToolHistory {
            tool,
            table: tool.table(),
            entries,
            skipped: Vec::new(),
        }
    }

    fn applied(version: i64) -> Entry {
        Entry::number(version, Kind::Applied { checksum: None })
    }

    #[test]
    fn a_current_version_maps_every_migration_up_to_it() {
        let catalogue = catalogue(&[10, 20, 30]);
        let up_to = Entry::number(20, Kind::UpTo { is_migration: true });
        let mapped = map(&catalogue, &history(Tool::GolangMigrate, vec![up_to])).unwrap();
        assert_eq!(
            mapped.iter().map(|m| m.version).collect::<Vec<_>>(),
            [10, 20]
        );
    }

    #[test]
    fn a_baseline_need_not_be_a_migration_but_a_current_version_must() {
        let catalogue = catalogue(&[10, 20, 30]);
        let baseline = Entry::number(
            25,
            Kind::UpTo {
                is_migration: false,
            },
        );
        let mapped = map(&catalogue, &history(Tool::Flyway, vec![baseline])).unwrap();
        assert_eq!(mapped.len(), 2);
        let current = Entry::number(25, Kind::UpTo { is_migration: true });
        let refused = map(&catalogue, &history(Tool::GolangMigrate, vec![current]));
        assert!(matches!(refused, Err(AdoptError::UnknownVersion { .. })));
    }

    #[test]
    fn a_gap_below_the_newest_applied_version_is_refused_naming_the_file() {
        let catalogue = catalogue(&[10, 20, 30]);
        let error = map(
            &catalogue,
            &history(Tool::Dbmate, vec![applied(10), applied(30)]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("test/20_t20.up.sql"), "{error}");
    }

    #[test]
    fn a_dotted_version_and_an_empty_history_are_refused() {
        let catalogue = catalogue(&[1]);
        let dotted = Entry::parse("1.1", Kind::Applied { checksum: None });
        let error = map(&catalogue, &history(Tool::Flyway, vec![dotted])).unwrap_err();
        assert!(error.to_string().contains("V11__"), "{error}");
        let error = map(&catalogue, &history(Tool::Goose, vec![])).unwrap_err();
        assert!(matches!(error, AdoptError::NothingApplied { .. }));
    }
}
