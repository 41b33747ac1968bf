//! Live schema drift (DESIGN §19): the description of the schema the gate left after its
//! last change, recorded with its fingerprint in `schemagate_schema`, compared with the
//! schema as it is now. Each engine describes (one line per object,
//! [`crate::engine::Session::describe`]) and keeps the table; the comparison, the
//! fingerprint and `[drift] ignore` are the same for all.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The table each engine keeps the records in.
pub(crate) const TABLE: &str = "schemagate_schema";

/// How many drifted objects `/health` names.
pub(crate) const SHOWN: usize = 5;

/// One record: the description the gate left after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// Its row.
    pub id: i64,
    /// When (RFC 3339, or the engine's own timestamp text).
    pub recorded_at: String,
    /// The schema version the change left.
    pub version: i64,
    /// [`fingerprint`] of `objects`.
    pub fingerprint: String,
    /// The description.
    pub objects: BTreeSet<String>,
    /// Whether a change began after this record and has not recorded what it left: it is
    /// under way, or it stopped before recording (killed, or its connection lost). Set
    /// under the lock before a change alters anything and cleared by its record, so a
    /// record is never compared with a schema a later change made.
    pub superseded: bool,
}

/// The canonical form of a description: its lines, sorted, as a JSON array (the lines of
/// views and functions hold newlines, so one line per object would not do).
pub(crate) fn canonical(objects: &BTreeSet<String>) -> String {
    serde_json::to_string(objects).unwrap_or_default()
}

/// A description read back from its [`canonical`] form (`None` when it is not one).
pub(crate) fn parse(canonical: &str) -> Option<BTreeSet<String>> {
    serde_json::from_str(canonical).ok()
}

/// SHA-256 of the canonical form, in hex.
pub(crate) fn fingerprint(objects: &BTreeSet<String>) -> String {
    hex::encode(Sha256::digest(canonical(objects).as_bytes()))
}

/// An object whose text differs between the record and the live schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Changed {
    /// As recorded.
    pub(crate) recorded: String,
    /// As it is now.
    pub(crate) live: String,
}

/// What differs between the record and the live schema, ignored objects left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Drift {
    /// Recorded, gone now.
    pub(crate) missing: Vec<String>,
    /// There now, not recorded.
    pub(crate) extra: Vec<String>,
    /// There in both, different.
    pub(crate) changed: Vec<Changed>,
}

impl Drift {
    /// `recorded` against `live`, leaving out what `ignore` matches.
    pub(crate) fn between(
        recorded: &BTreeSet<String>,
        live: &BTreeSet<String>,
        ignore: &[String],
    ) -> Self {
        let kept = |set: &BTreeSet<String>| -> BTreeMap<String, String> {
            set.iter()
                .filter(|object| !ignored(object, ignore))
                .map(|object| (key(object).to_owned(), object.clone()))
                .collect()
        };
        let (recorded, live) = (kept(recorded), kept(live));
        let mut drift = Drift::default();
        for (name, was) in &recorded {
            match live.get(name) {
                None => drift.missing.push(was.clone()),
                Some(now) if now != was => drift.changed.push(Changed {
                    recorded: was.clone(),
                    live: now.clone(),
                }),
                Some(_) => {}
            }
        }
        drift.extra = live
            .iter()
            .filter(|(name, _)| !recorded.contains_key(*name))
            .map(|(_, object)| object.clone())
            .collect();
        drift
    }

    /// How many objects differ.
    pub(crate) fn count(&self) -> usize {
        self.missing.len() + self.extra.len() + self.changed.len()
    }

    /// Whether nothing differs.
    pub(crate) fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The drifted objects by kind and name (`missing index public.t_idx`), in order.
    pub(crate) fn objects(&self) -> impl Iterator<Item = String> + '_ {
        let named = |how: &'static str| move |object: &String| format!("{how} {}", key(object));
        self.missing
            .iter()
            .map(named("missing"))
            .chain(self.extra.iter().map(named("extra")))
            .chain(
                self.changed
                    .iter()
                    .map(|c| format!("changed {}", key(&c.live))),
            )
    }

    /// One line: how many objects and the first few (`3 objects: extra column public.t.x, …`).
    pub(crate) fn summary(&self) -> String {
        let first: Vec<String> = self.objects().take(SHOWN).collect();
        let more = if self.count() > SHOWN { ", …" } else { "" };
        format!(
            "{} object(s) differ from the recorded description: {}{more}",
            self.count(),
            first.join(", ")
        )
    }

    /// Every difference, one per line (`changed` shows both texts).
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .missing
            .iter()
            .map(|o| format!("missing: {o}"))
            .collect();
        lines.extend(self.extra.iter().map(|o| format!("extra: {o}")));
        for changed in &self.changed {
            lines.push(format!("changed: {}", key(&changed.live)));
            lines.push(format!("  recorded: {}", changed.recorded));
            lines.push(format!("  live:     {}", changed.live));
        }
        lines
    }
}

