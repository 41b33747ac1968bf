//! The command line: every command, flag and environment variable in one file.
//!
//! Settings come from flags, then `SCHEMAGATE_*` environment variables, then defaults
//! (DESIGN §7). Option groups are flattened and global, so `schemagate --rollback-to v1.3.0`
//! (no subcommand, as `docker compose run` passes it) and `schemagate migrate --rollback-to 5`
//! read the same settings. `docs/configuration.md` lists every flag; a test keeps it in step.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

/// Guards a PostgreSQL schema across application releases.
#[derive(Debug, Parser)]
#[command(name = "schemagate", version, about, long_about = None)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Where the database, the release's compat window and its migrations are.
    #[command(flatten)]
    pub gate: GateArgs,
    /// How pre-change backups are taken and kept.
    #[command(flatten)]
    pub backup: BackupArgs,
    /// How logs are written.
    #[command(flatten)]
    pub log: LogArgs,
}

/// The commands of DESIGN §7.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Gate the database (migrate, or refuse), then serve /health and /metrics until SIGTERM.
    Serve(ServeArgs),
    /// Gate the database, then exit: for init containers and Kubernetes Jobs.
    Migrate,
    /// Read-only verdict: exit 0 when the schema is inside the window, 3 when it is not.
    Check,
    /// Catalogue against history: applied, pending, drifted and unknown versions, and the
    /// live schema's drift.
    Status(OutputArgs),
    /// The live schema against the description the last change recorded: missing, extra
    /// and changed objects; exit 0 when none, 3 on any (DESIGN §19).
    Diff(OutputArgs),
    /// Print what `migrate` (or `--rollback-to`) would do, and change nothing.
    Plan,
    /// Take a verified backup now, under the migration lock.
    Backup,
    /// List the backups of the database in the backup directory (`--all`: of every database).
    Backups(BackupsArgs),
    /// DESTRUCTIVE: bring the database back exactly to a backup (objects created after it are dropped).
    Restore(RestoreArgs),
    /// Take over a database that has tables but no history: record the migrations up to
    /// `--version` as applied (under the lock, after a backup).
    Baseline(BaselineArgs),
    /// Prove every down inverts its up: up, down, up again per migration on a scratch
    /// database (never the target database); exit 3 on the first that does not.
    Verify(VerifyArgs),
    /// Take over a database another tool migrated (sqlx, golang-migrate, dbmate, goose,
    /// Flyway): record its applied migrations in our history (under the lock, after a
    /// backup); its own table is left as it was.
    Adopt(AdoptArgs),
    /// MariaDB/MySQL: after a step stopped part way (its DDL before the failure stays) and
    /// you made the database hold all or none of that migration by hand, record which, so
    /// runs stop refusing the database (under the lock, audited; try --dry-run first).
    Repair(RepairArgs),
    /// Check migrations for statements that lock or rewrite live tables and for changes
    /// that break a release inside the window: exit 0 clean, 3 on findings, 2 unreadable.
    Lint(LintArgs),
    /// Write the next up/down migration pair in the directory's naming style and print
    /// both paths; no database (exit 2 on a name or directory that would not load).
    New(NewArgs),
    /// GET the local /health and exit 0 on 200, 1 otherwise (for Docker HEALTHCHECK).
    Healthcheck(HealthcheckArgs),
    /// Print the app version, the schema window and the catalogue's versions.
    Version,
}

