//! The release's compat window: `compat.toml` parsed strictly and validated (DESIGN §4).

use std::ops::Range;
use std::path::Path;

use semver::Version;
use serde::Deserialize;
use toml::Spanned;

/// The largest `--compat` file read: a window and a list of releases fit in far less, and a
/// device or a runaway file is refused instead of filling memory.
const MAX_COMPAT_BYTES: u64 = 1 << 20;

/// The window of schema versions a release runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Oldest supported schema version.
    pub min: i64,
    /// Newest supported schema version.
    pub max: i64,
    /// Where `migrate` goes (defaults to `max`).
    pub target: i64,
}

impl Window {
    /// Whether a schema version is inside `[min, max]`.
    pub fn contains(&self, version: i64) -> bool {
        (self.min..=self.max).contains(&version)
    }
}

/// An earlier release listed in `[[releases]]`, kept so `--rollback-to vX.Y.Z` knows its
/// window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownRelease {
    /// Its version.
    pub version: Version,
    /// Its window (`target` equals `max`).
    pub window: Window,
}

/// A validated `compat.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compat {
    /// Where it came from, for messages.
    pub origin: String,
    /// This release's version (after any `APP_VERSION` override).
    pub app_version: Version,
    /// This release's window.
    pub window: Window,
    /// Earlier releases.
    pub releases: Vec<KnownRelease>,
    /// `[adopt]`: how an existing database without a history is taken over unattended.
    pub adopt: Adopt,
    /// `[lint]`: what the gate does with the lint's findings on its plan.
    pub lint: Lint,
    /// `[apply]`: how the gate applies its plan.
    pub apply: Apply,
    /// `[drift]`: which live objects the drift check leaves out, and whether the gate
    /// refuses to migrate a drifted database (DESIGN §19).
    pub drift: Drift,
    /// `[placeholders]`: values of the catalogue's `${NAME}` placeholders, which the
    /// environment's `SCHEMAGATE_PLACEHOLDER_NAME` overrides (DESIGN §21).
    pub placeholders: crate::catalogue::Placeholders,
}

/// `[apply]` of compat.toml (DESIGN §18).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Apply {
    /// Apply the whole plan in one transaction, as `--atomic`: a failure anywhere leaves
    /// the schema where it was, at the price of holding every lock until the end.
    #[serde(default)]
    pub atomic: bool,
}

/// `[drift]` of compat.toml (DESIGN §19, docs/drift.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drift {
    /// Patterns of object names (`public.events_*`; `*` any run, `?` one character) the
    /// check leaves out: objects the application makes at run time.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Refuse (exit 3, before the backup) to migrate a database whose schema drifted from
    /// the description the gate recorded; without it the gate warns.
    #[serde(default)]
    pub refuse: bool,
}

/// `[lint]` of compat.toml (DESIGN §12). The gate always refuses `breaks-window`; other
/// unwaived findings are warnings, or refusals with `strict`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lint {
    /// Refuse (exit 3, before any change) on every unwaived finding, as `--lint strict`.
    #[serde(default)]
    pub strict: bool,
}

/// `[adopt]` of compat.toml: for a database whose tables an earlier image created without
/// a history (`docker-entrypoint-initdb.d`), the gate records them as this schema version
/// by itself instead of refusing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adopt {
    /// The schema version such a database is at.
    pub baseline: Option<i64>,
    /// First prove it: migrate a scratch database to `baseline` and compare the schemas.
    #[serde(default)]
    pub verify: bool,
}

