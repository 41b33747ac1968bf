//! Two descriptions of a schema compared (`verify`, `baseline --verify`): each engine
//! describes its schema as one line per object ([`crate::engine::Session::describe`]); the
//! comparison is the same for all.

use std::collections::BTreeSet;

/// The differences between what a database has and what it should have, one line each:
/// `missing: …` for what `expected` has and `actual` lacks, `extra: …` for the reverse.
pub fn differences(expected: &BTreeSet<String>, actual: &BTreeSet<String>) -> Vec<String> {
    expected
        .difference(actual)
        .map(|object| format!("missing: {object}"))
        .chain(
            actual
                .difference(expected)
                .map(|object| format!("extra: {object}")),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_what_is_missing_and_what_is_extra() {
        let expected = BTreeSet::from([
            "table public.t".to_owned(),
            "index public.t_idx: X".to_owned(),
        ]);
        let actual = BTreeSet::from([
            "table public.t".to_owned(),
            "column public.t.x integer".to_owned(),
        ]);
        assert_eq!(
            differences(&expected, &actual),
            [
                "missing: index public.t_idx: X",
                "extra: column public.t.x integer"
            ]
        );
    }
}
