//! Words in messages: the one place a count meets its noun (`1 subject`, `2 subjects`).

/// `1 subject`, `0 subjects`, `2 canaries`.
pub fn count_of(count: u64, singular: &str, plural: &str) -> String {
    match count {
        1 => format!("1 {singular}"),
        _ => format!("{count} {plural}"),
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
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

    #[test]
    fn lists_end_with_and() {
        let items = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(join_and(&items(&[])), "");
        assert_eq!(join_and(&items(&["a"])), "a");
        assert_eq!(join_and(&items(&["a", "b", "c"])), "a, b and c");
    }
}
