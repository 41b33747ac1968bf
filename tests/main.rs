//! Integration tests: one binary, each test against its own fresh database on the server
//! named by `TEST_DATABASE_URL`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

mod adopt;
mod adoption;
mod backup;
mod backup_faults;
mod commands;
mod ddl;
mod docs;
mod embedded;
mod faults;
mod fleet;
mod gate;
mod hostile_input;
mod lint;
mod lock;
mod mariadb;
mod new;
mod newcomer;
mod output;
mod passwords;
mod poolers;
mod properties;
mod rollback;
mod serve;
mod standby;
mod stop;
mod suite;
mod support;
mod tls;
mod trust_backups;
mod verify;
