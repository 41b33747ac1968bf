//! What the benches without cargo's harness share: their arguments and their medians.

/// The bench's own arguments: `cargo bench` passes `--bench` to a bench without the test
/// harness, which is dropped here with any other flag.
pub fn args() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect()
}

/// The middle value of the samples.
pub fn median(mut samples: Vec<u128>) -> u128 {
    samples.sort_unstable();
    samples[samples.len() / 2]
}
