//! Words in messages: the one place a count meets its noun (`1 subject`, `2 subjects`).

/// `1 subject`, `0 subjects`, `2 canaries`.
pub fn count_of(count: u64, singular: &str, plural: &str) -> String {
    match count {
        1 => format!("1 {singular}"),
        _ => format!("{count} {plural}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_everything_else_plural() {
        assert_eq!(count_of(1, "subject", "subjects"), "1 subject");
        assert_eq!(count_of(0, "subject", "subjects"), "0 subjects");
        assert_eq!(count_of(2, "canary", "canaries"), "2 canaries");
    }
}