/// Settings every database-facing command shares.
#[derive(Debug, Clone, Args)]
pub struct GateArgs {
    /// PostgreSQL URL (`DATABASE_URL` is accepted too). Its password never appears in output.
    #[arg(long, global = true, env = "SCHEMAGATE_DATABASE_URL", hide_env_values = true, value_parser = parse_secret)]
    pub database_url: Option<SecretString>,
    /// Load compat.toml from this file instead of the one embedded at build time.
    #[arg(
        long,
        global = true,
        env = "SCHEMAGATE_COMPAT",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub compat: Option<PathBuf>,
    /// Load migrations from this directory instead of the ones embedded at build time.
    #[arg(
        long,
        global = true,
        env = "SCHEMAGATE_MIGRATIONS_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub migrations_dir: Option<PathBuf>,
    /// This release's version, overriding `[app].version` in compat.toml.
    #[arg(
        long,
        global = true,
        env = "APP_VERSION",
        hide_env_values = true,
        value_name = "SEMVER"
    )]
    pub app_version: Option<String>,
    /// Give up connecting after this long (exit 4).
    #[arg(long, global = true, env = "SCHEMAGATE_CONNECT_TIMEOUT", hide_env_values = true, default_value = "60s", value_parser = schemagate::duration::parse)]
    pub connect_timeout: Duration,
    /// Give up waiting for the migration lock after this long (exit 7).
    #[arg(long, global = true, env = "SCHEMAGATE_LOCK_TIMEOUT", hide_env_values = true, default_value = "300s", value_parser = schemagate::duration::parse)]
    pub lock_timeout: Duration,
    /// How long each migration statement may wait for a lock (`lock_timeout`) before its
    /// step is rolled back and retried; a file's `-- schemagate:lock-timeout` overrides it.
    #[arg(long, global = true, env = "SCHEMAGATE_DDL_LOCK_TIMEOUT", hide_env_values = true, default_value = "5s", value_parser = schemagate::duration::parse)]
    pub ddl_lock_timeout: Duration,
    /// How many times a step that timed out waiting for a lock is run again (exit 6 after).
    #[arg(
        long,
        global = true,
        env = "SCHEMAGATE_DDL_RETRIES",
        hide_env_values = true,
        default_value_t = 10
    )]
    pub ddl_retries: usize,
    /// How long each migration statement may run (`statement_timeout`; default: no limit);
    /// a file's `-- schemagate:statement-timeout` overrides it.
    #[arg(long, global = true, env = "SCHEMAGATE_STATEMENT_TIMEOUT", hide_env_values = true, value_parser = schemagate::duration::parse)]
    pub statement_timeout: Option<Duration>,
    /// DESTRUCTIVE: roll the schema back to a version (`5`) or a release (`v1.3.0`) with the
    /// down migrations, after a backup, then exit. Down migrations can drop data.
    #[arg(
        long,
        global = true,
        value_name = "VERSION|RELEASE",
        allow_hyphen_values = true
    )]
    pub rollback_to: Option<String>,
    /// Print the plan of the command and every verdict, and change nothing; takes no lock
    /// and exits with the code the real run would.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Apply the whole plan in one transaction, history rows included: a failure leaves
    /// the schema where it was. Holds every lock until the end (default: compat.toml's
    /// `[apply] atomic`, else one transaction per file).
    #[arg(long, global = true, env = "SCHEMAGATE_ATOMIC", hide_env_values = true)]
    pub atomic: bool,
    /// Wait this long for live replicas of other releases that the change would break to
    /// be gone (re-checking every refresh interval) before refusing (exit 3).
    #[arg(long, global = true, env = "SCHEMAGATE_FLEET_WAIT", hide_env_values = true, default_value = "0s", value_parser = schemagate::duration::parse)]
    pub fleet_wait: Duration,
    /// DANGEROUS: change the schema even when live replicas of another release would fail;
    /// the audit row says so.
    #[arg(
        long,
        global = true,
        env = "SCHEMAGATE_IGNORE_FLEET",
        hide_env_values = true
    )]
    pub ignore_fleet: bool,
    /// What the gate does with lint findings on its plan: `warn` logs them, `strict`
    /// refuses (exit 3) before any change; `breaks-window` is refused either way. Default:
    /// `[lint] strict` of compat.toml, else `warn`.
    #[arg(
        long,
        global = true,
        env = "SCHEMAGATE_LINT",
        hide_env_values = true,
        value_enum,
        value_name = "MODE"
    )]
    pub lint: Option<LintMode>,
}

