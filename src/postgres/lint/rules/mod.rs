//! The rules, one file each (Squawk's layout, STYLE 15): its id, the message, the safe
//! alternative, the check on the parse tree, and a table of SQL that triggers it, that
//! does not (the safe form), and that is waived.

use crate::postgres::sql::Statement;

use super::input::Input;

mod breaks_window;
mod column_type_change;
mod concurrently_in_transaction;
mod constraint_not_valid;
mod index_not_concurrent;
mod set_not_null;
mod volatile_default;

/// A lint rule.
pub(super) struct Rule {
    /// Its id, as in findings and waivers.
    pub id: &'static str,
    /// The safe alternative.
    pub safe: &'static str,
    /// Its check of one file.
    pub check: fn(&Input<'_>) -> Vec<Hit>,
}

/// A rule's finding before it is placed: the byte offset in the file and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Hit {
    /// Byte offset in the file.
    pub offset: usize,
    /// What the statement does and why it hurts.
    pub message: String,
}

impl Hit {
    /// A finding at the start of `statement`.
    pub(super) fn at(statement: &Statement<'_>, message: String) -> Self {
        Self {
            offset: statement.range.start,
            message,
        }
    }
}

/// Every rule, in the order docs/lint.md lists them.
pub(super) const RULES: &[Rule] = &[
    index_not_concurrent::RULE,
    set_not_null::RULE,
    constraint_not_valid::RULE,
    column_type_change::RULE,
    volatile_default::RULE,
    concurrently_in_transaction::RULE,
    breaks_window::RULE,
];

/// The expression nodes under `node`, itself included: enough of PostgreSQL's expression
/// tree to find function calls in a column default.
pub(crate) fn expressions(node: &pg_query::protobuf::Node) -> Vec<&pg_query::NodeEnum> {
    use pg_query::NodeEnum as N;
    let mut found = Vec::new();
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        let Some(inner) = &node.node else { continue };
        found.push(inner);
        match inner {
            N::FuncCall(f) => stack.extend(f.args.iter()),
            N::TypeCast(c) => stack.extend(c.arg.as_deref()),
            N::AExpr(e) => stack.extend(e.lexpr.as_deref().into_iter().chain(e.rexpr.as_deref())),
            N::BoolExpr(e) => stack.extend(e.args.iter()),
            N::CoalesceExpr(e) => stack.extend(e.args.iter()),
            N::MinMaxExpr(e) => stack.extend(e.args.iter()),
            N::NullTest(e) => stack.extend(e.arg.as_deref()),
            N::CollateClause(e) => stack.extend(e.arg.as_deref()),
            N::List(l) => stack.extend(l.items.iter()),
            N::CaseExpr(e) => {
                stack.extend(e.arg.as_deref());
                stack.extend(e.args.iter());
                stack.extend(e.defresult.as_deref());
            }
            N::CaseWhen(w) => {
                stack.extend(w.expr.as_deref().into_iter().chain(w.result.as_deref()))
            }
            N::RowExpr(r) => stack.extend(r.args.iter()),
            N::AArrayExpr(a) => stack.extend(a.elements.iter()),
            N::SubLink(s) => stack.extend(s.subselect.as_deref()),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
pub(crate) mod table {
    //! The table-driven test every rule runs: each case a migration and what the rule
    //! must say about it.

    use crate::config::Compat;
    use crate::lint::LintFile;
    use crate::postgres::lint::lint_file;

    /// What a rule must report on a case.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Expect {
        /// At least one finding, not waived.
        Fires,
        /// No finding.
        Quiet,
        /// Findings, each waived.
        Waived,
    }

    /// The example window: schema min 4, target 5, release 1.3.0 on 3..4, 1.2.0 on 2..3.
    pub(crate) fn compat() -> Compat {
        Compat::parse(
            "compat.toml",
            "[app]\nversion = \"1.4.0\"\n[schema]\nmin = 4\nmax = 5\n\
             [[releases]]\nversion = \"1.3.0\"\nmin = 3\nmax = 4\n\
             [[releases]]\nversion = \"1.2.0\"\nmin = 2\nmax = 3\n",
        )
        .unwrap()
    }

    /// Runs `rule` on each case as `V{version}__case.sql` and checks what it reports.
    pub(crate) fn check(rule: &str, version: i64, cases: &[(&str, Expect)]) {
        let compat = compat();
        for (sql, expect) in cases {
            let file = LintFile::new(format!("m/V{version}__case.sql"), sql);
            let findings: Vec<_> = lint_file(&file, &compat)
                .unwrap_or_else(|e| panic!("{sql:?}: {e}"))
                .into_iter()
                .filter(|f| f.rule == rule || f.rule == "waiver")
                .collect();
            let got = if findings.is_empty() {
                Expect::Quiet
            } else if findings.iter().all(|f| !f.is_active()) {
                Expect::Waived
            } else {
                Expect::Fires
            };
            assert_eq!(got, *expect, "{rule} on {sql:?}: {findings:#?}");
        }
    }
}
