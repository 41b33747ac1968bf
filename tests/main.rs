//! Integration tests: one binary, each test against its own fresh database on the server
//! named by `TEST_DATABASE_URL`.

mod gate;
mod support;
