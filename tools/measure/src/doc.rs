//! The Markdown the documents are built from: table heads and the number formats of their
//! figures, so that PERFORMANCE.md and EVALUATION.md write a table or a count the same way.

use std::fmt::Write as _;

/// Appends a table's head: the column names, then the separator row.
pub fn table_head(out: &mut String, columns: &[&str]) {
    let _ = writeln!(out, "| {} |", columns.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(columns.len()));
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn a_table_head_names_every_column_and_separates_them() {
        let mut out = String::new();
        table_head(&mut out, &["goal", "measured"]);
        assert_eq!(out, "| goal | measured |\n|---|---|\n");
    }
}
