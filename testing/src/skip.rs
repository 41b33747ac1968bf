//! The one place that decides what a test does when this machine lacks a tool or a
//! privilege it needs: outside CI it may skip, loudly; under CI it fails, so a green CI run
//! means every test ran.

use std::io::Write as _;

/// Whether this is a CI run: `CI=true`, as GitHub Actions and `.ci/run` set it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Gives up on `test` because of `reason` (what is missing and how to provide it): panics
/// under CI, else prints `SKIPPED` and returns, and the caller returns.
///
/// The line goes to the process's stderr itself, not through `eprintln!`: the test harness
/// captures the print macros and shows them only for a failing test, so a skipped test
/// would read as a plain `ok` in the output of `cargo test`.
#[track_caller]
pub fn skip_or_fail(test: &str, reason: &str) {
    assert!(
        !in_ci(),
        "{test} cannot run on this machine: {reason}. CI=true, so this is a failure: \
         CI must provide what every test needs (see .ci/run and .github/workflows/ci.yml)"
    );
    // Nothing else to do when stderr is gone: the test passes either way.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {reason} (reported as ok below, but nothing was tested; under CI=true this fails)"
    );
}
