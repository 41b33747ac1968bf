//! Test support shared by the engines' own test databases.

/// A fresh random name, `<prefix>_<hex>`: tests running at once never share a database.
pub(crate) fn random_name(prefix: &str) -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("random bytes");
    format!("{prefix}_{}", hex::encode(bytes))
}

/// A benchmark's setting from the environment variable `name` (`what` it is), which the
/// benchmark cannot run without: bench/run.sh sets it.
pub(crate) fn bench_setting(name: &str, what: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("set {name} to {what} (see bench/run.sh)"))
}

/// The middle value of a benchmark's samples.
pub(crate) fn median(mut samples: Vec<u128>) -> u128 {
    samples.sort_unstable();
    samples[samples.len() / 2]
}