/// What the gate does with unwaived lint findings other than `breaks-window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintMode {
    /// Log each as a warning and count them in `{prefix}_lint_findings`.
    Warn,
    /// Refuse (exit 3) before any change.
    Strict,
}

/// Arguments of `new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The migration's name: letters, digits and `_` (e.g. `add_users_email`).
    pub name: String,
    /// Where to write the pair. Default: `--migrations-dir`, else `migrations`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Arguments of `lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Files and directories (their up migrations) to check; by default the release's
    /// catalogue (embedded, or `--migrations-dir`).
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// `text` (`file:line:column: rule: message (safe: …)`), `json` (an array) or
    /// `github` (workflow annotations).
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
}

/// How `lint` prints findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// One line per finding.
    Text,
    /// A JSON array of findings, waived ones included with their reason.
    Json,
    /// GitHub Actions `::error` annotations.
    Github,
}

/// Settings of the pre-change backup (DESIGN §6).
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Directory for backups and their manifests (created 0700).
    #[arg(
        long,
        global = true,
        env = "SCHEMAGATE_BACKUP_DIR",
        hide_env_values = true,
        default_value = "./backups",
        value_name = "DIR"
    )]
    pub backup_dir: PathBuf,
    /// Skip the backup before a schema change (logged as a warning and counted in metrics).
    #[arg(
        long,
        global = true,
        env = "SCHEMAGATE_NO_BACKUP",
        hide_env_values = true
    )]
    pub no_backup: bool,
    /// Keep at most this many backups (the newest of each schema version is always kept).
    #[arg(
        long,
        global = true,
        env = "SCHEMAGATE_BACKUP_KEEP",
        hide_env_values = true,
        default_value_t = 10
    )]
    pub backup_keep: usize,
    /// Remove backups older than this (the newest of each schema version is always kept).
    #[arg(long, global = true, env = "SCHEMAGATE_BACKUP_MAX_AGE", hide_env_values = true, default_value = "7d", value_parser = schemagate::duration::parse)]
    pub backup_max_age: Duration,
    /// Kill pg_dump and refuse the change (exit 5) if the backup takes longer than this.
    #[arg(long, global = true, env = "SCHEMAGATE_BACKUP_TIMEOUT", hide_env_values = true, default_value = "1h", value_parser = schemagate::duration::parse)]
    pub backup_timeout: Duration,
    /// The pg_dump binary; by default the one whose major version equals the server's.
    #[arg(
        long,
        global = true,
        env = "SCHEMAGATE_PG_DUMP",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub pg_dump: Option<PathBuf>,
    /// The directory of the PostgreSQL client programs (pg_dump, pg_restore, psql) of the
    /// server's major, where they are not in /usr/lib/postgresql/<major>/bin; --pg-dump wins.
    #[arg(
        long,
        global = true,
        env = "SCHEMAGATE_PG_BIN_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub pg_bin_dir: Option<PathBuf>,
    /// MariaDB/MySQL: load each backup into a scratch database (always dropped) and compare
    /// its schema with the live one's before keeping it; a failure refuses the change.
    #[arg(
        long,
        global = true,
        env = "SCHEMAGATE_VERIFY_RESTORE",
        hide_env_values = true
    )]
    pub verify_restore: bool,
}

/// Log output settings; the level comes from `RUST_LOG` (default `info`).
#[derive(Debug, Args)]
pub struct LogArgs {
    /// `text` for people, `json` (one object per line) for log shippers.
    #[arg(long, global = true, env = "SCHEMAGATE_LOG_FORMAT", hide_env_values = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// JSON lines with timestamp, level, target and fields.
    Json,
}

