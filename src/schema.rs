//! Two descriptions of a schema compared (`verify`, `baseline --verify`): each engine
//! describes its schema as one line per object ([`crate::engine::Session::describe`]); the
//! comparison is the same for all.
//!
//! `verify` follows one schema step by step instead ([`Tracked`]): the lines are kept by the
//! object they describe, each look re-describes only the objects changed since the last
//! one, and a run of steps is compared with the schema before it over the objects those
//! steps touched, as nothing else can differ. Its cost grows with what the steps touch,
//! not with the size of the schema.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};

/// The differences between what a database has and what it should have, one line each:
/// `missing: …` for what `expected` has and `actual` lacks, `extra: …` for the reverse.
pub(crate) fn differences(expected: &BTreeSet<String>, actual: &BTreeSet<String>) -> Vec<String> {
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

/// The lines the objects touched by a step had before it, by the engine's key for each
/// object (no lines: it did not exist).
pub(crate) type Earlier = BTreeMap<String, BTreeSet<String>>;

/// A schema described object by object and followed step by step (`verify`): each object's
/// lines under the engine's key for it ([`crate::engine::Session::track`]), brought up to
/// date after each step by [`crate::engine::Session::changed`].
pub(crate) struct Tracked {
    objects: BTreeMap<String, BTreeSet<String>>,
    /// What the engine keeps from one look to the next (PostgreSQL: its prepared
    /// statements, and the objects that hang on each table, or without event triggers the
    /// transaction id after which catalogue rows count as changed).
    #[cfg_attr(
        not(feature = "postgres"),
        expect(
            dead_code,
            reason = "only PostgreSQL's catalogues tell what a step changed"
        )
    )]
    pub(crate) engine: Box<dyn Any + Send + Sync>,
}

impl Tracked {
    /// The schema of `lines`, each `(key, line)`, and the engine's state.
    pub(crate) fn new(
        lines: impl IntoIterator<Item = (String, String)>,
        engine: Box<dyn Any + Send + Sync>,
    ) -> Self {
        let mut objects: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (key, line) in lines {
            objects.entry(key).or_default().insert(line);
        }
        Self { objects, engine }
    }

    /// A whole description, each line its own object: for an engine that describes the
    /// whole schema at every look ([`Self::follow`]).
    pub(crate) fn whole(lines: BTreeSet<String>) -> Self {
        Self::new(lines.into_iter().map(|l| (l.clone(), l)), Box::new(()))
    }

    /// Brings a [`Self::whole`] description to `now` (the whole schema described again),
    /// returning the lines that went or came.
    pub(crate) fn follow(&mut self, now: BTreeSet<String>) -> Earlier {
        let gone: Vec<String> = self
            .objects
            .keys()
            .filter(|line| !now.contains(*line))
            .cloned()
            .collect();
        let mut earlier = Earlier::new();
        for line in gone {
            self.set(line, BTreeSet::new(), &mut earlier);
        }
        for line in now {
            if !self.objects.contains_key(&line) {
                self.set(line.clone(), BTreeSet::from([line]), &mut earlier);
            }
        }
        earlier
    }

    /// Sets the lines of `key`'s object (none: it is gone), keeping those it had in
    /// `earlier` unless it holds them already.
    pub(crate) fn set(&mut self, key: String, lines: BTreeSet<String>, earlier: &mut Earlier) {
        let had = if lines.is_empty() {
            self.objects.remove(&key)
        } else {
            self.objects.insert(key.clone(), lines)
        };
        earlier
            .entry(key)
            .or_insert_with(|| had.unwrap_or_default());
    }

    /// The differences between the schema before a run of steps and now, as
    /// [`differences`] names them; `steps` are what each step of the run touched, in order.
    /// Only the objects they touched can differ, and each one's lines before the run are
    /// those the first step that touched it found.
    pub(crate) fn differences_since(&self, steps: &[&Earlier]) -> Vec<String> {
        let mut keys = BTreeSet::new();
        let mut then = BTreeSet::new();
        let mut now = BTreeSet::new();
        for (key, lines) in steps.iter().flat_map(|step| step.iter()) {
            if keys.insert(key) {
                then.extend(lines.iter().cloned());
                now.extend(self.objects.get(key).into_iter().flatten().cloned());
            }
        }
        differences(&then, &now)
    }
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

    fn lines(of: &[&str]) -> BTreeSet<String> {
        of.iter().map(|l| (*l).to_owned()).collect()
    }

    #[test]
    fn a_run_of_steps_is_compared_over_what_it_touched_with_the_lines_each_first_found() {
        let mut schema = Tracked::new(
            [
                ("t", "table t"),
                ("t", "column t.a integer"),
                ("u", "table u"),
            ]
            .map(|(k, l)| (k.to_owned(), l.to_owned())),
            Box::new(()),
        );
        // The up adds a column to t and an index; the down drops the index and u.
        let mut up = Earlier::new();
        schema.set(
            "t".into(),
            lines(&["table t", "column t.a integer", "column t.b text"]),
            &mut up,
        );
        schema.set("i".into(), lines(&["index i"]), &mut up);
        let mut down = Earlier::new();
        schema.set("i".into(), BTreeSet::new(), &mut down);
        schema.set("u".into(), BTreeSet::new(), &mut down);
        assert_eq!(
            schema.differences_since(&[&up, &down]),
            ["missing: table u", "extra: column t.b text"]
        );
        // What the up made, compared after the down: the index is missing.
        assert_eq!(
            schema.differences_since(&[&down]),
            ["missing: index i", "missing: table u"]
        );
    }

    #[test]
    fn a_whole_description_followed_gives_the_lines_that_went_and_came() {
        let mut schema = Tracked::whole(lines(&["table t", "table u"]));
        let earlier = schema.follow(lines(&["table t", "table v"]));
        assert_eq!(
            earlier,
            Earlier::from([
                ("table u".to_owned(), lines(&["table u"])),
                ("table v".to_owned(), BTreeSet::new()),
            ])
        );
        assert_eq!(
            schema.differences_since(&[&earlier]),
            ["missing: table u", "extra: table v"]
        );
    }
}