/// The kind and name of an object's line, which identify it: the text before `: ` when it
/// has one (`index public.t_idx`), else its first two words (`column public.t.x`), three
/// for a kind of two words (`foreign key posts`, `materialized view public.v`).
fn key(object: &str) -> &str {
    if let Some((key, _)) = object.split_once(": ") {
        return key;
    }
    let words = if ["foreign ", "materialized "]
        .iter()
        .any(|kind| object.starts_with(kind))
    {
        3
    } else {
        2
    };
    match object.match_indices(' ').nth(words - 1) {
        Some((end, _)) => &object[..end],
        None => object,
    }
}

/// The object's name: the key without its kind (`public.t.x`), up to the first space
/// after it (`(u) on users` keeps `(u)`; names are matched by `[drift] ignore`).
fn name(object: &str) -> &str {
    let key = key(object);
    let skip = if ["foreign ", "materialized "]
        .iter()
        .any(|kind| key.starts_with(kind))
    {
        2
    } else {
        1
    };
    key.splitn(skip + 1, ' ').nth(skip).map_or(key, |rest| {
        rest.split_once(' ').map_or(rest, |(name, _)| name)
    })
}

/// Whether a pattern of `[drift] ignore` matches the object's name or, for an object of a
/// table (a column `public.events_1.id`), the name up to any of its dots. PostgreSQL names
/// an object on the search path without its schema (`events_1.id`), so a pattern's
/// `schema.` part may also be left out to match it.
fn ignored(object: &str, ignore: &[String]) -> bool {
    let name = name(object);
    let prefixes: Vec<&str> = name
        .match_indices('.')
        .map(|(at, _)| &name[..at])
        .chain(std::iter::once(name))
        .collect();
    ignore
        .iter()
        .flat_map(|pattern| {
            let unqualified = pattern.split_once('.').map(|(_, rest)| rest);
            std::iter::once(pattern.as_str()).chain(unqualified)
        })
        .any(|pattern| prefixes.iter().any(|prefix| glob(pattern, prefix)))
}

/// `*` matches any run of characters, `?` one; everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(lines: &[&str]) -> BTreeSet<String> {
        lines.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn keys_and_names_identify_objects_of_every_engine() {
        assert_eq!(
            key("column public.t.x integer not null"),
            "column public.t.x"
        );
        assert_eq!(
            key("index public.t_idx: CREATE INDEX …"),
            "index public.t_idx"
        );
        assert_eq!(key("table posts strict"), "table posts");
        assert_eq!(
            key("foreign key posts (a) references u (id)"),
            "foreign key posts"
        );
        assert_eq!(key("table public.t"), "table public.t");
        assert_eq!(name("column public.t.x integer"), "public.t.x");
        assert_eq!(name("index (u) on users: unique (email)"), "(u)");
        assert_eq!(name("foreign key posts (a) references u"), "posts");
    }

    #[test]
    fn missing_extra_and_changed_objects_are_told_apart_and_ignored_ones_left_out() {
        let recorded = set(&[
            "table public.t",
            "column public.t.a integer",
            "index public.t_a: CREATE INDEX t_a ON public.t (a)",
            "routine public.f(): aaa",
        ]);
        let live = set(&[
            "table public.t",
            "column public.t.a integer",
            "column public.t.b text",
            "routine public.f(): bbb",
            "table public.events_2026_12",
            "column public.events_2026_12.id bigint",
        ]);
        let drift = Drift::between(&recorded, &live, &["public.events_*".to_owned()]);
        assert_eq!(
            drift.missing,
            ["index public.t_a: CREATE INDEX t_a ON public.t (a)"]
        );
        assert_eq!(drift.extra, ["column public.t.b text"]);
        assert_eq!(drift.changed.len(), 1);
        assert_eq!(drift.count(), 3);
        assert_eq!(
            drift.objects().collect::<Vec<_>>(),
            [
                "missing index public.t_a",
                "extra column public.t.b",
                "changed routine public.f()"
            ]
        );
        assert!(Drift::between(&recorded, &recorded, &[]).is_empty());
        let on_the_search_path = set(&["table events_1", "column events_1.id bigint"]);
        let ignore = ["public.events_*".to_owned()];
        assert!(Drift::between(&set(&[]), &on_the_search_path, &ignore).is_empty());
        assert!(!ignored("table other_1", &ignore));
    }

    #[test]
    fn globs_match_runs_and_single_characters() {
        assert!(glob("public.events_*", "public.events_2026"));
        assert!(glob("*.tmp_?", "app.tmp_1"));
        assert!(!glob("public.events_*", "public.event"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
    }

    #[test]
    fn the_fingerprint_is_of_the_canonical_form_and_reads_back() {
        let objects = set(&["view public.v: SELECT 1\n  FROM t", "table public.t"]);
        assert_eq!(parse(&canonical(&objects)), Some(objects.clone()));
        assert_eq!(fingerprint(&objects).len(), 64);
        assert_ne!(
            fingerprint(&objects),
            fingerprint(&set(&["table public.t"]))
        );
    }
}