/// Settings of the HTTP service (DESIGN §8).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on for /health and /metrics.
    #[arg(
        long,
        env = "SCHEMAGATE_LISTEN",
        hide_env_values = true,
        default_value = "0.0.0.0:8080"
    )]
    pub listen: SocketAddr,
    /// How often the background refresh re-reads the schema version.
    #[arg(long, env = "SCHEMAGATE_REFRESH_INTERVAL", hide_env_values = true, default_value = "15s", value_parser = schemagate::duration::parse)]
    pub refresh_interval: Duration,
    /// How often the live schema is described and compared with the recorded description
    /// (drift); 0 turns the check off.
    #[arg(long, env = "SCHEMAGATE_DRIFT_INTERVAL", hide_env_values = true, default_value = "5m", value_parser = schemagate::duration::parse)]
    pub drift_interval: Duration,
    /// Prefix of every metric name.
    #[arg(
        long,
        env = "SCHEMAGATE_METRICS_PREFIX",
        hide_env_values = true,
        default_value = "schemagate"
    )]
    pub metrics_prefix: String,
    /// Never change the schema (a Job migrates); stay unready while the schema is below the window.
    #[arg(long, env = "SCHEMAGATE_NO_MIGRATE", hide_env_values = true)]
    pub no_migrate: bool,
    /// Close a connection whose request headers have not all arrived this long after it
    /// opened (after their first byte, for a later request on the same connection).
    #[arg(long, env = "SCHEMAGATE_HEADER_READ_TIMEOUT", hide_env_values = true, default_value = "5s", value_parser = schemagate::duration::parse)]
    pub header_read_timeout: Duration,
    /// Close a keep-alive connection that starts no new request for this long.
    #[arg(long, env = "SCHEMAGATE_KEEP_ALIVE_TIMEOUT", hide_env_values = true, default_value = "75s", value_parser = schemagate::duration::parse)]
    pub keep_alive_timeout: Duration,
    /// At most this many open HTTP connections; beyond it the one idle longest is closed.
    #[arg(
        long,
        env = "SCHEMAGATE_MAX_CONNECTIONS",
        hide_env_values = true,
        default_value = "512"
    )]
    pub max_connections: usize,
}

/// `--json` for commands whose output a machine may read.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The server to make the scratch database on (its database is where schemagate
    /// connects to create it); default: the `--database-url` server.
    #[arg(long, env = "SCHEMAGATE_SCRATCH_URL", hide_env_values = true, value_parser = parse_secret)]
    pub scratch_url: Option<SecretString>,
}

/// Arguments of `baseline`.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// The schema version the database is at: every catalogue migration up to it is
    /// recorded as applied.
    #[arg(long, value_name = "N")]
    pub version: i64,
    /// First prove it: migrate a scratch database on the same server to N and compare the
    /// schemas; any difference refuses (exit 3), listing the objects.
    #[arg(long)]
    pub verify: bool,
}

/// Arguments of `repair`.
#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The version whose step stopped part way (the refusal names it).
    #[arg(long, value_name = "N")]
    pub version: i64,
    /// The migration's whole effect is now in the database: record it as applied.
    #[arg(
        long,
        conflicts_with = "reverted",
        required_unless_present = "reverted"
    )]
    pub applied: bool,
    /// None of its effect is in the database any more: record it as not applied.
    #[arg(long)]
    pub reverted: bool,
}

/// Arguments of `adopt`.
#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The tool whose history table to read: `sqlx` (_sqlx_migrations), `golang-migrate`
    /// or `dbmate` (schema_migrations), `goose` (goose_db_version), `flyway`
    /// (flyway_schema_history).
    #[arg(long, value_enum, value_name = "TOOL")]
    pub from: FromTool,
}

/// The tools `adopt --from` knows (schemagate's `adopt::Tool`, named for the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FromTool {
    /// sqlx-cli / `sqlx::migrate!`: `_sqlx_migrations`.
    Sqlx,
    /// golang-migrate: `schema_migrations` with `version` and `dirty`.
    GolangMigrate,
    /// dbmate: `schema_migrations` with text versions.
    Dbmate,
    /// goose: `goose_db_version`.
    Goose,
    /// Flyway: `flyway_schema_history`.
    Flyway,
    /// diesel: `__diesel_schema_migrations`.
    Diesel,
}

