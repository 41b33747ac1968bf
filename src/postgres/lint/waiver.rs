//! Waivers: `-- schemagate:allow RULE reason…` anywhere in a file (as a comment, not in a
//! string) waives RULE for the whole file. The reason is required: it tells a reviewer
//! that the author checked ("column unused since v1.1"). A waiver without one, or naming no
//! known rule, waives nothing and is itself a finding.

use crate::postgres::sql::Comment;

/// The comment that starts a waiver.
pub(super) const MARKER: &str = "-- schemagate:allow";

/// The rule id of findings about waivers themselves.
pub(super) const RULE_ID: &str = "waiver";

/// What to write instead of a bad waiver.
pub(super) const SAFE: &str = "`-- schemagate:allow RULE why it is safe here`";

/// A waiver read from a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Waiver {
    /// The rule it waives.
    pub rule: String,
    /// Why; empty when the author gave none.
    pub reason: String,
    /// The comment's byte offset.
    pub offset: usize,
}

/// The waivers among a file's comments.
pub(super) fn waivers(comments: &[Comment<'_>]) -> Vec<Waiver> {
    comments
        .iter()
        .filter_map(|comment| {
            let rest = comment.text.strip_prefix(MARKER)?;
            // `-- schemagate:allowed` is not our marker.
            if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
                return None;
            }
            let rest = rest.trim();
            let (rule, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Some(Waiver {
                rule: rule.to_owned(),
                reason: reason.trim().to_owned(),
                offset: comment.offset,
            })
        })
        .collect()
}

/// What is wrong with a waiver, if anything: `known` tells whether a rule id exists.
pub(super) fn problem(waiver: &Waiver, known: impl Fn(&str) -> bool) -> Option<String> {
    if waiver.rule.is_empty() {
        Some("a waiver must name the rule it waives".to_owned())
    } else if !known(&waiver.rule) {
        Some(format!("waiver of unknown rule `{}`", waiver.rule))
    } else if waiver.reason.is_empty() {
        Some(format!(
            "waiver of `{}` without a reason; it waives nothing until it says why",
            waiver.rule
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(text: &str) -> Comment<'_> {
        Comment { text, offset: 0 }
    }

    #[test]
    fn a_waiver_names_a_rule_and_a_reason() {
        let found = waivers(&[
            comment("-- schemagate:allow breaks-window column unused since v1.1"),
            comment("-- schemagate:allow set-not-null"),
            comment("-- schemagate:allowed nothing"),
            comment("-- an ordinary comment"),
        ]);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].rule, "breaks-window");
        assert_eq!(found[0].reason, "column unused since v1.1");
        assert_eq!(found[1].reason, "");
        let known = |rule: &str| rule == "set-not-null" || rule == "breaks-window";
        assert_eq!(problem(&found[0], known), None);
        assert!(
            problem(&found[1], known)
                .unwrap()
                .contains("without a reason")
        );
        let unknown = &waivers(&[comment("-- schemagate:allow nope because")])[0];
        assert!(problem(unknown, known).unwrap().contains("unknown rule"));
    }
}
