//! Another tool's history read on PostgreSQL (`adopt --from`): the table's columns from
//! the catalogue, checked by [`crate::adopt::check_layout`], then one file per tool with
//! its query.

mod dbmate;
mod diesel;
mod flyway;
mod golang_migrate;
mod goose;
mod sqlx;

use tokio_postgres::Client;

use crate::adopt::{AdoptError, Tool, ToolHistory, check_layout};

/// The columns of a table found on the search path, in order; `None` when there is none.
async fn columns(client: &Client, table: &str) -> Result<Option<Vec<String>>, AdoptError> {
    let rows = client
        .query(
            "SELECT a.attname::text FROM pg_attribute a \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&table],
        )
        .await
        .map_err(query("look for the tool's table"))?;
    Ok((!rows.is_empty()).then(|| rows.iter().map(|r| r.get(0)).collect()))
}

/// Reads the tool's history as the tool reads it, after checking its table's layout.
pub(crate) async fn read(client: &Client, tool: Tool) -> Result<ToolHistory, AdoptError> {
    check_layout(tool, columns(client, tool.table()).await?)?;
    match tool {
        Tool::Sqlx => sqlx::read(client).await,
        Tool::GolangMigrate => golang_migrate::read(client).await,
        Tool::Dbmate => dbmate::read(client).await,
        Tool::Goose => goose::read(client).await,
        Tool::Flyway => flyway::read(client).await,
        Tool::Diesel => diesel::read(client).await,
    }
}

/// Wraps a failed query of `action`, described as PostgreSQL describes it.
fn query(action: &'static str) -> impl FnOnce(tokio_postgres::Error) -> AdoptError {
    move |source| AdoptError::Query {
        action,
        message: super::db::describe(&source),
        connection_lost: super::db::connection_lost(&source),
        source: Box::new(source),
    }
}
