//! Reading the tool's table (after checking it has the tool's layout) and writing our
//! history from the mapping.

use crate::applied::Applied;
use crate::catalogue::Catalogue;
use crate::engine::Session;
use crate::gate::Error;

use super::mapping::Mapped;
use super::model::{AdoptError, Tool};
use super::{dbmate, diesel, flyway, golang_migrate, goose, sqlx};

/// Whether a table's columns are the tool's.
fn has_layout(tool: Tool, columns: &[String]) -> bool {
    match tool {
        Tool::Sqlx => sqlx::has_layout(columns),
        Tool::GolangMigrate => golang_migrate::has_layout(columns),
        Tool::Dbmate => dbmate::has_layout(columns),
        Tool::Goose => goose::has_layout(columns),
        Tool::Flyway => flyway::has_layout(columns),
        Tool::Diesel => diesel::has_layout(columns),
    }
}

/// Refuses a tool's table that is missing (`columns` is `None`) or not of the tool's
/// layout; a table of the tool's name with another tool's layout (golang-migrate's and
/// dbmate's `schema_migrations`) is refused naming the tool that made it. Each engine
/// reads the columns, then the rows as the tool reads them.
pub fn check_layout(tool: Tool, columns: Option<Vec<String>>) -> Result<(), AdoptError> {
    let table = tool.table();
    let Some(columns) = columns else {
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
    Ok(())
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
