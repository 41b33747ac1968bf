//! Test support: releases and instances of them, as the fleet's tests describe them.

use std::time::Duration;

use super::Instance;
use crate::config::Compat;

/// Release 1.4.0 with window [4, 5] (the repository's example), with `releases` appended.
pub(crate) fn compat(releases: &str) -> Compat {
    Compat::parse(
        "compat.toml",
        &format!("[app]\nversion = \"1.4.0\"\n[schema]\nmin = 4\nmax = 5\n{releases}"),
    )
    .unwrap()
}

/// An instance of another release, on `host`, refreshing every `refresh`.
pub(crate) fn instance(
    version: &str,
    host: &str,
    (min, max): (i64, i64),
    refresh: Duration,
) -> Instance {
    let release = Compat::parse(
        "compat.toml",
        &format!("[app]\nversion = \"{version}\"\n[schema]\nmin = {min}\nmax = {max}\n"),
    )
    .unwrap();
    Instance {
        host: host.to_owned(),
        ..Instance::new(&release, refresh).unwrap()
    }
}

pub(crate) fn seconds(n: u64) -> Duration {
    Duration::from_secs(n)
}
