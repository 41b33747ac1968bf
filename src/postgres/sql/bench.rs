//! bench/run.sh row 11 (issue 12): how long splitting every `.sql` file of a directory into
//! statements takes. Ignored by `cargo test`; bench/run.sh runs it on a release build:
//!
//! `SCHEMAGATE_BENCH_DIR=DIR cargo test --release --lib -- --ignored --exact --nocapture
//! postgres::sql::bench::split_every_file_of_the_directory`
//!
//! schemagate splits a no-transaction file with PostgreSQL's scanner and parser
//! ([`split_statements`]: the statements without their `;` and the comments around them).
//! The baseline is libpg_query's own `split_with_parser`, which runs the same parser and
//! only returns the statements' text: the floor for asking PostgreSQL's grammar where
//! statements end. Both run over the same texts, read into memory first, alternating pass
//! by pass (`SCHEMAGATE_BENCH_PASSES`, 30 by default); the medians are printed in
//! microseconds as `files=N statements=N split_us=N floor_us=N`.

use std::time::Instant;

use super::{SyntaxError, split_statements};
use crate::testing::{bench_setting, median};

#[test]
#[ignore = "a benchmark: bench/run.sh row 11 runs it on a release build"]
fn split_every_file_of_the_directory() {
    let dir = bench_setting("SCHEMAGATE_BENCH_DIR", "the corpus directory");
    let passes: usize = std::env::var("SCHEMAGATE_BENCH_PASSES").map_or(30, |p| {
        p.parse().expect("SCHEMAGATE_BENCH_PASSES is a number")
    });
    let texts = read_sql(&dir);
    let statements = count(&texts, ours);
    let floor = count(&texts, libpg_query);
    assert_eq!(
        statements, floor,
        "schemagate and libpg_query disagree on the number of statements in {dir}"
    );
    let (mut split_us, mut floor_us) = (Vec::new(), Vec::new());
    for _ in 0..passes {
        split_us.push(time(|| count(&texts, ours)));
        floor_us.push(time(|| count(&texts, libpg_query)));
    }
    println!(
        "files={} statements={statements} split_us={} floor_us={}",
        texts.len(),
        median(split_us),
        median(floor_us)
    );
}

/// How many statements schemagate's splitter finds in `sql`.
fn ours(sql: &str) -> Result<usize, SyntaxError> {
    split_statements(sql).map(|s| s.len())
}

/// How many statements libpg_query's own split finds in `sql`.
fn libpg_query(sql: &str) -> Result<usize, pg_query::Error> {
    pg_query::split_with_parser(sql).map(|s| s.len())
}

/// The text of every `.sql` file in `dir`.
fn read_sql(dir: &str) -> Vec<String> {
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(dir).expect("DIR can be listed") {
        let path = entry.expect("DIR can be listed").path();
        if path.extension().is_some_and(|e| e == "sql") {
            texts.push(std::fs::read_to_string(&path).expect("a migration is UTF-8 text"));
        }
    }
    assert!(!texts.is_empty(), "no .sql file in {dir}");
    texts
}

/// The statements of all `texts`, by `split`; a file it refuses stops the benchmark.
fn count<E: std::fmt::Debug>(texts: &[String], split: fn(&str) -> Result<usize, E>) -> usize {
    texts
        .iter()
        .map(|sql| split(sql).expect("the corpus is valid SQL"))
        .sum()
}

/// Microseconds `f` takes; its result is kept from the optimiser.
fn time(f: impl FnOnce() -> usize) -> u128 {
    let start = Instant::now();
    std::hint::black_box(f());
    start.elapsed().as_micros()
}
