//! The dump's table of contents (`pg_restore --list`), filtered so the replay only creates
//! what the restore dropped.
//!
//! The restore keeps some things as they are (schemas created by an extension or owned by
//! a role we are not, such as a cloud provider's; with `--keep-global-objects`, the objects
//! that live outside schemas). Replaying their entries would fail with "already exists" or
//! "must be owner", so their lines are left out of the list given to
//! `pg_restore --use-list`.

use std::collections::HashSet;

/// Entry types of objects that live outside schemas and that a restore cannot make exact.
pub(super) const GLOBAL_TYPES: &[&str] = &[
    "EVENT TRIGGER",
    "PUBLICATION TABLES IN SCHEMA",
    "PUBLICATION TABLE",
    "PUBLICATION",
    "SUBSCRIPTION TABLE",
    "SUBSCRIPTION",
    "FOREIGN DATA WRAPPER",
    "SERVER",
    "USER MAPPING",
    "CAST",
];

/// What to leave out of the replay.
#[derive(Debug, Default)]
pub(super) struct Keep<'a> {
    /// Schemas kept as they are, with everything in them.
    pub schemas: HashSet<&'a str>,
    /// Extensions that live in a kept schema.
    pub extensions: HashSet<&'a str>,
    /// Leave out objects outside schemas ([`GLOBAL_TYPES`]).
    pub globals: bool,
}

impl Keep<'_> {
    /// Whether anything is left out at all (else the whole dump is replayed).
    pub(super) fn is_empty(&self) -> bool {
        self.schemas.is_empty() && self.extensions.is_empty() && !self.globals
    }

    /// The list without the lines of kept objects; comment lines stay.
    pub(super) fn filter(&self, list: &str) -> String {
        list.lines()
            .filter(|line| Entry::parse(line).is_none_or(|entry| !self.leaves_out(&entry)))
            .map(|line| format!("{line}\n"))
            .collect()
    }

    fn leaves_out(&self, entry: &Entry<'_>) -> bool {
        if self.schemas.contains(entry.namespace) {
            return true;
        }
        let (kind, name) = entry.object();
        match kind {
            "SCHEMA" => self.schemas.contains(name),
            "EXTENSION" => self.extensions.contains(name),
            _ => self.globals && GLOBAL_TYPES.contains(&kind),
        }
    }
}

/// How many entries of `list` are of one of the types `kinds`.
pub(super) fn count(list: &str, kinds: &[&str]) -> usize {
    list.lines()
        .filter_map(Entry::parse)
        .filter(|entry| kinds.contains(&entry.kind))
        .count()
}

/// Entry types that are about another object, named after them: `COMMENT - SCHEMA ext`.
const ABOUT: &[&str] = &["COMMENT", "ACL", "SECURITY LABEL"];

/// Every entry type `pg_restore --list` prints that takes more than one word, longest
/// first so a prefix does not hide a longer type.
const MULTI_WORD: &[&str] = &[
    "PUBLICATION TABLES IN SCHEMA",
    "MATERIALIZED VIEW DATA",
    "FOREIGN DATA WRAPPER",
    "SUBSCRIPTION TABLE",
    "PUBLICATION TABLE",
    "TEXT SEARCH CONFIGURATION",
    "TEXT SEARCH DICTIONARY",
    "TEXT SEARCH TEMPLATE",
    "TEXT SEARCH PARSER",
    "MATERIALIZED VIEW",
    "SECURITY LABEL",
    "FOREIGN TABLE",
    "EVENT TRIGGER",
    "FK CONSTRAINT",
    "SEQUENCE OWNED BY",
    "SEQUENCE SET",
    "TABLE DATA",
    "USER MAPPING",
    "DEFAULT ACL",
    "OPERATOR CLASS",
    "OPERATOR FAMILY",
    "LARGE OBJECT",
    "BLOB METADATA",
    "DEFAULT",
];

