//! Whether the session may change the schema: a server with `read_only` (a replica, or a
//! primary fenced during a switchover) is refused before any change, as PostgreSQL's
//! standby is. MySQL's `super_read_only` says the same more strongly; MariaDB has none.

use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

/// The server is not the writable primary, or could not be asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WritableError {
    /// `read_only` (or `super_read_only`) is on (exit 3).
    #[error(
        "the server has {variable} = ON, so it is a replica or fenced: point schemagate at the writable primary"
    )]
    ReadOnly { variable: &'static str },
    /// The question failed.
    #[error("cannot ask the server whether it is writable: {0}")]
    Query(String),
}

/// MySQL's "unknown system variable", MariaDB's answer to `@@super_read_only`.
const UNKNOWN_VARIABLE: u16 = 1193;

/// Refuses a read-only server.
pub(crate) async fn ensure_writable(conn: &mut Conn) -> Result<(), WritableError> {
    let describe = |e: mysql_async::Error| WritableError::Query(super::error::describe(&e));
    let read_only: Option<i64> = conn
        .query_first("SELECT @@global.read_only")
        .await
        .map_err(describe)?;
    if read_only.unwrap_or(0) != 0 {
        return Err(WritableError::ReadOnly {
            variable: "read_only",
        });
    }
    match conn
        .query_first::<i64, _>("SELECT @@global.super_read_only")
        .await
    {
        Ok(Some(1)) => Err(WritableError::ReadOnly {
            variable: "super_read_only",
        }),
        Ok(_) => Ok(()),
        Err(mysql_async::Error::Server(e)) if e.code == UNKNOWN_VARIABLE => Ok(()),
        Err(e) => Err(describe(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::mysql::testing::TestDatabase;
    use crate::mysql::throwaway::{Setup, Throwaway};

    #[tokio::test]
    async fn a_writable_server_passes_and_a_read_only_one_is_refused() {
        let db = TestDatabase::create().await;
        ensure_writable(&mut db.conn().await).await.unwrap();
        let replica = Throwaway::start(Setup {
            read_only: true,
            ..Setup::default()
        })
        .await;
        let options = replica.options("127.0.0.1", "");
        let mut conn = crate::mysql::connect::connect(&options, Duration::from_secs(20))
            .await
            .unwrap();
        let error = ensure_writable(&mut conn).await.unwrap_err();
        assert!(
            matches!(
                error,
                WritableError::ReadOnly {
                    variable: "read_only"
                }
            ),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("point schemagate at the writable primary"),
            "{error}"
        );
    }
}
