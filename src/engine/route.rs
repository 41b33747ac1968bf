//! The URL's scheme picks the engine (DESIGN §17): `sqlite:` → SQLite; `mysql://` /
//! `mariadb://` → MariaDB or MySQL; anything else (`postgres://`, `postgresql://`, a
//! `key=value` conninfo, or text libpq refuses) → PostgreSQL. This is the one place a
//! wing plugs in: one arm of [`open`] and of [`grammar`] (behind its cargo feature) and one
//! line of [`is_driver_error`]; nothing else in the core changes.

use std::sync::Arc;
use std::time::Duration;

use super::{Engine, Grammar};
use crate::gate::{Error, Exit};

/// What every engine gets from the gate besides its URL.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// `schemagate/v<app version>`: every connection's application name, where the engine
    /// has one.
    #[cfg_attr(
        not(feature = "postgres"),
        expect(dead_code, reason = "only PostgreSQL names its connections")
    )]
    pub(crate) application_name: String,
    /// How long connecting retries before giving up (exit 4).
    pub(crate) connect_timeout: Duration,
}

/// The engines a URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `postgres://`, `postgresql://`, or libpq's `key=value` form.
    Postgres,
    /// `sqlite:PATH`, `sqlite://PATH`.
    Sqlite,
    /// `mysql://`, `mariadb://`.
    Mysql,
}

impl Kind {
    /// The catalogue's variants this engine runs (`V3__x.sqlite.sql` on SQLite).
    pub(crate) fn variant(self) -> crate::catalogue::Engine {
        match self {
            Kind::Postgres => crate::catalogue::Engine::Postgres,
            Kind::Sqlite => crate::catalogue::Engine::Sqlite,
            Kind::Mysql => crate::catalogue::Engine::Mysql,
        }
    }

    /// The engine as messages name it.
    fn name(self) -> &'static str {
        match self {
            Kind::Postgres => "PostgreSQL",
            Kind::Sqlite => "SQLite",
            Kind::Mysql => "MariaDB/MySQL",
        }
    }

    /// The cargo feature that builds the engine in.
    fn feature(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Sqlite => "sqlite",
            Kind::Mysql => "mysql",
        }
    }
}

/// The engine `url`'s scheme names. Only the schemes of other engines are claimed: any
/// other text is PostgreSQL's to parse (libpq's URL or `key=value` form), whose parser
/// says what is wrong with it, never showing a password.
pub(crate) fn kind(url: &str) -> Kind {
    let scheme = url
        .trim_start()
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("sqlite") => Kind::Sqlite,
        Some("mysql" | "mariadb") => Kind::Mysql,
        _ => Kind::Postgres,
    }
}

/// The engine of `url` (exit 2 when its scheme names no engine built into this binary, or
/// the URL does not parse). Connects to nothing.
pub(crate) fn open(url: &str, context: &Context) -> Result<Arc<dyn Engine>, Error> {
    match kind(url) {
        #[cfg(feature = "postgres")]
        Kind::Postgres => crate::postgres::engine(url, context),
        #[cfg(feature = "sqlite")]
        Kind::Sqlite => crate::sqlite::engine(url, context),
        #[cfg(feature = "mysql")]
        Kind::Mysql => crate::mysql::engine(url, context),
        #[allow(
            unreachable_patterns,
            reason = "each engine is matched above when built in"
        )]
        unbuilt => Err(Error::new(
            Exit::Usage,
            NotBuilt {
                engine: unbuilt.name(),
                feature: unbuilt.feature(),
            },
        )),
    }
}

/// The grammar of engine `kind`, with no URL (`schemagate lint` on files); `None` when
/// this binary was built without it.
pub(crate) fn grammar(kind: Kind) -> Option<&'static dyn Grammar> {
    match kind {
        #[cfg(feature = "postgres")]
        Kind::Postgres => Some(&crate::postgres::PG_GRAMMAR),
        #[cfg(feature = "sqlite")]
        Kind::Sqlite => Some(&crate::sqlite::SQLITE_GRAMMAR),
        #[cfg(feature = "mysql")]
        Kind::Mysql => Some(&crate::mysql::MYSQL_GRAMMAR),
        #[allow(
            unreachable_patterns,
            reason = "each engine is matched above when built in"
        )]
        _ => None,
    }
}

