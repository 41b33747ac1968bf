//! What a rule reports about a file.

use serde::Serialize;

/// One finding: where, which rule, what and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The file, as named to the lint.
    pub file: String,
    /// 1-based line of the statement.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The rule's id (`index-not-concurrent`).
    pub rule: &'static str,
    /// What the statement does and why it hurts.
    pub message: String,
    /// The safe alternative.
    pub safe: &'static str,
    /// The reason of the waiver that covers it, if one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived: Option<String>,
}

impl Finding {
    /// Whether no waiver covers it.
    pub fn is_active(&self) -> bool {
        self.waived.is_none()
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {} (safe: {})",
            self.file, self.line, self.column, self.rule, self.message, self.safe
        )
    }
}
