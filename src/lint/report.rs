//! Findings printed for people (`text`), for machines (`json`) and for GitHub Actions
//! (`github`: workflow annotations, shown on the pull request's diff).

use super::finding::Finding;

/// How findings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `file:line:column: rule: message (safe: …)`, one a line; waived ones left out.
    Text,
    /// One JSON array of every finding, waived ones with their `waived` reason.
    Json,
    /// `::error file=…,line=…,col=…,title=…::…` workflow commands; waived ones left out.
    Github,
}

/// The findings in `format`, ending with a newline unless empty (text and github).
pub fn render(findings: &[Finding], format: Format) -> String {
    let active = findings.iter().filter(|f| f.is_active());
    match format {
        Format::Text => active.map(|f| format!("{f}\n")).collect(),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(findings).unwrap_or_else(|_| "[]".into());
            json.push('\n');
            json
        }
        Format::Github => active
            .map(|f| {
                format!(
                    "::error file={},line={},col={},title={}::{}\n",
                    property(&f.file),
                    f.line,
                    f.column,
                    property(f.rule),
                    data(&format!("{}: {} (safe: {})", f.rule, f.message, f.safe)),
                )
            })
            .collect(),
    }
}

/// A workflow command's message, escaped as the runner reads it (`%`, CR, LF).
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as [`data`], plus `:` and `,`.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(waived: Option<&str>) -> Finding {
        Finding {
            file: "m/V2__a,b.sql".into(),
            line: 3,
            column: 1,
            rule: "set-not-null",
            message: "100% of rows\nscanned".into(),
            safe: "a CHECK first",
            waived: waived.map(str::to_owned),
        }
    }

    #[test]
    fn each_format_prints_the_place_rule_message_and_safe_alternative() {
        let findings = [finding(None), finding(Some("checked"))];
        assert_eq!(
            render(&findings, Format::Text),
            "m/V2__a,b.sql:3:1: set-not-null: 100% of rows\nscanned (safe: a CHECK first)\n"
        );
        assert_eq!(
            render(&findings, Format::Github),
            "::error file=m/V2__a%2Cb.sql,line=3,col=1,title=set-not-null::set-not-null: 100%25 of rows%0Ascanned (safe: a CHECK first)\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&findings, Format::Json)).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2);
        assert_eq!(json[1]["waived"], "checked");
        assert_eq!(json[0]["line"], 3);
    }
}
