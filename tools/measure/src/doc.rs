//! The Markdown both documents are built from: table heads and the figures' number formats, so
//! that PERFORMANCE.md and EVALUATION.md write a table or a count the same way.

use std::fmt::Write as _;

/// Appends a table's head: the column names, then the separator row.
pub fn table_head(out: &mut String, columns: &[&str]) {
    let _ = writeln!(out, "| {} |", columns.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(columns.len()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_head_names_every_column_and_separates_them() {
        let mut out = String::new();
        table_head(&mut out, &["goal", "measured"]);
        assert_eq!(out, "| goal | measured |\n|---|---|\n");
    }
}
