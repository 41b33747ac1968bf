//! Integration tests: one binary, each test against its own fresh database on the server
//! named by `TEST_DATABASE_URL`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

mod adopt;
mod adoption;
mod backup;
mod backup_faults;
mod commands;
mod ddl;
mod diesel;
mod docs;
mod drift;
// examples/embedded needs the sqlite feature (required-features): it runs on both engines.
#[cfg(feature = "sqlite")]
mod embedded;
mod faults;
mod fleet;
mod gate;
mod hostile_input;
mod lint;
mod lock;
mod majors;
mod mariadb;
mod new;
mod newcomer;
mod output;
mod passwords;
mod placeholders;
mod poolers;
mod properties;
mod rollback;
mod serve;
#[cfg(feature = "sqlite")]
mod sqlite;
mod standby;
mod stop;
mod suite;
mod support;
mod tls;
mod trust_backups;
mod variants;
mod verify;