impl From<FromTool> for schemagate::adopt::Tool {
    fn from(tool: FromTool) -> Self {
        match tool {
            FromTool::Sqlx => Self::Sqlx,
            FromTool::GolangMigrate => Self::GolangMigrate,
            FromTool::Dbmate => Self::Dbmate,
            FromTool::Goose => Self::Goose,
            FromTool::Flyway => Self::Flyway,
            FromTool::Diesel => Self::Diesel,
        }
    }
}

/// Arguments of `backups`.
#[derive(Debug, Args)]
pub struct BackupsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// List the backups of every database in the directory (no database connection needed),
    /// not only those of the `--database-url` database.
    #[arg(long)]
    pub all: bool,
}

/// Arguments of `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file (`.dump`) to restore; its manifest must sit beside it.
    pub file: PathBuf,
    /// Really do it; without it, restore prints what it would do and exits 2.
    #[arg(long)]
    pub yes: bool,
    /// DESTRUCTIVE: restore a backup whose manifest names another database into this one.
    #[arg(long)]
    pub into_other_database: bool,
    /// Leave objects outside schemas (event triggers, publications, subscriptions, foreign
    /// servers, casts) as they are and replay none of the dump's, instead of refusing.
    #[arg(long)]
    pub keep_global_objects: bool,
}

/// Arguments of `healthcheck`.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The health endpoint to GET.
    #[arg(
        long,
        env = "SCHEMAGATE_HEALTHCHECK_URL",
        hide_env_values = true,
        default_value = "http://127.0.0.1:8080/health"
    )]
    pub url: String,
}

/// Default-only parser for `serve`, used when no subcommand is given, so that the
/// `SCHEMAGATE_*` variables of `serve` still apply.
#[derive(Debug, Parser)]
struct ServeDefaults {
    #[command(flatten)]
    serve: ServeArgs,
}

impl Cli {
    /// The command to run: the one given, or `serve` with its defaults and environment.
    pub fn take_command(&mut self) -> Command {
        self.command
            .take()
            .unwrap_or_else(|| Command::Serve(ServeDefaults::parse_from(["schemagate"]).serve))
    }
}

/// Wraps the URL at once so it cannot be printed by accident.
fn parse_secret(value: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rollback_is_accepted_without_a_subcommand() {
        let cli = Cli::try_parse_from(["schemagate", "--rollback-to", "v1.3.0"]).unwrap();
        assert_eq!(cli.gate.rollback_to.as_deref(), Some("v1.3.0"));
        assert!(cli.command.is_none());
    }

    #[test]
    fn a_negative_rollback_target_is_a_value_not_a_flag() {
        let cli = Cli::try_parse_from(["schemagate", "--rollback-to", "-1"]).unwrap();
        assert_eq!(cli.gate.rollback_to.as_deref(), Some("-1"));
    }

    #[test]
    fn help_never_shows_environment_values() {
        let help = Cli::command().render_long_help().to_string();
        assert!(!help.contains("=]"), "{help}");
    }

    #[test]
    fn lint_takes_paths_a_format_and_the_gate_a_mode() {
        let cli = Cli::try_parse_from(["schemagate", "lint", "a.sql", "dir", "--format", "github"])
            .unwrap();
        let Some(Command::Lint(args)) = cli.command else {
            panic!("not lint")
        };
        assert_eq!(args.paths.len(), 2);
        assert_eq!(args.format, LintFormat::Github);
        let cli = Cli::try_parse_from(["schemagate", "migrate", "--lint", "strict"]).unwrap();
        assert_eq!(cli.gate.lint, Some(LintMode::Strict));
    }

    #[test]
    fn global_settings_are_accepted_after_the_subcommand() {
        let cli = Cli::try_parse_from(["schemagate", "migrate", "--rollback-to", "5", "--dry-run"])
            .unwrap();
        assert_eq!(cli.gate.rollback_to.as_deref(), Some("5"));
        assert!(cli.gate.dry_run);
    }
}