/// One line of the list: `215; 1259 16386 TABLE public t1 postgres`.
#[derive(Debug, PartialEq, Eq)]
struct Entry<'a> {
    kind: &'a str,
    namespace: &'a str,
    /// The rest after the namespace: the name (and for `COMMENT`/`ACL`, the object's type
    /// and name), then the owner.
    rest: &'a str,
}

impl<'a> Entry<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        if line.trim_start().starts_with(';') {
            return None;
        }
        let (_, after_id) = line.split_once("; ")?;
        let mut parts = after_id.splitn(3, ' ');
        let (_classoid, _objid, tail) = (parts.next()?, parts.next()?, parts.next()?);
        let kind = MULTI_WORD
            .iter()
            .find(|k| tail.starts_with(*k) && tail[k.len()..].starts_with(' '))
            .copied()
            .or_else(|| tail.split(' ').next())?;
        let after_kind = tail[kind.len()..].trim_start();
        let (namespace, rest) = after_kind.split_once(' ').unwrap_or((after_kind, ""));
        Some(Self {
            kind,
            namespace,
            rest,
        })
    }

    /// The object the entry is about: itself, or for a comment or grant, its target
    /// (`COMMENT - EXTENSION pg_trgm` is about the extension `pg_trgm`).
    fn object(&self) -> (&'a str, &'a str) {
        let first = |text: &'a str| text.split(' ').next().unwrap_or_default();
        if !ABOUT.contains(&self.kind) {
            return (self.kind, first(self.rest));
        }
        let kind = MULTI_WORD
            .iter()
            .chain(GLOBAL_TYPES)
            .find(|k| self.rest.starts_with(*k) && self.rest[k.len()..].starts_with(' '))
            .copied()
            .unwrap_or_else(|| first(self.rest));
        (kind, first(self.rest[kind.len()..].trim_start()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "\
;
; Archive created at 2026-12-01 10:00:00 UTC
6; 2615 16390 SCHEMA - ext provider
4230; 0 0 ACL - SCHEMA ext provider
2; 3079 16391 EXTENSION - pg_trgm
4231; 0 0 COMMENT - EXTENSION pg_trgm
3; 2615 2200 SCHEMA - public pg_database_owner
215; 1259 16386 TABLE public t1 postgres
216; 1259 16400 TABLE ext kept_table provider
3391; 0 16386 TABLE DATA public t1 postgres
4000; 6104 16401 PUBLICATION - pub postgres
4001; 6106 16402 PUBLICATION TABLE public pub t1 postgres
4002; 0 0 COMMENT - PUBLICATION pub postgres
";

    #[test]
    fn entries_are_read_with_their_multi_word_types() {
        let entry = Entry::parse("3391; 0 16386 TABLE DATA public t1 postgres").unwrap();
        assert_eq!(
            (entry.kind, entry.namespace, entry.object()),
            ("TABLE DATA", "public", ("TABLE DATA", "t1"))
        );
        let about = Entry::parse("4231; 0 0 COMMENT - EXTENSION pg_trgm").unwrap();
        assert_eq!(about.object(), ("EXTENSION", "pg_trgm"));
        let publication = Entry::parse("4002; 0 0 COMMENT - PUBLICATION pub postgres").unwrap();
        assert_eq!(publication.object(), ("PUBLICATION", "pub"));
        assert_eq!(Entry::parse("; Archive created at x"), None);
    }

    #[test]
    fn kept_schemas_their_extensions_and_globals_are_left_out() {
        let keep = Keep {
            schemas: HashSet::from(["ext"]),
            extensions: HashSet::from(["pg_trgm"]),
            globals: true,
        };
        let kept: Vec<&str> = LIST.lines().collect();
        let filtered = keep.filter(LIST);
        let left: Vec<&str> = filtered.lines().collect();
        assert_eq!(
            left,
            [
                kept[0],
                kept[1],
                "3; 2615 2200 SCHEMA - public pg_database_owner",
                "215; 1259 16386 TABLE public t1 postgres",
                "3391; 0 16386 TABLE DATA public t1 postgres",
            ]
        );
        assert_eq!(Keep::default().filter(LIST), LIST);
        assert_eq!(count(LIST, &["TABLE"]), 2);
    }
}
