//! schemagate: guards a PostgreSQL schema across application releases.
pub mod cli;