/// Whether `error` is a database driver's own error, which every error keeping it as its
/// source has already described ([`crate::gate::error::chain`] stops there). Each wing
/// adds its driver.
pub(crate) fn is_driver_error(error: &(dyn std::error::Error + 'static)) -> bool {
    #[cfg(feature = "sqlite")]
    if crate::sqlite::is_driver_error(error) {
        return true;
    }
    #[cfg(feature = "mysql")]
    if crate::mysql::is_driver_error(error) {
        return true;
    }
    #[cfg(feature = "postgres")]
    if crate::postgres::is_driver_error(error) {
        return true;
    }
    let _ = error;
    false
}

/// Waits up to `within` for the database sessions this process opened to end once their
/// clients are dropped, so the server logs none as a lost client; the binary calls it
/// before it exits. Each wing whose sessions outlive their client adds its wait.
pub async fn sessions_closed(within: Duration) {
    #[cfg(feature = "postgres")]
    crate::postgres::db::sessions_closed(within).await;
    let _ = within;
}

/// A URL of an engine this binary was built without.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database URL names {engine}, which this build of schemagate leaves out; build it with the cargo feature `{feature}` (schemagate's default features have every engine)"
)]
struct NotBuilt {
    engine: &'static str,
    feature: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_engine() {
        for url in [
            "postgres://app@db/app",
            "POSTGRESQL://db/app",
            "host=db dbname=app",
            "host=db:5432 password=a:b",
            "\"postgres://app@db/app\"",
            "",
        ] {
            assert_eq!(kind(url), Kind::Postgres, "{url}");
        }
        assert_eq!(kind("sqlite:demo.db"), Kind::Sqlite);
        assert_eq!(kind("SQLite:///var/lib/app.db"), Kind::Sqlite);
        assert_eq!(kind("mysql://root@db/app"), Kind::Mysql);
        assert_eq!(kind("mariadb://root@db/app"), Kind::Mysql);
    }

    #[cfg(not(all(feature = "postgres", feature = "sqlite", feature = "mysql")))]
    #[test]
    fn an_engine_not_built_in_is_a_usage_error_naming_it() {
        let context = Context {
            application_name: "schemagate/test".to_owned(),
            connect_timeout: Duration::from_secs(1),
        };
        let mut unbuilt = Vec::new();
        if cfg!(not(feature = "mysql")) {
            unbuilt.push(("mysql://db/app", "MariaDB", "`mysql`"));
        }
        if cfg!(not(feature = "sqlite")) {
            unbuilt.push(("sqlite:demo.db", "SQLite", "`sqlite`"));
        }
        if cfg!(not(feature = "postgres")) {
            unbuilt.push(("postgres://app@db/app", "PostgreSQL", "`postgres`"));
            unbuilt.push(("host=db dbname=app", "PostgreSQL", "`postgres`"));
        }
        for (url, engine, feature) in unbuilt {
            let error = open(url, &context).err().expect("not built in");
            assert_eq!(error.exit(), Exit::Usage);
            assert!(error.to_string().contains(engine), "{error}");
            assert!(error.to_string().contains(feature), "{error}");
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn a_sqlite_url_opens_the_sqlite_wing_and_a_bad_one_is_a_usage_error() {
        let context = Context {
            application_name: "schemagate/test".to_owned(),
            connect_timeout: Duration::from_secs(1),
        };
        let engine = open("sqlite:demo.db", &context).expect("the SQLite wing");
        assert_eq!(engine.name(), "sqlite");
        let error = open("sqlite:demo.db?mode=rx", &context)
            .err()
            .expect("a bad mode");
        assert_eq!(error.exit(), Exit::Usage);
    }
}