/// `compat.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path} (check --compat)")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not TOML of the expected shape. Only a short excerpt of the line is shown: a
    /// line of the file may be long, or hold what no log should.
    #[error(
        "{origin}:{line}:{column}: {message} (at `{excerpt}`); see compat.reference.toml for every key"
    )]
    Parse {
        /// The file.
        origin: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// toml's message, without its quote of the line.
        message: String,
        /// At most [`EXCERPT_CHARS`] characters of the line around the error.
        excerpt: String,
    },
    /// A rule between values is broken.
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        origin: String,
        /// 1-based line of the offending value.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong and what to do.
        message: String,
    },
    /// `APP_VERSION` / `--app-version` is not semver.
    #[error(
        "app version override {value:?} is not semver (e.g. 1.4.0 or v1.4.0); fix APP_VERSION or --app-version"
    )]
    AppVersion {
        /// The value given.
        value: String,
        /// semver's error.
        #[source]
        source: semver::Error,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompat {
    app: RawApp,
    schema: RawSchema,
    #[serde(default)]
    releases: Vec<RawRelease>,
    #[serde(default)]
    adopt: Adopt,
    #[serde(default)]
    lint: Lint,
    #[serde(default)]
    apply: Apply,
    #[serde(default)]
    drift: Drift,
    #[serde(default)]
    placeholders: std::collections::BTreeMap<Spanned<String>, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    version: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    min: Spanned<i64>,
    max: Spanned<i64>,
    target: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    version: Spanned<String>,
    min: Spanned<i64>,
    max: Spanned<i64>,
}

/// Parses a semver version, accepting a leading `v`.
pub(crate) fn parse_version(text: &str) -> Result<Version, semver::Error> {
    Version::parse(text.strip_prefix('v').unwrap_or(text))
}

impl Compat {
    /// Parses and validates `compat.toml` text, as an application embeds it with
    /// `include_str!`.
    ///
    /// ```
    /// let compat = schemagate::Compat::from_toml_str(
    ///     "[app]\nversion = \"1.4.0\"\n[schema]\nmin = 4\nmax = 5\n",
    /// )?;
    /// assert_eq!((compat.window.min, compat.window.target), (4, 5));
    /// # Ok::<(), schemagate::ConfigError>(())
    /// ```
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::parse("compat.toml", text)
    }

    /// Reads and validates a `compat.toml` file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = crate::input::read_to_string(path, MAX_COMPAT_BYTES).map_err(|e| {
            ConfigError::Read {
                path: shown.clone(),
                source: e.into(),
            }
        })?;
        Self::parse(&shown, &text)
    }

    /// Parses and validates `compat.toml` text.
    pub fn parse(origin: &str, text: &str) -> Result<Self, ConfigError> {
        let raw: RawCompat = toml::from_str(text).map_err(|e| parse_error(origin, text, &e))?;
        let invalid = |span: Range<usize>, message: String| {
            let (line, column) = crate::position::line_column(text, span.start);
            ConfigError::Invalid {
                origin: origin.to_owned(),
                line,
                column,
                message,
            }
        };
        let version = |v: &Spanned<String>| {
            parse_version(v.get_ref()).map_err(|e| {
                invalid(
                    v.span(),
                    format!(
                        "version {:?} is not semver (e.g. 1.4.0 or v1.4.0): {e}",
                        v.get_ref()
                    ),
                )
            })
        };
        let app_version = version(&raw.app.version)?;
        let target = raw
            .schema
            .target
            .clone()
            .unwrap_or_else(|| raw.schema.max.clone());
        let window = checked_window(&raw.schema.min, &raw.schema.max, &target, &invalid)?;
        let releases = raw
            .releases
            .iter()
            .map(|r| {
                let window = checked_window(&r.min, &r.max, &r.max, &invalid)?;
                Ok(KnownRelease {
                    version: version(&r.version)?,
                    window,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        if let Some(i) = (1..releases.len()).find(|&i| {
            releases[..i]
                .iter()
                .any(|r| r.version == releases[i].version)
        }) {
            let duplicate = &raw.releases[i].version;
            return Err(invalid(
                duplicate.span(),
                format!("release {} is listed twice", duplicate.get_ref()),
            ));
        }
        let mut placeholders = crate::catalogue::Placeholders::default();
        for (name, value) in raw.placeholders {
            if !crate::catalogue::is_placeholder_name(name.get_ref()) {
                return Err(invalid(
                    name.span(),
                    format!(
                        "placeholder name {:?} is not ASCII letters, digits and _ (not starting with a digit)",
                        name.get_ref()
                    ),
                ));
            }
            placeholders.insert(name.into_inner(), value);
        }
        let compat = Compat {
            origin: origin.to_owned(),
            app_version,
            window,
            releases,
            adopt: raw.adopt,
            lint: raw.lint,
            apply: raw.apply,
            drift: raw.drift,
            placeholders,
        };
        Ok(compat)
    }

    /// This release as `v1.4.0`: the one spelling of health, status, audit rows, manifests
    /// and `application_name`.
    pub fn tag(&self) -> String {
        format!("v{}", self.app_version)
    }

    /// Applies `APP_VERSION` / `--app-version`.
    pub fn with_app_version(mut self, value: Option<&str>) -> Result<Self, ConfigError> {
        if let Some(value) = value {
            self.app_version = parse_version(value).map_err(|source| ConfigError::AppVersion {
                value: value.to_owned(),
                source,
            })?;
        }
        Ok(self)
    }

    /// The release of a version given as `v1.3.0` or `1.3.0`.
    pub fn release(&self, version: &Version) -> Option<&KnownRelease> {
        self.releases.iter().find(|r| &r.version == version)
    }
}

/// Checks `0 <= min <= target <= max`.
/// How much of a compat.toml line an error shows.
const EXCERPT_CHARS: usize = 40;

/// toml's error as ours: its place and message, and a short excerpt where toml would quote
/// the whole line.
fn parse_error(origin: &str, text: &str, error: &toml::de::Error) -> ConfigError {
    let at = error.span().map_or(0, |span| span.start);
    let (line, column) = crate::position::line_column(text, at);
    ConfigError::Parse {
        origin: origin.to_owned(),
        line,
        column,
        message: error.message().trim_end().to_owned(),
        excerpt: crate::position::excerpt(text, at, EXCERPT_CHARS),
    }
}

fn checked_window(
    min: &Spanned<i64>,
    max: &Spanned<i64>,
    target: &Spanned<i64>,
    invalid: &impl Fn(Range<usize>, String) -> ConfigError,
) -> Result<Window, ConfigError> {
    let (lo, hi, t) = (*min.get_ref(), *max.get_ref(), *target.get_ref());
    if lo < 0 {
        return Err(invalid(min.span(), format!("min = {lo} must be 0 or more")));
    }
    if lo > hi {
        return Err(invalid(
            min.span(),
            format!("min = {lo} is above max = {hi}; min <= max is required"),
        ));
    }
    if !(lo..=hi).contains(&t) {
        return Err(invalid(
            target.span(),
            format!("target = {t} is outside [min, max] = [{lo}, {hi}]"),
        ));
    }
    Ok(Window {
        min: lo,
        max: hi,
        target: t,
    })
}

#[cfg(test)]
mod tests;
