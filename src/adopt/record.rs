//! Reading the tool's table (after checking it has the tool's layout) and writing our
//! history from the mapping.

use tokio_postgres::Client;

use crate::applied::Applied;
use crate::catalogue::Catalogue;
use crate::engine::Session;
use crate::gate::Error;

use super::mapping::Mapped;
use super::model::{AdoptError, Tool, ToolHistory, query};
use super::{dbmate, flyway, golang_migrate, goose, sqlx};

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

/// Whether a table's columns are the tool's.
fn has_layout(tool: Tool, columns: &[String]) -> bool {
    match tool {
        Tool::Sqlx => sqlx::has_layout(columns),
        Tool::GolangMigrate => golang_migrate::has_layout(columns),
        Tool::Dbmate => dbmate::has_layout(columns),
        Tool::Goose => goose::has_layout(columns),
        Tool::Flyway => flyway::has_layout(columns),
    }
}

/// Reads the tool's history as the tool reads it. A table of the tool's name with another
/// tool's layout (golang-migrate's and dbmate's `schema_migrations`) is refused naming the
/// tool that made it.
pub async fn read(client: &Client, tool: Tool) -> Result<ToolHistory, AdoptError> {
    let table = tool.table();
    let Some(columns) = columns(client, table).await? else {
        return Err(AdoptError::NoTable { tool, table });
    };
    if !has_layout(tool, &columns) {
        let shown = columns.join(", ");
        let same_table = [Tool::GolangMigrate, Tool::Dbmate]
            .into_iter()
            .find(|other| *other != tool && other.table() == table && has_layout(*other, &columns));
        return Err(match same_table {
            Some(found) => AdoptError::WrongTool {
                asked: tool,
                table,
                found,
                columns: shown,
            },
            None => AdoptError::UnknownLayout {
                tool,
                table,
                columns: shown,
            },
        });
    }
    match tool {
        Tool::Sqlx => sqlx::read(client).await,
        Tool::GolangMigrate => golang_migrate::read(client).await,
        Tool::Dbmate => dbmate::read(client).await,
        Tool::Goose => goose::read(client).await,
        Tool::Flyway => flyway::read(client).await,
    }
}

/// Writes the mapped migrations into our history in one transaction (the caller holds the
/// lock and has taken the backup); the tool's table is not touched.
pub(crate) async fn record(
    session: &mut dyn Session,
    catalogue: &Catalogue,
    mapped: &[Mapped],
) -> Result<(), Error> {
    let rows: Vec<Applied> = mapped
        .iter()
        .filter_map(|m| catalogue.get(m.version))
        .map(|m| Applied {
            version: m.version,
            name: m.name.clone(),
            applied_on: String::new(),
            checksum: Some(m.checksum),
        })
        .collect();
    session.record_applied(&rows).await
}
