//! The validated catalogue: one [`Migration`] per version, sorted, and the variants of
//! engines, resolved for the engine that runs it.

use std::ops::Range;

use super::load::{CatalogueError, Problem};
use super::naming::Engine;

/// One SQL file of a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Where the file came from, as shown in messages (`migrations/V3__x.sql`).
    pub file: String,
    /// Its SQL, line endings normalised to LF; in a file with placeholders, each `${NAME}`
    /// is masked as `_` of the same length (see [`Script::written`] and [`Script::to_run`]).
    pub sql: String,
    /// False when a no-transaction directive opts the file out of the transaction.
    pub transactional: bool,
    /// Its own lock and statement timeouts, overriding `--ddl-lock-timeout` and
    /// `--statement-timeout`.
    pub timeouts: super::directives::Timeouts,
    /// The byte ranges in `sql` of its statements, split when first asked for: a file is
    /// read with the engine's grammar only when it is about to run, never at every start.
    pub(super) statements: Split,
    /// Its `${NAME}` placeholders in file order, when the file is marked for them.
    pub(crate) placeholders: Vec<super::placeholders::Placeholder>,
}

/// A script's statements once split: derived from its SQL, so two scripts of the same SQL
/// are equal whether or not either has been split yet.
#[derive(Debug, Clone, Default)]
pub(super) struct Split(std::sync::OnceLock<Vec<Range<usize>>>);

impl PartialEq for Split {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Split {}

impl Script {
    /// The byte ranges in `sql` of its statements, split by `split` (the engine's grammar)
    /// the first time they are asked for, and the same ranges ever after.
    #[cfg_attr(
        not(feature = "postgres"),
        expect(dead_code, reason = "only PostgreSQL's grammar keeps the split")
    )]
    pub(crate) fn statements_split_by(
        &self,
        split: impl FnOnce(&str) -> Vec<Range<usize>>,
    ) -> &[Range<usize>] {
        self.statements.0.get_or_init(|| split(&self.sql))
    }
}

/// How a migration is undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Down {
    /// The down file's SQL.
    Script(Script),
    /// The down file says `-- schemagate:irreversible`: only a restore goes back.
    Irreversible {
        /// The down file that says so.
        file: String,
    },
}

/// An up file paired with its down file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Schema version.
    pub version: i64,
    /// Name, as stored in the history.
    pub name: String,
    /// refinery's checksum of version, name and up SQL, as schemagate writes it.
    pub checksum: u64,
    /// The up file.
    pub up: Script,
    /// The down file.
    pub down: Down,
}

impl Migration {
    /// Whether a history row with this checksum is this migration: the checksum
    /// schemagate writes, or one refinery wrote in another configuration (see `checksum`).
    /// The others are computed only when the first does not match, so an up-to-date
    /// database costs one hash per migration, computed at load.
    pub fn accepts(&self, checksum: u64) -> bool {
        checksum == self.checksum
            || super::checksum::accepted(&self.name, self.version, &self.up.written())
                .contains(&checksum)
    }
}

/// Every migration of the release, sorted by version, versions unique.
///
/// As loaded, `migrations` are the files of every engine (`V3__x.sql`), and the variants
/// (`V3__x.sqlite.sql`) are kept aside; [`Catalogue::for_engine`] resolves it for the
/// engine it will run on, each variant replacing (or adding) its version there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    /// Where it was loaded from (`embedded` or a directory).
    pub origin: String,
    migrations: Vec<Migration>,
    /// The files of every engine, once a resolution replaced some of them in `migrations`.
    neutral: Vec<Migration>,
    /// The variants of every engine, by version then engine.
    variants: Vec<(Engine, Migration)>,
    /// The engine `migrations` are resolved for.
    engine: Option<Engine>,
}

impl Catalogue {
    /// A catalogue of already validated, sorted migrations and variants.
    pub(super) fn new(
        origin: String,
        migrations: Vec<Migration>,
        variants: Vec<(Engine, Migration)>,
    ) -> Self {
        debug_assert!(migrations.windows(2).all(|w| w[0].version < w[1].version));
        Self {
            origin,
            migrations,
            neutral: Vec::new(),
            variants,
            engine: None,
        }
    }

    /// All migrations, by version: resolved for an engine once [`Catalogue::for_engine`]
    /// has run, the files of every engine before.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// Every migration, to give placeholders their values.
    pub(super) fn migrations_mut(&mut self) -> &mut [Migration] {
        &mut self.migrations
    }

    /// The migration of a version, if the catalogue has it.
    pub fn get(&self, version: i64) -> Option<&Migration> {
        self.migrations
            .binary_search_by_key(&version, |m| m.version)
            .ok()
            .map(|i| &self.migrations[i])
    }

    /// The highest version in the catalogue; 0 when it is empty.
    pub fn latest(&self) -> i64 {
        self.migrations.last().map_or(0, |m| m.version)
    }

    /// The engine the migrations are resolved for, if they are.
    pub fn engine(&self) -> Option<Engine> {
        self.engine
    }

    /// The variants for engines (`V3__x.sqlite.sql`), by version then engine.
    pub fn variants(&self) -> &[(Engine, Migration)] {
        &self.variants
    }

    /// The catalogue as `engine` runs it: each version's variant for that engine where it
    /// has one, else its file of every engine; a version with variants for other engines
    /// alone is refused, naming them. One version, one history row, the checksum of the
    /// file that runs.
    pub fn for_engine(mut self, engine: Engine) -> Result<Self, CatalogueError> {
        if self.variants.is_empty() || self.engine == Some(engine) {
            self.engine = Some(engine);
            return Ok(self);
        }
        let neutral = if self.engine.is_some() {
            std::mem::take(&mut self.neutral)
        } else {
            std::mem::take(&mut self.migrations)
        };
        let mut problems = Vec::new();
        let mut resolved = Vec::with_capacity(neutral.len());
        let mut neutral_iter = neutral.iter().peekable();
        let mut variants = self
            .variants
            .chunk_by(|a, b| a.1.version == b.1.version)
            .peekable();
        loop {
            let next_neutral = neutral_iter.peek().map(|m| m.version);
            let next_variant = variants.peek().map(|chunk| chunk[0].1.version);
            let version = match (next_neutral, next_variant) {
                (None, None) => break,
                (Some(n), Some(v)) => n.min(v),
                (Some(n), None) => n,
                (None, Some(v)) => v,
            };
            let common = neutral_iter.next_if(|m| m.version == version);
            let chunk = variants
                .next_if(|chunk| chunk[0].1.version == version)
                .unwrap_or(&[]);
            match (chunk.iter().find(|(e, _)| *e == engine), common) {
                (Some((_, variant)), _) => resolved.push(variant.clone()),
                (None, Some(common)) => resolved.push(common.clone()),
                (None, None) => problems.push(Problem::NoFileForEngine(
                    version,
                    engine,
                    chunk.iter().map(|(_, m)| m.up.file.clone()).collect(),
                )),
            }
        }
        if !problems.is_empty() {
            return Err(CatalogueError::Invalid {
                origin: self.origin,
                problems,
            });
        }
        Ok(Self {
            migrations: resolved,
            neutral,
            engine: Some(engine),
            ..self
        })
    }
}
