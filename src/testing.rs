//! Test support shared by the engines' own test databases.

/// A fresh random name, `<prefix>_<hex>`: tests running at once never share a database.
pub(crate) fn random_name(prefix: &str) -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("random bytes");
    format!("{prefix}_{}", hex::encode(bytes))
}
